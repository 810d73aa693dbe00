using System.Diagnostics;
using System.Text.Json.Serialization;
using HybridBert.Model;
using HybridBert.Training;
using TorchSharp;
using static TorchSharp.torch;
using HybridBert.Memory;

namespace HybridBert.Benchmarks;

/// <summary>What <c>hybridbert bench layers</c> times: one encoder layer of each mixer kind, and its mixer alone.</summary>
public sealed record LayerProfileSpec
{
    public string Preset { get; init; } = Presets.DefaultSize;
    public int Seq { get; init; } = 512;
    /// <summary>Null: <see cref="BenchSpec.DefaultBatch"/> (4,096 tokens' worth).</summary>
    public int? Batch { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    public int Repeats { get; init; } = 10;
    public int Warmup { get; init; } = 2;
    /// <summary>Layer letters to profile (<see cref="Mixers"/>); default all.</summary>
    public string Letters { get; init; } = Mixers.Letters;
    /// <summary>Hidden and attention dropout; null: the preset's.</summary>
    public double? Dropout { get; init; }
    public int Seed { get; init; } = 1;
    /// <summary>Keep less for backward (<see cref="HybridBertEncoder.SaveMemory"/>).</summary>
    public bool SaveMemory { get; init; }

    public static LayerProfileSpec Defaults { get; } = new();

    public int BatchOrDefault => Batch ?? BenchSpec.DefaultBatch(Seq);

    public LayerProfileSpec Validate()
    {
        var errors = new Problems();
        if (Seq < 4) errors.Add($"--seq must be >= 4 (got {Seq})");
        if (Batch is < 1) errors.Add($"--batch must be >= 1 (got {Batch})");
        if (Threads < 1) errors.Add($"--threads must be >= 1 (got {Threads})");
        if (Repeats < 1) errors.Add($"--repeats must be >= 1 (got {Repeats})");
        if (Warmup < 0) errors.Add($"--warmup must be >= 0 (got {Warmup})");
        if (Letters.Length == 0 || Letters.FirstOrDefault(c => !Mixers.IsKnown(c)) is var bad && bad != default)
            errors.Add($"--letters must be letters of {Mixers.Letters} ({Mixers.Legend}; got '{Letters}')");
        if (Dropout is { } d && (d is < 0 or >= 1 || double.IsNaN(d))) errors.Add($"--dropout must be in [0, 1) (got {d})");
        errors.ThrowIfAny();
        Presets.Size(Preset);   // a bad name fails here, with the list of sizes
        return this;
    }
}

/// <summary>One part's figures. Field names are a stable interface (<c>bench layers --json</c>): add, never rename.</summary>
public sealed record LayerProfileRow
{
    public required string Letter { get; init; }
    /// <summary>"layer" (mixer block and FFN, as in the model) or "mixer" (the token mixer alone).</summary>
    public required string Part { get; init; }
    public required int Seq { get; init; }
    public required int Batch { get; init; }
    public required double ForwardMs { get; init; }
    public required double BackwardMs { get; init; }
    /// <summary>Resident memory a training forward leaves held until backward (what autograd saved, and the output).</summary>
    [JsonPropertyName("held_mib")] public required double HeldMiB { get; init; }
    public required long Params { get; init; }
}

/// <summary>
/// Where a training step's time and memory go, layer by layer: each mixer kind's encoder layer, and its mixer alone,
/// forward and backward in training mode on the same random input, in this process. Timings are medians over
/// <c>Repeats</c>, the kinds interleaved (A P H A P H …) so that drift hits all alike. Held memory is resident memory
/// after a forward minus before it, with freed memory returned to the OS at both points (glibc's malloc_trim), so
/// it counts what the forward keeps for backward and not the allocator's free lists; median of three.
/// </summary>
public static class LayerProfile
{
    public static IReadOnlyList<LayerProfileRow> Measure(LayerProfileSpec spec, IProgress<string>? progress = null)
    {
        spec.Validate();
        torch.set_num_threads(spec.Threads);
        torch.manual_seed(spec.Seed);
        var batch = spec.BatchOrDefault;
        var config = BenchInputs.Config(spec.Preset, "bert", 8192, spec.Seq);
        if (spec.Dropout is { } dropout) config = config with { HiddenDropoutProb = dropout, AttentionProbsDropoutProb = dropout };
        using var ids = BenchInputs.RandomIds(config, batch, spec.Seq, torch.CPU);
        using var mask = torch.ones_like(ids);
        var context = MixerContext.Build(new EncoderInputs(ids, mask), config, needsPooling: true);
        using var input = torch.randn(batch, spec.Seq, config.HiddenSize);

        var parts = new List<(string Letter, string Part, nn.Module<Tensor, MixerContext, Tensor> Module)>();
        foreach (var letter in spec.Letters.Distinct())
        {
            parts.Add((letter.ToString(), "layer", new EncoderLayer(config, letter)));
            parts.Add((letter.ToString(), "mixer", Mixers.Get(letter).Create(config)));
        }
        foreach (var (_, _, module) in parts)
        {
            module.train();
            HybridBertEncoder.SetSaveMemory(module, spec.SaveMemory);
        }

        var forward = parts.ToDictionary(p => p, _ => new List<double>());
        var backward = parts.ToDictionary(p => p, _ => new List<double>());
        var held = parts.ToDictionary(p => p, _ => new List<double>());
        for (var r = 0; r < spec.Warmup + spec.Repeats; r++)
        {
            progress?.Report($"round {r + 1}/{spec.Warmup + spec.Repeats}");
            foreach (var part in parts)
            {
                using var scope = torch.NewDisposeScope();
                var x = input.detach().requires_grad_(true);
                var clock = Stopwatch.StartNew();
                var y = Forward(part.Module, x, context);
                var forwardMs = clock.Elapsed.TotalMilliseconds;
                var gradient = torch.ones_like(y);
                clock.Restart();
                Backward.Run(y, gradient);
                if (r < spec.Warmup) continue;
                forward[part].Add(forwardMs);
                backward[part].Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        for (var r = 0; r < 3; r++)
            foreach (var part in parts)
            {
                using var scope = torch.NewDisposeScope();
                var x = input.detach().requires_grad_(true);
                NativeMemory.Trim();
                var before = MemoryUsage.CurrentMiB;
                var y = Forward(part.Module, x, context);
                NativeMemory.Trim();
                held[part].Add(MemoryUsage.CurrentMiB - before);
                Backward.Run(y, torch.ones_like(y));
            }

        var rows = parts.Select(p => new LayerProfileRow
        {
            Letter = p.Letter, Part = p.Part, Seq = spec.Seq, Batch = batch,
            ForwardMs = FineTuning.Metrics.Median(forward[p]), BackwardMs = FineTuning.Metrics.Median(backward[p]),
            HeldMiB = FineTuning.Metrics.Median(held[p]), Params = p.Module.parameters().Sum(t => t.numel()),
        }).ToList();
        foreach (var (_, _, module) in parts) module.Dispose();
        return rows;
    }

    // As EncoderLayer does: the forward's temporaries are disposed at once, only the output and what autograd saved stay.
    private static Tensor Forward(nn.Module<Tensor, MixerContext, Tensor> module, Tensor x, MixerContext context)
    {
        using var scope = torch.NewDisposeScope();
        return module.call(x, context).MoveToOuterDisposeScope();
    }
}
