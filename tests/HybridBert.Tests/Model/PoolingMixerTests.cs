using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

/// <summary>
/// The pooling mixer projects the mean of the eligible tokens instead of averaging every token's projected query, as
/// PoNet's code does, and aggregates the hidden states instead of projected keys: these tests hold each to PoNet's order
/// of computation, values and gradients.
/// </summary>
public sealed class PoolingMixerTests
{
    [Fact]
    public void The_mean_query_and_its_gradients_are_poNets_mean_of_projected_queries_over_eligible_tokens()
    {
        torch.manual_seed(11);
        var context = Batch(rows: 3);
        using var denseQ = nn.Linear(config.HiddenSize, config.HiddenSize);
        var h = torch.randn(3, 10, config.HiddenSize, requires_grad: true);
        var upstream = torch.randn(3, config.HiddenSize);

        var ours = PoolingMixer.MeanQuery(h, denseQ, context);
        var oursGradients = AllGradients(ours, upstream, h, denseQ);
        var (oursH, oursW) = (oursGradients[0], oursGradients[1]);

        // PoNet: project every token, then average the eligible ones.
        var eligible = context.Eligible.unsqueeze(-1).to_type(ScalarType.Float32);
        var reference = (denseQ.call(h) * eligible).sum(1) / eligible.sum(1);
        var referenceGradients = AllGradients(reference, upstream, h, denseQ);
        var (referenceH, referenceW) = (referenceGradients[0], referenceGradients[1]);

        Assert.True(ours.allclose(reference, rtol: 1e-5, atol: 1e-6), "mean query");
        Assert.True(oursH.allclose(referenceH, rtol: 1e-5, atol: 1e-7), "gradient of the input");
        Assert.True(oursW.allclose(referenceW, rtol: 1e-5, atol: 1e-6), "gradient of dense_q's weight");
        // Dropped and padding tokens get no gradient through the query: they are not in the mean.
        Assert.Equal(0f, oursH[1, TensorIndex.Slice(6)].abs().sum().item<float>());
        Assert.Equal(0f, oursH[2, TensorIndex.Slice(2, 7)].abs().sum().item<float>());
    }

    [Fact]
    public void The_global_aggregation_and_its_gradients_are_poNets_attention_of_the_mean_query_over_projected_keys()
    {
        const int heads = 2;
        torch.manual_seed(12);
        var context = Batch(rows: 4);
        using var denseQ = nn.Linear(config.HiddenSize, config.HiddenSize);
        using var denseK = nn.Linear(config.HiddenSize, config.HiddenSize);
        using (torch.no_grad()) denseK.bias!.normal_(0, 1);     // a bias that matters
        var h = torch.randn(4, 10, config.HiddenSize, requires_grad: true);
        var upstream = torch.randn(4, config.HiddenSize);

        var ours = PoolingMixer.Global(h, denseQ, denseK, heads, context);
        var oursGradients = AllGradients(ours, upstream, h, denseQ, denseK);

        // PoNet: project every token's key, attend with the mean query per head, the keys also the values.
        var size = config.HiddenSize / heads;
        var k = denseK.call(h).view(4, 10, heads, size).transpose(1, 2);                               // [b, n, t, d]
        var q = PoolingMixer.MeanQuery(h, denseQ, context).view(4, heads, 1, size);
        var scores = torch.matmul(q, k.transpose(-2, -1)).squeeze(2) / Math.Sqrt(size);                 // [b, n, t]
        scores = scores.masked_fill(context.Eligible.view(4, 1, 10).logical_not(), double.NegativeInfinity);
        var weights = scores.softmax(-1).nan_to_num(0.0);
        var reference = torch.matmul(weights.unsqueeze(2), k).reshape(4, config.HiddenSize);
        var referenceGradients = AllGradients(reference, upstream, h, denseQ, denseK);

        Assert.True(ours.allclose(reference, rtol: 1e-5, atol: 1e-6), $"g differs by {(ours - reference).abs().max().item<float>()}");
        Assert.Equal(0f, ours[3].abs().sum().item<float>());
        string[] names = ["the input", "dense_q's weight", "dense_q's bias", "dense_k's weight", "dense_k's bias"];
        for (var i = 0; i < names.Length; i++)
            Assert.True(oursGradients[i].allclose(referenceGradients[i], rtol: 1e-4, atol: 1e-6),
                $"gradient of {names[i]} differs by {(oursGradients[i] - referenceGradients[i]).abs().max().item<float>()}");
        // Padding and dropped tokens are not keys: no gradient reaches them.
        Assert.Equal(0f, oursGradients[0][1, TensorIndex.Slice(6)].abs().sum().item<float>());
        Assert.Equal(0f, oursGradients[0][2, TensorIndex.Slice(2, 7)].abs().sum().item<float>());
    }

    private static readonly EncoderConfig config = Presets.Tiny with { LayerPattern = "P", NumHiddenLayers = 1 };

    /// <summary>A batch of 10 tokens a row: padding in row 1, DropMask positions in row 2, and (with 4 rows) a row 3
    /// without an eligible token.</summary>
    private static MixerContext Batch(int rows)
    {
        var ids = torch.randint(5, config.VocabSize, [rows, 10], dtype: ScalarType.Int64);
        var mask = torch.ones_like(ids);
        mask[1, TensorIndex.Slice(6)] = 0;
        var dropped = torch.zeros(rows, 10, dtype: ScalarType.Bool);
        dropped[2, TensorIndex.Slice(2, 7)] = true;
        if (rows > 3) dropped[3] = true;
        return MixerContext.Build(new EncoderInputs(ids, mask, DropPositions: dropped), config, needsPooling: true);
    }

    /// <summary>The gradients of the input and of every parameter of <paramref name="modules"/> (weight, then bias).</summary>
    private static Tensor[] AllGradients(Tensor output, Tensor upstream, Tensor h, params nn.Module[] modules)
    {
        h.grad?.zero_();
        foreach (var module in modules) module.zero_grad();
        (output * upstream).sum().backward();
        return [h.grad!.clone(), .. modules.SelectMany(m => m.parameters()).Select(p => p.grad!.clone())];
    }
}
