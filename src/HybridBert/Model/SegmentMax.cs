using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// Segment max and local window max for the pooling network, with "no eligible token → 0" semantics.
/// </summary>
/// <remarks>
/// PyTorch does a segment max with <c>scatter_reduce(..., "amax")</c>, which TorchSharp 0.107 does not expose (its
/// <c>torch.index_reduce</c> throws "not implemented"). libtorch has it, so we reach it through a TorchScript function
/// (<c>torch.jit.compile</c>), without autograd: backward is our own (<see cref="SegmentMaxFunction"/>). With the
/// index expanded along the feature dimension and a contiguous source, libtorch takes its parallel sorted-index path:
/// 0.5 ms at [32, 128, 256] against <c>index_reduce</c>'s 1.5 (docs/results/design-measurements.md#segment-max).
/// </remarks>
public static class SegmentMax
{
    private static readonly Lazy<jit.CompilationUnit> Script = new(() => jit.compile("""
        def segment_amax(table: Tensor, index: Tensor, src: Tensor):
            return table.scatter_reduce_(0, index.unsqueeze(-1).expand_as(src), src, 'amax', include_self=False)

        """));  // TorchScript's parser needs the trailing newline

    /// <summary>
    /// For every token, the max of <paramref name="values"/> [batch, seq, dim] over the tokens of its segment whose
    /// <paramref name="candidate"/> is true; 0 where the segment has no candidate.
    /// <paramref name="flatSegmentIndex"/> is [batch*seq], unique across the batch (b*seq + segment).
    /// </summary>
    public static Tensor Apply(Tensor values, Tensor flatSegmentIndex, Tensor candidate) =>
        Apply(values, SegmentLayout.Build(flatSegmentIndex, candidate));

    /// <summary>
    /// The segment max of <paramref name="values"/> [batch, seq, dim] over <paramref name="layout"/>'s candidates,
    /// per token; 0 where <see cref="SegmentLayout.GatherIndex"/> reads the row of zeros.
    /// </summary>
    /// <remarks>
    /// The values are reduced as they are (<see cref="Table"/>): excluded tokens are sent to a spare row of the table and
    /// zeroed tokens read a row of zeros, so no masked copy and no <c>masked_fill</c> pass is made. Training takes the
    /// same maxima; backward (<see cref="SegmentMaxFunction"/>) sums each segment's gradient and hands it to the
    /// segment's maximum, split evenly between tied maxima as <c>scatter_reduce</c>'s own backward would, keeping one
    /// boolean mask instead of its copies of input and output (docs/results/design-measurements.md#segment-max).
    /// </remarks>
    public static Tensor Apply(Tensor values, SegmentLayout layout) => Scoped.Keep(() =>
    {
        if (values.requires_grad && torch.is_grad_enabled()) return SegmentMaxFunction.Apply(values, layout);
        var (batch, seq, dim) = (values.shape[0], values.shape[1], values.shape[2]);
        return Table(values, layout).index_select(0, layout.GatherIndex).view(batch, seq, dim);
    });

    /// <summary>
    /// The segment maxima of <paramref name="values"/> [batch, seq, dim] as a table of batch*seq + 2 rows, without
    /// autograd: row <see cref="SegmentLayout.FlatIndex"/> holds its segment's max over the candidates (rows of segments
    /// without a candidate are left unset), row batch*seq zeros (what <see cref="SegmentLayout.GatherIndex"/> gives the
    /// zeroed tokens), row batch*seq + 1 the excluded tokens' max (<see cref="SegmentLayout.ScatterIndex"/> sends them
    /// there), so that no masked copy of the values is made.
    /// </summary>
    internal static Tensor Table(Tensor values, SegmentLayout layout)
    {
        var (batch, seq, dim) = (values.shape[0], values.shape[1], values.shape[2]);
        var rows = batch * seq;
        var table = torch.empty(rows + 2, dim, dtype: values.dtype, device: values.device);
        table[rows].zero_();
        Script.Value.invoke("segment_amax", table, layout.ScatterIndex, values.detach().contiguous().view(rows, dim));
        return table;
    }

    /// <summary>
    /// <paramref name="values"/> with -inf where <paramref name="excluded"/> [batch, seq, 1] is true: added as a
    /// [batch, seq, 1] tensor of 0 and -inf, because libtorch's CPU <c>masked_fill</c> with a broadcast mask is a
    /// scalar loop (and a copy first) where an add is one vectorized pass; the values are the same.
    /// </summary>
    private static Tensor Exclude(Tensor values, Tensor excluded) =>
        values + torch.zeros(excluded.shape, dtype: values.dtype, device: values.device).masked_fill_(excluded, double.NegativeInfinity);

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
        var seq = values.shape[1];
        var training = values.requires_grad && torch.is_grad_enabled();
        if (!training && seq >= 3) return LocalWindowInference(values, excluded, zero);
        Tensor masked, left, right;
        using (torch.no_grad())
        {
            masked = Exclude(values, excluded);
            var padded = nn.functional.pad(masked, [0, 0, 1, 1], value: double.NegativeInfinity);
            (left, right) = (padded.narrow(1, 0, seq), padded.narrow(1, 2, seq));
        }
        return training
            ? LocalMaxFunction.Apply(values, masked, left, right, zero)
            : torch.maximum(torch.maximum(left, masked), right).masked_fill_(zero, 0.0);
    });

    /// <summary>
    /// The window max without autograd, for seq ≥ 3: the maxima of neighbouring pairs, then of neighbouring pairs of
    /// those, written into the masked copy — no padded copy — and zeroed by a multiply (after clamping the -inf of
    /// windows without a candidate, all of which <paramref name="zero"/> covers), not by a broadcast
    /// <c>masked_fill</c>, which libtorch runs as a scalar loop. The same values (a zeroed token may get -0.0).
    /// </summary>
    private static Tensor LocalWindowInference(Tensor values, Tensor excluded, Tensor zero)
    {
        var seq = values.shape[1];
        var best = Exclude(values, excluded);
        var pairs = torch.maximum(best.narrow(1, 0, seq - 1), best.narrow(1, 1, seq - 1));   // max(i, i+1)
        best.narrow(1, 1, seq - 2).copy_(torch.maximum(pairs.narrow(1, 0, seq - 2), pairs.narrow(1, 1, seq - 2)));
        best.narrow(1, 0, 1).copy_(pairs.narrow(1, 0, 1));
        best.narrow(1, seq - 1, 1).copy_(pairs.narrow(1, seq - 2, 1));
        return best.clamp_min_(torch.finfo(values.dtype).min).mul_(zero.logical_not().to(values.dtype));
    }

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
    /// <summary>How many segments of the batch have a candidate.</summary>
    public required long NonEmptySegments { get; init; }
    /// <summary>[batch*seq] long: <see cref="FlatIndex"/>, or batch*seq + 1 (a spare row) for tokens that may not enter
    /// their segment's max.</summary>
    public required Tensor ScatterIndex { get; init; }
    /// <summary>[batch*seq] long: <see cref="FlatIndex"/>, or batch*seq (a row of zeros) for tokens that get 0 from the
    /// segment max (their segment has no candidate, or the caller zeroes them: [CLS]/[SEP]).</summary>
    public required Tensor GatherIndex { get; init; }

    /// <param name="flatIndex">[batch*seq] segment indices, unique across the batch.</param>
    /// <param name="candidate">[batch, seq] bool: may enter its segment's max.</param>
    /// <param name="alsoZero">[batch, seq, 1] bool: tokens that get 0 although their segment has a candidate.</param>
    public static SegmentLayout Build(Tensor flatIndex, Tensor candidate, Tensor? alsoZero = null)
    {
        var (batch, seq) = (candidate.shape[0], candidate.shape[1]);
        var rows = batch * seq;
        var perSegment = torch.zeros(rows, dtype: ScalarType.Int64, device: candidate.device)
            .index_add(0, flatIndex, candidate.reshape(-1).to_type(ScalarType.Int64), 1);
        var excluded = candidate.logical_not().unsqueeze(-1);
        var empty = perSegment.index_select(0, flatIndex).view(batch, seq, 1).eq(0);
        var zero = alsoZero is null ? empty : empty | alsoZero;
        return new SegmentLayout
        {
            FlatIndex = flatIndex,
            NonEmptySegments = perSegment.gt(0).sum().item<long>(),
            ScatterIndex = flatIndex.masked_fill(excluded.reshape(-1), rows + 1),
            GatherIndex = flatIndex.masked_fill(zero.reshape(-1), rows),
        };
    }
}
