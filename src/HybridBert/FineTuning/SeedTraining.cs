using HybridBert.Text;
using HybridBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.FineTuning;

/// <summary>Where a seed's training loop is, for its dev scoring and progress reports.</summary>
public readonly record struct TrainingPosition(int Epoch, long Step, long TotalSteps);

/// <summary>
/// One seed's training, the same for sequence and token classification: AdamW with warm-up and linear decay
/// (layer-wise decayed with <c>--llrd</c>), <see cref="TrainingStep"/> in fp32, length-grouped batches
/// (<see cref="FineTuner.LengthGroupedBatches"/>) drawn from the seed, dev scored after every epoch (and every
/// <c>--eval-steps</c>), the best weights kept, early stopping after <c>--patience</c> scorings without a better one,
/// and the best weights put back in the model at the end. The task decides the loss of a batch and how dev is scored.
/// </summary>
internal static class SeedTraining
{
    /// <param name="loss">The loss of a batch (indices into <paramref name="rows"/>), the model in train mode.</param>
    /// <param name="scoreDev">Dev's score (higher is better; NaN counts as worst) and the metrics that go with it.</param>
    /// <returns>Where the best weights were scored, and their dev metrics (those weights are in the model again).</returns>
    public static (int Epoch, long Step, T Dev) Run<T>(FineTuneOptions options, nn.Module model, int layers, IReadOnlyList<EncodedText> rows,
        int seed, Func<int[], Tensor> loss, Func<TrainingPosition, (double Score, T Metrics)> scoreDev,
        IProgress<FineTuneProgress>? progress, CancellationToken cancel)
    {
        var stepsPerEpoch = (rows.Count + options.BatchSize - 1) / options.BatchSize;
        var totalSteps = (long)stepsPerEpoch * options.Epochs;
        var schedule = new LearningRateSchedule(options.LearningRate, (long)Math.Round(options.WarmupRatio * totalSteps), totalSteps,
            LrSchedule.Linear);
        var (optimizer, scales) = FineTuner.BuildOptimizer(options, model, layers);
        using var optimizerScope = optimizer;   // its moment buffers go with this seed, not at the end of the run
        var groups = optimizer.ParamGroups.ToList();
        // fp32, and memory collected after each step but trimmed once per seed (by the fine-tuner).
        var trainingStep = new TrainingStep(new MixedPrecision(model, Precision.Fp32), optimizer, options.MaxGradNorm, trimEvery: 0);

        Dictionary<string, Tensor>? best = null;
        T bestDev = default!;
        var bestScore = double.NegativeInfinity;
        (int Epoch, long Step) bestAt = (0, 0);
        var sinceBest = 0;
        long step = 0;
        var random = new Random(seed);
        var stop = false;

        bool EvaluateAndKeep(int epoch)
        {
            var (measured, metrics) = scoreDev(new TrainingPosition(epoch, step, totalSteps));
            var score = double.IsNaN(measured) ? double.NegativeInfinity : measured;
            progress?.Report(new FineTuneProgress(seed, epoch, step, totalSteps, double.NaN, measured));
            if (best is null || score > bestScore)
            {
                (bestScore, bestAt, sinceBest, bestDev) = (score, (epoch, step), 0, metrics);
                if (best is not null) foreach (var t in best.Values) t.Dispose();
                best = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
                return false;
            }
            return options.Patience is { } patience && ++sinceBest >= patience;
        }

        try
        {
            for (var epoch = 1; epoch <= options.Epochs && !stop; epoch++)
            {
                foreach (var batch in FineTuner.LengthGroupedBatches(rows, options.BatchSize, random))
                {
                    if (stop) break;
                    cancel.ThrowIfCancellationRequested();
                    double value;
                    using (var scope = torch.NewDisposeScope())
                    {
                        var lr = schedule.At(step);
                        for (var g = 0; g < groups.Count; g++) groups[g].LearningRate = lr * scales[g];
                        model.train();
                        value = trainingStep.Run(step, 1, _ => loss(batch),
                            v => $"seed {seed}: the loss is {v} at step {step + 1}; try a lower --lr");
                    }
                    trainingStep.Done(step);
                    step++;
                    progress?.Report(new FineTuneProgress(seed, epoch, step, totalSteps, value, null));
                    if (options.EvalEverySteps is { } every && step % every == 0 && step % stepsPerEpoch != 0) stop = EvaluateAndKeep(epoch);
                }
                if (!stop) stop = EvaluateAndKeep(epoch);
            }
            using (torch.no_grad())
                foreach (var (name, tensor) in model.state_dict()) tensor.copy_(best![name]);
            return (bestAt.Epoch, bestAt.Step, bestDev);
        }
        finally
        {
            if (best is not null) foreach (var t in best.Values) t.Dispose();
        }
    }
}
