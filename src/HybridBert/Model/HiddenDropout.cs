using TorchSharp;
using HybridBert.Reproducibility;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// Dropout on hidden states (and the fine-tuning heads'), with its random draws from <see cref="CpuBernoulli"/>, the same
/// on every CPU. As libtorch's <c>dropout</c>, it multiplies by a float tensor of 0s and 1/(1-p) and keeps that for
/// backward (4 bytes a value); with <c>saveMemory</c> it keeps a boolean mask instead (1 byte a value) and multiplies by
/// the same float. Either way outputs and gradients are bitwise libtorch's dropout's where libtorch draws as
/// <see cref="CpuBernoulli"/> does (off Intel CPUs; tested): seeded runs do not change. Less held per layer for a
/// little time with <c>saveMemory</c> (docs/results/design-measurements.md#hidden-dropout).
/// </summary>
public static class HiddenDropout
{
    public static Tensor Apply(Tensor x, double p, bool training, bool saveMemory)
    {
        if (!training || p == 0) return x.alias();
        if (!saveMemory || p >= 1) return x * Noise(x, p);
        using var keep = CpuBernoulli.Mask(x.shape, 1 - p, x.device);
        return x.mul(keep).mul_(1.0 / (1 - p));
    }

    /// <summary>libtorch's dropout noise for <paramref name="x"/>: 0 or 1/(1-p), in its type, on its device (for p = 1
    /// a 0, drawing nothing, as libtorch).</summary>
    public static Tensor Noise(Tensor x, double p)
    {
        using var noGrad = torch.no_grad();
        return p >= 1 ? torch.zeros([], dtype: x.dtype, device: x.device) : CpuBernoulli.DropoutNoise(x.shape, p, x.dtype, x.device);
    }
}
