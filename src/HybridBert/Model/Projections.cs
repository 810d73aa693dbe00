using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// Several linear layers applied to one input (attention's query, key and value; pooling's projections). Without
/// autograd (inference, evaluation) they run as one matrix product, which keeps the cores busier than several narrow
/// ones: a batched product ([layers, tokens, out]) when the layers have one width and split evenly between the
/// threads (e.g. four on two threads), so that each output is contiguous and the elementwise passes after it do not
/// stride through a wide tensor; otherwise one product over the weights side by side, the outputs views of it
/// (attention's three and pooling's three on two threads: a scratch measurement put three separate products and the
/// side-by-side one level for pooling, docs/results/design-measurements.md#global-aggregation). With autograd each
/// layer runs alone, so that training's gradients are summed as they always were. Either way the outputs are the same to the bit as each layer's own.
/// </summary>
internal static class Projections
{
    public static Tensor[] Apply(Tensor input, params Linear[] layers)
    {
        if (torch.is_grad_enabled() && layers.Any(l => l.weight!.requires_grad)) return layers.Select(l => l.call(input)).ToArray();
        var widths = layers.Select(l => l.weight!.shape[0]).ToArray();
        // One batched product splits its batch between the threads: 3 layers on 2 threads ran as slowly as 4.
        if (widths.Distinct().Count() > 1 || layers.Length % torch.get_num_threads() != 0)
        {
            using var sideBySide = torch.cat(layers.Select(l => l.weight!).ToArray(), 0);
            using var biases = torch.cat(layers.Select(l => l.bias!).ToArray(), 0);
            return nn.functional.linear(input, sideBySide, biases).split(widths, dim: -1);
        }
        var (n, width, inputs) = (layers.Length, widths[0], input.shape[^1]);
        using var weight = torch.stack(layers.Select(l => l.weight!).ToArray());              // [n, out, in]
        using var bias = torch.stack(layers.Select(l => l.bias!).ToArray()).unsqueeze(1);     // [n, 1, out]
        var rows = input.reshape(1, -1, inputs);
        var all = torch.bmm(rows.expand(n, rows.shape[1], inputs), weight.transpose(1, 2)).add_(bias);
        var shape = input.shape[..^1].Append(width).ToArray();
        return Enumerable.Range(0, n).Select(i => all[i].view(shape)).ToArray();
    }
}
