using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// The segment max as one autograd function: forward takes each token's segment maximum (<c>scatter_reduce</c>,
/// <see cref="SegmentMax.Table"/>) and finds which tokens are their segment's maximum; backward sums the incoming gradient per segment and hands
/// it to those tokens, split evenly between tied maxima (as <c>scatter_reduce</c>'s own backward does). Backward keeps
/// one mask.
/// </summary>
/// <remarks>
/// Written as a function rather than composed of differentiable ops because the composed route selects with
/// <c>where</c>, and libtorch's CPU <c>where</c> is a scalar loop: 5–6 ms per million elements here against 0.1–0.3
/// for a vectorized multiply (docs/results/compare-pytorch, 2026-12-07). Forward's values are the same; backward's
/// segment sums are the same <c>index_add</c>, so gradients are identical.
/// </remarks>
internal sealed class SegmentMaxFunction : autograd.SingleTensorFunction<SegmentMaxFunction>
{
    public override string Name => nameof(SegmentMaxFunction);

    public static Tensor Apply(Tensor values, SegmentLayout layout)
    {
        Backward.ThrowPending();
        return apply(values, layout);
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (values, layout) = ((Tensor)vars[0], (SegmentLayout)vars[1]);
        var (batch, seq, dim) = (values.shape[0], values.shape[1], values.shape[2]);
        using var table = SegmentMax.Table(values, layout);
        // The excluded tokens' row becomes NaN, equal to no value: each candidate is compared with its segment's max, and
        // no excluded token (nor any token of a segment without a candidate) counts as a maximum.
        table[batch * seq + 1].fill_(double.NaN);
        var isMax = values.eq(table.index_select(0, layout.ScatterIndex).view(batch, seq, dim));
        Tensor share = isMax;
        if (isMax.sum().item<long>() != layout.NonEmptySegments * dim)   // ties: each tied maximum gets 1/count
        {
            var maxima = isMax.to(values.dtype);
            var count = PerSegmentSum(maxima, layout.FlatIndex);
            share = maxima.div_(count.clamp_min_(1.0));
        }
        ctx.save_for_backward([share, layout.GatherIndex, layout.FlatIndex]);
        return table.index_select(0, layout.GatherIndex).view(batch, seq, dim);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        return Backward.Guard(2, () =>
        {
            var saved = ctx.get_saved_variables();
            var (share, gatherIndex, flatIndex) = (saved[0], saved[1], saved[2]);
            var (batch, seq, dim) = (gradOutput.shape[0], gradOutput.shape[1], gradOutput.shape[2]);
            // Each segment's gradient summed; the zeroed tokens' (they got 0, not the max) go to a row of their own.
            var sums = torch.zeros(batch * seq + 1, dim, dtype: gradOutput.dtype, device: gradOutput.device)
                .index_add_(0, gatherIndex, gradOutput.reshape(-1, dim), 1);
            var summed = sums.index_select(0, flatIndex).view(batch, seq, dim);
            return [summed.mul_(share.to(summed.dtype)), null!];
        });
    }

    /// <summary>For every token, the sum of <paramref name="x"/> [batch, seq, dim] over its segment.</summary>
    private static Tensor PerSegmentSum(Tensor x, Tensor flatIndex)
    {
        var (batch, seq, dim) = (x.shape[0], x.shape[1], x.shape[2]);
        var sums = torch.zeros(batch * seq, dim, dtype: x.dtype, device: x.device).index_add_(0, flatIndex, x.reshape(-1, dim), 1);
        return sums.index_select(0, flatIndex).view(batch, seq, dim);
    }
}

/// <summary>
/// The local window max ({i-1, i, i+1}) as one autograd function: forward records which neighbour won each window
/// (ties to the leftmost, as <c>max_pool1d</c>) in two boolean masks; backward routes each window's gradient to its
/// winner with vectorized multiplies and shifts instead of the composed route's four scalar-loop <c>where</c>s
/// (see <see cref="SegmentMaxFunction"/>).
/// </summary>
internal sealed class LocalMaxFunction : autograd.SingleTensorFunction<LocalMaxFunction>
{
    public override string Name => nameof(LocalMaxFunction);

    /// <param name="masked">The values, -inf where excluded; <paramref name="left"/> and <paramref name="right"/> its
    /// neighbours (-inf past the ends).</param>
    public static Tensor Apply(Tensor values, Tensor masked, Tensor left, Tensor right, Tensor zero)
    {
        Backward.ThrowPending();
        return apply(values, masked, left, right, zero);
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (masked, left, right, zero) = ((Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4]);
        var best = torch.maximum(torch.maximum(left, masked), right);
        var fromLeft = left.eq(best);
        var fromCentre = masked.eq(best).logical_and_(fromLeft.logical_not());
        // Zeroed by a multiply, not a broadcast masked_fill (a scalar loop); windows without a candidate (-inf) are all
        // zeroed, and clamped first so that they give 0, not NaN. A zeroed token may get -0.0.
        var keep = zero.logical_not().to(best.dtype);
        ctx.save_for_backward([fromLeft, fromCentre, keep]);
        return best.clamp_min_(torch.finfo(best.dtype).min).mul_(keep);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        return Backward.Guard(5, () =>
        {
            var saved = ctx.get_saved_variables();
            var (fromLeft, fromCentre, keep) = (saved[0], saved[1], saved[2]);
            var seq = gradOutput.shape[1];
            var g = gradOutput * keep;
            var toLeft = g * fromLeft.to(g.dtype);
            var toCentre = g * fromCentre.to(g.dtype);
            var toRight = g.sub_(toLeft).sub_(toCentre);   // exactly 0 where the left or the centre won
            // Token i collects its own window's share, the left share of window i+1 and the right share of window i-1.
            var grad = toCentre
                .add_(nn.functional.pad(toLeft.narrow(1, 1, seq - 1), [0, 0, 0, 1]))
                .add_(nn.functional.pad(toRight.narrow(1, 0, seq - 1), [0, 0, 1, 0]));
            return [grad, null!, null!, null!, null!];
        });
    }
}
