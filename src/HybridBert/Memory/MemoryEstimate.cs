using HybridBert.Model;
using HybridBert.Training;

namespace HybridBert.Memory;

/// <summary>
/// A rough upper estimate of activation memory, so that a run that cannot fit is said before it starts: attention
/// score tensors (quadratic in the sequence) plus per-token ones, times what training keeps for backward.
/// </summary>
public static class MemoryEstimate
{
    public static double ActivationBytes(EncoderConfig c, int batch, int seq, Precision precision, bool training)
    {
        var attentionHeads = c.LayerPattern.Sum(l => Mixers.Get(l).AttentionHeads(c));
        var bytesPerValue = precision == Precision.Bf16 ? 2.0 : 4.0;
        var kept = training ? 3.0 : 1.0;   // scores, probabilities, dropout mask kept for backward
        var quadratic = (double)batch * attentionHeads * seq * (double)seq * bytesPerValue * kept;
        var linear = (double)batch * seq * c.NumHiddenLayers * (12.0 * c.HiddenSize + 2.0 * c.IntermediateSize) * bytesPerValue * kept;
        return quadratic + linear;
    }

    /// <summary>A warning when <paramref name="bytes"/> is over 90% of the memory available now, else null.</summary>
    public static string? Warning(double bytes, string what, string advice) =>
        MemoryUsage.AvailableBytes() is { } free && bytes > 0.9 * free
            ? $"warning: {what} needs about {bytes / 1073741824.0:F1} GiB of activations and {free / 1073741824.0:F1} GiB are available: " +
                $"it will likely run out of memory — {advice}"
            : null;
}
