namespace HybridBert.Benchmarks;

/// <summary>
/// What each stage of <see cref="Reproduction"/> takes, in seconds on the 2-core reference machine, so the ETA weighs a
/// 4-minute pre-training run and a 25-second fine-tuning as they are instead of counting stages as equal (which made
/// the first ETA of a 28-minute job read 42 seconds). The constants are the default budget's measured stage times
/// (docs/results/design-measurements.md#stage-cost); other budgets scale them by their sizes. Until a minute of work is
/// done the ETA is the reference estimate itself; after that the time so far calibrates it to this machine.
/// </summary>
public static class StageCost
{
    public const double Data = 2.0;

    /// <summary>Steps × batch × sequence length, more for higher masking rates (more positions predicted).</summary>
    public static double Pretrain(ReproduceBudget b, double maskRate) =>
        195.0 * ((double)b.Steps * b.Batch * b.SeqLen / (1300 * 64 * 32)) * (1 + 1.37 * (maskRate - 0.15));

    /// <summary>Epochs × examples × length × seeds (the embedded task's 2,400 training examples unless capped).</summary>
    public static double FineTune(ReproduceBudget b) =>
        26.0 * (b.FineTuneEpochs * Math.Min(2400,
            b.FineTuneMaxTrain ?? 2400) * (double)b.FineTuneMaxLength * b.FineTuneSeeds.Count) / (2 * 2400 * 64 * 2);

    /// <summary>A whole reproduction: data and bench alone, the pre-training runs (with their fine-tunings) <paramref
    /// name="jobs"/> at a time.</summary>
    public static double Total(ReproduceBudget b, IEnumerable<double> runMaskRates, int tasks, int jobs) =>
        Data + runMaskRates.Sum(rate => (Pretrain(b, rate) + tasks * FineTune(b)) / Math.Max(1, jobs)) + Bench(b);

    /// <summary>The ETA with <paramref name="costLeft"/> reference seconds to go, <paramref name="costDone"/> of them
    /// done in <paramref name="elapsed"/>: the reference itself until a minute's work calibrates it.</summary>
    public static TimeSpan Eta(TimeSpan elapsed, double costDone, double costLeft) =>
        TimeSpan.FromSeconds(costLeft * (costDone >= 60 ? elapsed.TotalSeconds / costDone : 1));

    public static double Bench(ReproduceBudget b) =>
        110.0 * (b.BenchRounds * b.BenchSeqs.Count * 2 * (b.BenchSteps + b.BenchWarmup)) / 48.0;
}
