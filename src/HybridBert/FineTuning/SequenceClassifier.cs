using HybridBert.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.FineTuning;

public enum Pooling { Cls, Mean }

/// <summary>
/// Hugging Face's <c>BertForSequenceClassification</c> layout (<c>bert.*</c>, <c>classifier.*</c>): the encoder,
/// a pooled sentence vector — BERT's pooler over [CLS] (dense + tanh), or the mean of the last hidden states over
/// real tokens — dropout, and a linear head with one output per label (one for regression).
/// </summary>
public sealed class SequenceClassifier : nn.Module<EncoderInputs, Tensor>
{
    private readonly HybridBertEncoder bert;
    private readonly double dropout;
    private readonly Linear classifier;

    public Pooling Pooling { get; }
    public int Outputs { get; }
    public EncoderConfig Config => bert.Config;

    public SequenceClassifier(EncoderConfig config, int outputs, Pooling pooling) : base(nameof(SequenceClassifier))
    {
        bert = new HybridBertEncoder(config, addPoolingLayer: true);
        dropout = config.HiddenDropoutProb;   // drawn as every dropout of ours (HiddenDropout), not by a module
        classifier = nn.Linear(config.HiddenSize, outputs);
        (Pooling, Outputs) = (pooling, outputs);
        RegisterComponents();
        using var noGrad = torch.no_grad();
        nn.init.normal_(classifier.weight!, 0, config.InitializerRange);
        nn.init.zeros_(classifier.bias!);
    }

    public HybridBertEncoder Encoder => bert;

    // -> [batch, outputs]
    public override Tensor forward(EncoderInputs inputs) => Logits(bert.forward(inputs), inputs);

    /// <summary>The head alone, on the encoder's last hidden state for <paramref name="inputs"/>: [batch, outputs].</summary>
    public Tensor Logits(Tensor hidden, EncoderInputs inputs)
    {
        Tensor pooled;
        if (Pooling == Pooling.Cls) pooled = bert.Pooler!.call(hidden);   // built with a pooler above
        else
        {
            var real = inputs.AttentionMask.to_type(hidden.dtype).unsqueeze(-1);
            pooled = (hidden * real).sum(1) / real.sum(1).clamp_min(1);
        }
        return classifier.call(HiddenDropout.Apply(pooled, dropout, training, saveMemory: false));
    }
}
