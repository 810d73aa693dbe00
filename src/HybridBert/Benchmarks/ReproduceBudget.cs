namespace HybridBert.Benchmarks;

/// <summary>How much compute <c>hybridbert reproduce</c> spends. Every model gets the same pre-training budget.</summary>
public sealed record ReproduceBudget
{
    public required string Name { get; init; }
    public required string Preset { get; init; }
    public required int SeqLen { get; init; }
    public required int Batch { get; init; }
    public required int Steps { get; init; }
    public required double PretrainLr { get; init; }
    public required int EvalEvery { get; init; }
    public required int EvalBatches { get; init; }
    public required int FineTuneEpochs { get; init; }
    public required int[] FineTuneSeeds { get; init; }
    public int? FineTuneMaxTrain { get; init; }
    public required int FineTuneMaxLength { get; init; }
    public required double FineTuneLr { get; init; }
    /// <summary>Sequence lengths for the speed/memory benchmark stage (empty: no benchmark).</summary>
    public int[] BenchSeqs { get; init; } = [];
    public int BenchSteps { get; init; } = 5;
    public int BenchRounds { get; init; } = 2;

    /// <summary>Under 3 minutes on 2 cores: a tiny model, a few steps, a slice of the task. Checks the pipeline, not the paper.</summary>
    public static readonly ReproduceBudget Smoke = new()
    {
        Name = "smoke", Preset = "tiny", SeqLen = 64, Batch = 8, Steps = 12, PretrainLr = 2e-3, EvalEvery = 12, EvalBatches = 3,
        FineTuneEpochs = 1, FineTuneSeeds = [1, 2], FineTuneMaxTrain = 256, FineTuneMaxLength = 48, FineTuneLr = 1e-3,
    };

    /// <summary>
    /// About 30 minutes on 2 cores: the mini model (4×256), the same budget for all ten pre-training runs. At ~245k
    /// tokens per arm the models are still near the unigram plateau (measured: MLM accuracy 6.4% for every arm), so
    /// this budget checks speed, memory and the pipeline; differences in loss and accuracy need <c>long</c>.
    /// </summary>
    public static readonly ReproduceBudget Default = new()
    {
        Name = "default", Preset = "mini", SeqLen = 128, Batch = 16, Steps = 120, PretrainLr = 1e-3, EvalEvery = 40, EvalBatches = 20,
        FineTuneEpochs = 2, FineTuneSeeds = [1, 2, 3], FineTuneMaxLength = 64, FineTuneLr = 1e-3, BenchSeqs = [128, 512], BenchRounds = 1,
    };

    /// <summary>A real run: hours.</summary>
    public static readonly ReproduceBudget Long = new()
    {
        Name = "long", Preset = "mini", SeqLen = 128, Batch = 32, Steps = 3000, PretrainLr = 5e-4, EvalEvery = 250, EvalBatches = 50,
        FineTuneEpochs = 3, FineTuneSeeds = [1, 2, 3, 4, 5], FineTuneMaxLength = 128, FineTuneLr = 1e-4, BenchSeqs = [128, 512, 2048], BenchRounds = 3,
    };

    public static ReproduceBudget Get(string name) => name.ToLowerInvariant() switch
    {
        "smoke" => Smoke,
        "default" => Default,
        "long" => Long,
        _ => throw new ArgumentException($"--budget must be smoke, default or long (got '{name}')"),
    };
}
