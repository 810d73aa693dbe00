using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// PoNet's multi-granularity pooling (Tan et al., ICLR 2022), the <c>P</c> mixer. Parameter names follow the
/// authors' <c>PoNetSelfAttention</c>: <c>dense_q</c>, <c>dense_k</c>, <c>dense_o</c>, <c>dense_segment</c>,
/// <c>dense_local</c>.
/// </summary>
public sealed class PoolingMixer : nn.Module<Tensor, MixerContext, Tensor>
{
    private readonly Linear dense_q;
    private readonly Linear dense_k;
    private readonly Linear dense_o;
    private readonly Linear dense_segment;
    private readonly Linear dense_local;
    private readonly int heads;

    public PoolingMixer(EncoderConfig c, int heads) : base(nameof(PoolingMixer))
    {
        var width = heads * c.HeadSize;
        dense_q = nn.Linear(c.HiddenSize, width);
        dense_k = nn.Linear(c.HiddenSize, width);
        dense_o = nn.Linear(c.HiddenSize, width);
        dense_segment = nn.Linear(c.HiddenSize, width);
        dense_local = nn.Linear(c.HiddenSize, width);
        this.heads = heads;
        RegisterComponents();
    }

    // h: [batch, seq, hidden] -> [batch, seq, heads*head_size]
    public override Tensor forward(Tensor h, MixerContext context) => Scoped.Keep(() =>
    {
        var p = Projections.Apply(h, dense_o, dense_segment, dense_local);
        return Pool(Global(h, dense_q, dense_k, heads, context), p[0], p[1], p[2], context);
    });

    /// <summary>
    /// The global aggregation g [batch, heads*head_size]: per head, softmax(q̄·Kᵀ/√d) · K over the eligible tokens, with
    /// q̄ the mean query (<see cref="MeanQuery"/>) and K = <paramref name="denseK"/>(h) (K doubles as the value); 0 for
    /// a row without an eligible token.
    /// </summary>
    /// <remarks>
    /// K is never made. It enters only through the scores and a weighted sum, and a linear layer commutes with both:
    /// q̄ₙ·(Wₙhₜ + bₙ) = (Wₙᵀq̄ₙ)·hₜ + q̄ₙ·bₙ, whose second term is the same for every token and so leaves the softmax
    /// unchanged, and Σₜ wₜ(Wₙhₜ + bₙ) = Wₙ(Σₜ wₜhₜ) + bₙΣₜ wₜ. So the scores come from the hidden states and one
    /// [hidden] vector per head, and g from one weighted sum of the hidden states per head: products of
    /// batch × heads × seq × hidden multiply-adds instead of the key projection's batch × seq × hidden × width — a
    /// pooling mixer then projects every token three times (O, segment, local), where attention projects it three times
    /// and also multiplies seq × seq per head (docs/results/design-measurements.md#global-aggregation). The same values as
    /// PoNet's order to rounding (a test holds it and its gradients to it).
    /// </remarks>
    public static Tensor Global(Tensor h, Linear denseQ, Linear denseK, int heads, MixerContext context) => Scoped.Keep(() =>
    {
        var (batch, seq, hidden) = (h.shape[0], h.shape[1], h.shape[2]);
        var width = denseK.weight!.shape[0];
        var headSize = width / heads;
        var keyWeight = denseK.weight!.view(heads, headSize, hidden);                                  // Wₙ: [heads, d, hidden]
        var query = MeanQuery(h, denseQ, context).view(batch, heads, headSize).transpose(0, 1);       // [heads, batch, d]
        var u = torch.bmm(query, keyWeight).transpose(0, 1);                                          // Wₙᵀq̄ₙ: [batch, heads, hidden]
        var scores = torch.bmm(u, h.transpose(1, 2)) / Math.Sqrt(headSize);                          // [batch, heads, seq]
        scores = scores.masked_fill(context.Eligible.view(batch, 1, seq).logical_not(), double.NegativeInfinity);
        var weights = scores.softmax(-1).nan_to_num(0.0);                                            // no eligible key: g = 0
        var summed = torch.bmm(weights, h).transpose(0, 1);                                          // Σₜ wₜhₜ: [heads, batch, hidden]
        var projected = torch.bmm(summed, keyWeight.transpose(1, 2)).transpose(0, 1);                 // [batch, heads, d]
        var bias = denseK.bias!.view(1, heads, headSize) * weights.sum(-1, keepdim: true);            // bₙ Σₜ wₜ
        return (projected + bias).reshape(batch, width);
    });

    /// <summary>
    /// The global aggregation's query, [batch, heads*head_size]: <paramref name="denseQ"/> of the mean of the eligible
    /// tokens of <paramref name="h"/>. PoNet projects every token and averages the queries; a linear layer commutes with
    /// the mean, so projecting the mean is the same query (to rounding) for one row's matrix product instead of
    /// seq rows', forward and backward — it makes a pooling layer's matrix products as many as attention's at 128
    /// tokens (docs/results/compare-pytorch). A batch row without an eligible token gets the bias where PoNet gets 0;
    /// its scores are all masked either way, so g = 0 in both.
    /// </summary>
    public static Tensor MeanQuery(Tensor h, Linear denseQ, MixerContext context) => Scoped.Keep(() =>
    {
        var eligible = context.Eligible.unsqueeze(-1);                                   // [batch, seq, 1]
        // Counted and summed in fp32 whatever the compute type: in bf16 a count of 301 would round to 300.
        var count = eligible.sum(1, type: ScalarType.Float32).clamp_min(1.0);            // [batch, 1]
        var mean = (h * eligible.to(h.dtype)).sum(1, type: ScalarType.Float32) / count;   // a multiply: see Pool
        return denseQ.call(mean.to(h.dtype));
    });

    /// <summary>
    /// (g + SMP) ⊙ O + LMP from the global aggregation [batch, heads*head_size] (<see cref="Global"/>) and the three
    /// other projections, each [batch, seq, heads*head_size]: SMP the segment max of S, LMP the max of Lc over
    /// {i-1, i, i+1}. [CLS]/[SEP] get 0 from both maxima and never enter a local window; padding outputs 0.
    /// </summary>
    public static Tensor Pool(Tensor g, Tensor o, Tensor segment, Tensor local, MixerContext context)
    {
        var (batch, width) = (o.shape[0], o.shape[2]);
        var segmentMax = SegmentMax.Apply(segment, context.Segments!);
        var localMax = SegmentMax.LocalWindow(local, context.LocalExcluded!, context.LocalZero!);

        // In [batch, seq, heads*head_size] order throughout (g's heads side by side), so no transposed copy is made.
        // Padding is zeroed by multiplying by 0/1 (every term is finite), and only when the batch has padding:
        // libtorch's CPU masked_fill with a broadcast mask is a scalar loop, a multiply one vectorized pass.
        var global = g.reshape(batch, 1, width);
        var inference = !torch.is_grad_enabled() || !(segmentMax.requires_grad || o.requires_grad || localMax.requires_grad);
        var pooled = inference
            ? segmentMax.add_(global).mul_(o).add_(localMax)   // in place: fresh tensors
            : (global + segmentMax) * o + localMax;
        if (context.AllReal) return pooled;
        var real = context.Real.unsqueeze(-1).to(o.dtype);
        return inference ? pooled.mul_(real) : pooled * real;
    }
}
