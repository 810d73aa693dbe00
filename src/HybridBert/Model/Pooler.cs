using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>BERT's pooler (<c>pooler.dense</c>): dense + tanh over the [CLS] position.</summary>
public sealed class Pooler : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;

    public Pooler(EncoderConfig c) : base(nameof(Pooler))
    {
        dense = nn.Linear(c.HiddenSize, c.HiddenSize);
        RegisterComponents();
    }

    // hidden: [batch, seq, hidden] -> [batch, hidden]
    public override Tensor forward(Tensor hidden) => torch.tanh(dense.call(hidden.select(1, 0)));
}
