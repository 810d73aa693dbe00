using System.Numerics;
using System.Runtime.InteropServices;
using HybridBert.Reproducibility;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// A dropout kept as its mask, 1 byte a value, instead of libtorch's float noise (4 bytes): the keep mask drawn as
/// <see cref="CpuBernoulli.DropoutNoise"/> draws the noise (the same draws), and x ⊙ noise made from it in one pass.
/// </summary>
/// <remarks>
/// The product is the composed <c>x * noise</c> to the bit: each value times 1/(1 − p) as a float (the noise's value)
/// or times 0 (signed zeros included) — one IEEE multiply either way. On a CPU for fp32 it is one vectorized pass over
/// x and the mask (libtorch would first turn the mask into floats and then multiply: two or three passes); elsewhere
/// it takes libtorch's steps to the noise. Hand-written because libtorch has no masked scale that reads a boolean mask
/// without converting it.
/// </remarks>
public static class DropoutMask
{
    /// <summary>[shape] bool, true where kept (probability 1 − <paramref name="dropout"/>); for p = 1 all false, drawing
    /// nothing, as libtorch's dropout.</summary>
    public static Tensor Draw(long[] shape, double dropout, Device device) =>
        dropout >= 1
            ? torch.zeros(shape, dtype: ScalarType.Bool, device: device)
            : CpuBernoulli.Mask(shape, 1 - dropout, device);

    /// <summary><paramref name="x"/> ⊙ noise, the noise 1/(1 − p) where <paramref name="keep"/> and 0 elsewhere; into
    /// <paramref name="x"/> itself when <paramref name="inPlace"/>. No autograd.</summary>
    public static Tensor Apply(Tensor x, Tensor keep, double dropout, bool inPlace = false)
    {
        using var noGrad = torch.no_grad();
        if (x.device.type != DeviceType.CPU || x.dtype != ScalarType.Float32 || !x.is_contiguous() || !keep.is_contiguous()
            || keep.dtype != ScalarType.Bool || !x.shape.SequenceEqual(keep.shape))
        {
            using var noise = Noise(keep, dropout, x.dtype);
            return inPlace ? x.mul_(noise) : x.mul(noise);
        }
        var output = inPlace ? x : torch.empty_like(x);
        var scale = dropout >= 1 ? 0f : 1.0f / (float)(1 - dropout);
        // In as many parts as libtorch has threads (a pass over memory, as libtorch's own elementwise ops split theirs).
        var count = x.numel();
        var parts = (int)Math.Clamp(count / MinimumPart, 1, torch.get_num_threads());
        using var flat = x.view(-1);
        using var flatKeep = keep.view(-1);
        using var flatOutput = output.view(-1);
        var chunks = Enumerable.Range(0, parts).Select(i => (Start: count * i / parts, Length: count * (i + 1) / parts - count * i / parts))
            .Select(c => (X: flat.narrow(0, c.Start, c.Length), Keep: flatKeep.narrow(0, c.Start, c.Length), Output: flatOutput.narrow(0, c.Start, c.Length)))
            .ToArray();
        try
        {
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, i =>
                Scale(MemoryMarshal.Cast<byte, float>(chunks[i].X.bytes), chunks[i].Keep.bytes, scale, MemoryMarshal.Cast<byte, float>(chunks[i].Output.bytes)));
        }
        finally
        {
            foreach (var c in chunks) { c.X.Dispose(); c.Keep.Dispose(); c.Output.Dispose(); }
        }
        return output;
    }

    private const long MinimumPart = 1 << 18;

    /// <summary>The noise itself in <paramref name="dtype"/>, by libtorch's steps (<see cref="CpuBernoulli.DropoutNoise"/>'s values).</summary>
    private static Tensor Noise(Tensor keep, double dropout, ScalarType dtype) =>
        dropout >= 1 ? torch.zeros(keep.shape, dtype: dtype, device: keep.device)
        : dtype == ScalarType.Float32 ? keep.to(dtype).mul_(1.0f / (float)(1 - dropout))   // the float 1/(1 − p) exactly
        : keep.to(dtype).div_(1 - dropout);

    /// <summary>destination[i] = source[i] × (keep[i] ? scale : 0); source and destination may be the same.</summary>
    internal static void Scale(ReadOnlySpan<float> source, ReadOnlySpan<byte> keep, float scale, Span<float> destination)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var (bytes, floats) = (Vector<byte>.Count, Vector<float>.Count);
            var factor = new Vector<float>(scale);
            for (; i + bytes <= source.Length; i += bytes)
            {
                Vector.Widen(new Vector<byte>(keep.Slice(i)), out var low, out var high);
                Vector.Widen(low, out var a, out var b);
                Vector.Widen(high, out var c, out var d);
                Multiply(source, destination, i, a, factor);
                Multiply(source, destination, i + floats, b, factor);
                Multiply(source, destination, i + 2 * floats, c, factor);
                Multiply(source, destination, i + 3 * floats, d, factor);
            }
        }
        for (; i < source.Length; i++) destination[i] = source[i] * (keep[i] != 0 ? scale : 0f);
    }

    private static void Multiply(ReadOnlySpan<float> source, Span<float> destination, int at, Vector<uint> kept, Vector<float> factor)
    {
        var noise = Vector.ConditionalSelect(Vector.AsVectorSingle(Vector.Equals(kept, Vector<uint>.Zero)), Vector<float>.Zero, factor);
        (new Vector<float>(source.Slice(at)) * noise).CopyTo(destination.Slice(at));
    }
}
