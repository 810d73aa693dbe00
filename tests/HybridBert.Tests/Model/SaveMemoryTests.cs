using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

/// <summary>--save-memory keeps less for backward and computes exactly what the plain model does.</summary>
public sealed class SaveMemoryTests
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Theory]
    [InlineData("gelu")]
    [InlineData("gelu_new")]
    [InlineData("relu")]
    public void Output_and_gradients_are_bitwise_those_of_the_activation_then_the_dense(string act)
    {
        var activation = Activations.Get(act);
        torch.manual_seed(5);
        using var dense = nn.Linear(48, 16);
        var x0 = torch.randn(3, 7, 48);
        var upstream = torch.randn(3, 7, 16);

        (Tensor Y, Tensor Gx, Tensor Gw, Tensor Gb) Run(bool recompute)
        {
            dense.zero_grad();
            var x = x0.clone().requires_grad_(true);
            var y = recompute ? ActivatedLinear.Apply(x, activation, dense.weight!, dense.bias) : dense.call(activation(x));
            Backward.Run(y, upstream);
            return (y.detach(), x.grad!.clone(), dense.weight!.grad!.clone(), dense.bias!.grad!.clone());
        }

        var plain = Run(false);
        var recomputed = Run(true);
        Assert.True(Same(plain.Y, recomputed.Y), "output");
        Assert.True(Same(plain.Gx, recomputed.Gx), "input gradient");
        Assert.True(Same(plain.Gw, recomputed.Gw), "weight gradient");
        Assert.True(Same(plain.Gb, recomputed.Gb), "bias gradient");
        Assert.True(plain.Gx.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Without_autograd_it_is_the_plain_composition()
    {
        torch.manual_seed(6);
        using var dense = nn.Linear(8, 4);
        var x = torch.randn(5, 8);
        using var noGrad = torch.no_grad();
        Assert.True(Same(dense.call(nn.functional.gelu(x)), ActivatedLinear.Apply(x, Activations.Get("gelu"), dense.weight!, dense.bias)));
    }

    [Fact]
    public void Hidden_dropout_draws_and_scales_exactly_as_libtorch_dropout_and_passes_values_through_in_eval()
    {
        var x0 = torch.randn(64, 32);
        var upstream = torch.randn(64, 32);
        (Tensor Y, Tensor G) Run(Func<Tensor, Tensor> dropout)
        {
            torch.manual_seed(11);
            var x = x0.clone().requires_grad_(true);
            var y = dropout(x);
            y.backward([upstream]);
            return (y.detach(), x.grad!);
        }

        // libtorch's dropout as it draws off Intel (see CpuBernoulliTests): bernoulli_(0.9) from float64 uniforms, / 0.9.
        var reference = Run(x => x * torch.empty(x.shape, dtype: ScalarType.Float64).uniform_(0, 1).lt(0.9).to(ScalarType.Float32).div_(0.9));
        var ours = Run(x => HiddenDropout.Apply(x, 0.1, training: true, saveMemory: true));
        var oursFloatNoise = Run(x => HiddenDropout.Apply(x, 0.1, training: true, saveMemory: false));
        foreach (var (name, theirs) in new[] { ("reference", reference), ("float noise", oursFloatNoise) }
                     .Concat(Tests.Reproducibility.LibtorchDraws.Serially ? [("libtorch's dropout", Run(x => nn.functional.dropout(x, 0.1, true)))] : []))
        {
            Assert.True(Same(theirs.Y, ours.Y), $"output against {name}");
            Assert.True(Same(theirs.G, ours.G), $"gradient against {name}");
        }
        var dropped = ours.Y.eq(0).sum().item<long>();
        Assert.InRange(dropped, 100, 320);   // ~10% of 2,048
        Assert.True(Same(x0, HiddenDropout.Apply(x0, 0.1, training: false, saveMemory: true)));
    }
}

/// <summary>Alone: a failure is recorded process-wide until rethrown, so no other test may run backward meanwhile.</summary>
[Collection(nameof(BackwardFailureTests))]
[CollectionDefinition(nameof(BackwardFailureTests), DisableParallelization = true)]
public sealed class BackwardFailureTests
{
    [Fact]
    public void An_exception_in_the_recomputed_activation_is_thrown_by_Backward_Run_and_the_process_survives()
    {
        var calls = 0;
        Tensor FailsTheSecondTime(Tensor x) => ++calls == 2 ? throw new InvalidOperationException("activation failed in backward") :
            nn.functional.gelu(x);
        using var dense = nn.Linear(8, 4);
        var x = torch.randn(5, 8, requires_grad: true);
        var y = ActivatedLinear.Apply(x, FailsTheSecondTime, dense.weight!, dense.bias);
        var error = Assert.Throws<InvalidOperationException>(() => Backward.Run(y.sum()));
        Assert.Equal("activation failed in backward", error.Message);

        // A failure under a plain backward() is not lost: the next forward through the function throws it.
        calls = 0;
        y = ActivatedLinear.Apply(x, FailsTheSecondTime, dense.weight!, dense.bias);
        y.sum().backward();
        Assert.Throws<InvalidOperationException>(() => ActivatedLinear.Apply(x, FailsTheSecondTime, dense.weight!, dense.bias));
        Backward.Run(ActivatedLinear.Apply(x, nn.functional.gelu, dense.weight!, dense.bias).sum());   // nothing pending now
    }
}
