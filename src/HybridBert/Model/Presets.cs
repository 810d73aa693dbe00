namespace HybridBert.Model;

/// <summary>Named model sizes and layer arrangements. Combine them: <c>Presets.Build("mini", "hybrid")</c>.</summary>
public static class Presets
{
    public static readonly EncoderConfig Tiny = new()
    {
        HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 256, LayerPattern = "AA",
    };
    public static readonly EncoderConfig Mini = new()
    {
        HiddenSize = 256, NumHiddenLayers = 4, NumAttentionHeads = 4, IntermediateSize = 1024, LayerPattern = "AAAA",
    };
    /// <summary>mini's depth at half its width: the default reproduction budget's model (fast enough on 2 cores to
    /// leave the unigram plateau).</summary>
    public static readonly EncoderConfig Narrow = new()
    {
        HiddenSize = 128, NumHiddenLayers = 4, NumAttentionHeads = 2, IntermediateSize = 512, LayerPattern = "AAAA",
    };
    public static readonly EncoderConfig Small = new()
    {
        HiddenSize = 512, NumHiddenLayers = 4, NumAttentionHeads = 8, IntermediateSize = 2048, LayerPattern = "AAAA",
    };
    public static readonly EncoderConfig Base = new()
    {
        HiddenSize = 768, NumHiddenLayers = 12, NumAttentionHeads = 12, IntermediateSize = 3072,
        LayerPattern = new string('A', 12),
    };

    /// <summary>What a command builds when no size or pattern is given.</summary>
    public const string DefaultSize = "mini", DefaultPattern = "bert";

    public static readonly IReadOnlyDictionary<string, EncoderConfig> Sizes =
        new Dictionary<string, EncoderConfig> { ["tiny"] = Tiny, ["narrow"] = Narrow, ["mini"] = Mini, ["small"] = Small, ["base"] = Base };

    /// <summary>The pattern names, the one home of each (<see cref="Pattern"/> spells them out).</summary>
    public static readonly IReadOnlyList<string> PatternNames = ["bert", "ponet", "hybrid", "pool-top", "in-layer"];

    /// <summary>
    /// A pattern name for <paramref name="layers"/> layers — <c>bert</c> all attention, <c>ponet</c> all pooling,
    /// <c>hybrid</c> pooling in the bottom half and attention on top (the paper's best arrangement), <c>pool-top</c>
    /// the reverse, <c>in-layer</c> attention and pooling heads in every layer — or literal letters such as
    /// <c>PPAA</c>, returned upper-cased.
    /// </summary>
    public static string Pattern(string nameOrLetters, int layers) => nameOrLetters.ToLowerInvariant() switch
    {
        "bert" => new string('A', layers),
        "ponet" => new string('P', layers),
        "hybrid" => new string('P', layers / 2) + new string('A', layers - layers / 2),
        "pool-top" => new string('A', layers / 2) + new string('P', layers - layers / 2),
        "in-layer" => new string('H', layers),
        _ => nameOrLetters.ToUpperInvariant(),
    };

    public static EncoderConfig Size(string name) =>
        Sizes.TryGetValue(name.ToLowerInvariant(), out var c)
            ? c
            : throw new ConfigException($"Unknown preset '{name}'; allowed: {string.Join(", ", Sizes.Keys)}");

    /// <summary>A size with a pattern. Literal letters set the depth (<c>tiny</c> + <c>AAAA</c> is a 4-layer tiny
    /// model); the names <c>bert</c>, <c>ponet</c>, <c>hybrid</c> take the size's depth.</summary>
    public static EncoderConfig Build(string size, string pattern = "bert", int? vocabSize = null)
    {
        var c = Size(size);
        var letters = Pattern(pattern, c.NumHiddenLayers);
        c = c with { LayerPattern = letters, NumHiddenLayers = letters.Length, VocabSize = vocabSize ?? c.VocabSize };
        return c.Validate();
    }
}
