using System.Diagnostics;
using System.Text.Json.Serialization;
using HybridBert.Model;
using HybridBert.Training;
using TorchSharp;
using static TorchSharp.torch;
using HybridBert.Memory;

namespace HybridBert.Benchmarks;

/// <summary>Train: a training step. Infer: a TorchSharp forward without autograd. Onnx: the same model's encoder
/// exported to ONNX (<see cref="Interop.OnnxExport"/>) and run by ONNX Runtime on the same inputs (<see
/// cref="Inference.OnnxEncoder"/>, as <c>--runtime onnx</c> runs it); OnnxInt8 (<c>onnx-int8</c>): its int8 graph
/// (<see cref="Interop.OnnxQuantization"/>).</summary>
public enum BenchMode { Train, Infer, Onnx, OnnxInt8 }

public enum MlmHeadMode { Sparse, Full }

/// <summary>One configuration to time.</summary>
public sealed record BenchSpec
{
    public string Preset { get; init; } = Presets.DefaultSize;
    public string Pattern { get; init; } = Presets.DefaultPattern;
    public int Seq { get; init; } = 128;
    public int Batch { get; init; } = 32;
    public Precision Precision { get; init; } = Precision.Fp32;
    public int Threads { get; init; } = Environment.ProcessorCount;
    public int Steps { get; init; } = 10;
    public int Warmup { get; init; } = 3;
    public BenchMode Mode { get; init; } = BenchMode.Train;
    public MlmHeadMode Head { get; init; } = MlmHeadMode.Sparse;
    public double MaskRate { get; init; } = 0.15;
    public int VocabSize { get; init; } = 8192;
    public int Seed { get; init; } = 1;
    public int TrimEvery { get; init; } = 1;
    /// <summary>Training: keep less for backward at some compute (<see cref="HybridBertEncoder.SaveMemory"/>).</summary>
    public bool SaveMemory { get; init; }
    /// <summary>cpu, cuda, cuda:N or auto (<see cref="Devices"/>).</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Hidden and attention dropout; null: the preset's (0.1, as BERT and the PyTorch reference).</summary>
    public double? Dropout { get; init; }
    /// <summary>Timing rounds: the whole sequence of specs runs this many times, interleaved, then each is combined.</summary>
    public int Rounds { get; init; } = 1;

    /// <summary>The defaults, for the CLI's help and flags.</summary>
    public static BenchSpec Defaults { get; } = new();

    // What `hybridbert bench` compares when not told: the grid is the CLI's, its defaults live here.
    public static readonly IReadOnlyList<string> DefaultPatterns = ["bert", "hybrid"];
    public static readonly IReadOnlyList<int> DefaultSeqs = [128, 512];
    public static readonly IReadOnlyList<BenchMode> DefaultModes = [BenchMode.Train, BenchMode.Infer];
    /// <summary>Tokens per step when no batch is given: the batch is this many tokens' worth of sequences, at least 1.</summary>
    public const int DefaultTokensPerStep = 4096;
    public const int DefaultTimeoutSeconds = 1800;
    public static int DefaultBatch(int seq) => Math.Max(1, DefaultTokensPerStep / seq);

    /// <summary>Every setting at once; throws one ArgumentException naming each that is out of range.</summary>
    public BenchSpec Validate()
    {
        var errors = new Problems();
        if (Steps < 1 || Rounds < 1) errors.Add($"--steps and --rounds must be >= 1 (got {Steps}, {Rounds})");
        if (Warmup < 0) errors.Add($"--warmup must be >= 0 (got {Warmup})");
        if (Seq < 4) errors.Add($"--seq must be >= 4 (got {Seq})");
        if (Batch < 1) errors.Add($"--batch must be >= 1 (got {Batch})");
        if (Threads < 1) errors.Add($"--threads must be >= 1 (got {Threads})");
        if (MaskRate is <= 0 or >= 1 || double.IsNaN(MaskRate)) errors.Add($"--mask-rate must be in (0, 1) (got {MaskRate})");
        if (VocabSize < 8) errors.Add($"--vocab-size must be >= 8 (got {VocabSize})");
        if (TrimEvery < 0) errors.Add($"--trim-every must be >= 0 (got {TrimEvery})");
        if (Dropout is { } d && (d is < 0 or >= 1 || double.IsNaN(d))) errors.Add($"--dropout must be in [0, 1) (got {d})");
        if (Devices.Problem(Device) is { } device) errors.Add(device);
        if (Mode is BenchMode.Onnx or BenchMode.OnnxInt8 && (Precision != Precision.Fp32 || Device != "cpu"))
            errors.Add($"--mode {EnumNames.Kebab(Mode)} runs ONNX Runtime's CPU provider in fp32 (got --precision " +
                $"{Precision.ToString().ToLowerInvariant()}, --device {Device})");
        errors.ThrowIfAny();
        return this;
    }
}

/// <summary>One measurement. Field names are a stable interface (<c>bench --json</c>): add, never rename.</summary>
public sealed record BenchResult
{
    public required string Pattern { get; init; }
    public required string LayerPattern { get; init; }
    public required string Preset { get; init; }
    public required int Seq { get; init; }
    public required int Batch { get; init; }
    public required string Precision { get; init; }
    public required int Threads { get; init; }
    public required string Mode { get; init; }
    public required string Head { get; init; }
    public string Status { get; init; } = "ok";   // ok | out_of_memory | error
    public string? Error { get; init; }
    public double? MedianMs { get; init; }
    public double? MinMs { get; init; }
    public double? MaxMs { get; init; }
    [JsonPropertyName("tokens_per_s")] public double? TokensPerSecond { get; init; }
    [JsonPropertyName("peak_rss_mib")] public double? PeakRssMiB { get; init; }
    public long? Params { get; init; }
    public int Steps { get; init; }
    /// <summary>Trained with <c>--save-memory</c>.</summary>
    public bool SaveMemory { get; init; }
    /// <summary>libtorch's allocator backed tensors of 2 MiB and more with huge pages (<see cref="NativeMemory.UseHugePages"/>:
    /// training runs that trim); null when the run did not get that far.</summary>
    public bool? HugePages { get; init; }
    /// <summary>Minor page faults per timed step (memory the step had to map in again); null where /proc is absent.</summary>
    public double? MinorFaultsPerStep { get; init; }

    public static BenchResult Failed(BenchSpec spec, string status, string error) => Describe(spec) with { Status = status, Error = error };

    public static BenchResult Describe(BenchSpec s) => new()
    {
        Pattern = s.Pattern, LayerPattern = SafePattern(s), Preset = s.Preset, Seq = s.Seq, Batch = s.Batch,
        Precision = s.Precision.ToString().ToLowerInvariant(), Threads = s.Threads, Mode = EnumNames.Kebab(s.Mode),
        Head = s.Head.ToString().ToLowerInvariant(), Steps = s.Steps, SaveMemory = s.SaveMemory,
    };

    private static string SafePattern(BenchSpec s)
    {
        try { return Presets.Pattern(s.Pattern, Presets.Size(s.Preset).NumHiddenLayers); }
        catch (ConfigException) { return s.Pattern; }
    }
}

/// <summary>
/// Times a training step (forward, MLM loss, backward, AdamW step) or an inference forward of one configuration on
/// random token ids, in this process. <c>hybridbert bench</c> runs each spec in a child process so that peak memory
/// (VmHWM) is that configuration's own.
/// </summary>
public static class ModelBenchmark
{
    public static BenchResult Measure(BenchSpec spec)
    {
        if (spec.Mode == BenchMode.Train && spec.TrimEvery > 0) NativeMemory.UseHugePages();   // as pretrain: before any tensor
        torch.set_num_threads(spec.Threads);
        var device = Devices.Resolve(spec.Device);
        torch.manual_seed(spec.Seed);
        var config = BenchInputs.Config(spec.Preset, spec.Pattern, spec.VocabSize, spec.Seq);
        if (spec.Dropout is { } dropout) config = config with { HiddenDropoutProb = dropout, AttentionProbsDropoutProb = dropout };
        using var model = new HybridBertModel(config);
        model.Bert.SaveMemory = spec.SaveMemory;
        model.to(device);
        var parameters = model.ParameterCount();
        var precision = new MixedPrecision(model, spec.Precision);
        var optimizer = torch.optim.AdamW(precision.Masters.Select(m => m.Parameter), 1e-4);
        // The step users train with (clipping at pre-training's default norm, the memory hooks): bench times that.
        var trainingStep = new TrainingStep(precision, optimizer, PretrainOptions.Defaults.MaxGradNorm, spec.TrimEvery);

        var ids = BenchInputs.RandomIds(config, spec.Batch, spec.Seq, device);
        var mask = torch.ones_like(ids);
        var inputs = new EncoderInputs(ids, mask);
        var masked = Math.Max(1, (int)(spec.MaskRate * spec.Batch * spec.Seq));
        var positions = torch.randperm(spec.Batch * spec.Seq, device: device).narrow(0, 0, masked);
        var labels = ids.reshape(-1).index_select(0, positions);

        if (spec.Mode is BenchMode.Onnx or BenchMode.OnnxInt8) return MeasureOnnx(spec, model, config, ids, mask, parameters);

        long steps = 0;
        void Step()
        {
            StepBody();
            // As the real loops do: pre-training trims every --trim-every steps; inference (predict, evaluation) never
            // trims: it made forwards slower (docs/results/design-measurements.md#inference-no-trim).
            if (spec.Mode == BenchMode.Train) trainingStep.Done(steps++);
            else NativeMemory.AfterInferenceBatch();
        }

        void StepBody()
        {
            using var scope = torch.NewDisposeScope();
            if (spec.Mode == BenchMode.Infer)
            {
                using var noGrad = torch.no_grad();
                model.eval();
                model.forward(inputs);
                return;
            }
            model.train();
            trainingStep.Run(steps, 1, _ =>
            {
                using var forward = torch.NewDisposeScope();   // as PretrainingLoss: only the loss outlives the forward
                var hidden = model.forward(inputs);
                return (spec.Head == MlmHeadMode.Sparse
                    ? model.MlmLossSum(hidden, positions, labels).Sum / positions.shape[0]
                    : nn.functional.cross_entropy(model.MlmLogits(hidden).reshape(-1, spec.VocabSize).index_select(0,
                        positions).to(ScalarType.Float32), labels))
                    .MoveToOuterDisposeScope();
            }, value => $"the loss is {value} at step {steps + 1}");
        }

        return Time(spec, Step, parameters);
    }

    private static BenchResult Time(BenchSpec spec, Action step, long parameters)
    {
        for (var i = 0; i < spec.Warmup; i++) step();
        var times = new List<double>();
        var faultsBefore = MemoryUsage.MinorFaults();
        for (var i = 0; i < spec.Steps; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            step();
            times.Add(stopwatch.Elapsed.TotalMilliseconds);
        }
        var faults = MemoryUsage.MinorFaults() - faultsBefore;
        var median = FineTuning.Metrics.Median(times);
        return BenchResult.Describe(spec) with
        {
            MedianMs = median, MinMs = times.Min(), MaxMs = times.Max(),
            TokensPerSecond = spec.Batch * spec.Seq / (median / 1000), PeakRssMiB = MemoryUsage.PeakMiB, Params = parameters,
            HugePages = NativeMemory.HugePagesActive(), MinorFaultsPerStep = faults / (double)spec.Steps,
        };
    }

    /// <summary>The encoder (no head, as <see cref="BenchMode.Infer"/> times) in ONNX Runtime: the graph is built in
    /// memory from this model's weights; the TorchSharp model is released before timing.</summary>
    private static BenchResult MeasureOnnx(BenchSpec spec, HybridBertModel model, EncoderConfig config, Tensor ids, Tensor mask, long parameters)
    {
        Onnx.ModelProto graph;
        using (var noGrad = torch.no_grad())
            graph = Interop.OnnxExport.Build(config, model.state_dict(), "", Interop.OnnxHead.None, FineTuning.Pooling.Cls, segmentIdsInput: false);
        model.Dispose();
        if (spec.Mode == BenchMode.OnnxInt8) graph = Interop.OnnxQuantization.DynamicInt8(graph);
        using var encoder = Inference.OnnxEncoder.FromGraph(Google.Protobuf.MessageExtensions.ToByteArray(graph), spec.Threads);
        graph = null!;
        var inputs = new EncoderInputs(ids, mask, torch.zeros_like(ids));
        return Time(spec, () => { using var scope = torch.NewDisposeScope(); encoder.Forward(inputs); }, parameters);
    }
}
