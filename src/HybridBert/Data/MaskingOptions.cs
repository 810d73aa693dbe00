namespace HybridBert.Data;

/// <summary>
/// How MLM positions are chosen and replaced. <see cref="Rate"/> of the maskable tokens (not special, not padding)
/// of each sequence are selected (at least one); of those, <see cref="MaskFraction"/> become [MASK],
/// <see cref="RandomFraction"/> a random non-special token, and the rest keep their token (BERT's 80/10/10).
/// </summary>
public sealed record MaskingOptions
{
    public double Rate { get; init; } = 0.15;
    public double MaskFraction { get; init; } = 0.8;
    public double RandomFraction { get; init; } = 0.1;
    /// <summary>Select whole words (a word-start token and its ## continuations) instead of single tokens.</summary>
    public bool WholeWord { get; init; }

    public MaskingOptions Validate()
    {
        var errors = new Problems();
        if (Rate is <= 0 or >= 1 || double.IsNaN(Rate)) errors.Add($"mask rate must be in (0, 1) (got {Rate})");
        if (MaskFraction < 0 || RandomFraction < 0 || MaskFraction + RandomFraction > 1 + 1e-9)
            errors.Add("mask split must be three non-negative parts summing to 100 (got " +
                $"{MaskFraction * 100:F0}/{RandomFraction * 100:F0}/{(1 - MaskFraction - RandomFraction) * 100:F0})");
        errors.ThrowIfAny();
        return this;
    }

    /// <summary>The split as <see cref="ParseSplit"/> reads it: "80/10/10".</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string SplitText =>
        FormattableString.Invariant($"{MaskFraction * 100:0.##}/{RandomFraction * 100:0.##}/{(1 - MaskFraction - RandomFraction) * 100:0.##}");

    /// <summary>Parses "80/10/10" (mask / random / keep, percentages summing to 100).</summary>
    public static (double Mask, double Random) ParseSplit(string split)
    {
        var parts = split.Split('/');
        if (parts.Length != 3 || !parts.All(p => double.TryParse(p, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= 0))
            throw new ArgumentException($"mask split must look like 80/10/10 (mask/random/keep percentages), got '{split}'");
        var values = parts.Select(p => double.Parse(p, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (Math.Abs(values.Sum() - 100) > 1e-6) throw new ArgumentException($"mask split parts must sum to 100, got '{split}' = {values.Sum()}");
        return (values[0] / 100, values[1] / 100);
    }
}
