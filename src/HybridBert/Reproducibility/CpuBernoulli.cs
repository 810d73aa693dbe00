using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Reproducibility;

/// <summary>
/// Bernoulli draws from libtorch's default CPU generator, made in C# exactly as libtorch's own serial CPU kernel makes
/// them — so on every CPU, and faster. Every dropout mask of training comes from here.
/// </summary>
/// <remarks>
/// <para>
/// libtorch's <c>bernoulli_(p)</c> on a CPU depends on the CPU's vendor: on Intel processors it seeds an MKL stream
/// from the generator and draws in parallel; on any other it draws serially from the generator's MT19937, one double
/// per element (two 32-bit outputs, the first the high half, 53 bits of it uniform in [0, 1), compared with p). So
/// the same seed gave different dropout masks, and different training runs, on Intel and AMD machines — and the serial
/// loop is slow: ~6 ns an element, a fifth of a bert training step at 512 tokens, with the other core idle.
/// </para>
/// <para>
/// This class takes the generator's state (<c>get_rng_state</c>: libtorch's <c>CPUGeneratorImplState</c>, whose
/// MT19937 words, <c>left</c> and <c>next</c> it reads and writes back), makes the serial path's draws with vectorized
/// tempering, and puts the advanced state back, so everything drawn afterwards is what it would have been. The draws
/// equal libtorch's <c>uniform_</c> of float64 (the same MT19937 and the same 53 bits on every vendor) compared with
/// p, and, off Intel, libtorch's <c>bernoulli_</c> (tests). No library here makes libtorch-identical draws, hence code
/// of our own. A generator used from several threads at once would interleave differently; training draws on one.
/// CUDA tensors draw on the device, with libtorch (its generator is the same on every GPU).
/// </para>
/// </remarks>
public static class CpuBernoulli
{
    private const int N = 624, M = 397;
    private const uint MatrixA = 0x9908b0df, UpperMask = 0x80000000, LowerMask = 0x7fffffff;
    // CPUGeneratorImplState: { int64 the_initial_seed; int left; int seeded; uint64 next; uint64 state[624]; ... }.
    private const int LeftOffset = 8, NextOffset = 16, StateOffset = 24, MinimumStateBytes = StateOffset + 8 * N;

    /// <summary>A [shape] bool tensor, true with probability <paramref name="p"/>, as <c>empty(shape, bool).bernoulli_(p)</c>.</summary>
    public static Tensor Mask(long[] shape, double p, Device? device = null)
    {
        if (device is not null && device.type != DeviceType.CPU)
            return torch.empty(shape, dtype: ScalarType.Bool, device: device).bernoulli_(p);
        var mask = torch.empty(shape, dtype: ScalarType.Bool);
        Draw(mask.bytes, p, (byte)1);
        return mask;
    }

    /// <summary>
    /// Dropout's noise for drop probability <paramref name="dropout"/>: 0 where dropped, else 1 / (1 − p), in
    /// <paramref name="dtype"/> — the values of libtorch's <c>empty_like(x).bernoulli_(1 − p).div_(1 − p)</c>, so that
    /// <c>x * noise</c> is libtorch's <c>dropout(x, p)</c> to the bit, forward and backward.
    /// </summary>
    public static Tensor DropoutNoise(long[] shape, double dropout, ScalarType dtype, Device? device = null)
    {
        var keep = 1 - dropout;
        if (device is not null && device.type != DeviceType.CPU)
            return torch.empty(shape, dtype: dtype, device: device).bernoulli_(keep).div_(keep);
        if (dtype != ScalarType.Float32)   // libtorch's own steps: 0/1 in the noise's type, divided by 1 − p in it
        {
            using var mask = Mask(shape, keep);
            return mask.to(dtype).div_(keep);
        }
        // In float libtorch's division makes 1 / (float)(1 − p): written directly.
        var noise = torch.empty(shape, dtype: ScalarType.Float32);
        Draw(MemoryMarshal.Cast<byte, float>(noise.bytes), keep, 1.0f / (float)keep);
        return noise;
    }

    private static void Draw<T>(Span<T> destination, double p, T one) where T : unmanaged
    {
        if (destination.IsEmpty) return;
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "a probability must be in [0, 1]");
        using var stateTensor = torch.random.get_rng_state();
        var state = stateTensor.bytes.ToArray();
        if (state.Length < MinimumStateBytes)
            throw new InvalidOperationException($"libtorch's generator state has {state.Length} bytes, fewer than the {MinimumStateBytes} of the layout this build reads");
        var engine = new Mt19937(state);
        // x = m · 2⁻⁵³ with m the low 53 bits, and x < p exactly when m < ⌈p · 2⁵³⌉.
        var threshold = (ulong)Math.Ceiling(p * 9007199254740992.0);
        engine.Fill(destination, threshold, one);
        engine.WriteTo(state);
        using var updated = torch.tensor(state, dtype: ScalarType.Byte);
        torch.random.set_rng_state(updated);
    }

    /// <summary>libtorch's <c>at::mt19937</c>: its 624 words, <c>left</c> and <c>next</c>, and its order of outputs.</summary>
    private sealed class Mt19937
    {
        private readonly uint[] words = new uint[N];
        private int left, next;
        private readonly uint[] outputs = new uint[2 * 2048];

        public Mt19937(byte[] state)
        {
            left = BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(LeftOffset));
            next = (int)BinaryPrimitives.ReadUInt64LittleEndian(state.AsSpan(NextOffset));
            for (var i = 0; i < N; i++) words[i] = (uint)BinaryPrimitives.ReadUInt64LittleEndian(state.AsSpan(StateOffset + 8 * i));
            if (left < 1 || left > N || next < 0 || next > N)
                throw new InvalidOperationException($"libtorch's generator state is not laid out as this build reads it (left {left}, next {next})");
        }

        public void WriteTo(byte[] state)
        {
            BinaryPrimitives.WriteInt32LittleEndian(state.AsSpan(LeftOffset), left);
            BinaryPrimitives.WriteUInt64LittleEndian(state.AsSpan(NextOffset), (ulong)next);
            for (var i = 0; i < N; i++) BinaryPrimitives.WriteUInt64LittleEndian(state.AsSpan(StateOffset + 8 * i), words[i]);
        }

        /// <summary>One element per two outputs (the first the high half): <paramref name="one"/> when its low 53 bits
        /// are below <paramref name="threshold"/>, else 0. <typeparamref name="T"/>: a 1- or 4-byte type.</summary>
        public void Fill<T>(Span<T> destination, ulong threshold, T one) where T : unmanaged
        {
            for (var done = 0; done < destination.Length;)
            {
                var elements = Math.Min(destination.Length - done, outputs.Length / 2);
                Generate(outputs.AsSpan(0, 2 * elements));
                var pairs = MemoryMarshal.Cast<uint, ulong>(outputs.AsSpan(0, 2 * elements));   // first | second << 32
                var target = destination.Slice(done, elements);
                var vectorized = Unsafe.SizeOf<T>() == 4
                    ? Compare32(pairs, MemoryMarshal.Cast<T, uint>(target), threshold, Unsafe.As<T, uint>(ref one))
                    : Compare8(pairs, MemoryMarshal.Cast<T, byte>(target), threshold, Unsafe.As<T, byte>(ref one));
                for (var i = vectorized; i < elements; i++) target[i] = Keep(pairs[i], threshold) ? one : default;
                done += elements;
            }
        }

        private static bool Keep(ulong pair, ulong threshold) => (((pair << 32) | (pair >> 32)) & Low53) < threshold;

        private const ulong Low53 = (1UL << 53) - 1;

        /// <summary>The keep masks of a run of pairs, [count of ulong lanes] wide, all ones or zeros per pair.</summary>
        private static Vector<ulong> KeepVector(ReadOnlySpan<ulong> pairs, Vector<ulong> threshold)
        {
            var pair = new Vector<ulong>(pairs);
            return Vector.LessThan((Vector.ShiftLeft(pair, 32) | Vector.ShiftRightLogical(pair, 32)) & new Vector<ulong>(Low53), threshold);
        }

        private static int Compare32(ReadOnlySpan<ulong> pairs, Span<uint> target, ulong threshold, uint one)
        {
            if (!Vector.IsHardwareAccelerated) return 0;
            var (lanes, limit) = (Vector<ulong>.Count, new Vector<ulong>(threshold));
            var ones = new Vector<uint>(one);
            var i = 0;
            for (; i + 2 * lanes <= pairs.Length; i += 2 * lanes)
                (Vector.Narrow(KeepVector(pairs.Slice(i), limit), KeepVector(pairs.Slice(i + lanes), limit)) & ones).CopyTo(target.Slice(i));
            return i;
        }

        private static int Compare8(ReadOnlySpan<ulong> pairs, Span<byte> target, ulong threshold, byte one)
        {
            if (!Vector.IsHardwareAccelerated) return 0;
            var (lanes, limit) = (Vector<ulong>.Count, new Vector<ulong>(threshold));
            var ones = new Vector<byte>(one);
            var i = 0;
            for (; i + 8 * lanes <= pairs.Length; i += 8 * lanes)
            {
                var p = pairs.Slice(i);
                var a = Vector.Narrow(Vector.Narrow(KeepVector(p, limit), KeepVector(p.Slice(lanes), limit)),
                    Vector.Narrow(KeepVector(p.Slice(2 * lanes), limit), KeepVector(p.Slice(3 * lanes), limit)));
                var b = Vector.Narrow(Vector.Narrow(KeepVector(p.Slice(4 * lanes), limit), KeepVector(p.Slice(5 * lanes), limit)),
                    Vector.Narrow(KeepVector(p.Slice(6 * lanes), limit), KeepVector(p.Slice(7 * lanes), limit)));
                (Vector.Narrow(a, b) & ones).CopyTo(target.Slice(i));
            }
            return i;
        }

        /// <summary>The next <paramref name="into"/>.Length outputs, as <c>at::mt19937::operator()</c> gives them.</summary>
        private void Generate(Span<uint> into)
        {
            for (var i = 0; i < into.Length;)
            {
                // left − 1 outputs remain in the current words, from next on; then the words are twisted.
                if (left == 1)
                {
                    Twist();
                    (left, next) = (N + 1, 0);
                }
                var take = Math.Min(left - 1, into.Length - i);
                Temper(words.AsSpan(next, take), into.Slice(i, take));
                (next, left, i) = (next + take, left - take, i + take);
            }
        }

        /// <summary>at::mt19937's <c>next_state</c>: word k from words k, k + 1 and k + 397 (mod 624), in order. The words
        /// before 227 read only words not yet rewritten, the later ones words rewritten at least 227 places before: so
        /// runs of up to 227 words are independent, and done a vector at a time.</summary>
        private void Twist()
        {
            var w = words.AsSpan();
            var k = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var lanes = Vector<uint>.Count;
                for (; k + lanes <= N - M; k += lanes) MixInto(w, k, k + M);
                for (; k < N - M; k++) w[k] = w[k + M] ^ Mix(w[k], w[k + 1]);
                for (; k + lanes <= N - 1; k += lanes) MixInto(w, k, k + M - N);
            }
            for (; k < N - M; k++) w[k] = w[k + M] ^ Mix(w[k], w[k + 1]);
            for (; k < N - 1; k++) w[k] = w[k + M - N] ^ Mix(w[k], w[k + 1]);
            w[N - 1] = w[M - 1] ^ Mix(w[N - 1], w[0]);
        }

        private static void MixInto(Span<uint> w, int k, int far)
        {
            var u = new Vector<uint>(w.Slice(k));
            var v = new Vector<uint>(w.Slice(k + 1));
            var y = (u & new Vector<uint>(UpperMask)) | (v & new Vector<uint>(LowerMask));
            var odd = Vector<uint>.Zero - (v & Vector<uint>.One);   // all ones where v is odd
            (new Vector<uint>(w.Slice(far)) ^ Vector.ShiftRightLogical(y, 1) ^ (odd & new Vector<uint>(MatrixA))).CopyTo(w.Slice(k));
        }

        private static uint Mix(uint u, uint v) => (((u & UpperMask) | (v & LowerMask)) >> 1) ^ (MatrixA & (0u - (v & 1)));

        private static void Temper(ReadOnlySpan<uint> from, Span<uint> to)
        {
            var i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var b = new Vector<uint>(0x9d2c5680);
                var c = new Vector<uint>(0xefc60000);
                for (; i + Vector<uint>.Count <= from.Length; i += Vector<uint>.Count)
                {
                    var y = new Vector<uint>(from.Slice(i));
                    y ^= Vector.ShiftRightLogical(y, 11);
                    y ^= Vector.ShiftLeft(y, 7) & b;
                    y ^= Vector.ShiftLeft(y, 15) & c;
                    y ^= Vector.ShiftRightLogical(y, 18);
                    y.CopyTo(to.Slice(i));
                }
            }
            for (; i < from.Length; i++)
            {
                var y = from[i];
                y ^= y >> 11;
                y ^= (y << 7) & 0x9d2c5680;
                y ^= (y << 15) & 0xefc60000;
                y ^= y >> 18;
                to[i] = y;
            }
        }
    }
}
