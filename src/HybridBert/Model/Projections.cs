using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// Several linear layers applied to one input (attention's query, key and value; pooling's five projections). Without
/// autograd (inference, evaluation) they run as one matrix product over their weights side by side, which keeps the
/// cores busier than several narrow ones, and the results are views of its output; with autograd each layer runs
/// alone, so that training's gradients are summed as they always were.
/// </summary>
internal static class Projections
{
    public static Tensor[] Apply(Tensor input, params Linear[] layers)
    {
        if (torch.is_grad_enabled() && layers.Any(l => l.weight!.requires_grad)) return layers.Select(l => l.call(input)).ToArray();
        using var weight = torch.cat(layers.Select(l => l.weight!).ToArray(), 0);
        using var bias = torch.cat(layers.Select(l => l.bias!).ToArray(), 0);
        var all = nn.functional.linear(input, weight, bias);
        return all.split(layers.Select(l => l.weight!.shape[0]).ToArray(), dim: -1);
    }
}
