using static TorchSharp.torch;
using HybridBert.Memory;

namespace HybridBert.Training;

/// <summary>
/// Gradients are zeroed in place between steps, not freed (TorchSharp's <c>Module.zero_grad</c> sets them to none):
/// freed gradients are allocated again during the next backward, in among the activations that backward is freeing,
/// and glibc's heap then grows further without trimming (docs/results/design-measurements.md#gradients). The values
/// are the same either way (a parameter's first gradient of a step is added
/// to zero); a parameter that has never had a gradient keeps none.
/// </summary>
public static class Gradients
{
    public static void ZeroInPlace(IEnumerable<Tensor> parameters)
    {
        using var noGrad = no_grad();
        foreach (var parameter in parameters)
        {
            using var grad = parameter.grad;
            grad?.zero_();
        }
    }
}
