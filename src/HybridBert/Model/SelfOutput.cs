using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>dense → dropout → LayerNorm(x + residual). HF's <c>BertSelfOutput</c> (after the mixer) and
/// <c>BertOutput</c> (after the FFN) are this same shape; only the input width differs.</summary>
public sealed class SelfOutput : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly Dropout dropout;
    private readonly LayerNorm LayerNorm;   // HF spelling, for checkpoints

    public SelfOutput(EncoderConfig c, int inputSize) : base(nameof(SelfOutput))
    {
        dense = nn.Linear(inputSize, c.HiddenSize);
        dropout = nn.Dropout(c.HiddenDropoutProb);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }

    // x: [batch, seq, inputSize], residual: [batch, seq, hidden]
    public override Tensor forward(Tensor x, Tensor residual) => Scoped.Keep(() => LayerNorm.call(dropout.call(dense.call(x)) + residual));
}
