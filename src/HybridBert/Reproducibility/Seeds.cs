namespace HybridBert.Reproducibility;

/// <summary>What a derived seed is for. The numbers are part of the format: a run's masks, dropout and data order
/// are functions of them, so they never change (append new purposes with new numbers).</summary>
public enum SeedPurpose : ulong
{
    Dropout = 1,
    Masking = 2,
    DataOrder = 3,
}

/// <summary>
/// Every seed the toolkit derives from a user's <c>--seed</c> comes from here, so that one seed gives one run in
/// any process on any machine. .NET's <c>HashCode</c> and <c>string.GetHashCode</c> are randomized per process and
/// must never be used for this.
/// <para>The mixing function is SplitMix64's finalizer (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", 2014), applied to (seed, purpose, index) in turn:
/// <c>h = mix(mix(mix(seed) ^ purpose) ^ index)</c>; the result is the top 31 bits of <c>h</c>, a non-negative
/// int for <c>torch.manual_seed</c> and <c>new Random(int)</c> (whose seeded sequence .NET keeps stable).</para>
/// </summary>
public static class Seeds
{
    public static int Derive(long seed, SeedPurpose purpose, long index)
    {
        var h = Mix((ulong)seed);
        h = Mix(h ^ (ulong)purpose);
        h = Mix(h ^ (ulong)index);
        return (int)(h >> 33);
    }

    /// <summary>SplitMix64's output function: a bijection on 64-bit values with full avalanche.</summary>
    public static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
