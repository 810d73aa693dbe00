using System.Text.Json;
using System.Text.Json.Nodes;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.FineTuning;

/// <summary>What a token classifier's <c>task.json</c> says: <c>task_type: token</c>, its tags in id order, the window
/// length it was fine-tuned at and the tokenizer's casing.</summary>
public sealed record TokenHead(string Task, IReadOnlyList<string> Labels, int MaxLength, bool Lowercase)
{
    public const string Kind = "token";
    public string TaskType => Kind;
    [System.Text.Json.Serialization.JsonIgnore]
    public TagScheme? Scheme => EntityMetrics.SchemeOf(Labels);
}

/// <summary>One word piece of a text as the tagger saw it: its token, its characters in the text (UTF-16 offsets),
/// whether it continues a word (<c>##</c>), and the probability of each tag.</summary>
public sealed record TaggedPiece(int Index, string Token, int Start, int End, bool Subword, float[] Probabilities);

/// <summary>One entry of Hugging Face's token-classification pipeline output: <c>entity</c> (no aggregation) or
/// <c>entity_group</c>, <c>score</c>, <c>index</c> (no aggregation), <c>word</c>, <c>start</c>, <c>end</c>.</summary>
public sealed record TokenPrediction(string? Entity, string? EntityGroup, float Score, int? Index, string Word, int Start, int End);

/// <summary>Hugging Face's aggregation strategies for token classification.</summary>
public enum Aggregation { None, Simple, First, Average, Max }

/// <summary>
/// A fine-tuned token classifier (a <c>seed-N</c> folder of <c>finetune --task-type token</c>: <c>model.safetensors</c>
/// with <c>bert.*</c> and <c>classifier.*</c>, <c>config.json</c>, <c>vocab.txt</c>, <c>task.json</c>): tags pre-split
/// sentences word by word (the first piece of each word decides), and raw text as Hugging Face's
/// <c>token-classification</c> pipeline does, with its aggregation strategies.
/// </summary>
public sealed class TokenTagger : IDisposable
{
    /// <summary>The encoder and tagging head in TorchSharp; null for a tagger whose graph runs both (<see cref="ForGraph"/>).</summary>
    public TokenClassifier? Classifier { get; }
    public BertTokenizer Tokenizer { get; }
    public TokenHead Head { get; }
    private const int BatchRows = 32;
    private readonly Func<EncoderInputs, Tensor>? graph;

    public TokenTagger(TokenClassifier classifier, BertTokenizer tokenizer, TokenHead head) =>
        (Classifier, Tokenizer, Head) = (classifier, tokenizer, head);

    private TokenTagger(Func<EncoderInputs, Tensor> graph, BertTokenizer tokenizer, TokenHead head) =>
        (this.graph, Tokenizer, Head) = (graph, tokenizer, head);

    /// <summary>A tagger whose encoder and head run elsewhere (an ONNX model folder's graph, in ONNX Runtime):
    /// <paramref name="logits"/> gives the tag logits [batch, seq, tags] of a batch on the CPU. The caller owns what runs it.</summary>
    public static TokenTagger ForGraph(Func<EncoderInputs, Tensor> logits, BertTokenizer tokenizer, TokenHead head) => new(logits, tokenizer, head);

    public void Dispose() => Classifier?.Dispose();

    /// <summary>True when <paramref name="folder"/>'s task.json says <c>task_type: token</c>, or it is a Hugging Face folder
    /// whose config.json names a <c>*ForTokenClassification</c> architecture.</summary>
    public static bool IsTokenModel(string folder)
    {
        var path = Path.Combine(folder, ModelLayout.Task);
        var config = Path.Combine(folder, ModelLayout.Config);
        try
        {
            if (File.Exists(path)) return JsonNode.Parse(File.ReadAllText(path))?["task_type"]?.GetValue<string>() == TokenHead.Kind;
            return File.Exists(config) && JsonNode.Parse(File.ReadAllText(config))?["architectures"] is JsonArray architectures
                   && architectures.Any(a => a?.GetValue<string>().EndsWith("ForTokenClassification", StringComparison.Ordinal) == true);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    public static TokenTagger Load(string path, string device = "cpu")
    {
        var resolved = Interop.Hub.HubModels.ResolvePath(path);
        var folder = ModelSource.FineTunedSeed(resolved) ?? resolved;
        if (!IsTokenModel(folder))
            throw new InvalidDataException($"{folder} is not a token classifier (its {ModelLayout.Task} lacks task_type: token, and it is " +
                                           "no Hugging Face *ForTokenClassification folder): fine-tune one with " +
                                           "hybridbert finetune --task-type token");
        if (!File.Exists(Path.Combine(folder, ModelLayout.Task))) return LoadHuggingFace(folder, device);
        var head = JsonSerializer.Deserialize<TokenHead>(File.ReadAllText(Path.Combine(folder, ModelLayout.Task)), IO.JsonFiles.Options)
                   ?? throw new InvalidDataException($"{folder}/{ModelLayout.Task}: empty");
        var config = EncoderConfig.Load(Path.Combine(folder, ModelLayout.Config));
        var vocabulary = Vocabulary.Load(Path.Combine(folder, ModelLayout.Vocab));
        var classifier = new TokenClassifier(config with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 }, head.Labels.Count);
        WeightLoader.Load(classifier, Path.Combine(folder, ModelLayout.Weights));
        classifier.to(Devices.Resolve(device));
        classifier.eval();
        return new TokenTagger(classifier, new BertTokenizer(vocabulary, head.Lowercase), head);
    }

    /// <summary>A Hugging Face <c>BertForTokenClassification</c> (or our <c>HybridBertForTokenClassification</c> export):
    /// tags from its <c>id2label</c>, windows of up to 512 tokens (or the position table's size).</summary>
    private static TokenTagger LoadHuggingFace(string folder, string device)
    {
        var source = ModelSource.Open(folder);
        var head = HuggingFaceHead(folder, source.Config.MaxPositionEmbeddings, source.Lowercase ?? true);
        var classifier = new TokenClassifier(source.Config with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 }, head.Labels.Count);
        source.LoadInto(classifier, ignorePrefixes: ["bert.pooler."]);
        classifier.to(Devices.Resolve(device));
        classifier.eval();
        return new TokenTagger(classifier, new BertTokenizer(source.Vocabulary, head.Lowercase), head);
    }

    /// <summary>The task of a Hugging Face token classifier folder (a <c>*ForTokenClassification</c> config.json, ours or an
    /// ONNX model folder): its tags from <c>id2label</c> (<c>LABEL_i</c> without), windows of up to 512 tokens or
    /// <paramref name="maxPositions"/>, named after the folder.</summary>
    public static TokenHead HuggingFaceHead(string folder, int maxPositions, bool lowercase)
    {
        var path = Path.Combine(folder, ModelLayout.Config);
        JsonNode config;
        try
        {
            config = JsonNode.Parse(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not JSON ({e.Message})", e);
        }
        var id2label = config["id2label"] as JsonObject;
        var count = id2label?.Count ?? config["num_labels"]?.GetValue<int>() ?? 2;
        var labels = Enumerable.Range(0, count)
            .Select(i => id2label?[i.ToString(System.Globalization.CultureInfo.InvariantCulture)]?.GetValue<string>() ?? $"LABEL_{i}").ToList();
        return new TokenHead(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))), labels, Math.Min(512, maxPositions),
            lowercase);
    }

    public void Save(string folder) =>
        IO.AtomicFile.WriteFolder(folder, temp =>
        {
            var classifier = Classifier ?? throw new InvalidOperationException("a tagger whose graph runs elsewhere has no weights to save");
            WeightLoader.Save(classifier, Path.Combine(temp, ModelLayout.Weights));
            File.WriteAllText(Path.Combine(temp, ModelLayout.Config), classifier.Config.ToJson());
            Tokenizer.Vocabulary.Save(Path.Combine(temp, ModelLayout.Vocab));
            File.WriteAllText(Path.Combine(temp, ModelLayout.Task), JsonSerializer.Serialize(Head, IO.JsonFiles.Options));
        });

    /// <summary>What computes the encoder's last hidden state when not the classifier's own encoder (the ONNX runtime,
    /// <see cref="Inference.InferenceModel.Load"/>); the tagging head runs on it.</summary>
    internal Func<EncoderInputs, Tensor>? Hidden { get; set; }

    /// <summary>Tag probabilities of every position of <paramref name="rows"/>, in batches of similar length, no autograd.</summary>
    public List<float[][]> Run(IReadOnlyList<EncodedText> rows, CancellationToken cancel = default)
    {
        var results = new float[rows.Count][][];
        var device = Classifier?.parameters().First().device ?? torch.CPU;
        var order = Enumerable.Range(0, rows.Count).OrderBy(i => rows[i].Length).ToArray();
        using var noGrad = torch.no_grad();
        foreach (var batch in order.Chunk(BatchRows))
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var inputs = Data.Batches.Inputs(batch.Select(i => rows[i]).ToList(), Tokenizer.Vocabulary.PadId, device);
            var logits = graph is not null ? graph(inputs)
                : Hidden is { } encoder ? Classifier!.Logits(encoder(inputs)) : Classifier!.call(inputs);
            var probabilities = logits.softmax(-1).cpu();
            var width = (int)probabilities.shape[1];
            var labels = (int)probabilities.shape[2];
            var flat = probabilities.data<float>().ToArray();
            for (var r = 0; r < batch.Length; r++)
            {
                var length = rows[batch[r]].Length;
                results[batch[r]] = Enumerable.Range(0, length).Select(p => flat.AsSpan((r * width + p) * labels, labels).ToArray()).ToArray();
            }
        }
        return [.. results];
    }

    /// <summary>The tag of every word of each sentence (the argmax at its first piece); a word with no pieces (only
    /// characters the tokenizer drops) gets <c>O</c>, or the first tag where there is no <c>O</c>.</summary>
    public List<string[]> TagWords(IReadOnlyList<IReadOnlyList<string>> sentences, CancellationToken cancel = default)
    {
        var windows = sentences.SelectMany((words, s) => TokenWindow.Of(Tokenizer, words, null, Head.MaxLength, s)).ToList();
        var probabilities = Run(windows.Select(w => w.Encoded).ToList(), cancel);
        var fallback = Head.Labels.Contains("O") ? "O" : Head.Labels[0];
        var tags = sentences.Select(words => Enumerable.Repeat(fallback, words.Count).ToArray()).ToList();
        for (var w = 0; w < windows.Count; w++)
            for (var p = 0; p < windows[w].WordOfPosition.Length; p++)
                if (windows[w].WordOfPosition[p] is var word and >= 0)
                    tags[windows[w].Sentence][word] = Head.Labels[ArgMax(probabilities[w][p])];
        return tags;
    }

    /// <summary>Token accuracy over words and, for entity tags, seqeval's micro precision/recall/F1 (default mode), strict F1,
    /// and precision/recall/F1 per entity type.</summary>
    public Dictionary<string, double> Evaluate(IReadOnlyList<TaggedSentence> sentences, CancellationToken cancel = default)
    {
        var predicted = TagWords(sentences.Select(s => s.Words).ToList(), cancel);
        return Score(sentences, predicted, Head.Scheme);
    }

    internal static Dictionary<string, double> Score(IReadOnlyList<TaggedSentence> gold, IReadOnlyList<string[]> predicted, TagScheme? scheme)
    {
        var words = gold.Sum(s => s.Tags.Count);
        var right = gold.Select((s, i) => s.Tags.Where((t, k) => predicted[i][k] == t).Count()).Sum();
        var metrics = new Dictionary<string, double> { ["accuracy"] = words == 0 ? double.NaN : right / (double)words };
        if (scheme is { } entityScheme)
        {
            var report = EntityMetrics.Score(gold.Select(s => s.Tags).ToList(), predicted);
            (metrics["precision"], metrics["recall"], metrics["f1"]) = (report.Micro.Precision, report.Micro.Recall, report.Micro.F1);
            metrics["f1_strict"] = EntityMetrics.Score(gold.Select(s => s.Tags).ToList(), predicted, entityScheme).Micro.F1;
            // Per entity type, as seqeval's classification_report lists them: precision_TYPE, recall_TYPE, f1_TYPE.
            foreach (var (type, score) in report.PerType)
                (metrics[$"precision_{type}"], metrics[$"recall_{type}"], metrics[$"f1_{type}"]) = (score.Precision, score.Recall, score.F1);
        }
        return metrics;
    }

    /// <summary>The metric model selection maximizes: entity F1 for entity tags, else token accuracy.</summary>
    public static string ScoreMetric(TagScheme? scheme) => scheme is null ? "accuracy" : "f1";

    /// <summary>Every word piece of <paramref name="text"/> with its tag probabilities; a text longer than a window is run
    /// in windows that start at word boundaries.</summary>
    public List<TaggedPiece> Pieces(string text, CancellationToken cancel = default)
    {
        var spans = Tokenizer.TokenizeWithSpans(text).Where(s => !s.Special).ToList();
        var budget = Head.MaxLength - 2;
        var windows = new List<(int First, int Count)>();
        for (var first = 0; first < spans.Count;)
        {
            var count = Math.Min(budget, spans.Count - first);
            // Back off to the start of a word when a window would split one (unless the word alone fills the window).
            while (count < spans.Count - first && count > 1 && IsSubword(spans[first + count].Id)) count--;
            if (count <= 1) count = Math.Min(budget, spans.Count - first);
            windows.Add((first, count));
            first += count;
        }
        var probabilities = Run(windows.Select(w => Wrap(spans.Skip(w.First).Take(w.Count).Select(s => s.Id))).ToList(), cancel);
        var pieces = new List<TaggedPiece>(spans.Count);
        for (var w = 0; w < windows.Count; w++)
            for (var k = 0; k < windows[w].Count; k++)
            {
                var span = spans[windows[w].First + k];
                var token = Tokenizer.Vocabulary.Tokens[span.Id];
                pieces.Add(new TaggedPiece(windows[w].First + k + 1, token, span.Start ?? 0, span.End ?? 0, IsSubword(span.Id),
                    probabilities[w][k + 1]));
            }
        return pieces;
    }

    /// <summary>
    /// One text as one row for the server's batches: [CLS], its word pieces with their character spans
    /// (<see cref="EncodedText.Starts"/>/<see cref="EncodedText.Ends"/>), [SEP]. A text longer than the model's window is
    /// cut with <paramref name="truncate"/>, else refused naming its index (<see cref="Inference.InputTooLongException"/>).
    /// </summary>
    public EncodedText EncodeText(string text, bool truncate, int index)
    {
        var spans = Tokenizer.TokenizeWithSpans(text).Where(s => !s.Special).ToList();
        if (spans.Count > Head.MaxLength - 2)
        {
            if (!truncate) throw new Inference.InputTooLongException(index, spans.Count + 2, Head.MaxLength);
            spans = spans[..(Head.MaxLength - 2)];
        }
        return Wrap(spans.Select(s => s.Id)) with
        {
            Starts = [-1, .. spans.Select(s => s.Start ?? 0), -1], Ends = [-1, .. spans.Select(s => s.End ?? 0), -1],
        };
    }

    /// <summary>The pipeline output of rows made by <see cref="EncodeText"/>, in one batched run.</summary>
    public List<TokenPrediction[]> PredictRows(IReadOnlyList<EncodedText> rows, Aggregation aggregation, CancellationToken cancel = default)
    {
        var probabilities = Run(rows, cancel);
        return rows.Select((row, r) =>
        {
            var pieces = Enumerable.Range(1, row.Length - 2).Select(p => new TaggedPiece(p, Tokenizer.Vocabulary.Tokens[row.InputIds[p]],
                row.Starts?[p] ?? 0, row.Ends?[p] ?? 0, IsSubword(row.InputIds[p]), probabilities[r][p])).ToList();
            return Aggregate(pieces, Head.Labels, aggregation).ToArray();
        }).ToList();
    }

    private bool IsSubword(int id) => Tokenizer.Vocabulary.Tokens[id].StartsWith("##", StringComparison.Ordinal);

    private EncodedText Wrap(IEnumerable<int> ids)
    {
        int[] all = [Tokenizer.Vocabulary.ClsId, .. ids, Tokenizer.Vocabulary.SepId];
        return new EncodedText(all, Enumerable.Repeat(1, all.Length).ToArray(), new int[all.Length], Enumerable.Repeat(-1, all.Length).ToArray());
    }

    /// <summary>Hugging Face's <c>token-classification</c> pipeline output for <paramref name="text"/> (its
    /// <c>aggregation_strategy</c>, <c>O</c> left out as its default <c>ignore_labels</c> does).</summary>
    public List<TokenPrediction> Predict(string text, Aggregation aggregation = Aggregation.None, CancellationToken cancel = default) =>
        Aggregate(Pieces(text, cancel), Head.Labels, aggregation);

    /// <summary>The pipeline's aggregation, on tagged pieces: <c>none</c> one entry per piece; <c>simple</c> adjacent pieces
    /// of one entity grouped (a B- starts a new group), score their mean; <c>first</c>/<c>average</c>/<c>max</c> first decide
    /// each word (its first piece's tag; the mean of its pieces' probabilities; the piece with the highest score), then group.</summary>
    public static List<TokenPrediction> Aggregate(IReadOnlyList<TaggedPiece> pieces, IReadOnlyList<string> labels, Aggregation aggregation)
    {
        var entities = new List<(string Entity, float Score, int Index, string Word, int Start, int End)>();
        if (aggregation is Aggregation.None or Aggregation.Simple)
        {
            foreach (var p in pieces)
            {
                var best = ArgMax(p.Probabilities);
                entities.Add((labels[best], p.Probabilities[best], p.Index, p.Token, p.Start, p.End));
            }
        }
        else
        {
            var words = new List<List<TaggedPiece>>();
            foreach (var p in pieces)
                if (p.Subword && words.Count > 0) words[^1].Add(p);
                else words.Add([p]);
            foreach (var word in words)
            {
                int label;
                float score;
                if (aggregation == Aggregation.First)
                {
                    label = ArgMax(word[0].Probabilities);
                    score = word[0].Probabilities[label];
                }
                else if (aggregation == Aggregation.Average)
                {
                    var mean = Enumerable.Range(0, labels.Count).Select(l => word.Average(p => p.Probabilities[l])).ToArray();
                    label = ArgMax(mean);
                    score = mean[label];
                }
                else
                {
                    var top = word.MaxBy(p => p.Probabilities.Max())!;
                    label = ArgMax(top.Probabilities);
                    score = top.Probabilities[label];
                }
                entities.Add((labels[label], score, word[0].Index, TokensToString(word.Select(p => p.Token)), word[0].Start, word[^1].End));
            }
        }
        if (aggregation == Aggregation.None)
            return entities.Where(e => e.Entity != "O").Select(e => new TokenPrediction(e.Entity, null, e.Score, e.Index, e.Word, e.Start, e.End))
                .ToList();
        var groups = new List<TokenPrediction>();
        var current = new List<(string Entity, float Score, int Index, string Word, int Start, int End)>();
        void Close()
        {
            if (current.Count == 0) return;
            var type = current[0].Entity.Split('-', 2)[^1];
            groups.Add(new TokenPrediction(null, type, current.Average(e => e.Score), null, TokensToString(current.Select(e => e.Word)),
                current[0].Start, current[^1].End));
            current = [];
        }
        foreach (var e in entities)
        {
            var (bi, tag) = Tag(e.Entity);
            if (current.Count > 0 && (tag != Tag(current[^1].Entity).Type || bi == 'B')) Close();
            current.Add(e);
        }
        Close();
        return groups.Where(g => g.EntityGroup != "O").ToList();
    }

    /// <summary>The pipeline's <c>get_tag</c>: <c>B-X</c> → (B, X), <c>I-X</c> → (I, X), anything else (O, POS tags) → (I, itself).</summary>
    private static (char Bi, string Type) Tag(string entity) =>
        entity.StartsWith("B-", StringComparison.Ordinal) ? ('B', entity[2..])
        : entity.StartsWith("I-", StringComparison.Ordinal) ? ('I', entity[2..]) : ('I', entity);

    /// <summary>BERT's <c>convert_tokens_to_string</c>: tokens joined by spaces, <c>##</c> continuations glued on.</summary>
    private static string TokensToString(IEnumerable<string> tokens) => string.Join(' ', tokens).Replace(" ##", "", StringComparison.Ordinal).Trim();

    private static int ArgMax(float[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
