using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// The pre-training model, Hugging Face's <c>BertForMaskedLM</c> / <c>BertForPreTraining</c>: the encoder
/// (<see cref="HybridBertEncoder"/>) with the <c>cls</c> head composed around it — MLM always, plus the
/// sentence-level <c>cls.seq_relationship</c> over the pooled [CLS] when <c>sentenceClasses</c> &gt; 0.
/// <para>Keys are the original BERT checkpoint layout: the encoder's <c>embeddings.*</c>, <c>encoder.*</c>,
/// <c>pooler.*</c> without a <c>bert.</c> prefix, then <c>cls.predictions.*</c>. Our checkpoints and the reference
/// fixtures use it; <see cref="Interop.WeightLoader"/> strips or adds Hugging Face's <c>bert.</c>.</para>
/// <c>forward</c> returns the last hidden state [batch, seq, hidden].
/// </summary>
public sealed class HybridBertModel : nn.Module<EncoderInputs, Tensor>
{
    private readonly MlmHead cls;

    /// <summary>The encoder this head is composed around (its modules are this model's, under the same names).</summary>
    public HybridBertEncoder Bert { get; }
    public EncoderConfig Config => Bert.Config;
    /// <summary>Classes of the sentence-level pre-training head (<c>cls.seq_relationship</c>); 0 = none.</summary>
    public int SentenceClasses { get; }

    /// <param name="sentenceClasses">2 for next-sentence prediction, 3 for the sentence structure objective, 0 for MLM only.</param>
    public HybridBertModel(EncoderConfig config, int sentenceClasses = 0) : base(nameof(HybridBertModel))
    {
        SentenceClasses = sentenceClasses;
        Bert = new HybridBertEncoder(config, addPoolingLayer: sentenceClasses > 0, initialize: false);
        cls = new MlmHead(config, sentenceClasses);
        // Registered by hand, not by RegisterComponents: the encoder's children sit at the top level (no "bert."),
        // the original BERT layout.
        foreach (var (name, child) in Bert.named_children()) register_module(name, child);
        register_module("cls", cls);
        BertInitialization.Apply(this, config);
    }

    /// <summary>Where the weights are: inputs must be made there.</summary>
    public Device Device => Bert.Device;

    public override Tensor forward(EncoderInputs inputs) => Bert.forward(inputs);

    /// <summary>
    /// MLM logits from hidden states [batch, seq, hidden]. With <paramref name="flatPositions"/> (indices into the
    /// flattened batch*seq tokens) only those rows are projected onto the vocabulary — [n, vocab], much faster in
    /// training than all tokens, since the vocabulary projection dominates the head
    /// (docs/results/design-measurements.md#sparse-mlm-head). Without: [batch, seq, vocab].
    /// </summary>
    public Tensor MlmLogits(Tensor hidden, Tensor? flatPositions = null)
    {
        var rows = flatPositions is null ? hidden : hidden.reshape(-1, hidden.shape[^1]).index_select(0, flatPositions);
        return cls.call(rows, Bert.WordEmbeddingWeight);
    }

    /// <summary>
    /// The MLM loss summed over the tokens at <paramref name="flatPositions"/> (indices into the flattened batch*seq
    /// tokens) against <paramref name="labels"/>, and how many the model predicts: the sparse head's logits
    /// (<see cref="MlmLogits"/>) in fp32 through cross-entropy, computed without keeping the logits for backward
    /// (<see cref="VocabularyCrossEntropy"/>).
    /// </summary>
    public (Tensor Sum, Tensor Correct) MlmLossSum(Tensor hidden, Tensor flatPositions, Tensor labels) =>
        cls.MlmLossSum(hidden.reshape(-1, hidden.shape[^1]).index_select(0, flatPositions), Bert.WordEmbeddingWeight, labels);

    /// <summary>Sentence-pair logits [batch, classes] from the pooled [CLS] of hidden states [batch, seq, hidden].</summary>
    public Tensor SentenceLogits(Tensor hidden)
    {
        if (SentenceClasses == 0 || Bert.Pooler is not { } pooler)
            throw new InvalidOperationException("this model was built for MLM only (sentenceClasses = 0): it has no sentence-level head");
        return cls.SentenceLogits(pooler.call(hidden));
    }

    /// <summary>Inference entry point: no gradients, own dispose scope; returns last hidden state and all-token logits.</summary>
    public (Tensor Hidden, Tensor Logits) Infer(EncoderInputs inputs)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var hidden = forward(inputs);
        var logits = MlmLogits(hidden);
        return (hidden.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }

    public long ParameterCount(string prefix = "") =>
        named_parameters().Where(p => p.name.StartsWith(prefix, StringComparison.Ordinal)).Sum(p => p.parameter.numel());
}
