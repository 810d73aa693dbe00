using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// The FFN's first half: dense to <c>intermediate_size</c> (<c>intermediate.dense</c>). It returns the values before
/// the activation: the FFN's output (<see cref="SelfOutput"/>) applies it, so that with
/// <see cref="HybridBertEncoder.SaveMemory"/> backward can keep one [tokens, intermediate_size] tensor instead of two
/// (<see cref="ActivatedLinear"/>).
/// </summary>
public sealed class Intermediate : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;

    public Intermediate(EncoderConfig c) : base(nameof(Intermediate))
    {
        dense = nn.Linear(c.HiddenSize, c.IntermediateSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => dense.call(x);
}
