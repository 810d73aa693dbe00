using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

/// <summary>Training attention is libtorch's composite attention without its all-masked-row check: it must stay so.</summary>
public sealed class SelfAttentionTests
{
    [Fact]
    public void Training_attention_gives_scaled_dot_product_attentions_outputs_gradients_and_dropout_bit_for_bit()
    {
        torch.manual_seed(5);
        var visible = torch.rand(3, 1, 1, 20) > 0.3;
        visible[TensorIndex.Colon, 0, 0, 0] = true;   // every query sees a key
        var (q, k, v) = (torch.randn(3, 4, 20, 16), torch.randn(3, 4, 20, 16), torch.randn(3, 4, 20, 16));
        var upstream = torch.randn(3, 4, 20, 16);

        // libtorch draws its dropout as ours off Intel (CpuBernoulliTests); on Intel, SDPA's math composed by hand with
        // the reference draws (float64 uniforms below 1 - p) stands in for it.
        var (expected, expectedGradients) = Run(() => Tests.Reproducibility.LibtorchDraws.Serially
            ? nn.functional.scaled_dot_product_attention(q, k, v, visible, 0.1)
            : ComposedAttention(q, k, v, visible));
        var (actual, actualGradients) = Run(() => SelfAttention.TrainingAttention(q, k, v, visible, 0.1));

        Assert.True(expected.eq(actual).all().item<bool>(), "outputs (and so the dropout draws)");
        for (var i = 0; i < 3; i++) Assert.True(expectedGradients[i].eq(actualGradients[i]).all().item<bool>(), $"gradient {"qkv"[i]}");
        var undropped = nn.functional.scaled_dot_product_attention(q.detach(), k.detach(), v.detach(), visible);
        Assert.False(undropped.allclose(actual), "dropout dropped nothing");

        static Tensor ComposedAttention(Tensor q, Tensor k, Tensor v, Tensor visible)
        {
            var scale = Math.Sqrt(1.0 / Math.Sqrt(q.shape[3]));
            var scores = torch.matmul(q * scale, k.transpose(-2, -1) * scale)
                + torch.zeros(visible.shape).masked_fill_(visible.logical_not(), double.NegativeInfinity);
            var probabilities = scores.softmax(-1);
            var noise = torch.empty(probabilities.shape, dtype: ScalarType.Float64).uniform_(0, 1).lt(0.9).to(ScalarType.Float32).div_(0.9);
            return torch.matmul(probabilities * noise, v);
        }

        (Tensor, Tensor[]) Run(Func<Tensor> attend)
        {
            torch.manual_seed(9);
            var leaves = new[] { q, k, v }.Select(t => t.detach().requires_grad_(true)).ToArray();
            (q, k, v) = (leaves[0], leaves[1], leaves[2]);
            var output = attend();
            (output * upstream).sum().backward();
            return (output.detach(), leaves.Select(l => l.grad!.clone()).ToArray());
        }
    }

    [Fact]
    public void A_batch_row_without_an_eligible_token_trains_without_nan()
    {
        var config = Presets.Tiny with { LayerPattern = "A", NumHiddenLayers = 1 };
        var ids = torch.randint(5, config.VocabSize, [2, 8], dtype: ScalarType.Int64);
        var mask = torch.ones_like(ids);
        mask[1] = 0;   // row 1: padding only
        var context = MixerContext.Build(new EncoderInputs(ids, mask), config, needsPooling: false);
        Assert.False(context.EveryQuerySeesAKey);
        using var attention = Mixers.Get('A').Create(config);
        attention.train();
        var output = attention.call(torch.randn(2, 8, config.HiddenSize), context);
        Assert.False(output.isnan().any().item<bool>());
    }
}
