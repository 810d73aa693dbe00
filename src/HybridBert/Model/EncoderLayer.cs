using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>One post-LayerNorm layer: mixer block, then FFN with its own residual LayerNorm.</summary>
public sealed class EncoderLayer : nn.Module<Tensor, MixerContext, Tensor>
{
    private readonly Attention attention;
    private readonly Intermediate intermediate;
    private readonly SelfOutput output;

    public char Mixer { get; }

    public EncoderLayer(EncoderConfig c, char mixer) : base(nameof(EncoderLayer))
    {
        attention = new Attention(c, mixer);
        intermediate = new Intermediate(c);
        output = new SelfOutput(c, c.IntermediateSize);
        Mixer = mixer;
        RegisterComponents();
    }

    public override Tensor forward(Tensor h, MixerContext context)
    {
        var mixed = attention.call(h, context);
        return output.call(intermediate.call(mixed), mixed);
    }
}
