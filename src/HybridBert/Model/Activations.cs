using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>The activations <c>hidden_act</c> may name.</summary>
public static class Activations
{
    public static Func<Tensor, Tensor> Get(string name) => name switch
    {
        "gelu" => x => nn.functional.gelu(x),   // exact erf GELU, as BERT
        "gelu_new" => GeluTanh,                 // the tanh approximation (GPT-2, some BERT variants)
        "relu" => x => nn.functional.relu(x),
        _ => throw new ConfigException($"hidden_act must be one of {string.Join(", ", EncoderConfig.HiddenActs)} (got '{name}')"),
    };

    private static Tensor GeluTanh(Tensor x) =>
        0.5 * x * (1.0 + torch.tanh(Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x.pow(3))));
}
