using System.Diagnostics;
using System.Text.Json;
using HybridBert.Inference;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Text;
using HybridBert.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridBert.Memory;

namespace HybridBert.FineTuning;

public sealed record FineTuneOptions
{
    /// <summary>Every default in one instance: the CLI shows and uses these (it declares none of its own).</summary>
    public static FineTuneOptions Defaults { get; } = new() { Task = new TaskSpec(), OutDir = "" };

    public required TaskSpec Task { get; init; }
    public required string OutDir { get; init; }
    /// <summary>A pre-training run folder or one of its checkpoints; null = random initialization (a baseline).</summary>
    public string? Checkpoint { get; init; }
    /// <summary>The model to build when starting from random weights.</summary>
    public EncoderConfig? RandomInitModel { get; init; }
    public Pooling Pooling { get; init; } = Pooling.Cls;
    public int Epochs { get; init; } = 3;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 1e-4;
    public double WarmupRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.01;
    public double MaxGradNorm { get; init; } = 1.0;
    public int MaxLength { get; init; } = 128;
    /// <summary>Hidden and attention dropout while fine-tuning, whatever the pre-trained config says (pre-training may
    /// run without dropout, as the Cramming recipe does; fine-tuning keeps BERT's 0.1).</summary>
    public double Dropout { get; init; } = 0.1;
    /// <summary>Layer-wise learning-rate decay: layer i of L gets lr × decay^(L−i), embeddings decay^(L+1); null = off.</summary>
    public double? LayerDecay { get; init; }
    /// <summary>Stop after this many evaluations without a better dev score; null = never.</summary>
    public int? Patience { get; init; }
    /// <summary>Evaluate on dev every this many steps as well as after each epoch; null = epochs only.</summary>
    public int? EvalEverySteps { get; init; }
    public IReadOnlyList<int> Seeds { get; init; } = [1];
    /// <summary>Replace an earlier fine-tuning's outputs in <see cref="OutDir"/> (without it a non-empty folder is refused).</summary>
    public bool Overwrite { get; init; }
    /// <summary>Train on the first N training examples only (a quick check); null = all.</summary>
    public int? MaxTrainExamples { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>cpu, cuda, cuda:N or auto (<see cref="Devices"/>).</summary>
    public string Device { get; init; } = "cpu";
    public bool Lowercase { get; init; } = true;

    /// <summary>Every setting at once; throws one ArgumentException naming each that is out of range.</summary>
    public FineTuneOptions Validate()
    {
        var errors = new Problems();
        if (Epochs < 1) errors.Add($"--epochs must be >= 1 (got {Epochs})");
        if (BatchSize < 1) errors.Add($"--batch must be >= 1 (got {BatchSize})");
        if (!(LearningRate > 0)) errors.Add($"--lr must be > 0 (got {LearningRate})");
        if (MaxLength < 3) errors.Add($"--max-len must be >= 3 ([CLS], a token, [SEP]; got {MaxLength})");
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) errors.Add($"--dropout must be in [0, 1) (got {Dropout})");
        if (WarmupRatio is < 0 or >= 1) errors.Add($"warm-up ratio must be in [0, 1) (got {WarmupRatio})");
        if (!(WeightDecay >= 0)) errors.Add($"--weight-decay must be >= 0 (got {WeightDecay})");
        if (!(MaxGradNorm > 0)) errors.Add($"--clip must be > 0 (got {MaxGradNorm})");
        if (LayerDecay is { } d && !(d is > 0 and <= 1)) errors.Add($"--llrd must be in (0, 1] (got {d})");
        if (Patience is < 1) errors.Add($"--patience must be >= 1 (got {Patience})");
        if (EvalEverySteps is < 1) errors.Add($"--eval-steps must be >= 1 (got {EvalEverySteps})");
        if (MaxTrainExamples is < 1) errors.Add($"--max-train-examples must be >= 1 (got {MaxTrainExamples})");
        if (Seeds.Count == 0) errors.Add("--seeds needs at least one seed");
        if (Seeds.Distinct().Count() != Seeds.Count) errors.Add($"--seeds repeats a seed ({string.Join(",", Seeds)}): each seed writes " +
            "its own seed-N folder");
        if (Threads < 1) errors.Add($"--threads must be >= 1 (got {Threads})");
        if (Devices.Problem(Device) is { } device) errors.Add(device);
        if (string.IsNullOrWhiteSpace(OutDir)) errors.Add("--out is required");
        if (Checkpoint is null &&
            RandomInitModel is null) errors.Add("give --checkpoint RUN_DIR, or --init random for a randomly initialized baseline");
        errors.ThrowIfAny();
        return this;
    }
}

/// <summary>One seed's outcome. <c>RssMiB</c>: the process's resident memory once this seed's model, optimizer and
/// best-weights copy are released — flat over seeds when nothing leaks from one seed to the next.</summary>
public sealed record SeedResult(int Seed, int BestEpoch, long BestStep, IReadOnlyDictionary<string, double> Dev,
    IReadOnlyDictionary<string, double>? Test, long[,]? DevConfusion, double Seconds, string ModelFolder, double RssMiB = double.NaN);

public sealed record FineTuneSummary(string Task, string Encoder, IReadOnlyList<SeedResult> Seeds,
    IReadOnlyDictionary<string, (double Mean, double Std)> Dev, IReadOnlyDictionary<string, (double Mean, double Std)>? Test,
        double MajorityBaseline);

/// <summary>Training progress; while a split is scored, <c>Scoring</c> names it ("dev", "test") and
/// <c>Scored</c>/<c>ToScore</c> count examples.</summary>
public sealed record FineTuneProgress(int Seed, int Epoch, long Step, long TotalSteps, double Loss, double? DevScore,
    string? Scoring = null, int Scored = 0, int ToScore = 0);

/// <summary>
/// <c>hybridbert finetune</c>: for each seed, a fresh classifier (pre-trained encoder, new pooler/head), AdamW with
/// warm-up and linear decay (optionally layer-wise decayed), dev evaluation after every epoch, early stopping on the
/// GLUE-style score, the best weights kept and saved; then mean ± std over seeds.
/// </summary>
public sealed class FineTuner(FineTuneOptions options, IProgress<FineTuneProgress>? progress = null)
{
    public FineTuneSummary Run(CancellationToken cancel = default)
    {
        options.Validate();
        using var outLock = IO.PathLock.Acquire(options.OutDir);   // one writer per output folder, for every seed
        PrepareOutDir(options);
        torch.set_num_threads(options.Threads);
        var device = Devices.Resolve(options.Device);
        var task = TaskData.Load(options.Task);
        if (options.MaxTrainExamples is { } cap && cap < task.Train.Count) task.Train.RemoveRange(cap, task.Train.Count - cap);
        if (task.Train.Count < options.BatchSize)
            Console.Error.WriteLine($"warning: --batch {options.BatchSize} is larger than the training set ({task.Train.Count} " +
                "examples): each epoch is one smaller step");
        var (config, vocabulary, source, lowercase, encoderName) = ResolveEncoder(options);
        config = config with { HiddenDropoutProb = options.Dropout, AttentionProbsDropoutProb = options.Dropout };
        var tokenizer = new BertTokenizer(vocabulary, lowercase);
        var train = task.Train.Select(e => tokenizer.Encode(e.Text, e.Pair, options.MaxLength)).ToList();
        var trainTargets = task.Train.Select(task.Target).ToArray();
        Directory.CreateDirectory(options.OutDir);

        var results = new List<SeedResult>();
        foreach (var seed in options.Seeds)
        {
            var result = TrainSeed(seed, task, config, source, tokenizer, vocabulary, train, trainTargets, device, cancel);
            // Once per seed: every step it made fine-tuning slower (docs/results/design-measurements.md#finetune-trim).
            NativeMemory.Trim();
            results.Add(result with { RssMiB = MemoryUsage.CurrentMiB });
        }

        var summary = new FineTuneSummary(task.Name, encoderName, results, Aggregate(results.Select(r => r.Dev)),
            results.All(r => r.Test is not null) ? Aggregate(results.Select(r => r.Test!)) : null, MajorityBaseline(task));
        IO.AtomicFile.WriteAllText(Path.Combine(options.OutDir, FineTuneResults.FileName),
            JsonSerializer.Serialize(FineTuneResults.From(summary), IO.JsonFiles.Options));
        return summary;
    }

    /// <summary>One seed: a fresh classifier and optimizer, training with dev evaluation, the best weights kept and saved.
    /// Everything it allocates is released when it returns (measured flat over seeds: <c>rss_mib</c> in results.json).</summary>
    private SeedResult TrainSeed(int seed, TaskData task, EncoderConfig config, ModelSource? source, BertTokenizer tokenizer, Vocabulary vocabulary,
        List<EncodedText> train, float[] trainTargets, Device device, CancellationToken cancel)
    {
        cancel.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        torch.manual_seed(seed);
        using var classifier = new SequenceClassifier(config, task.Outputs, options.Pooling);
        // The encoder's weights; the MLM/sentence head and a classifier's own head are not the encoder.
        source?.LoadInto(classifier.Encoder, ignorePrefixes: ["cls.", "classifier."], optionalPrefixes: ["pooler."]);
        classifier.to(device);
        var head = new TaskHead(task.Name, task.Regression, task.Labels, task.Metrics, options.Pooling, options.MaxLength,
            tokenizer.Basic.Lowercase, options.Task.Columns);
        using var model = new FineTunedModel(classifier, tokenizer, head);

        TaskMetrics Score(string split, List<LabeledExample> examples, TrainingPosition at)
        {
            using var inference = InferenceModel.For(model);
            return Evaluate(inference, task, examples,
                new SynchronousProgress<int>(done =>
                    progress?.Report(new FineTuneProgress(seed, at.Epoch, at.Step, at.TotalSteps, double.NaN, null, split, done, examples.Count))),
                cancel);
        }

        var (bestEpoch, bestStep, dev) = SeedTraining.Run(options, classifier, config.NumHiddenLayers, train, seed, batch =>
        {
            var logits = classifier.forward(Data.Batches.Inputs(batch.Select(i => train[i]).ToList(), vocabulary.PadId, device));
            var targets = torch.tensor(batch.Select(i => trainTargets[i]).ToArray(), device: device);
            return task.Regression
                ? nn.functional.mse_loss(logits.squeeze(-1), targets)
                : nn.functional.cross_entropy(logits, targets.to(ScalarType.Int64));
        }, at =>
        {
            var metrics = Score("dev", task.Dev, at);
            return (metrics.Score, metrics);
        }, progress, cancel);

        var folder = Path.Combine(options.OutDir, $"seed-{seed}");
        model.Save(folder);
        // dev is the best scoring's own metrics: those weights, in eval mode, score the same again.
        var end = new TrainingPosition(bestEpoch, bestStep, bestStep);
        var test = task.Test is { Count: > 0 } t ? Score("test", t, end).Values : null;
        return new SeedResult(seed, bestEpoch, bestStep, dev.Values, test, dev.Confusion, clock.Elapsed.TotalSeconds, folder);
    }

    /// <summary>
    /// Random batches of similar lengths: shuffle, sort by length within chunks of 50 batches, cut into batches,
    /// shuffle the batches. Padding to the longest in a batch then wastes little while the order stays random
    /// (docs/results/design-measurements.md#length-grouped-batches).
    /// </summary>
    public static List<int[]> LengthGroupedBatches(IReadOnlyList<EncodedText> examples, int batchSize, Random random)
    {
        var order = Enumerable.Range(0, examples.Count).ToArray();
        random.Shuffle(order);
        var batches = order.Chunk(batchSize * 50)
            .SelectMany(chunk => chunk.OrderBy(i => examples[i].Length).Chunk(batchSize))
            .ToList();
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batches));
        return batches;
    }

    /// <summary>
    /// The task's metrics over <paramref name="examples"/>, scored by the one classification engine
    /// (<see cref="TextClassifier"/>, as <c>predict</c> and the server): texts cut to the model's maximum, as it was
    /// fine-tuned.
    /// </summary>
    /// <param name="progress">Examples scored so far, reported every <see cref="EvaluateChunk"/>.</param>
    public static TaskMetrics Evaluate(InferenceModel model, TaskData task, IReadOnlyList<LabeledExample> examples, IProgress<int>? progress = null,
        CancellationToken cancel = default)
    {
        var classifier = new TextClassifier(model);
        var predictions = new List<float>(examples.Count);
        foreach (var chunk in examples.Chunk(EvaluateChunk))
        {
            var rows = model.Encode(chunk.Select(e => e.Text).ToList(), truncate: true, chunk.Select(e => e.Pair).ToList());
            predictions.AddRange(classifier.Predict(rows, cancel).Select(p => p.Prediction));
            progress?.Report(predictions.Count);
        }
        return TaskMetrics.Compute(task, examples, predictions);
    }

    /// <summary>Examples scored between progress reports.</summary>
    private const int EvaluateChunk = 256;

    /// <summary>Refuses a non-empty output folder unless <see cref="FineTuneOptions.Overwrite"/>; then removes the
    /// earlier outputs (seed-N folders, results.json) only.</summary>
    internal static void PrepareOutDir(FineTuneOptions options)
    {
        var dir = options.OutDir;
        IO.StaleTemporaries.Remove(dir, ".seed-*.tmp-*", message => Console.Error.WriteLine(message));   // a model folder a killed run was writing
        if (!Directory.Exists(dir) || !Directory.EnumerateFileSystemEntries(dir).Any()) return;
        if (!options.Overwrite) throw new IO.OutputExistsException(dir, "files (an earlier fine-tuning?)", resumable: false);
        foreach (var seedDir in Directory.GetDirectories(dir, "seed-*")) Directory.Delete(seedDir, recursive: true);
        File.Delete(Path.Combine(dir, FineTuneResults.FileName));
    }

    /// <summary>Accuracy of always answering the most frequent training label on dev (NaN for regression).</summary>
    public static double MajorityBaseline(TaskData task)
    {
        if (task.Regression) return double.NaN;
        var majority = task.Train.GroupBy(e => e.Label).OrderByDescending(g => g.Count()).First().Key;
        return task.Dev.Count(e => e.Label == majority) / (double)task.Dev.Count;
    }

    internal static Dictionary<string, (double Mean, double Std)> Aggregate(IEnumerable<IReadOnlyDictionary<string, double>> runs)
    {
        var list = runs.ToList();
        return list[0].Keys.ToDictionary(k => k, k => Metrics.MeanStd(list.Select(r => r[k]).ToList()));
    }

    /// <summary>The encoder to start from: a loadable model (<see cref="ModelSource"/>), or null weights for random initialization.</summary>
    internal static (EncoderConfig Config, Vocabulary Vocabulary, ModelSource? Source, bool Lowercase, string Name) ResolveEncoder(
        FineTuneOptions options)
    {
        if (options.Checkpoint is null)
        {
            var config = options.RandomInitModel ?? throw new ArgumentException("give --checkpoint, or --init random with a model preset");
            var vocabulary = Data.EmbeddedData.Vocabulary();
            return (config.ForVocabulary(vocabulary), vocabulary, null, options.Lowercase, $"random {config.LayerPattern}");
        }
        var source = ModelSource.Open(options.Checkpoint);
        return (source.Config, source.Vocabulary, source, source.Lowercase ?? options.Lowercase, source.Description);
    }

    internal static (AdamW Optimizer, double[] Scales) BuildOptimizer(FineTuneOptions options, nn.Module classifier, int layers)
    {
        var groups = new List<AdamW.ParamGroup>();
        var scales = new List<double>();
        int Depth(string name)
        {
            if (name.StartsWith("bert.embeddings.", StringComparison.Ordinal)) return 0;
            const string prefix = "bert.encoder.layer.";
            if (name.StartsWith(prefix, StringComparison.Ordinal)) return int.Parse(name[prefix.Length..].Split('.')[0]) + 1;
            return layers + 1;   // pooler and classifier: the full learning rate
        }
        foreach (var bucket in classifier.named_parameters().GroupBy(p =>
            (Depth: options.LayerDecay is null ? layers + 1 : Depth(p.name), NoDecay: !WeightDecay.AppliesTo(p.name))))
        {
            groups.Add(new AdamW.ParamGroup(bucket.Select(p => p.parameter),
                new AdamW.Options { weight_decay = bucket.Key.NoDecay ? 0 : options.WeightDecay }));
            scales.Add(options.LayerDecay is { } d ? Math.Pow(d, layers + 1 - bucket.Key.Depth) : 1.0);
        }
        return (torch.optim.AdamW(groups, options.LearningRate, 0.9, 0.999, 1e-8), scales.ToArray());
    }
}
