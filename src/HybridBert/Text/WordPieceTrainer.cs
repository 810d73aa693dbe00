using System.Text;

namespace HybridBert.Text;

public sealed record WordPieceTrainerOptions
{
    public int VocabSize { get; init; } = 8192;
    /// <summary>A pair seen fewer times than this is never merged.</summary>
    public int MinFrequency { get; init; } = 2;
    /// <summary>Keep only this many of the most frequent characters (null: every character seen).</summary>
    public int? LimitAlphabet { get; init; }

    public WordPieceTrainerOptions Validate()
    {
        var errors = new Problems();
        if (VocabSize <= Vocabulary.SpecialTokens.Length) errors.Add("--vocab-size must be more than the " +
            $"{Vocabulary.SpecialTokens.Length} special tokens (got {VocabSize})");
        if (MinFrequency < 1) errors.Add($"--min-frequency must be >= 1 (got {MinFrequency})");
        if (LimitAlphabet is < 1) errors.Add($"--limit-alphabet must be >= 1 (got {LimitAlphabet})");
        errors.ThrowIfAny();
        return this;
    }
}

/// <summary>
/// Learns a WordPiece vocabulary the way Hugging Face <c>tokenizers</c>' <c>WordPieceTrainer</c> does: it is its
/// BPE trainer with the <c>##</c> continuation prefix. Words start as characters (non-initial ones as <c>##c</c>);
/// the most frequent adjacent pair is merged (ties: the pair of smaller ids first) until the vocabulary is full or
/// no pair reaches <see cref="WordPieceTrainerOptions.MinFrequency"/>. Vocabulary order: special tokens, the
/// alphabet by code point, the <c>##</c> characters by code point, then merges in the order learned.
/// </summary>
/// <remarks>
/// Written by hand: no library reachable from .NET here trains WordPiece (Microsoft.ML.Tokenizers only loads
/// vocabularies; Tokenizers.DotNet wraps only encode/decode). Pair counts are updated incrementally per merge.
/// </remarks>
public static class WordPieceTrainer
{
    private const string Prefix = "##";

    public static List<string> Train(IReadOnlyDictionary<string, long> wordCounts, WordPieceTrainerOptions options,
        IProgress<double>? progress = null)
    {
        options.Validate();
        var tokens = new List<string>(Vocabulary.SpecialTokens);
        var ids = tokens.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        int Id(string token)
        {
            if (ids.TryGetValue(token, out var id)) return id;
            ids[token] = tokens.Count;
            tokens.Add(token);
            return tokens.Count - 1;
        }

        // Alphabet: every character seen (or the most frequent ones), by code point.
        var runeCounts = new Dictionary<int, long>();
        foreach (var (word, count) in wordCounts)
            foreach (var rune in word.EnumerateRunes())
                runeCounts[rune.Value] = runeCounts.GetValueOrDefault(rune.Value) + count;
        var alphabet = runeCounts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key)
            .Take(options.LimitAlphabet ?? int.MaxValue).Select(kv => kv.Key).Order().ToList();
        var kept = alphabet.ToHashSet();
        foreach (var r in alphabet) Id(new Rune(r).ToString());
        foreach (var r in alphabet) Id(Prefix + new Rune(r).ToString());
        if (tokens.Count > options.VocabSize)
            throw new ArgumentException($"--vocab-size {options.VocabSize} is below what this corpus needs before any merge: " +
                $"{Vocabulary.SpecialTokens.Length} special tokens " +
                $"+ {alphabet.Count} characters + {alphabet.Count} ##characters = {tokens.Count}; use --vocab-size {tokens.Count} or " +
                    "more, or --limit-alphabet to keep fewer characters");

        // Words as symbol sequences, in ordinal order so that ids and ties never depend on hashing.
        var words = new List<List<int>>();
        var counts = new List<long>();
        foreach (var word in wordCounts.Keys.Order(StringComparer.Ordinal))
        {
            var symbols = new List<int>();
            var firstRune = true;
            foreach (var rune in word.EnumerateRunes())
            {
                if (!kept.Contains(rune.Value)) { symbols.Add(-1); firstRune = false; continue; }  // unknown char: breaks pairs
                symbols.Add(ids[(firstRune ? "" : Prefix) + rune.ToString()]);
                firstRune = false;
            }
            words.Add(symbols);
            counts.Add(wordCounts[word]);
        }

        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        static long Key(int a, int b) => ((long)a << 32) | (uint)b;
        void Change(int a, int b, long delta, int word)
        {
            if (a < 0 || b < 0) return;
            var key = Key(a, b);
            pairCounts[key] = pairCounts.GetValueOrDefault(key) + delta;
            if (delta > 0)
            {
                if (!pairWords.TryGetValue(key, out var set)) pairWords[key] = set = [];
                set.Add(word);
            }
        }
        for (var w = 0; w < words.Count; w++)
            for (var i = 0; i + 1 < words[w].Count; i++) Change(words[w][i], words[w][i + 1], counts[w], w);

        // Max-heap on (count, then smaller pair first); entries go stale and are re-checked when popped.
        var queue = new PriorityQueue<long, (long Count, long Key)>(Comparer<(long Count, long Key)>.Create((x, y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Key.CompareTo(y.Key)));
        foreach (var (key, count) in pairCounts) queue.Enqueue(key, (count, key));

        var startSize = tokens.Count;
        while (tokens.Count < options.VocabSize && queue.TryDequeue(out var pair, out var priority))
        {
            var current = pairCounts.GetValueOrDefault(pair);
            if (current != priority.Count)
            {
                if (current > 0) queue.Enqueue(pair, (current, pair));
                continue;
            }
            if (current < Math.Max(1, options.MinFrequency)) break;

            int a = (int)(pair >> 32), b = (int)(pair & 0xFFFFFFFF);
            var right = tokens[b].StartsWith(Prefix, StringComparison.Ordinal) ? tokens[b][Prefix.Length..] : tokens[b];
            var merged = Id(tokens[a] + right);

            var touched = new HashSet<long>();
            foreach (var w in pairWords[pair].Order().ToList())
            {
                var s = words[w];
                for (var i = 0; i + 1 < s.Count; i++)
                {
                    if (s[i] != a || s[i + 1] != b) continue;
                    var count = counts[w];
                    if (i > 0) { Change(s[i - 1], a, -count, w); Change(s[i - 1], merged, count, w); touched.Add(Key(s[i - 1], merged)); }
                    if (i + 2 < s.Count) { Change(b, s[i + 2], -count, w); Change(merged, s[i + 2], count, w); touched.Add(Key(merged, s[i + 2])); }
                    Change(a, b, -count, w);
                    s[i] = merged;
                    s.RemoveAt(i + 1);
                }
            }
            foreach (var key in touched)
                if (pairCounts.GetValueOrDefault(key) > 0) queue.Enqueue(key, (pairCounts[key], key));
            progress?.Report((double)(tokens.Count - startSize) / Math.Max(1, options.VocabSize - startSize));
        }
        return tokens;
    }
}

/// <summary>Counting words over a corpus and training a vocabulary on them: what <c>hybridbert tokenizer train</c> runs.</summary>
public static class VocabularyTraining
{
    public sealed record Result(Vocabulary Vocabulary, long Words, long DistinctWords, long PrunedWords, Data.CorpusStats Corpus);

    public static Result Run(IReadOnlyList<Data.CorpusSource> sources, WordPieceTrainerOptions options, bool lowercase,
        Data.InvalidUtf8Policy onInvalid, IProgress<(string Stage, double Fraction)>? progress = null, string textField = "text")
    {
        var reader = new Data.CorpusReader(onInvalid, textField);
        var counter = new WordCounter(lowercase);
        var totalBytes = Math.Max(1.0, sources.Sum(s => s.Length));
        foreach (var document in reader.Read(sources))
        {
            foreach (var paragraph in document.Paragraphs) counter.Add(paragraph);
            progress?.Report(("counting words", Math.Min(1, reader.RawBytesRead / totalBytes)));
        }
        if (counter.Counts.Count == 0) throw new InvalidDataException($"The corpus holds no words to train on: {reader.Stats.WhyNothing(textField)}");
        var tokens = WordPieceTrainer.Train(counter.Counts, options,
            progress is null ? null : new SynchronousProgress<double>(f => progress.Report(("learning merges", f))));
        return new Result(new Vocabulary(tokens, "trained vocabulary"), counter.Counts.Values.Sum(), counter.Counts.Count, counter.Pruned,
            reader.Stats);
    }
}
