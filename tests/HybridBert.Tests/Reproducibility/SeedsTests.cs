using HybridBert.Reproducibility;

namespace HybridBert.Tests.Reproducibility;

public sealed class SeedsTests
{
    [Fact]
    public void Mix_is_SplitMix64s_published_output_function()
    {
        // The first output of SplitMix64 seeded with 0 (the reference C implementation): 0xE220A8397B1DCDAF.
        Assert.Equal(0xE220A8397B1DCDAFUL, Seeds.Mix(0));
    }

    [Theory]   // values computed independently (Python, arbitrary-precision integers masked to 64 bits)
    [InlineData(42, SeedPurpose.Dropout, 0, 1239368208)]
    [InlineData(42, SeedPurpose.Masking, 5, 2134480130)]
    [InlineData(-1, SeedPurpose.DataOrder, 7, 1169853842)]
    [InlineData(7, SeedPurpose.Dropout, 1, 1696741378)]
    public void Derived_seeds_are_fixed_values_not_per_process_hashes(long seed, SeedPurpose purpose, long index, int expected)
    {
        Assert.Equal(expected, Seeds.Derive(seed, purpose, index));
    }

    [Fact]
    public void Purposes_and_indices_give_different_streams()
    {
        var all = new HashSet<int>();
        foreach (var purpose in Enum.GetValues<SeedPurpose>())
            for (var i = 0; i < 100; i++)
                Assert.True(all.Add(Seeds.Derive(42, purpose, i)), $"collision at {purpose} {i}");
        Assert.All(all, v => Assert.True(v >= 0));
    }
}
