using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

/// <summary>The MLM loss computed without keeping the logits gives the plain route's loss, count and gradients.</summary>
public sealed class VocabularyCrossEntropyTests
{
    private sealed record Outcome(Tensor Loss, long Correct, Tensor Rows, Tensor Weight, Tensor Bias);

    private static Outcome Run(bool fused, Tensor rows0, Tensor weight0, Tensor bias0, Tensor labels, double scale, ScalarType type)
    {
        // Copies: to() of the same type returns the tensor itself, and both runs would then share (and add up) gradients.
        var rows = rows0.to(type, copy: true).requires_grad_(true);
        var weight = weight0.to(type, copy: true).requires_grad_(true);
        var bias = bias0.to(type, copy: true).requires_grad_(true);
        Tensor sum, correct;
        if (fused) (sum, correct) = VocabularyCrossEntropy.Sum(rows, weight, bias, labels);
        else
        {
            var logits = nn.functional.linear(rows, weight, bias).to(ScalarType.Float32);
            sum = nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum);
            correct = logits.argmax(-1).eq(labels).sum();
        }
        Backward.Run(sum * scale);
        return new Outcome(sum.detach(), correct.item<long>(), rows.grad!.to(ScalarType.Float32), weight.grad!.to(ScalarType.Float32),
            bias.grad!.to(ScalarType.Float32));
    }

    private static void Close(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var error = (expected - actual).abs().max().item<float>();
        var size = expected.abs().max().item<float>();
        Assert.True(error <= tolerance * Math.Max(size, 1e-6), $"{what}: largest difference {error} at magnitude {size}");
    }

    /// <summary>Runs both routes and checks the fused one's loss, count and three gradients against the plain one's.</summary>
    private static Outcome Agree(Tensor rows, Tensor weight, Tensor bias, Tensor labels, double scale, ScalarType type,
        double lossTolerance, double gradientTolerance, bool sameCount = true)
    {
        var plain = Run(false, rows, weight, bias, labels, scale, type);
        var fused = Run(true, rows, weight, bias, labels, scale, type);
        Close(plain.Loss, fused.Loss, lossTolerance, "loss");
        if (sameCount) Assert.Equal(plain.Correct, fused.Correct);
        Close(plain.Rows, fused.Rows, gradientTolerance, "rows' gradient");
        Close(plain.Weight, fused.Weight, gradientTolerance, "weight's gradient");
        Close(plain.Bias, fused.Bias, gradientTolerance, "bias' gradient");
        return fused;
    }

    [Theory]
    [InlineData(40, 1.0)]      // one chunk
    [InlineData(600, 0.01)]    // three chunks of 274 rows at 30,522 tokens, and an upstream gradient that is not 1
    public void Loss_count_and_gradients_match_linear_then_cross_entropy(int n, double scale)
    {
        const int vocab = 30_522, hidden = 16;
        torch.manual_seed(21);
        var rows = torch.randn(n, hidden);
        var weight = torch.randn(vocab, hidden) * 0.5;
        var bias = torch.randn(vocab) * 0.1;
        // Half the labels are each row's most likely token, so the count is neither 0 nor n.
        var labels = torch.randint(0, vocab, n, dtype: ScalarType.Int64);
        using (torch.no_grad())
        {
            var best = nn.functional.linear(rows, weight, bias).argmax(-1);
            labels = torch.where(torch.arange(n) % 2 == 0, best, labels);
        }

        var fused = Agree(rows, weight, bias, labels, scale, ScalarType.Float32, lossTolerance: 1e-6, gradientTolerance: 1e-5);
        Assert.InRange(fused.Correct, n / 2, n - 1);
    }

    [Fact]
    public void In_bf16_it_agrees_with_the_plain_route_to_bf16_rounding()
    {
        torch.manual_seed(22);
        var (rows, weight, bias) = (torch.randn(300, 32), torch.randn(30_522, 32) * 0.3, torch.randn(30_522) * 0.1);
        var labels = torch.randint(0, 30_522, 300, dtype: ScalarType.Int64);
        Agree(rows, weight, bias, labels, 1.0, ScalarType.BFloat16, lossTolerance: 1e-3, gradientTolerance: 2e-2, sameCount: false);
    }

    [Fact]
    public void Without_autograd_it_only_scores()
    {
        torch.manual_seed(23);
        var (rows, weight, bias) = (torch.randn(50, 8), torch.randn(1000, 8), torch.randn(1000));
        var labels = torch.randint(0, 1000, 50, dtype: ScalarType.Int64);
        using var noGrad = torch.no_grad();
        var (sum, correct) = VocabularyCrossEntropy.Sum(rows, weight, bias, labels);
        var logits = nn.functional.linear(rows, weight, bias);
        Close(nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum), sum, 1e-6, "loss");
        Assert.Equal(logits.argmax(-1).eq(labels).sum().item<long>(), correct.item<long>());
        Assert.False(sum.requires_grad);
    }
}
