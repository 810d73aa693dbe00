using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>The layer stack (<c>encoder.layer.{i}</c>); each layer's mixer comes from <c>layer_pattern</c>.</summary>
public sealed class Encoder : nn.Module<Tensor, MixerContext, Tensor>
{
    private readonly ModuleList<EncoderLayer> layer;

    public Encoder(EncoderConfig c) : base(nameof(Encoder))
    {
        layer = nn.ModuleList(c.LayerPattern.Select(mixer => new EncoderLayer(c, mixer)).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor h, MixerContext context)
    {
        foreach (var l in layer) h = l.call(h, context);
        return h;
    }
}
