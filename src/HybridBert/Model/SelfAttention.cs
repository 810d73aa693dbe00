using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>BERT multi-head self-attention (<c>attention.self.{query,key,value}</c>), the <c>A</c> mixer.</summary>
public sealed class SelfAttention : nn.Module<Tensor, MixerContext, Tensor>
{
    private readonly Linear query;
    private readonly Linear key;
    private readonly Linear value;
    private readonly int heads;
    private readonly double dropoutProb;

    public SelfAttention(EncoderConfig c, int heads) : base(nameof(SelfAttention))
    {
        var width = heads * c.HeadSize;
        query = nn.Linear(c.HiddenSize, width);
        key = nn.Linear(c.HiddenSize, width);
        value = nn.Linear(c.HiddenSize, width);
        this.heads = heads;
        dropoutProb = c.AttentionProbsDropoutProb;
        RegisterComponents();
    }

    // h: [batch, seq, hidden] -> [batch, seq, heads*head_size]
    public override Tensor forward(Tensor h, MixerContext context) => Scoped.Keep(() =>
    {
        var p = Projections.Apply(h, query, key, value);
        return Attend(p[0], p[1], p[2], heads, context, training ? dropoutProb : 0.0);
    });

    /// <summary>Scaled dot-product attention over projected q, k, v [batch, seq, heads*head_size].</summary>
    /// <remarks>
    /// Hidden keys (padding, DropMask positions) are excluded with a boolean mask rather than BERT's additive
    /// -10000: identical in float32 (exp(-10000) underflows to 0), safe in bf16, and it lets libtorch pick its fused
    /// CPU kernel (faster than matmul-softmax-matmul: docs/results/design-measurements.md#attention-mask). A query whose keys are all
    /// hidden gets a uniform average, not NaN.
    /// </remarks>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, int heads, MixerContext context, double dropout)
    {
        var (batch, seq, width) = (q.shape[0], q.shape[1], q.shape[2]);
        Tensor Split(Tensor x) => x.view(batch, seq, heads, width / heads).transpose(1, 2); // [batch, heads, seq, head_size]
        var attended = dropout > 0 && q.dtype == ScalarType.Float32 && torch.is_grad_enabled() && context.EveryQuerySeesAKey
            ? TrainingAttention(Split(q), Split(k), Split(v), context.KeyVisible, dropout)
            : nn.functional.scaled_dot_product_attention(Split(q), Split(k), Split(v), context.KeyVisible, dropout);
        return attended.transpose(1, 2).reshape(batch, seq, width);
    }

    /// <summary>
    /// libtorch's own composite ("math") attention, which its <c>scaled_dot_product_attention</c> runs on a CPU when
    /// training with dropout, op for op — q and kᵀ each scaled by the square root of 1/√d, the boolean mask as an
    /// additive 0/-inf, softmax, dropout, the product with v — except that its <c>_safe_softmax</c> also checks every
    /// row for all -inf and zeroes such rows with a scalar-loop <c>where</c> over [batch, heads, seq, seq] (3% of a
    /// bert training step at 512 tokens, measured with perf). The caller takes this path only when every query sees a
    /// key, where the check changes nothing: outputs, gradients and the dropout's random draws are the same, bit for
    /// bit (a test compares them) where libtorch draws as <see cref="Reproducibility.CpuBernoulli"/> does, whose draws this
/// takes, the same on every CPU. fp32 only: in bf16 libtorch's math attention computes in fp32 and casts back.
    /// </summary>
    internal static Tensor TrainingAttention(Tensor q, Tensor k, Tensor v, Tensor keyVisible, double dropout)
    {
        var (batch, heads, seq, size) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]);
        var scale = Math.Sqrt(1.0 / Math.Sqrt(size));
        // matmul of 4-d tensors is bmm over reshaped operands, which we call ourselves: TorchSharp 0.107's matmul does
        // not catch libtorch's errors (an allocation failure would end the process), its bmm does.
        var scores = torch.bmm((q * scale).reshape(batch * heads, seq, size), (k.transpose(-2, -1) * scale).reshape(batch * heads, size, seq))
            .view(batch, heads, seq, seq);
        scores.add_(torch.zeros(keyVisible.shape, dtype: q.dtype, device: q.device).masked_fill_(keyVisible.logical_not(), double.NegativeInfinity));
        var probabilities = scores.softmax(-1);
        // libtorch's dropout as it draws off Intel, bitwise, keeping a 1-byte mask for backward instead of 4-byte noise
        probabilities = HiddenDropout.Apply(probabilities, dropout, training: true, saveMemory: true);
        return torch.bmm(probabilities.reshape(batch * heads, seq, seq), v.reshape(batch * heads, seq, size)).view(batch, heads, seq, size);
    }
}
