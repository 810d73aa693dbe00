using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// <c>linear(activation(x))</c> — the FFN's output dense on the activated intermediate — keeping only <c>x</c> for
/// backward and computing the activation again there.
/// </summary>
/// <remarks>
/// Autograd would keep both the intermediate before the activation (the activation's backward needs it) and after
/// it (the dense's weight gradient needs it): two [tokens, intermediate_size] tensors per layer, 32 MiB at mini with
/// 4,096 tokens, the largest thing a layer keeps. This keeps one and spends an activation in backward on the other.
/// Gradients are bitwise those of the plain composition (tested). Used under <see cref="HybridBertEncoder.SaveMemory"/>.
/// A layer holds about a sixth less for one more activation in backward (docs/results/design-measurements.md#activated-linear).
/// libtorch
/// has no recompute hook that TorchSharp exposes, so this is a custom autograd function written here.
/// </remarks>
public static class ActivatedLinear
{
    public static Tensor Apply(Tensor x, Func<Tensor, Tensor> activation, Tensor weight, Tensor? bias)
    {
        Backward.ThrowPending();
        if (!torch.is_grad_enabled() || !(x.requires_grad || weight.requires_grad || bias is { requires_grad: true }))
            return Scoped.Keep(() => nn.functional.linear(activation(x), weight, bias));
        return Recomputed.apply(x, weight, bias, activation);
    }

    private sealed class Recomputed : torch.autograd.SingleTensorFunction<Recomputed>
    {
        public override string Name => nameof(ActivatedLinear);

        public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, weight, bias, activation) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor?)vars[2], (Func<Tensor, Tensor>)vars[3]);
            ctx.save_for_backward([x, weight]);
            ctx.save_data("activation", activation);
            ctx.save_data("bias", bias is not null);
            using var activated = activation(x);
            return nn.functional.linear(activated, weight, bias);
        }

        // Gradients for (x, weight, bias, activation): the last is not a tensor and gets none.
        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
        {
            return Backward.Guard(4, () =>
            {
                var saved = ctx.get_saved_variables();
                var (x, weight) = (saved[0], saved[1]);
                var activation = (Func<Tensor, Tensor>)ctx.get_data("activation");
                using var scope = torch.NewDisposeScope();
                using var enabled = torch.enable_grad();
                var input = x.detach().requires_grad_(true);
                var activated = activation(input);
                var rows = gradOutput.reshape(-1, gradOutput.shape[^1]);
                var gradWeight = rows.t().mm(activated.detach().reshape(-1, activated.shape[^1]));
                Tensor? gradBias = (bool)ctx.get_data("bias") ? rows.sum([0]).MoveToOuterDisposeScope() : null;
                // rows · weight, as matmul folds it; not matmul itself, whose TorchSharp binding does not catch libtorch's
                // errors (an allocation failure would end the process instead of reaching Backward.Fail).
                var gradActivated = rows.mm(weight).view([.. gradOutput.shape[..^1], weight.shape[1]]);
                var gradX = torch.autograd.grad([activated], [input], [gradActivated])[0];
                return [gradX.MoveToOuterDisposeScope(), gradWeight.MoveToOuterDisposeScope(), gradBias!, null!];
            });
        }
    }
}
