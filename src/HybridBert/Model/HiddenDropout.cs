using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// Dropout on hidden states; with <c>saveMemory</c> it keeps a boolean mask for backward. libtorch's CPU
/// <c>dropout</c> multiplies by a float tensor of 0s and 1/(1-p) and keeps that (4 bytes a value; only its CUDA path
/// keeps a boolean mask); the boolean path keeps 1 byte a value. It draws the same Bernoulli numbers from the same
/// generator and multiplies by the same float, so in fp32 outputs and gradients are bitwise libtorch's (tested):
/// seeded runs do not change. Less held per layer for a little time (docs/results/design-measurements.md#hidden-dropout).
/// </summary>
public static class HiddenDropout
{
    public static Tensor Apply(Tensor x, double p, bool training, bool saveMemory)
    {
        if (!training || p == 0) return x.alias();
        if (!saveMemory) return nn.functional.dropout(x, p, training: true);
        using var keep = torch.empty(x.shape, dtype: ScalarType.Bool, device: x.device).bernoulli_(1 - p);
        return x.mul(keep).mul_(1.0 / (1 - p));
    }
}
