using HybridBert.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridBert.Memory;

namespace HybridBert.Training;

/// <summary>
/// One optimizer step, the same for pre-training, fine-tuning and the benchmark (so <c>bench</c> times the step users
/// train with): gradients zeroed, each micro-batch's loss backward with the gradients accumulated (in fp32 masters
/// under bf16, <see cref="MixedPrecision"/>), the loss checked, gradients clipped, the optimizer stepped, the masters
/// copied back; and the memory hooks around it (<see cref="NativeMemory.BeforeBackward"/> before each backward,
/// <see cref="Done"/> after the caller's per-step scope has let go of the step's tensors).
/// </summary>
public sealed class TrainingStep
{
    private readonly MixedPrecision precision;
    private readonly OptimizerHelper optimizer;
    private readonly double maxGradNorm;
    private readonly int trimEvery;

    /// <param name="precision">The model's precision protocol (its masters are what <paramref name="optimizer"/> updates).</param>
    /// <param name="trimEvery">Return freed memory to the OS every this many steps (0: never, only collect).</param>
    public TrainingStep(MixedPrecision precision, OptimizerHelper optimizer, double maxGradNorm, int trimEvery)
    {
        this.precision = precision;
        this.optimizer = optimizer;
        this.maxGradNorm = maxGradNorm;
        this.trimEvery = trimEvery;
    }

    /// <summary>
    /// Runs step <paramref name="step"/> (0-based) over <paramref name="microBatches"/> micro-batches, whose losses
    /// <paramref name="loss"/> computes (each already scaled so that their sum is the step's loss). Call it inside the
    /// caller's per-step dispose scope. Returns the step's loss; a loss that is not finite stops before the optimizer
    /// changes any weight, with <paramref name="diverged"/>'s message.
    /// </summary>
    public double Run(long step, int microBatches, Func<int, Tensor> loss, Func<double, string> diverged)
    {
        precision.ZeroGradients();
        Tensor? total = null;
        for (var i = 0; i < microBatches; i++)
        {
            var micro = loss(i);
            NativeMemory.BeforeBackward(step + 1, trimEvery);
            Backward.Run(micro);
            precision.AccumulateGradients();   // bf16: summed into the fp32 masters per micro-batch
            total ??= torch.zeros(1, device: micro.device);
            total += micro.detach();
        }
        IO.PausePoints.Reach("step");
        var value = total!.item<float>();
        if (!double.IsFinite(value)) throw new TrainingDivergedException(diverged(value));
        nn.utils.clip_grad_norm_(precision.Masters.Select(m => m.Parameter), maxGradNorm);
        optimizer.step();
        precision.MastersToModel();
        return value;
    }

    /// <summary>After step <paramref name="step"/> (0-based), outside its dispose scope: collect, and every
    /// <c>trimEvery</c> steps return the freed memory to the OS.</summary>
    public void Done(long step) => NativeMemory.AfterStep(step + 1, trimEvery);
}
