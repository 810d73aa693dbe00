using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Training;

/// <summary>
/// bf16 training without autocast (TorchSharp has none): the model runs in bf16, while fp32 master copies of its
/// parameters take the gradients and the optimizer steps — in bf16 (8 mantissa bits) small updates to large weights
/// round away. Each step: gradients bf16 → fp32 masters, optimizer on the masters, masters → bf16 model. In fp32
/// the masters are the model's own parameters and nothing is copied.
/// </summary>
public sealed class MixedPrecision
{
    private readonly List<(string Name, Parameter Model, Parameter Master)> pairs = [];

    public bool Enabled { get; }
    public ScalarType ComputeType { get; }
    /// <summary>The parameters the optimizer updates, by name.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> Masters { get; }

    public MixedPrecision(nn.Module model, Precision precision)
    {
        Enabled = precision == Precision.Bf16;
        ComputeType = Enabled ? ScalarType.BFloat16 : ScalarType.Float32;
        if (!Enabled)
        {
            Masters = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
            return;
        }
        var masters = model.named_parameters()
            .Select(p => (p.name, new Parameter(p.parameter.detach().clone().to(ScalarType.Float32))))
            .ToList();
        // Module.to(dtype) swaps in new parameter objects: pair the masters with the converted ones, by name.
        model.to(ScalarType.BFloat16);
        var converted = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, master) in masters) pairs.Add((name, converted[name], master));
        Masters = masters;
    }

    /// <summary>
    /// After each micro-batch's backward: add the model's bf16 gradients into the fp32 masters' and zero them, so
    /// several micro-batches are summed in fp32 (summed in the bf16 <c>.grad</c>, with its 8 mantissa bits, the later
    /// micro-batches' small contributions round away). The masters' gradients must be zero at the start of a step
    /// (<see cref="ZeroGradients"/>). In fp32 the model's gradients are the masters' and accumulate in place.
    /// </summary>
    public void AccumulateGradients()
    {
        if (!Enabled) return;
        using var noGrad = torch.no_grad();
        foreach (var (_, model, master) in pairs)
        {
            if (model.grad is null) continue;
            if (master.grad is null) master.grad = model.grad.to(ScalarType.Float32);
            else master.grad.add_(model.grad);
            model.grad.zero_();
        }
    }

    /// <summary>Before each step: the masters' gradients (in fp32 the model's own) zeroed in place; in bf16 the model's
    /// are zero already (<see cref="AccumulateGradients"/>).</summary>
    public void ZeroGradients() => Gradients.ZeroInPlace(Masters.Select(m => m.Parameter));

    /// <summary>After the optimizer step: the updated masters become the model's weights.</summary>
    public void MastersToModel()
    {
        if (!Enabled) return;
        using var noGrad = torch.no_grad();
        foreach (var (_, model, master) in pairs) model.copy_(master);
    }

    /// <summary>The fp32 weights under their names (what a checkpoint stores).</summary>
    public Dictionary<string, Tensor> Fp32State(nn.Module model)
    {
        var state = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32));
        foreach (var (name, master) in Masters) state[name] = master;
        return state;
    }
}
