using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>One post-LayerNorm layer: mixer block, then FFN with its own residual LayerNorm.</summary>
public sealed class EncoderLayer : nn.Module<Tensor, MixerContext, Tensor>
{
    private readonly Attention attention;
    private readonly Intermediate intermediate;
    private readonly SelfOutput output;

    public EncoderLayer(EncoderConfig c, char mixer) : base(nameof(EncoderLayer))
    {
        attention = new Attention(c, mixer);
        intermediate = new Intermediate(c);
        output = new SelfOutput(c, c.IntermediateSize, activated: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor h, MixerContext context)
    {
        // A scope per layer: TorchSharp keeps every intermediate alive while its C# handle lives, where Python
        // frees it at once. Disposing the layer's temporaries here releases what autograd did not save for
        // backward (autograd holds its own references), which cut peak training memory by about a third. Each part
        // inside has its own scope too (Scoped), so a mixer's temporaries are gone before the FFN runs.
        using var scope = torch.NewDisposeScope();
        var mixed = attention.call(h, context);
        return output.call(intermediate.call(mixed), mixed).MoveToOuterDisposeScope();
    }
}
