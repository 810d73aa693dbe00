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

    /// <summary>Keep less for backward in training (<see cref="HybridBertEncoder.SaveMemory"/>).</summary>
    internal bool SaveMemory { get; set; }

    // h: [batch, seq, hidden] -> [batch, seq, heads*head_size]
    public override Tensor forward(Tensor h, MixerContext context) => Scoped.Keep(() =>
    {
        var p = Projections.Apply(h, query, key, value);
        return Attend(p[0], p[1], p[2], heads, context, training ? dropoutProb : 0.0, SaveMemory);
    });

    /// <summary>Scaled dot-product attention over projected q, k, v [batch, seq, heads*head_size].</summary>
    /// <remarks>
    /// Hidden keys (padding, DropMask positions) are excluded with a boolean mask rather than BERT's additive
    /// -10000: identical in float32 (exp(-10000) underflows to 0), safe in bf16, and it lets libtorch pick its fused
    /// CPU kernel (faster than matmul-softmax-matmul: docs/results/design-measurements.md#attention-mask). A query whose keys are all
    /// hidden gets a uniform average, not NaN.
    /// </remarks>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, int heads, MixerContext context, double dropout, bool saveMemory = false)
    {
        var (batch, seq, width) = (q.shape[0], q.shape[1], q.shape[2]);
        Tensor Split(Tensor x) => x.view(batch, seq, heads, width / heads).transpose(1, 2); // [batch, heads, seq, head_size]
        var attended = dropout > 0 && q.dtype == ScalarType.Float32 && torch.is_grad_enabled() && context.EveryQuerySeesAKey
            ? TrainingAttention(Split(q), Split(k), Split(v), context.KeyVisible, dropout, saveMemory)
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
/// takes, the same on every CPU. fp32 only: in bf16 libtorch's math attention computes in fp32 and casts back. With
    /// <paramref name="saveMemory"/> the dropout and the product with v keep a 1-byte mask (<see cref="DroppedProduct"/>),
    /// the same to the bit.
    /// </summary>
    internal static Tensor TrainingAttention(Tensor q, Tensor k, Tensor v, Tensor keyVisible, double dropout, bool saveMemory = false)
    {
        var (batch, heads, seq, size) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]);
        var scale = Math.Sqrt(1.0 / Math.Sqrt(size));
        // matmul of 4-d tensors is bmm over reshaped operands, which we call ourselves: TorchSharp 0.107's matmul does
        // not catch libtorch's errors (an allocation failure would end the process), its bmm does.
        var scores = torch.bmm((q * scale).reshape(batch * heads, seq, size), (k.transpose(-2, -1) * scale).reshape(batch * heads, size, seq))
            .view(batch, heads, seq, seq);
        scores.add_(torch.zeros(keyVisible.shape, dtype: q.dtype, device: q.device).masked_fill_(keyVisible.logical_not(), double.NegativeInfinity));
        var probabilities = scores.softmax(-1);
        if (saveMemory)
            return DroppedProduct.Apply(probabilities.view(batch * heads, seq, seq), v.reshape(batch * heads, seq, size), dropout)
                .view(batch, heads, seq, size);
        probabilities = probabilities * HiddenDropout.Noise(probabilities, dropout);   // libtorch's dropout, as it draws off Intel
        return torch.bmm(probabilities.reshape(batch * heads, seq, seq), v.reshape(batch * heads, seq, size)).view(batch, heads, seq, size);
    }

    /// <summary>
    /// dropout(probabilities) · v as one autograd function that keeps, besides the probabilities (which softmax keeps
    /// anyway: the same tensor) and v, the dropout's mask at 1 byte a value (<see cref="DropoutMask"/>) — where the
    /// composed ops keep the dropout's float noise and the dropped probabilities, 4 bytes a value each ([batch, heads,
    /// seq, seq] each). Backward makes the dropped probabilities again and runs the composed ops' own backward steps
    /// (the batched product's, then the multiply's), so outputs and gradients are the same to the bit
    /// (SelfAttentionTests), and so are the draws (the mask's are the noise's). A bert layer at 512 × 8 holds 112 MiB for
    /// backward instead of 168, for one more pass over the probabilities in backward: a bert step at 512 × 8 3–5% slower,
    /// so only under <c>--save-memory</c> (docs/results/design-measurements.md#attention-dropout).
    /// </summary>
    private sealed class DroppedProduct : autograd.SingleTensorFunction<DroppedProduct>
    {
        public override string Name => nameof(DroppedProduct);

        public static Tensor Apply(Tensor probabilities, Tensor v, double dropout)
        {
            Backward.ThrowPending();
            return apply(probabilities, v, dropout);
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (probabilities, v, dropout) = ((Tensor)vars[0], (Tensor)vars[1], (double)vars[2]);
            var keep = DropoutMask.Draw(probabilities.shape, dropout, probabilities.device);
            ctx.save_for_backward([probabilities, v, keep]);
            ctx.save_data("dropout", dropout);
            using var dropped = DropoutMask.Apply(probabilities, keep, dropout);
            return torch.bmm(dropped, v);
        }

        // Gradients for (probabilities, v, dropout): the last is not a tensor and gets none.
        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            return Backward.Guard(3, () =>
            {
                var saved = ctx.get_saved_variables();
                var (probabilities, v, keep) = (saved[0], saved[1], saved[2]);
                var dropout = (double)ctx.get_data("dropout");
                using var scope = torch.NewDisposeScope();
                var gradV = DropoutMask.Apply(probabilities, keep, dropout).transpose(1, 2).bmm(gradOutput);
                var gradProbabilities = DropoutMask.Apply(gradOutput.bmm(v.transpose(1, 2)), keep, dropout, inPlace: true);
                return [gradProbabilities.MoveToOuterDisposeScope(), gradV.MoveToOuterDisposeScope(), null!];
            });
        }
    }
}
