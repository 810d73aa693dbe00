using System.Diagnostics;
using HybridBert.FineTuning;
using HybridBert.Inference;
using HybridBert.Text;

namespace HybridBert.Benchmarks;

/// <summary>One runtime's speed and how far its answers are from the torch runtime's. Field names are the JSON interface.</summary>
public sealed record RuntimeQuality
{
    /// <summary>torch, onnx or onnx-int8.</summary>
    public required string Runtime { get; init; }
    public required int Rows { get; init; }
    /// <summary>Tokens a second embedding the rows (mean pooling), model loading and the first batch not counted.</summary>
    public required double TokensPerSecond { get; init; }
    /// <summary>Cosine of each row's normalised mean embedding to the torch runtime's: the mean and the lowest.</summary>
    public double? MeanCosine { get; init; }
    public double? MinCosine { get; init; }
    /// <summary>Share of rows (one [MASK] each) whose top fill-mask token is the torch runtime's; null without an MLM head.</summary>
    public double? FillMaskTop1Agreement { get; init; }
    /// <summary>The task's first metric (accuracy for classification) on the labelled file, for a classifier given one.</summary>
    public string? Metric { get; init; }
    public double? MetricValue { get; init; }
}

/// <summary>
/// <c>hybridbert bench runtimes</c>: one model under the torch runtime, ONNX Runtime and ONNX Runtime int8, on the
/// validation split of prepared data (the embedded corpus, prepared on the fly, when none is given): tokens a second,
/// embeddings' cosine to torch, fill-mask top-1 agreement with torch, and a classifier's metric on a labelled file.
/// </summary>
public static class RuntimeComparison
{
    public static readonly (InferenceRuntime Runtime, bool Quantized, string Name)[] Runtimes =
        [(InferenceRuntime.Torch, false, "torch"), (InferenceRuntime.Onnx, false, "onnx"), (InferenceRuntime.Onnx, true, "onnx-int8")];

    public static List<RuntimeQuality> Run(string modelPath, string? dataDir, string? labelledFile, int maxRows, Action<string>? log = null,
        CancellationToken cancel = default)
    {
        if (maxRows < 1) throw new ArgumentException($"--rows must be >= 1 (got {maxRows})");
        List<EncodedText> rows;
        using (var first = InferenceModel.Load(modelPath)) rows = ValidationRows(first, dataDir, maxRows, log);
        var tokens = rows.Sum(r => (long)r.Length);
        var results = new List<RuntimeQuality>();
        float[][]? reference = null;
        int[]? referenceTop1 = null;
        foreach (var (runtime, quantized, name) in Runtimes)
        {
            cancel.ThrowIfCancellationRequested();
            log?.Invoke($"{name}: {rows.Count:N0} rows, {tokens:N0} tokens…");
            using var model = InferenceModel.Load(modelPath, runtime: runtime, quantized: quantized);
            var embedder = new Embedder(model);
            embedder.Embed(rows.Take(8).ToList(), Pooling.Mean, true, cancel);   // warm-up: first-call costs are not timed
            var stopwatch = Stopwatch.StartNew();
            var vectors = embedder.Embed(rows, Pooling.Mean, true, cancel);
            var seconds = stopwatch.Elapsed.TotalSeconds;
            var top1 = model.CanFillMask ? Top1(model, rows, cancel) : null;
            (string? Name, double? Value) metric = labelledFile is not null && model.CanClassify ? Score(model, labelledFile, cancel) : (null, null);
            reference ??= vectors;
            referenceTop1 ??= top1;
            var cosines = vectors.Zip(reference, (a, b) => (double)a.Zip(b, (x, y) => x * y).Sum()).ToList();
            results.Add(new RuntimeQuality
            {
                Runtime = name, Rows = rows.Count, TokensPerSecond = tokens / seconds,
                MeanCosine = results.Count == 0 ? null : cosines.Average(), MinCosine = results.Count == 0 ? null : cosines.Min(),
                FillMaskTop1Agreement = results.Count == 0 || top1 is null || referenceTop1 is null ? null
                    : top1.Zip(referenceTop1, (a, b) => a == b ? 1.0 : 0.0).Average(),
                Metric = metric.Name, MetricValue = metric.Value,
            });
        }
        return results;
    }

    /// <summary>The first <paramref name="maxRows"/> sequences of the validation split, as the model reads ids.</summary>
    private static List<EncodedText> ValidationRows(InferenceModel model, string? dataDir, int maxRows, Action<string>? log)
    {
        string? temp = null;
        if (dataDir is null)
        {
            temp = Path.Combine(Path.GetTempPath(), $"hybridbert-runtimes-{Environment.ProcessId}");
            log?.Invoke("preparing the embedded corpus with the model's vocabulary (its validation split is the rows)…");
            Data.DataPreparation.Run(Data.CorpusSource.Default(), model.Tokenizer.Vocabulary, temp,
                new Data.PrepareOptions { SeqLen = Math.Min(128, model.MaxLength), Overwrite = true, Lowercase = model.Tokenizer.Basic.Lowercase });
        }
        try
        {
            using var data = Data.ShardDataset.Open(dataDir ?? temp!, "validation");
            if (data.Count == 0) throw new InvalidDataException($"{data.Directory}: the validation split is empty");
            return Enumerable.Range(0, (int)Math.Min(maxRows, data.Count))
                .Select(i => model.EncodeIds(data[i].Ids[..data[i].Length], truncate: true, i)).ToList();
        }
        finally
        {
            if (temp is not null && Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>Each row with one word piece masked (a fixed position per row) and the model's top token there.</summary>
    private static int[] Top1(InferenceModel model, List<EncodedText> rows, CancellationToken cancel)
    {
        var vocabulary = model.Tokenizer.Vocabulary;
        var masked = rows.Select((row, i) =>
        {
            var ids = (int[])row.InputIds.Clone();
            var candidates = Enumerable.Range(0, ids.Length)
                .Where(p => ids[p] != vocabulary.ClsId && ids[p] != vocabulary.SepId && ids[p] != vocabulary.PadId).ToList();
            if (candidates.Count > 0) ids[candidates[i * 7919 % candidates.Count]] = vocabulary.MaskId;
            return row with { InputIds = ids };
        }).ToList();
        return new FillMask(model).Predict(masked, 1, cancel).Select(row => row.Count == 0 ? -1 : row[0][0].Token).ToArray();
    }

    private static (string Metric, double Value) Score(InferenceModel model, string path, CancellationToken cancel)
    {
        var head = model.Task!;
        var report = new ReadReport();
        var examples = TaskFileReader.Read(path, head.Columns with { Label = head.Columns.Label ?? "label" }, true, report);
        var task = new TaskData { Name = head.Task, Regression = head.Regression, Labels = head.Labels, Metrics = head.Metrics, Train = [],
            Dev = examples, Report = report };
        var metrics = FineTuner.Evaluate(model, task, examples, null, cancel);
        var (name, value) = metrics.Values.First();
        return (name, value);
    }
}
