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
        var p = Projections.Apply(h, dense_k, dense_o, dense_segment, dense_local);
        return Pool(MeanQuery(h, dense_q, context), p[0], p[1], p[2], p[3], heads, context);
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
    /// (g + SMP) ⊙ O + LMP from the mean query [batch, heads*head_size] (<see cref="MeanQuery"/>) and the four other
    /// projections, each [batch, seq, heads*head_size]: g = softmax(q̄·Kᵀ/√d) · K per head (K doubles as the value), SMP the segment max of S, LMP the
    /// max of Lc over {i-1, i, i+1}. [CLS]/[SEP] get 0 from both maxima and never enter a local window; padding
    /// outputs 0.
    /// </summary>
    public static Tensor Pool(Tensor meanQuery, Tensor k, Tensor o, Tensor segment, Tensor local, int heads, MixerContext context)
    {
        var (batch, seq, width) = (k.shape[0], k.shape[1], k.shape[2]);
        var headSize = width / heads;
        Tensor Split(Tensor x) => x.view(batch, seq, heads, headSize).transpose(1, 2); // [batch, heads, seq, head_size]

        // Global aggregation: one mean query per head, attending over the eligible keys.
        var g = Scoped.Keep(() =>
        {
            var training = torch.is_grad_enabled() && (k.requires_grad || meanQuery.requires_grad);
            // Keys per head: training keeps einsum's order of summation (the losses of earlier runs); inference makes
            // one [batch*heads, seq, head_size] copy for both products where einsum makes one each.
            var kh = training ? Split(k) : Split(k).contiguous().view(batch * heads, seq, headSize);
            var q = meanQuery.view(batch, heads, headSize);
            var scores = training
                ? torch.einsum("bhd,bhld->bhl", q, kh)
                : torch.bmm(kh, q.view(batch * heads, headSize, 1)).view(batch, heads, seq);
            scores = (scores / Math.Sqrt(headSize)).masked_fill(context.Eligible.view(batch, 1, seq).logical_not(), double.NegativeInfinity);
            var weights = scores.softmax(-1).nan_to_num(0.0);                        // no eligible key: g = 0
            return training
                ? torch.einsum("bhl,bhld->bhd", weights, kh)
                : torch.bmm(weights.view(batch * heads, 1, seq), kh).view(batch, heads, headSize);
        });

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
