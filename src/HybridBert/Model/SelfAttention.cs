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
        var attended = nn.functional.scaled_dot_product_attention(Split(q), Split(k), Split(v), context.KeyVisible, dropout);
        return attended.transpose(1, 2).reshape(batch, seq, width);
    }
}
