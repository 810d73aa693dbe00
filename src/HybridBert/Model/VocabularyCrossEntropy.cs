using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// The MLM loss without keeping the logits: the vocabulary projection (<c>rows · weightᵀ + bias</c>) and the summed
/// cross-entropy against <c>labels</c> in one autograd function whose forward also computes the gradients of the
/// rows, the weight and the bias (softmax minus one-hot, through the same two matrix products backward would run),
/// a chunk of rows at a time. Backward then only scales them by the incoming gradient.
/// </summary>
/// <remarks>
/// The plain route (<c>linear</c>, then <c>cross_entropy</c>) keeps the log-softmax of every row — [rows, vocab],
/// 75 MiB at 614 masked tokens × 30,522 — from forward to backward and allocates two more of that size at the start
/// of backward, when every layer's activations are still held: the step's peak. Here a chunk's logits (at most
/// <see cref="ChunkElements"/> floats) live only inside forward, and what waits for backward is the gradient of the
/// weight ([vocab, hidden]) and of the rows. The matrix products are the same three; the sums differ only in order
/// (the loss as <c>logsumexp − logit</c>, the weight's gradient summed over chunks), so losses and gradients agree
/// with the plain route to float rounding (tests/HybridBert.Tests/Model/VocabularyCrossEntropyTests.cs). Written by
/// hand: libtorch has no fused linear cross-entropy on CPU.
/// Labels must be vocabulary ids (no ignore index). Logits and the softmax are fp32 whatever the compute type, as
/// the plain route casts logits to fp32; under bf16 the products run in bf16 on the bf16 gradient of the logits, as
/// backward's would.
/// </remarks>
public sealed class VocabularyCrossEntropy : autograd.SingleTensorFunction<VocabularyCrossEntropy>
{
    /// <summary>Floats in one chunk's logits: 32 MiB of fp32 (275 rows at a 30,522-token vocabulary).</summary>
    public const long ChunkElements = 1L << 23;

    /// <summary>What the forward counts besides the loss (not differentiable).</summary>
    public sealed class Counts
    {
        /// <summary>Rows whose highest logit is the label's (a 0-dim long tensor).</summary>
        public Tensor? Correct { get; set; }
    }

    public override string Name => nameof(VocabularyCrossEntropy);

    /// <summary>
    /// Σ cross-entropy(rows · weightᵀ + bias, labels) over the rows (a 0-dim fp32 tensor) and how many rows predict
    /// their label. <paramref name="rows"/> [n, hidden], <paramref name="weight"/> [vocab, hidden],
    /// <paramref name="bias"/> [vocab], <paramref name="labels"/> [n] long.
    /// </summary>
    public static (Tensor Sum, Tensor Correct) Sum(Tensor rows, Tensor weight, Tensor bias, Tensor labels)
    {
        Backward.ThrowPending();
        var counts = new Counts();
        var needsGrad = torch.is_grad_enabled() && (rows.requires_grad || weight.requires_grad || bias.requires_grad);
        var sum = needsGrad
            ? apply(rows, weight, bias, labels, counts)
            : Chunks(rows, weight, bias, labels, counts, gradients: null);
        return (sum, counts.Correct!);
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (rows, weight, bias, labels, counts) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Counts)vars[4]);
        var gradients = new Gradients(rows, weight);
        var sum = Chunks(rows, weight, bias, labels, counts, gradients);
        ctx.save_for_backward([gradients.Rows, gradients.Weight, gradients.Bias]);
        return sum;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        return Backward.Guard(5, () =>
        {
            var saved = ctx.get_saved_variables();
            return [saved[0] * gradOutput.to(saved[0].dtype), saved[1] * gradOutput.to(saved[1].dtype),
                saved[2] * gradOutput.to(saved[2].dtype), null!, null!];
        });
    }

    /// <summary>
    /// The gradients forward computes. fp32: the weight's and the bias' summed over chunks. Other compute types keep
    /// every chunk's d loss / d logits in that type ([rows, vocab], half the plain route's fp32 log-softmax) and
    /// multiply once at the end, so the weight's and bias' gradients are rounded once, as the plain route's are.
    /// </summary>
    private sealed class Gradients
    {
        public readonly Tensor Rows;
        public Tensor Weight;
        public Tensor Bias;
        private readonly Tensor? logitGradients;

        public Gradients(Tensor rows, Tensor weight)
        {
            Rows = torch.empty_like(rows);
            if (weight.dtype == ScalarType.Float32)
            {
                Weight = torch.zeros(weight.shape, dtype: ScalarType.Float32, device: weight.device);
                Bias = torch.zeros(weight.shape[0], dtype: ScalarType.Float32, device: weight.device);
            }
            else
            {
                logitGradients = torch.empty(rows.shape[0], weight.shape[0], dtype: weight.dtype, device: weight.device);
                Weight = Bias = null!;
            }
        }

        /// <summary>Takes d loss / d logits (fp32) of rows [start, start + x's rows) of x.</summary>
        public void Add(Tensor g, long start, Tensor x, Tensor weight)
        {
            var gc = g.to(x.dtype);
            Rows.narrow(0, start, x.shape[0]).copy_(gc.mm(weight));
            if (logitGradients is not null)
            {
                logitGradients.narrow(0, start, x.shape[0]).copy_(gc);
                return;
            }
            Bias.add_(g.sum([0]));   // not sum(0): a literal 0 binds to sum(ScalarType)
            Weight.addmm_(gc.t(), x);
        }

        /// <summary>After the last chunk.</summary>
        public void Finish(Tensor rows)
        {
            if (logitGradients is null) return;
            Weight = logitGradients.t().mm(rows);
            Bias = logitGradients.sum([0]);
            logitGradients.Dispose();
        }
    }

    private static Tensor Chunks(Tensor rows, Tensor weight, Tensor bias, Tensor labels, Counts counts, Gradients? gradients)
    {
        var (n, vocab) = (rows.shape[0], weight.shape[0]);
        var chunk = Math.Max(1, ChunkElements / Math.Max(1, vocab));
        var sum = torch.zeros([], dtype: ScalarType.Float32, device: rows.device);
        var correct = torch.zeros([], dtype: ScalarType.Int64, device: rows.device);
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = torch.NewDisposeScope();
            var length = Math.Min(chunk, n - start);
            var (x, y) = (rows.narrow(0, start, length), labels.narrow(0, start, length).unsqueeze(1));
            var logits = nn.functional.linear(x, weight, bias).to(ScalarType.Float32);   // [chunk, vocab]
            var logSumExp = logits.logsumexp(1, keepdim: true);
            sum.add_((logSumExp - logits.gather(1, y)).sum());
            correct.add_(logits.argmax(1).eq(y.squeeze(1)).sum());
            if (gradients is null) continue;
            // d loss / d logits = softmax − one-hot, in place of the logits.
            gradients.Add(logits.sub_(logSumExp).exp_().scatter_add_(1, y, torch.full_like(y, -1.0, dtype: ScalarType.Float32)), start, x, weight);
        }
        gradients?.Finish(rows);
        counts.Correct = correct;
        return sum;
    }
}
