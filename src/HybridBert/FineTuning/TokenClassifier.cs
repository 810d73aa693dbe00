using HybridBert.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.FineTuning;

/// <summary>
/// Hugging Face's <c>BertForTokenClassification</c> layout (<c>bert.*</c> without a pooler, <c>classifier.*</c>): the
/// encoder, dropout, and a linear head giving one score per tag at every position, for any layer pattern.
/// </summary>
public sealed class TokenClassifier : nn.Module<EncoderInputs, Tensor>
{
    private readonly HybridBertEncoder bert;
    private readonly double dropout;
    private readonly Linear classifier;

    public int Outputs { get; }
    public EncoderConfig Config => bert.Config;
    public HybridBertEncoder Encoder => bert;

    public TokenClassifier(EncoderConfig config, int outputs) : base(nameof(TokenClassifier))
    {
        bert = new HybridBertEncoder(config, addPoolingLayer: false);
        dropout = config.HiddenDropoutProb;   // drawn as every dropout of ours (HiddenDropout), not by a module
        classifier = nn.Linear(config.HiddenSize, outputs);
        Outputs = outputs;
        RegisterComponents();
        using var noGrad = torch.no_grad();
        nn.init.normal_(classifier.weight!, 0, config.InitializerRange);
        nn.init.zeros_(classifier.bias!);
    }

    // -> [batch, seq, outputs]
    public override Tensor forward(EncoderInputs inputs) => Logits(bert.forward(inputs));

    /// <summary>The tag logits [batch, seq, tags] of the encoder's last hidden state.</summary>
    public Tensor Logits(Tensor hidden) => classifier.call(HiddenDropout.Apply(hidden, dropout, training, saveMemory: false));
}
