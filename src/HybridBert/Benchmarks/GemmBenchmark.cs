using System.Diagnostics;
using HybridBert.Inference;
using HybridBert.Interop;
using HybridBert.Model;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace HybridBert.Benchmarks;

/// <summary>What <c>hybridbert bench gemm</c> times: the matrix products of one encoder forward at a preset's sizes.</summary>
public sealed record GemmBenchSpec
{
    public string Preset { get; init; } = Presets.DefaultSize;
    public int Seq { get; init; } = 128;
    /// <summary>Null: <see cref="BenchSpec.DefaultBatch"/> (4,096 tokens' worth).</summary>
    public int? Batch { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Rounds over every product and engine, interleaved; medians over them are reported.</summary>
    public int Rounds { get; init; } = 5;
    /// <summary>Products timed together in one round (their mean is the round's figure).</summary>
    public int Repeats { get; init; } = 10;
    /// <summary>Untimed products of each kind before the first round.</summary>
    public int Warmup { get; init; } = 3;
    public int Seed { get; init; } = 1;

    public int BatchOrDefault => Batch ?? BenchSpec.DefaultBatch(Seq);

    public GemmBenchSpec Validate()
    {
        var errors = new Problems();
        if (Seq < 1) errors.Add($"--seq must be >= 1 (got {Seq})");
        if (Batch is < 1) errors.Add($"--batch must be >= 1 (got {Batch})");
        if (Threads < 1) errors.Add($"--threads must be >= 1 (got {Threads})");
        if (Rounds < 1) errors.Add($"--rounds must be >= 1 (got {Rounds})");
        if (Repeats < 1) errors.Add($"--repeats must be >= 1 (got {Repeats})");
        if (Warmup < 0) errors.Add($"--warmup must be >= 0 (got {Warmup})");
        errors.ThrowIfAny();
        Presets.Size(Preset);   // a bad name fails here, with the list of sizes
        return this;
    }
}

/// <summary>
/// One product on one engine, or (<see cref="Kind"/> "forward") all of an encoder forward's products on it. Field names
/// are a stable interface (<c>bench gemm --json</c>): add, never rename.
/// </summary>
public sealed record GemmRow
{
    /// <summary>"product" (one shape) or "forward" (every product of one encoder forward, summed).</summary>
    public required string Kind { get; init; }
    /// <summary>"projections" ([tokens, hidden] × [hidden, 3 × width]: a mixer's three, side by side), "output" (the
    /// dense after the mixer), "ffn_in", "ffn_out", or "encoder" for a forward row.</summary>
    public required string Part { get; init; }
    /// <summary>torch-fp32 (libtorch, MKL), torch-bf16 (libtorch, oneDNN), onnx-fp32 (ONNX Runtime, MLAS), onnx-int8 (the
    /// graph <see cref="OnnxQuantization.DynamicInt8"/> writes, as <c>--runtime onnx --quantized</c> runs it).</summary>
    public required string Engine { get; init; }
    public required long M { get; init; }
    public required long K { get; init; }
    public required long N { get; init; }
    /// <summary>How many such products one encoder forward makes (1 for a forward row).</summary>
    public required int PerForward { get; init; }
    public required double MedianMs { get; init; }
    public required double MinMs { get; init; }
    /// <summary>Multiply-adds × 2 per second, in billions, at the median (integer operations for int8).</summary>
    public required double Gflops { get; init; }
    /// <summary>This engine's speed over torch-fp32's on the same row (> 1: faster).</summary>
    public required double VsTorchFp32 { get; init; }
    /// <summary>max |product − torch-fp32's| / max |torch-fp32's| on the timed inputs: the engine computes the same
    /// product, to its precision. Null on forward rows.</summary>
    public double? MaxRelError { get; init; }
}

/// <summary>
/// The speed of an encoder forward's matrix products on each engine this toolkit runs — libtorch fp32 and bf16, ONNX
/// Runtime fp32 and int8 — on this machine. The products are most of a forward's time, so their sum on an engine is
/// a floor under that engine's forward, and the ratio of two engines' sums a ceiling on how much faster one runtime's
/// forward can be than the other's (docs/results/gemm). One process, random inputs of the preset's shapes at
/// seq × batch tokens; each round times every product on every engine (interleaved, so that drift hits all alike);
/// medians over rounds.
/// </summary>
public static class GemmBenchmark
{
    public static readonly IReadOnlyList<string> Engines = ["torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8"];

    private sealed record Product(string Part, long M, long K, long N, int PerForward);

    public static IReadOnlyList<GemmRow> Measure(GemmBenchSpec spec, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        spec.Validate();
        torch.set_num_threads(spec.Threads);
        torch.manual_seed(spec.Seed);
        var config = Presets.Size(spec.Preset);
        var (tokens, hidden, inner, layers) = ((long)spec.Seq * spec.BatchOrDefault, config.HiddenSize, config.IntermediateSize,
            config.NumHiddenLayers);
        // Per layer: a mixer's three token projections (attention's query, key and value, pooling's O, segment and local; the
        // mean query is one row) as one product with the weights side by side, as the torch runtime runs them, the output
        // dense, the FFN's two.
        var width = config.NumAttentionHeads * config.HeadSize;
        Product[] products =
        [
            new("projections", tokens, hidden, 3 * width, layers),
            new("output", tokens, width, hidden, layers),
            new("ffn_in", tokens, hidden, inner, layers),
            new("ffn_out", tokens, inner, hidden, layers),
        ];
        using var scope = NewDisposeScope();
        using var noGrad = torch.no_grad();
        var runners = products.Select(p =>
        {
            // One input and weight per product, for every engine: the weight as a linear layer holds it ([N, K], BERT's
            // initial scale), the activations unit normal.
            var (input, weight) = (torch.randn(p.M, p.K), torch.randn(p.N, p.K) * 0.02);
            return Engines.Select(e => new Runner(p, e, input, weight, spec.Threads)).ToArray();
        }).ToArray();
        try
        {
            foreach (var r in runners.SelectMany(r => r))
                for (var i = 0; i < spec.Warmup; i++) r.RunAndRelease();
            var times = runners.Select(r => r.Select(_ => new List<double>()).ToArray()).ToArray();
            for (var round = 0; round < spec.Rounds; round++)
            {
                progress?.Report($"round {round + 1}/{spec.Rounds}");
                for (var p = 0; p < products.Length; p++)
                    for (var e = 0; e < Engines.Count; e++)
                    {
                        cancel.ThrowIfCancellationRequested();
                        var watch = Stopwatch.StartNew();
                        for (var i = 0; i < spec.Repeats; i++) runners[p][e].RunAndRelease();
                        times[p][e].Add(watch.Elapsed.TotalMilliseconds / spec.Repeats);
                    }
            }
            var rows = new List<GemmRow>();
            for (var p = 0; p < products.Length; p++)
            {
                var (product, reference) = (products[p], runners[p][0].Run());
                for (var e = 0; e < Engines.Count; e++)
                {
                    var median = FineTuning.Metrics.Median(times[p][e]);
                    var result = e == 0 ? reference : runners[p][e].Run();
                    var error = (result.to(ScalarType.Float32) - reference).abs().max().item<float>() / reference.abs().max().item<float>();
                    rows.Add(new GemmRow
                    {
                        Kind = "product", Part = product.Part, Engine = Engines[e], M = product.M, K = product.K, N = product.N,
                        PerForward = product.PerForward, MedianMs = median, MinMs = times[p][e].Min(),
                        Gflops = 2.0 * product.M * product.K * product.N / median / 1e6, VsTorchFp32 = FineTuning.Metrics.Median(times[p][0]) / median,
                        MaxRelError = error,
                    });
                }
            }
            var flops = products.Sum(p => 2.0 * p.M * p.K * p.N * p.PerForward);
            double Forward(int engine, Func<GemmRow, double> time) =>
                rows.Where(r => r.Kind == "product" && r.Engine == Engines[engine]).Sum(r => r.PerForward * time(r));
            for (var e = 0; e < Engines.Count; e++)
            {
                var ms = Forward(e, r => r.MedianMs);
                rows.Add(new GemmRow
                {
                    Kind = "forward", Part = "encoder", Engine = Engines[e], M = tokens, K = hidden, N = hidden, PerForward = 1,
                    MedianMs = ms, MinMs = Forward(e, r => r.MinMs), Gflops = flops / ms / 1e6, VsTorchFp32 = Forward(0, r => r.MedianMs) / ms,
                });
            }
            return rows;
        }
        finally
        {
            foreach (var r in runners.SelectMany(r => r)) r.Dispose();
        }
    }

    /// <summary>One product [M, K] × [K, N] on one engine: input [M, K] times weight [N, K] transposed, as a linear layer.</summary>
    private sealed class Runner : IDisposable
    {
        private readonly Tensor weight;
        private readonly InferenceSession? session;
        private readonly OrtValue? feed, written;
        private readonly Tensor? output;   // ONNX Runtime writes here
        private readonly RunOptions? runOptions;
        private readonly Tensor input;

        public Runner(Product p, string engine, Tensor input, Tensor weight, int threads)
        {
            (this.input, this.weight) = engine == "torch-bf16" ? (input.to(ScalarType.BFloat16), weight.to(ScalarType.BFloat16)) : (input, weight);
            if (!engine.StartsWith("onnx")) return;
            output = torch.empty(p.M, p.N);
            var graph = new GraphBuilder(new Dictionary<string, Tensor> { ["weight"] = weight.t().contiguous() });
            graph.Output(graph.Op("MatMul", [graph.FloatInput("input", p.M, p.K), graph.Weight("weight")]), "output",
                [$"{p.M}", $"{p.N}"]);
            var model = graph.Model($"bench gemm: [{p.M}, {p.K}] x [{p.K}, {p.N}]");
            session = OnnxEncoder.Session(engine == "onnx-int8" ? OnnxQuantization.DynamicInt8(model) : model, threads);
            feed = OnnxEncoder.InPlace<float>(input, TensorElementType.Float);
            written = OnnxEncoder.InPlace<float>(output, TensorElementType.Float);
            runOptions = new RunOptions();
        }

        /// <summary>The product, as timed: a fresh tensor freed at once for libtorch (as a forward frees its products),
        /// written into one buffer for ONNX Runtime (as <see cref="OnnxEncoder"/> does).</summary>
        public void RunAndRelease()
        {
            var product = Run();
            if (session is null) product.Dispose();
        }

        /// <summary>The product (a fresh tensor for libtorch; the engine's own output buffer for ONNX Runtime).</summary>
        public Tensor Run()
        {
            if (session is null) return nn.functional.linear(input, weight);
            session.Run(runOptions, ["input"], [feed!], ["output"], [written!]);
            return output!;
        }

        public void Dispose()
        {
            feed?.Dispose();
            written?.Dispose();
            runOptions?.Dispose();
            session?.Dispose();
        }
    }
}
