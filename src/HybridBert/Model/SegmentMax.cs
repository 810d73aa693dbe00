using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// Segment max and local window max for the pooling network, with "no eligible token → 0" semantics.
/// </summary>
/// <remarks>
/// PyTorch does a segment max with <c>scatter_reduce(..., "amax")</c>, which TorchSharp 0.107 does not expose;
/// <c>torch.index_reduce</c> exists in the C# API but throws "not implemented". Both exist in libtorch, so we reach
/// <c>index_reduce</c> through a TorchScript function (<c>torch.jit.compile</c>), which keeps autograd. It is the
/// fastest of the three ways measured (docs/results/design-measurements.md#segment-max).
/// </remarks>
public static class SegmentMax
{
    private static readonly Lazy<jit.CompilationUnit> Script = new(() =>
    {
        var unit = jit.compile("""
            def segment_amax(base: Tensor, index: Tensor, src: Tensor):
                return base.index_reduce(0, index, src, 'amax', include_self=False)

            """);  // TorchScript's parser needs the trailing newline
        // libtorch warns once per process that index_reduce is "in beta": spend that warning here, out of sight, rather
        // than before a user's error message or in a server's log.
        Native.QuietStderr.Run(() =>
        {
            using var scope = torch.NewDisposeScope();
            _ = unit.invoke("segment_amax", torch.zeros(1), torch.zeros(1, dtype: ScalarType.Int64), torch.ones(1));
        });
        return unit;
    });

    /// <summary>
    /// For every token, the max of <paramref name="values"/> [batch, seq, dim] over the tokens of its segment whose
    /// <paramref name="candidate"/> is true; 0 where the segment has no candidate.
    /// <paramref name="flatSegmentIndex"/> is [batch*seq], unique across the batch (b*seq + segment).
    /// </summary>
    public static Tensor Apply(Tensor values, Tensor flatSegmentIndex, Tensor candidate)
    {
        var layout = SegmentLayout.Build(flatSegmentIndex, candidate);
        return Apply(values, layout, layout.Empty);
    }

    /// <summary>
    /// The segment max of <paramref name="values"/> [batch, seq, dim] over <paramref name="layout"/>'s candidates,
    /// per token; 0 where <paramref name="zero"/> [batch, seq, 1] is true (it must cover <see cref="SegmentLayout.Empty"/>).
    /// </summary>
    /// <remarks>
    /// The maxima come from <c>index_reduce</c> without autograd; backward (<see cref="SegmentMaxFunction"/>) sums each
    /// segment's gradient and hands it to the segment's maximum, split evenly between tied maxima as
    /// <c>index_reduce</c>'s own backward would, keeping one boolean mask instead of index_reduce's copies of its input
    /// and output (docs/results/design-measurements.md#segment-max).
    /// </remarks>
    public static Tensor Apply(Tensor values, SegmentLayout layout, Tensor zero) => Scoped.Keep(() =>
    {
        var training = values.requires_grad && torch.is_grad_enabled();
        Tensor masked, perToken;
        using (torch.no_grad())
        {
            masked = Exclude(values, layout.Excluded);
            perToken = Reduce(masked, layout.FlatIndex);
        }
        return training ? SegmentMaxFunction.Apply(values, masked, perToken, layout, zero) : perToken.masked_fill_(zero, 0.0);
    });

    /// <summary>
    /// <paramref name="values"/> with -inf where <paramref name="excluded"/> [batch, seq, 1] is true: added as a
    /// [batch, seq, 1] tensor of 0 and -inf, because libtorch's CPU <c>masked_fill</c> with a broadcast mask is a
    /// scalar loop (and a copy first) where an add is one vectorized pass; the values are the same.
    /// </summary>
    private static Tensor Exclude(Tensor values, Tensor excluded) =>
        values + torch.zeros(excluded.shape, dtype: values.dtype, device: values.device).masked_fill_(excluded, double.NegativeInfinity);

    private static Tensor Reduce(Tensor masked, Tensor flatIndex)
    {
        var (batch, seq, dim) = (masked.shape[0], masked.shape[1], masked.shape[2]);
        var table = torch.zeros(batch * seq, dim, dtype: masked.dtype, device: masked.device);
        table = (Tensor)Script.Value.invoke("segment_amax", table, flatIndex, masked.reshape(-1, dim));
        return table.index_select(0, flatIndex).view(batch, seq, dim);
    }

    /// <summary>
    /// Max over the window {i-1, i, i+1} of the candidates (<paramref name="candidate"/> [batch, 1, seq] float);
    /// 0 where the window holds no candidate.
    /// </summary>
    public static Tensor LocalWindow(Tensor values, Tensor candidate)
    {
        var allowed = candidate.squeeze(1).ne(0);
        return LocalWindow(values, allowed.logical_not().unsqueeze(-1), EmptyWindows(allowed));
    }

    /// <summary>[batch, seq, 1] bool: the window {i-1, i, i+1} holds no token of <paramref name="candidate"/> [batch, seq] bool.</summary>
    public static Tensor EmptyWindows(Tensor candidate) =>
        nn.functional.max_pool1d(candidate.unsqueeze(1).to_type(ScalarType.Float32), 3, stride: 1, padding: 1).squeeze(1).eq(0).unsqueeze(-1);

    /// <summary>
    /// Max over the window {i-1, i, i+1} of <paramref name="values"/> [batch, seq, dim], skipping the tokens where
    /// <paramref name="excluded"/> [batch, seq, 1] is true; 0 where <paramref name="zero"/> [batch, seq, 1] is true
    /// (it must cover every window without a candidate).
    /// </summary>
    /// <remarks>
    /// Training keeps which neighbour won each window, two boolean masks, instead of max_pool1d's input copy and int64
    /// indices (<see cref="LocalMaxFunction"/>; docs/results/design-measurements.md#segment-max). Ties go to the
    /// leftmost, as max_pool1d's.
    /// </remarks>
    public static Tensor LocalWindow(Tensor values, Tensor excluded, Tensor zero) => Scoped.Keep(() =>
    {
        var training = values.requires_grad && torch.is_grad_enabled();
        var seq = values.shape[1];
        Tensor masked, left, right;
        using (torch.no_grad())
        {
            masked = Exclude(values, excluded);
            var padded = nn.functional.pad(masked, [0, 0, 1, 1], value: double.NegativeInfinity);
            (left, right) = (padded.narrow(1, 0, seq), padded.narrow(1, 2, seq));
        }
        return training
            ? LocalMaxFunction.Apply(values, masked, left, right, zero)
            : torch.maximum(torch.maximum(left, masked), right).masked_fill_(zero, 0.0);   // inference: the maxima are the answer
    });

    /// <summary>
    /// PoNet's default segments: [CLS] and every [SEP] are segments of their own, each span between them one
    /// segment (and padding after the last [SEP] another). Returns [batch, seq] long ids in [0, seq).
    /// </summary>
    public static Tensor SegmentsFromSpecialTokens(Tensor special)
    {
        // A new segment starts at a special token and right after one (never at position 0).
        var previousSpecial = nn.functional.pad(special.narrow(1, 0, special.shape[1] - 1), [1, 0]);
        var starts = special | previousSpecial;
        starts[TensorIndex.Colon, 0] = false;
        return starts.to_type(ScalarType.Int64).cumsum(1);
    }

    public static Tensor CheckSegmentIds(Tensor segmentIds)
    {
        var seq = segmentIds.shape[1];
        if (segmentIds.numel() > 0)
        {
            long min = segmentIds.min().item<long>(), max = segmentIds.max().item<long>();
            if (min < 0 || max >= seq)
                throw new ArgumentException($"segment_ids must be in [0, seq_len={seq}) (found {min}..{max})");
        }
        return segmentIds.to_type(ScalarType.Int64);
    }
}

/// <summary>Where the segments of a batch are and which tokens may enter their max: computed once per batch.</summary>
public sealed class SegmentLayout
{
    /// <summary>[batch*seq] long: row-major segment index, unique across the batch (b*seq + segment).</summary>
    public required Tensor FlatIndex { get; init; }
    /// <summary>[batch, seq, 1] bool: may not enter its segment's max.</summary>
    public required Tensor Excluded { get; init; }
    /// <summary>[batch, seq, 1] bool: its segment has no candidate at all.</summary>
    public required Tensor Empty { get; init; }
    /// <summary>How many segments of the batch have a candidate.</summary>
    public required long NonEmptySegments { get; init; }

    /// <param name="flatIndex">[batch*seq] segment indices, unique across the batch.</param>
    /// <param name="candidate">[batch, seq] bool: may enter its segment's max.</param>
    public static SegmentLayout Build(Tensor flatIndex, Tensor candidate)
    {
        var (batch, seq) = (candidate.shape[0], candidate.shape[1]);
        var perSegment = torch.zeros(batch * seq, dtype: ScalarType.Int64, device: candidate.device)
            .index_add(0, flatIndex, candidate.reshape(-1).to_type(ScalarType.Int64), 1);
        return new SegmentLayout
        {
            FlatIndex = flatIndex,
            Excluded = candidate.logical_not().unsqueeze(-1),
            Empty = perSegment.index_select(0, flatIndex).view(batch, seq, 1).eq(0),
            NonEmptySegments = perSegment.gt(0).sum().item<long>(),
        };
    }
}
