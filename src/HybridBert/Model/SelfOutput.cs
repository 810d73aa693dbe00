using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>dense → dropout → LayerNorm(x + residual). HF's <c>BertSelfOutput</c> (after the mixer) and
/// <c>BertOutput</c> (after the FFN) are this same shape; only the input width differs, and the FFN's applies the
/// activation to its input first (<see cref="Intermediate"/> hands it the values before the activation).</summary>
public sealed class SelfOutput : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;   // HF spelling, for checkpoints
    private readonly Func<Tensor, Tensor>? activation;
    private readonly double dropoutProb;

    /// <summary>Keep less for backward in training (<see cref="HybridBertEncoder.SaveMemory"/>).</summary>
    internal bool SaveMemory { get; set; }

    /// <param name="activated">The FFN's output: apply <c>hidden_act</c> to the input before the dense.</param>
    public SelfOutput(EncoderConfig c, int inputSize, bool activated = false) : base(nameof(SelfOutput))
    {
        dense = nn.Linear(inputSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        if (activated) activation = Activations.Get(c.HiddenAct);
        dropoutProb = c.HiddenDropoutProb;
        RegisterComponents();
    }

    // x: [batch, seq, inputSize], residual: [batch, seq, hidden]
    public override Tensor forward(Tensor x, Tensor residual) => Scoped.Keep(() =>
    {
        var projected = activation is null ? dense.call(x)
            : SaveMemory ? ActivatedLinear.Apply(x, activation, dense.weight!, dense.bias)
            : dense.call(activation(x));
        return LayerNorm.call(HiddenDropout.Apply(projected, dropoutProb, training, SaveMemory) + residual);
    });
}
