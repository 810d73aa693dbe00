using HybridBert.Reproducibility;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Reproducibility;

/// <summary>
/// Our Bernoulli draws are libtorch's serial CPU path's — on every CPU. libtorch itself draws that way off Intel; on
/// Intel it takes an MKL stream instead, so comparisons with libtorch's own <c>bernoulli_</c> and <c>dropout</c> hold
/// only off Intel (<see cref="LibtorchDraws.Serially"/>), and every test also compares with a reference that holds
/// everywhere: libtorch's float64 <c>uniform_</c>, which reads the same generator the same way on every vendor.
/// </summary>
public sealed class CpuBernoulliTests
{
    [Theory]
    [InlineData(1, 0)]
    [InlineData(7, 5)]
    [InlineData(311, 3)]
    [InlineData(312, 0)]
    [InlineData(313, 1)]
    [InlineData(1000, 623)]
    [InlineData(100_003, 7)]
    public void Masks_are_float64_uniform_draws_below_p_and_the_generator_goes_on_as_after_them(int count, int drawnBefore)
    {
        (Tensor Mask, Tensor After) Draw(Func<Tensor> mask)
        {
            torch.manual_seed(11);
            if (drawnBefore > 0) torch.rand(drawnBefore);   // start mid-way through the generator's words
            var drawn = mask();
            return (drawn, torch.rand(5));
        }

        var reference = Draw(() => torch.empty(count, dtype: ScalarType.Float64).uniform_(0, 1).lt(0.9));
        var ours = Draw(() => CpuBernoulli.Mask([count], 0.9));

        Assert.Equal(ScalarType.Bool, ours.Mask.dtype);
        Assert.True(reference.Mask.equal(ours.Mask).all().item<bool>(), "the draws");
        Assert.True(reference.After.equal(ours.After).all().item<bool>(), "what the generator gives afterwards");
        if (count > 1000) Assert.InRange(ours.Mask.to_type(ScalarType.Float32).mean().item<float>(), 0.89f, 0.91f);
        if (LibtorchDraws.Serially)
        {
            var libtorch = Draw(() => torch.empty(count, dtype: ScalarType.Bool).bernoulli_(0.9));
            Assert.True(libtorch.Mask.equal(ours.Mask).all().item<bool>(), "libtorch's own bernoulli_");
            Assert.True(libtorch.After.equal(ours.After).all().item<bool>());
        }
    }

    [Fact]
    public void The_first_draw_after_seeding_5489_is_std_mt19937s_first_two_published_outputs()
    {
        // std::mt19937 seeded with 5489 (the standard's default) outputs 3499211612, then 581869302; libtorch's
        // manual_seed initializes the same way. The draw is the low 53 bits of (first << 32 | second), over 2^53.
        var bits = ((3499211612UL & 0x1FFFFF) << 32) | 581869302UL;
        var x = bits / 9007199254740992.0;
        torch.manual_seed(5489);
        Assert.False(CpuBernoulli.Mask([1], x).item<bool>());                  // x < x: no
        torch.manual_seed(5489);
        Assert.True(CpuBernoulli.Mask([1], Math.BitIncrement(x)).item<bool>()); // x < the next double: yes
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float64)]
    public void Dropout_noise_is_libtorchs_noise_in_the_tensors_type(ScalarType dtype)
    {
        var shape = new long[] { 33, 17 };
        torch.manual_seed(4);
        var reference = torch.empty(shape, dtype: ScalarType.Float64).uniform_(0, 1).lt(0.9).to(dtype).div_(0.9);   // bernoulli_(0.9).div_(0.9)
        torch.manual_seed(4);
        var ours = CpuBernoulli.DropoutNoise(shape, 0.1, dtype);
        Assert.Equal(dtype, ours.dtype);
        Assert.True(reference.equal(ours).all().item<bool>());
        if (LibtorchDraws.Serially)
        {
            var x = torch.randn(shape).to(dtype);
            torch.manual_seed(4);
            var libtorch = nn.functional.dropout(x, 0.1, training: true);
            Assert.True(libtorch.equal(x * ours).all().item<bool>(), "libtorch's own dropout");
        }
    }

    [Fact]
    public void An_empty_tensor_draws_nothing_and_a_probability_outside_0_1_is_refused()
    {
        torch.manual_seed(2);
        var before = torch.random.get_rng_state();
        Assert.Equal(0, CpuBernoulli.Mask([0, 4], 0.5).numel());
        Assert.True(before.equal(torch.random.get_rng_state()).all().item<bool>());
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuBernoulli.Mask([3], 1.5));
    }
}

/// <summary>Whether libtorch's CPU Bernoulli draws serially from its MT19937 on this machine (everywhere but Intel).</summary>
internal static class LibtorchDraws
{
    public static bool Serially { get; } = !(File.Exists("/proc/cpuinfo") && File.ReadAllText("/proc/cpuinfo").Contains("GenuineIntel"));
}
