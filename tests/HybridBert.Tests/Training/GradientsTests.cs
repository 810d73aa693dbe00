using HybridBert.Model;
using HybridBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Training;

public sealed class GradientsTests
{
    /// <summary>Three AdamW steps of a model with attention, pooling and hybrid layers; zeroing decides whether the
    /// gradients are freed between steps (TorchSharp's <c>Module.zero_grad</c>) or zeroed in place.</summary>
    private static (Dictionary<string, Tensor> Weights, bool SameGradientTensor) Train(bool inPlace)
    {
        torch.manual_seed(7);
        var config = Presets.Tiny with { LayerPattern = "APH", NumHiddenLayers = 3, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 };
        var model = new HybridBertModel(config);
        var optimizer = torch.optim.AdamW(model.parameters(), 1e-2);
        var ids = torch.randint(5, config.VocabSize, [2, 12]);
        var inputs = new EncoderInputs(ids, torch.ones_like(ids));
        Tensor? first = null;   // the first step's gradient of one weight, held across the steps
        var same = true;
        for (var step = 0; step < 3; step++)
        {
            using var scope = torch.NewDisposeScope();
            if (inPlace) Gradients.ZeroInPlace(model.parameters());
            else model.zero_grad();   // the Module's: sets gradients to none (the optimizer's zeroes them)
            model.forward(inputs).pow(2).mean().backward();
            optimizer.step();
            var grad = model.parameters().First().grad!;
            if (first is null) first = grad.MoveToOuterDisposeScope();
            else same &= first.eq(grad).all().item<bool>();   // a tensor zeroed and refilled in place shows the new values
        }
        return (model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()), same);
    }

    [Fact]
    public void Zeroing_in_place_trains_to_the_same_weights_as_freeing_and_keeps_each_gradients_storage()
    {
        var (freed, freedSame) = Train(inPlace: false);
        var (zeroed, zeroedSame) = Train(inPlace: true);
        Assert.Equal(freed.Keys.Order(), zeroed.Keys.Order());
        foreach (var (name, weight) in freed)
            Assert.True(weight.eq(zeroed[name]).all().item<bool>(), $"{name} differs after three steps");
        Assert.True(zeroedSame, "zeroing in place must keep each gradient's tensor from step to step");
        Assert.False(freedSame, "the module's zero_grad frees gradients: the first step's stays as it was");
    }

    [Fact]
    public void A_parameter_without_a_gradient_keeps_none()
    {
        using var used = nn.Parameter(torch.ones(3));
        using var unused = nn.Parameter(torch.ones(3));
        (used * 2).sum().backward();
        Gradients.ZeroInPlace([used, unused]);
        Assert.Equal([0f, 0f, 0f], used.grad!.data<float>().ToArray());
        Assert.Null(unused.grad);
    }
}
