using HybridBert.Model;
using HybridBert.Reproducibility;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

/// <summary>A dropout kept as its mask must give libtorch's x * noise to the bit, with the same draws.</summary>
public sealed class DropoutMaskTests
{
    // 1,000,003 values: several parts on two threads, and a tail shorter than a vector; 37: the scalar loop alone.
    [Theory]
    [InlineData(1_000_003L, 0.1)]
    [InlineData(37L, 0.1)]
    [InlineData(4096L, 0.5)]
    public void Masked_scale_equals_the_composed_product_with_the_noise_bit_for_bit(long count, double dropout)
    {
        torch.manual_seed(3);
        var x = torch.randn(count);
        x[0].fill_(float.NegativeInfinity);   // a dropped -inf gives NaN, as the composed product does
        x[1].fill_(-2.5f);                    // a dropped negative gives -0
        torch.manual_seed(11);
        var noise = CpuBernoulli.DropoutNoise([count], dropout, ScalarType.Float32);
        torch.manual_seed(11);
        var keep = DropoutMask.Draw([count], dropout, x.device);
        var after = torch.randn(1);      // the generator advanced as far as the noise's draws advanced it
        torch.manual_seed(11);
        using (var _ = CpuBernoulli.DropoutNoise([count], dropout, ScalarType.Float32)) { }
        Assert.Equal(torch.randn(1).item<float>(), after.item<float>());

        var expected = x * noise;
        var actual = DropoutMask.Apply(x, keep, dropout);
        Assert.True(SameBits(expected, actual), "out of place");
        Assert.False(actual.eq(x).all().item<bool>(), "nothing was dropped");
        var copy = x.clone();
        var inPlace = DropoutMask.Apply(copy, keep, dropout, inPlace: true);
        Assert.True(SameBits(expected, inPlace) && SameBits(expected, copy), "in place");
    }

    [Fact]
    public void Other_types_and_strided_inputs_take_libtorchs_steps_to_the_same_values()
    {
        torch.manual_seed(4);
        var x = torch.randn(64, 48).t();   // not contiguous
        torch.manual_seed(12);
        var noise = CpuBernoulli.DropoutNoise(x.shape, 0.2, ScalarType.Float32);
        torch.manual_seed(12);
        var keep = DropoutMask.Draw(x.shape, 0.2, x.device);
        Assert.True(SameBits(x * noise, DropoutMask.Apply(x, keep, 0.2)));

        var half = x.contiguous().to(ScalarType.BFloat16);
        torch.manual_seed(12);
        var halfNoise = CpuBernoulli.DropoutNoise(x.shape, 0.2, ScalarType.BFloat16);
        Assert.True(SameBits(half * halfNoise, DropoutMask.Apply(half, keep, 0.2)));
    }

    [Fact]
    public void Dropping_everything_draws_nothing_and_gives_zeros()
    {
        torch.manual_seed(5);
        var keep = DropoutMask.Draw([100], 1.0, torch.CPU);
        var next = torch.rand(1).item<float>();
        torch.manual_seed(5);
        Assert.Equal(torch.rand(1).item<float>(), next);
        Assert.Equal(0, DropoutMask.Apply(torch.ones(100), keep, 1.0).count_nonzero().item<long>());
    }

    /// <summary>Equal bit patterns (so -0 differs from +0, and NaN equals NaN).</summary>
    private static bool SameBits(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.contiguous().bytes.SequenceEqual(b.contiguous().bytes);
}
