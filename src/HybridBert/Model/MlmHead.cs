using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>HF's <c>BertPredictionHeadTransform</c>: dense, activation, LayerNorm (<c>cls.predictions.transform</c>).</summary>
public sealed class PredictionHeadTransform : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly Func<Tensor, Tensor> activation;

    public PredictionHeadTransform(EncoderConfig c) : base(nameof(PredictionHeadTransform))
    {
        dense = nn.Linear(c.HiddenSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        activation = Activations.Get(c.HiddenAct);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => LayerNorm.call(activation(dense.call(x)));
}

/// <summary>
/// HF's <c>BertLMPredictionHead</c> (<c>cls.predictions</c>): transform, then a decoder tied to the word
/// embeddings plus an output bias. The decoder weight is not registered again: it is passed in at call time.
/// </summary>
public sealed class MlmPredictionHead : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly PredictionHeadTransform transform;
    private readonly Parameter bias;

    public MlmPredictionHead(EncoderConfig c) : base(nameof(MlmPredictionHead))
    {
        transform = new PredictionHeadTransform(c);
        bias = nn.Parameter(torch.zeros(c.VocabSize));
        RegisterComponents();
    }

    // hidden: [..., hidden], wordEmbeddings: [vocab, hidden] -> [..., vocab]
    public override Tensor forward(Tensor hidden, Tensor wordEmbeddings) =>
        nn.functional.linear(transform.call(hidden), wordEmbeddings, bias);

    /// <summary>The summed cross-entropy of these rows' logits against <paramref name="labels"/>, and how many the
    /// logits predict, without keeping the logits (<see cref="VocabularyCrossEntropy"/>).</summary>
    public (Tensor Sum, Tensor Correct) LossSum(Tensor hidden, Tensor wordEmbeddings, Tensor labels) =>
        VocabularyCrossEntropy.Sum(transform.call(hidden), wordEmbeddings, bias, labels);
}

/// <summary>
/// HF's <c>BertOnlyMLMHead</c> / <c>BertPreTrainingHeads</c>: the container under <c>cls</c>. It always has
/// <c>predictions</c> (MLM); with a sentence-level objective also <c>seq_relationship</c> (2 classes for BERT's
/// next-sentence prediction, 3 for PoNet's sentence structure objective), applied to the pooled [CLS].
/// </summary>
public sealed class MlmHead : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly MlmPredictionHead predictions;
    private readonly Linear? seq_relationship;

    public MlmHead(EncoderConfig c, int sentenceClasses) : base(nameof(MlmHead))
    {
        predictions = new MlmPredictionHead(c);
        if (sentenceClasses > 0) seq_relationship = nn.Linear(c.HiddenSize, sentenceClasses);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor wordEmbeddings) => predictions.call(hidden, wordEmbeddings);

    public (Tensor Sum, Tensor Correct) MlmLossSum(Tensor hidden, Tensor wordEmbeddings, Tensor labels) =>
        predictions.LossSum(hidden, wordEmbeddings, labels);

    public Tensor SentenceLogits(Tensor pooled) =>
        (seq_relationship ?? throw new InvalidOperationException("this model has no sentence-level head")).call(pooled);
}
