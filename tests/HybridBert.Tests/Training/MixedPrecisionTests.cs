using HybridBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Training;

public sealed class MixedPrecisionTests
{
    [Fact]
    public void Micro_batch_gradients_are_summed_in_fp32_not_in_the_bf16_grad()
    {
        using var model = nn.Linear(1, 1, hasBias: false);
        var precision = new MixedPrecision(model, Precision.Bf16);
        var parameter = model.parameters().Single();
        Assert.Equal(ScalarType.BFloat16, parameter.dtype);

        // 256 + 1 + 1 + 1: bf16 (8 significant bits) cannot hold 257, so a sum kept in bf16 stays at 256.
        foreach (var g in new[] { 256f, 1f, 1f, 1f })
        {
            parameter.grad = torch.full([1, 1], g, dtype: ScalarType.BFloat16);
            precision.AccumulateGradients();
        }
        var master = precision.Masters.Single().Parameter;
        Assert.Equal(ScalarType.Float32, master.grad!.dtype);
        Assert.Equal(259f, master.grad.item<float>());
        Assert.Equal(0f, parameter.grad!.to(ScalarType.Float32).item<float>());   // handed over, ready for the next micro-batch
    }
}
