using HybridBert.Text;

namespace HybridBert.FineTuning;

/// <summary>A loaded token-classification task: sentences per split, the tag vocabulary (from training data), and the
/// entity scheme its tags follow (null for tags that are not entities, e.g. part of speech).</summary>
public sealed class TokenTaskData
{
    public required string Name { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required List<TaggedSentence> Train { get; init; }
    public required List<TaggedSentence> Dev { get; init; }
    public List<TaggedSentence>? Test { get; init; }
    public required TaggedReadReport Report { get; init; }
    public TagScheme? Scheme => EntityMetrics.SchemeOf(Labels);

    /// <summary>Reads <c>--train</c>, <c>--dev</c> (or <c>--dev-fraction</c>) and <c>--test</c> as tagged files; a tag of dev
    /// or test that training never saw is an error at file:line.</summary>
    public static TokenTaskData Load(TaskSpec spec)
    {
        if (spec.Name is { } named)
        {
            var folder = DownstreamDatasets.TaggedFolder(named, spec.CacheRoot);
            var testFile = Path.Combine(folder, "test.conll");
            var loaded = Load(spec with
            {
                Name = null, Train = Path.Combine(folder, "train.conll"), Dev = Path.Combine(folder, "dev.conll"),
                Test = spec.NoTest ? null : spec.Test ?? (File.Exists(testFile) ? testFile : null), DevFraction = null,
            });
            return new TokenTaskData { Name = DownstreamDatasets.Get(named).Name, Labels = loaded.Labels, Train = loaded.Train, Dev = loaded.Dev,
                Test = loaded.Test, Report = loaded.Report };
        }
        if (spec.Train is null || (spec.Dev is null && spec.DevFraction is null))
            throw new ArgumentException("token classification needs a --train file with --dev FILE or --dev-fraction (e.g. 0.1)");
        if (spec.Dev is not null && spec.DevFraction is not null) throw new ArgumentException("give --dev or --dev-fraction, not both");
        var report = new TaggedReadReport();
        var train = TaggedFiles.Read(spec.Train, report);
        List<TaggedSentence> dev;
        if (spec.DevFraction is { } fraction)
        {
            if (fraction is <= 0 or >= 1) throw new ArgumentException($"--dev-fraction must be in (0, 1) (got {fraction})");
            if (train.Count < 2) throw new InvalidDataException($"--dev-fraction needs at least 2 training sentences (got {train.Count})");
            var order = Enumerable.Range(0, train.Count).ToArray();
            new Random(13).Shuffle(order);   // the same split every run, as for sequence tasks
            var devRows = order[..Math.Clamp((int)Math.Round(fraction * train.Count), 1, train.Count - 1)].ToHashSet();
            dev = train.Where((_, i) => devRows.Contains(i)).ToList();
            train = train.Where((_, i) => !devRows.Contains(i)).ToList();
        }
        else dev = TaggedFiles.Read(spec.Dev!, report);
        var test = spec.Test is { } t ? TaggedFiles.Read(t, report) : null;
        if (spec.MaxEvalExamples is { } cap)
        {
            if (dev.Count > cap) dev = dev[..cap];
            if (test is not null && test.Count > cap) test = test[..cap];
        }
        var name = Path.GetFileNameWithoutExtension(spec.Train);
        if (train.Count == 0) throw new InvalidDataException($"{spec.Train}: no sentences");
        if (dev.Count == 0) throw new InvalidDataException($"{name}: the dev data has no sentences");
        var labels = train.SelectMany(s => s.Tags).Distinct().Order(StringComparer.Ordinal).ToList();
        var known = labels.ToHashSet();
        foreach (var sentence in dev.Concat(test ?? []))
            if (sentence.Tags.FirstOrDefault(tag => !known.Contains(tag)) is { } unseen)
                // A CoNLL sentence has a line per word; a JSONL one is one line.
                throw new InvalidDataException(
                    $"{sentence.Source}:{sentence.Line + (IsConll(sentence) ? sentence.Tags.ToList().IndexOf(unseen) : 0)}: " +
                                               $"the tag '{unseen}' never appears in the training data (tags: {string.Join(", ", labels)})");
        return new TokenTaskData { Name = name, Labels = labels, Train = train, Dev = dev, Test = test, Report = report };
    }

    private static bool IsConll(TaggedSentence s) => !s.Source.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// One window of a sentence as the encoder sees it: <c>[CLS]</c>, the word pieces of whole words, <c>[SEP]</c>. Each
/// word's first piece carries its tag (Hugging Face's convention for <c>BertForTokenClassification</c>); the other
/// pieces and the specials are <see cref="Ignore"/>d in the loss. A sentence longer than the model takes is split
/// into windows at word boundaries rather than cut.
/// </summary>
public sealed record TokenWindow(EncodedText Encoded, int[] Labels, int[] WordOfPosition, int Sentence, int FirstWord)
{
    /// <summary>The label of positions the loss skips (PyTorch's cross-entropy <c>ignore_index</c>).</summary>
    public const int Ignore = -100;

    /// <summary>The windows of one sentence; <paramref name="labelIds"/> null when predicting.</summary>
    public static List<TokenWindow> Of(BertTokenizer tokenizer, IReadOnlyList<string> words, int[]? labelIds, int maxLength, int sentence)
    {
        var budget = maxLength - 2;
        var pieces = words.Select(w =>
        {
            var ids = new List<int>();
            tokenizer.AppendIds(w, ids);
            return ids.Count > budget ? ids[..budget] : ids;   // one word longer than a window: its first pieces
        }).ToList();
        var windows = new List<TokenWindow>();
        for (var first = 0; first < words.Count;)
        {
            var last = first;
            var length = pieces[first].Count;
            while (last + 1 < words.Count && length + pieces[last + 1].Count <= budget) length += pieces[++last].Count;
            var ids = new List<int> { tokenizer.Vocabulary.ClsId };
            var labels = new List<int> { Ignore };
            var wordOf = new List<int> { -1 };
            for (var w = first; w <= last; w++)
                for (var k = 0; k < pieces[w].Count; k++)
                {
                    ids.Add(pieces[w][k]);
                    labels.Add(k == 0 && labelIds is not null ? labelIds[w] : Ignore);
                    wordOf.Add(k == 0 ? w : -1);
                }
            ids.Add(tokenizer.Vocabulary.SepId);
            labels.Add(Ignore);
            wordOf.Add(-1);
            var n = ids.Count;
            windows.Add(new TokenWindow(new EncodedText([.. ids], Enumerable.Repeat(1, n).ToArray(), new int[n], Enumerable.Repeat(-1, n).ToArray()),
                [.. labels], [.. wordOf], sentence, first));
            first = last + 1;
        }
        return windows;
    }
}
