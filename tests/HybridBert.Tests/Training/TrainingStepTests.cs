using HybridBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Training;

/// <summary>The one optimizer step every loop runs: micro-batches sum to the whole batch's step, clipping applies, and
/// a loss that is not finite stops before any weight changes.</summary>
public sealed class TrainingStepTests
{
    private static (nn.Module Model, TrainingStep Step) Make(double clip)
    {
        torch.manual_seed(1);
        var model = nn.Linear(4, 1);
        var precision = new MixedPrecision(model, Precision.Fp32);
        var optimizer = torch.optim.SGD(precision.Masters.Select(m => m.Parameter), 0.1);
        return (model, new TrainingStep(precision, optimizer, clip, trimEvery: 0));
    }

    private static string Diverged(double value) => $"loss {value}";

    private static Tensor Loss(nn.Module model, Tensor x) => ((nn.Module<Tensor, Tensor>)model).call(x).pow(2).sum();

    [Fact]
    public void Two_micro_batches_give_the_step_of_the_whole_batch()
    {
        var x = torch.arange(8, dtype: float32).reshape(2, 4) / 8;
        var (whole, wholeStep) = Make(clip: 1e9);
        var (split, splitStep) = Make(clip: 1e9);
        var a = wholeStep.Run(0, 1, _ => Loss(whole, x), Diverged);
        var b = splitStep.Run(0, 2, i => Loss(split, x.narrow(0, i, 1)), Diverged);
        Assert.Equal(a, b, 5);
        Assert.True(whole.parameters().Zip(split.parameters()).All(p => p.First.allclose(p.Second, rtol: 1e-6, atol: 1e-7)));
    }

    [Fact]
    public void A_loss_that_is_not_finite_stops_before_the_optimizer_changes_a_weight()
    {
        var (model, step) = Make(clip: 1.0);
        var before = model.parameters().Select(p => p.detach().clone()).ToList();
        var error =
            Assert.Throws<TrainingDivergedException>(() =>
            step.Run(4, 1, _ => Loss(model, torch.full(1, 4, double.NaN)), v => $"loss {v} at step 5"));
        Assert.Equal("loss NaN at step 5", error.Message);
        Assert.True(model.parameters().Zip(before).All(p => p.First.eq(p.Second).all().item<bool>()));
    }

    [Fact]
    public void Gradients_are_clipped_to_the_norm_given()
    {
        var (model, step) = Make(clip: 0.5);
        var before = model.parameters().Select(p => p.detach().clone()).ToList();
        step.Run(0, 1, _ => Loss(model, torch.full(1, 4, 100.0f)), Diverged);
        // SGD with lr 0.1 moved the weights by 0.1 × the clipped gradient, whose norm is 0.5.
        var moved = Math.Sqrt(model.parameters().Zip(before).Sum(p => (p.First - p.Second).pow(2).sum().item<float>()));
        Assert.Equal(0.05, moved, 4);
    }
}
