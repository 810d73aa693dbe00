using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

/// <summary>
/// The pooling mixer projects the mean of the eligible tokens instead of averaging every token's projected query,
/// as PoNet's code does: these tests hold the two to the same query and the same gradients.
/// </summary>
public sealed class PoolingMixerTests
{
    [Fact]
    public void The_mean_query_and_its_gradients_are_poNets_mean_of_projected_queries_over_eligible_tokens()
    {
        var config = Presets.Tiny with { LayerPattern = "P", NumHiddenLayers = 1 };
        torch.manual_seed(11);
        var ids = torch.randint(5, config.VocabSize, [3, 10], dtype: ScalarType.Int64);
        var mask = torch.ones_like(ids);
        mask[1, TensorIndex.Slice(6)] = 0;                       // padding in row 1
        var dropped = torch.zeros(3, 10, dtype: ScalarType.Bool);
        dropped[2, TensorIndex.Slice(2, 7)] = true;              // DropMask positions in row 2
        var context = MixerContext.Build(new EncoderInputs(ids, mask, DropPositions: dropped), config, needsPooling: true);
        using var denseQ = nn.Linear(config.HiddenSize, config.HiddenSize);
        var h = torch.randn(3, 10, config.HiddenSize, requires_grad: true);
        var upstream = torch.randn(3, config.HiddenSize);

        var ours = PoolingMixer.MeanQuery(h, denseQ, context);
        var (oursH, oursW) = Gradients(ours, upstream, h, denseQ);

        // PoNet: project every token, then average the eligible ones.
        var eligible = context.Eligible.unsqueeze(-1).to_type(ScalarType.Float32);
        var reference = (denseQ.call(h) * eligible).sum(1) / eligible.sum(1);
        var (referenceH, referenceW) = Gradients(reference, upstream, h, denseQ);

        Assert.True(ours.allclose(reference, rtol: 1e-5, atol: 1e-6), "mean query");
        Assert.True(oursH.allclose(referenceH, rtol: 1e-5, atol: 1e-7), "gradient of the input");
        Assert.True(oursW.allclose(referenceW, rtol: 1e-5, atol: 1e-6), "gradient of dense_q's weight");
        // Dropped and padding tokens get no gradient through the query: they are not in the mean.
        Assert.Equal(0f, oursH[1, TensorIndex.Slice(6)].abs().sum().item<float>());
        Assert.Equal(0f, oursH[2, TensorIndex.Slice(2, 7)].abs().sum().item<float>());
    }

    private static (Tensor Input, Tensor Weight) Gradients(Tensor output, Tensor upstream, Tensor h, nn.Module denseQ)
    {
        h.grad?.zero_();
        denseQ.zero_grad();
        (output * upstream).sum().backward();
        var weight = denseQ.parameters().First();
        return (h.grad!.clone(), weight.grad!.clone());
    }
}
