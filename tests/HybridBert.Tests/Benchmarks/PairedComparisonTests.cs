using HybridBert.Benchmarks;

namespace HybridBert.Tests.Benchmarks;

public sealed class PairedComparisonTests
{
    private static PairedComparison Judge(bool higherIsBetter, double[] reference, double[] value) =>
        PairedComparison.Judge("claim", "metric", "a", "b", higherIsBetter,
            reference.Select((v, i) => (i + 1, v)).ToDictionary(p => p.Item1, p => p.v),
            value.Select((v, i) => (i + 1, v)).ToDictionary(p => p.Item1, p => p.v));

    [Fact]
    public void A_consistent_difference_larger_than_the_seed_spread_holds()
    {
        var c = Judge(higherIsBetter: true, [0.70, 0.72], [0.75, 0.78]);
        Assert.Equal("held", c.Verdict);
        Assert.Equal(0.055, c.Difference.Mean, 9);
        Assert.Equal(2, c.Difference.N);
    }

    [Fact]
    public void Lower_is_better_flips_the_direction()
    {
        Assert.Equal("held", Judge(higherIsBetter: false, [6.0, 6.1], [5.5, 5.6]).Verdict);
        Assert.Equal("did not hold", Judge(higherIsBetter: false, [5.5, 5.6], [6.0, 6.1]).Verdict);
    }

    [Fact]
    public void Mixed_signs_or_a_difference_inside_the_spread_are_within_noise()
    {
        Assert.Equal("within noise", Judge(true, [0.70, 0.72], [0.71, 0.71]).Verdict);   // +1 pt, -1 pt
        Assert.Equal("within noise", Judge(true, [0.70, 0.80], [0.71, 0.81]).Verdict);   // +1 pt each, but seeds spread 7 pt
    }

    [Fact]
    public void Only_seeds_both_arms_ran_are_paired_and_one_seed_is_not_judged()
    {
        var c = PairedComparison.Judge("claim", "metric", "a", "b", true, new Dictionary<int, double> { [1] = 0.5, [2] = 0.6 },
            new Dictionary<int, double> { [2] = 0.9 });
        Assert.Equal([2], c.Seeds);
        Assert.Equal("one seed: not judged", c.Verdict);
    }
}
