namespace HybridBert.Benchmarks;

/// <summary>
/// What each stage of <see cref="Reproduction"/> costs relative to the others, so the ETA weighs a 4-minute
/// pre-training run and a 25-second fine-tuning as they are instead of counting stages as equal (which made the first
/// ETA of a 28-minute job read 42 seconds). Units are token-steps of one pre-training run; the constants come from the
/// stage times of the default budget's committed run (docs/results/default/stages, one thread per child, two at a
/// time): data 20 s; pre-training 195 s at 15% masking and 262 s at 40% (1,300 steps × 64 × 32 tokens); fine-tuning
/// 26 s (2 epochs × 2,400 examples × 64 tokens × 2 seeds); the bench about 110 s (48 steps of 4,096 tokens). The ETA
/// divides the time so far by the cost done, so the machine's own speed calibrates it after the first stage.
/// </summary>
public static class StageCost
{
    private const double PretrainSecondsPerToken = 195.0 / (1300 * 64 * 32);

    public const double Data = 20.0 / PretrainSecondsPerToken;

    /// <summary>Steps × batch × sequence length, more for higher masking rates (more positions predicted).</summary>
    public static double Pretrain(ReproduceBudget b, double maskRate) => (double)b.Steps * b.Batch * b.SeqLen * (1 + 1.37 * (maskRate - 0.15));

    /// <summary>Epochs × examples × length × seeds (the embedded task's 2,400 training examples unless capped).</summary>
    public static double FineTune(ReproduceBudget b) =>
        26.0 / PretrainSecondsPerToken * (b.FineTuneEpochs * Math.Min(2400, b.FineTuneMaxTrain ?? 2400) * (double)b.FineTuneMaxLength * b.FineTuneSeeds.Count) / (2 * 2400 * 64 * 2);

    /// <summary>A whole reproduction: data and bench alone, the pre-training runs (with their fine-tunings) <paramref name="jobs"/> at a time.</summary>
    public static double Total(ReproduceBudget b, IEnumerable<double> runMaskRates, int tasks, int jobs) =>
        Data + runMaskRates.Sum(rate => (Pretrain(b, rate) + tasks * FineTune(b)) / Math.Max(1, jobs)) + Bench(b);

    /// <summary>The ETA once <paramref name="costDone"/> took <paramref name="elapsed"/>.</summary>
    public static TimeSpan Eta(TimeSpan elapsed, double costDone, double costLeft) => TimeSpan.FromSeconds(elapsed.TotalSeconds / costDone * costLeft);

    public static double Bench(ReproduceBudget b) =>
        110.0 / PretrainSecondsPerToken * (b.BenchRounds * b.BenchSeqs.Count * 2 * (b.BenchSteps + b.BenchWarmup)) / 48.0;
}
