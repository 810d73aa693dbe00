using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// What one letter of a <c>layer_pattern</c> means: the token mixer under <c>encoder.layer.N.attention.self</c>.
/// </summary>
/// <param name="Letter">The letter in <c>layer_pattern</c>.</param>
/// <param name="Name">Short name (help, tables).</param>
/// <param name="Description">What the mixer does, for help and <c>model describe</c>.</param>
/// <param name="ParameterNames">Its parameters under <c>attention.self.</c> (Hugging Face BERT / PoNet names).</param>
/// <param name="AttentionHeads">How many heads of a layer attend (the quadratic part: memory estimates).</param>
/// <param name="Pools">Whether it needs the pooling masks (segments, local windows).</param>
/// <param name="Create">Builds the module.</param>
public sealed record MixerKind(char Letter, string Name, string Description, IReadOnlyList<string> ParameterNames,
    Func<EncoderConfig, int> AttentionHeads, bool Pools, Func<EncoderConfig, nn.Module<Tensor, MixerContext, Tensor>> Create)
{
    /// <summary>One line for a layer of this kind in <paramref name="config"/> (the hybrid says how its heads split).</summary>
    public string DescribeIn(EncoderConfig config) => Letter == 'H'
        ? $"{Name}: {AttentionHeads(config)} attention + {config.NumAttentionHeads - AttentionHeads(config)} pooling heads"
        : Description;
}

/// <summary>The one table of layer letters: config validation, the model, <c>model describe</c>, <c>bench</c> and the
/// help text all read it, so a new mixer is one row here.</summary>
public static class Mixers
{
    public static readonly IReadOnlyList<MixerKind> All =
    [
        new('A', "attention", "self-attention", ["query", "key", "value"],
            c => c.NumAttentionHeads, Pools: false, c => new SelfAttention(c, c.NumAttentionHeads)),
        new('P', "pooling", "pooling network (PoNet)", ["dense_q", "dense_k", "dense_o", "dense_segment", "dense_local"],
            _ => 0, Pools: true, c => new PoolingMixer(c, c.NumAttentionHeads)),
        new('H', "hybrid", "attention and pooling heads in one layer",
            ["query", "key", "value", "dense_q", "dense_k", "dense_o", "dense_segment", "dense_local"],
            c => c.AttentionHeadsInHybridLayer, Pools: true, c => new HybridMixer(c)),
    ];

    public static string Letters { get; } = string.Concat(All.Select(m => m.Letter));

    /// <summary>"A self-attention, P pooling network (PoNet), H attention and pooling heads in one layer".</summary>
    public static string Legend { get; } = string.Join(", ", All.Select(m => $"{m.Letter} {m.Description}"));

    public static bool IsKnown(char letter) => Letters.Contains(letter);

    public static MixerKind Get(char letter) =>
        All.FirstOrDefault(m => m.Letter == letter) ?? throw new ConfigException($"layer_pattern letter '{letter}' is unknown; allowed: {Legend}");
}
