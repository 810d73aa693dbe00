using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>The FFN's first half: dense to <c>intermediate_size</c> and the activation (<c>intermediate.dense</c>).</summary>
public sealed class Intermediate : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly Func<Tensor, Tensor> activation;

    public Intermediate(EncoderConfig c) : base(nameof(Intermediate))
    {
        dense = nn.Linear(c.HiddenSize, c.IntermediateSize);
        activation = Activations.Get(c.HiddenAct);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Scoped.Keep(() => activation(dense.call(x)));
}
