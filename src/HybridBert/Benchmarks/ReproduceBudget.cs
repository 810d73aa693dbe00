using HybridBert.Training;

namespace HybridBert.Benchmarks;

/// <summary>
/// How much compute <c>hybridbert reproduce</c> spends, and on which arms. Every arm gets the same pre-training
/// recipe; every pre-training seed is run for every arm (arms with one seed see the same batches and masks), and
/// each pre-trained model is fine-tuned over <see cref="FineTuneSeeds"/>.
/// </summary>
public sealed record ReproduceBudget
{
    public required string Name { get; init; }
    public required string Preset { get; init; }
    /// <summary>Ids from <see cref="Reproduction.AllArms"/>, in the order they are run and reported.</summary>
    public required IReadOnlyList<string> Arms { get; init; }
    public required IReadOnlyList<int> PretrainSeeds { get; init; }
    /// <summary>Arms no claim rests on, run with the first pre-training seed only (to keep the budget's time).</summary>
    public IReadOnlyList<string> SingleSeedArms { get; init; } = [];
    public required int SeqLen { get; init; }
    public required int Batch { get; init; }
    public required int Steps { get; init; }
    public required double PretrainLr { get; init; }
    /// <summary>Std of the weight initialization (BERT's 0.02 unless a budget says otherwise).</summary>
    public double InitializerRange { get; init; } = 0.02;
    /// <summary>Warm-up as a share of <see cref="Steps"/>; linear decay to 0 after it.</summary>
    public double WarmupFraction { get; init; } = 0.06;
    /// <summary>Dropout while pre-training (Cramming: none); fine-tuning always uses BERT's 0.1.</summary>
    public double PretrainDropout { get; init; }
    public Precision PretrainPrecision { get; init; } = Precision.Bf16;
    /// <summary>--trim-every for the pre-training runs (0 = never: faster; speed and memory claims come from the bench stage).</summary>
    public int TrimEvery { get; init; }
    public required int EvalEvery { get; init; }
    public required int EvalBatches { get; init; }
    public required int FineTuneEpochs { get; init; }
    public required IReadOnlyList<int> FineTuneSeeds { get; init; }
    public int? FineTuneMaxTrain { get; init; }
    public required int FineTuneMaxLength { get; init; }
    public required double FineTuneLr { get; init; }
    /// <summary>The token-classification task every pre-trained model is also fine-tuned on (null: none): a second,
    /// word-level downstream test (tens of thousands of decisions a run).</summary>
    public string? TokenTask { get; init; } = "brown-pos";
    /// <summary>Training sentences of <see cref="TokenTask"/> (its first N); null = all.</summary>
    public int? TokenMaxTrain { get; init; }
    /// <summary>Dev sentences of <see cref="TokenTask"/> scored (its first N); null = all.</summary>
    public int? TokenMaxEval { get; init; }
    /// <summary>Sequence lengths for the speed/memory benchmark stage (empty: no benchmark).</summary>
    public IReadOnlyList<int> BenchSeqs { get; init; } = [];
    public string BenchPreset { get; init; } = "mini";
    public int BenchSteps { get; init; } = 5;
    public int BenchRounds { get; init; } = 2;
    /// <summary>Untimed steps before the timed ones in each bench configuration.</summary>
    public int BenchWarmup { get; init; } = 2;
    /// <summary>A budget that checks the pipeline and judges nothing: its report says so above every verdict.</summary>
    public bool PipelineCheck { get; init; }
    /// <summary>What a run of this budget takes on the 2-core reference machine (measured; shown in --help and the log).</summary>
    public required string ExpectedTime { get; init; }

    /// <summary>A pipeline check: a tiny model, a few steps, a slice of the task. Judges nothing.</summary>
    public static readonly ReproduceBudget Smoke = new()
    {
        Name = "smoke", Preset = "tiny", Arms = ["bert", "hybrid", "ponet", "bert-dm15", "bert-40", "bert-dm40"], PretrainSeeds = [1, 2],
        SeqLen = 64, Batch = 8, Steps = 12, PretrainLr = 2e-3, EvalEvery = 12, EvalBatches = 3,
        FineTuneEpochs = 1, FineTuneSeeds = [1], FineTuneMaxTrain = 256, FineTuneMaxLength = 48, FineTuneLr = 1e-3,
        TokenMaxTrain = 48, TokenMaxEval = 24,
        ExpectedTime = "under a minute", PipelineCheck = true,
    };

    /// <summary>
    /// The README's main job: the arms that carry the paper's claims with two pre-training seeds (PoNet, which
    /// carries none, with one), every arm off the unigram plateau, in under 30 minutes on 2 cores. The recipe's choices
    /// and their measured effects are in docs/results/README.md: a narrow model (4×128), short sequences (32), batch
    /// 64, lr 1e-3, no dropout, bf16, weights initialized with std 0.05, and a schedule long enough (1,300 steps) that
    /// BERT's sudden drop in loss happens while the learning rate is still high.
    /// </summary>
    public static readonly ReproduceBudget Default = new()
    {
        Name = "default", Preset = "narrow", Arms = ["bert", "hybrid", "ponet", "bert-dm15", "bert-40", "bert-dm40"], PretrainSeeds = [1, 2],
        SingleSeedArms = ["ponet"],
        SeqLen = 32, Batch = 64, Steps = 1300, PretrainLr = 1e-3, InitializerRange = 0.05, EvalEvery = 325, EvalBatches = 0,
        FineTuneEpochs = 2, FineTuneSeeds = [1, 2], FineTuneMaxLength = 64, FineTuneLr = 1e-3,
        TokenMaxTrain = 1500, TokenMaxEval = 1000,
        BenchSeqs = [128, 512], BenchSteps = 4, BenchRounds = 2,
        ExpectedTime = "26–35 minutes",   // measured from fresh clones, build included (README)
    };

    /// <summary>All ten arms, three pre-training seeds, the mini model and a longer schedule: hours (estimated from
    /// measured step speeds: ~40 minutes per pre-training run at 1 thread, two at a time).</summary>
    public static readonly ReproduceBudget Long = new()
    {
        Name = "long", Preset = "mini", Arms = Reproduction.AllArms.Select(a => a.Id).ToList(), PretrainSeeds = [1, 2, 3],
        SeqLen = 128, Batch = 32, Steps = 3000, PretrainLr = 5e-4, EvalEvery = 250, EvalBatches = 0,
        FineTuneEpochs = 3, FineTuneSeeds = [1, 2, 3], FineTuneMaxLength = 128, FineTuneLr = 1e-4,
        TokenMaxTrain = 20_000,
        BenchSeqs = [128, 512, 2048], BenchSteps = 10, BenchRounds = 3,
        ExpectedTime = "about 11 hours (estimated)",
    };

    public static ReproduceBudget Get(string name) => name.ToLowerInvariant() switch
    {
        "smoke" => Smoke,
        "default" => Default,
        "long" => Long,
        _ => throw new ArgumentException($"--budget must be smoke, default or long (got '{name}')"),
    };
}
