using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// HF's <c>BertAttention</c>: a token mixer under <c>self</c> (attention, pooling or both) and
/// <c>output</c> (dense + residual LayerNorm). Every mixer returns [batch, seq, hidden].
/// </summary>
public sealed class Attention : nn.Module<Tensor, MixerContext, Tensor>
{
    private readonly nn.Module<Tensor, MixerContext, Tensor> @self;  // registers as "self"
    private readonly SelfOutput output;

    public Attention(EncoderConfig c, char mixer) : base(nameof(Attention))
    {
        @self = Mixers.Get(mixer).Create(c);
        output = new SelfOutput(c, c.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor h, MixerContext context) => output.call(@self.call(h, context), h);
}
