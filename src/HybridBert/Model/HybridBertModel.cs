using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// The whole model: embeddings, the mixed encoder and the MLM head, with Hugging Face's key layout
/// (<c>embeddings.*</c>, <c>encoder.layer.{i}.*</c>, <c>cls.predictions.*</c>; no <c>bert.</c> prefix — only
/// Interop adds or strips that). <c>forward</c> returns the last hidden state [batch, seq, hidden].
/// </summary>
public sealed class HybridBertModel : nn.Module<EncoderInputs, Tensor>
{
    private readonly Embeddings embeddings;
    private readonly Encoder encoder;
    private readonly Pooler? pooler;
    private readonly MlmHead? cls;

    public EncoderConfig Config { get; }
    /// <summary>Classes of the sentence-level pre-training head (<c>cls.seq_relationship</c>); 0 = none.</summary>
    public int SentenceClasses { get; }
    private readonly bool hasPooling;

    /// <param name="sentenceClasses">2 for next-sentence prediction, 3 for the sentence structure objective, 0 for MLM only.</param>
    /// <param name="withPooler">Add BERT's pooler even without a sentence head (fine-tuning uses it).</param>
    /// <param name="withMlmHead">False for downstream models, which have no <c>cls.*</c> head.</param>
    public HybridBertModel(EncoderConfig config, int sentenceClasses = 0, bool withPooler = false, bool withMlmHead = true) : base(nameof(HybridBertModel))
    {
        Config = config.Validate();
        SentenceClasses = sentenceClasses;
        embeddings = new Embeddings(config);
        encoder = new Encoder(config);
        if (sentenceClasses > 0 || withPooler) pooler = new Pooler(config);
        if (withMlmHead || sentenceClasses > 0) cls = new MlmHead(config, sentenceClasses);
        hasPooling = config.LayerPattern.Any(m => Mixers.Get(m).Pools);
        RegisterComponents();
        InitWeights();
    }

    /// <summary>Where the weights are: inputs must be made there.</summary>
    public Device Device => embeddings.WordEmbeddingWeight.device;

    public override Tensor forward(EncoderInputs inputs)
    {
        var context = MixerContext.Build(inputs, Config, hasPooling);
        return encoder.call(embeddings.call(inputs.InputIds, inputs.TokenTypeIds), context);
    }

    /// <summary>
    /// MLM logits from hidden states [batch, seq, hidden]. With <paramref name="flatPositions"/> (indices into the
    /// flattened batch*seq tokens) only those rows are projected onto the vocabulary — [n, vocab], about 4× faster
    /// in training than all tokens, since the vocabulary projection dominates the head. Without: [batch, seq, vocab].
    /// </summary>
    public Tensor MlmLogits(Tensor hidden, Tensor? flatPositions = null)
    {
        var rows = flatPositions is null ? hidden : hidden.reshape(-1, hidden.shape[^1]).index_select(0, flatPositions);
        return Head.call(rows, embeddings.WordEmbeddingWeight);
    }

    /// <summary>Sentence-pair logits [batch, classes] from the pooled [CLS] of hidden states [batch, seq, hidden].</summary>
    public Tensor SentenceLogits(Tensor hidden) =>
        Head.SentenceLogits(Pooled(hidden));

    private MlmHead Head => cls ?? throw new InvalidOperationException("this model was built without the pre-training head");

    /// <summary>BERT's pooled output [batch, hidden]: dense + tanh of the [CLS] hidden state.</summary>
    public Tensor Pooled(Tensor hidden) =>
        (pooler ?? throw new InvalidOperationException("this model was built without a pooler")).call(hidden);

    /// <summary>Inference entry point: no gradients, own dispose scope; returns last hidden state and all-token logits.</summary>
    public (Tensor Hidden, Tensor Logits) Infer(EncoderInputs inputs)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var hidden = forward(inputs);
        var logits = MlmLogits(hidden);
        return (hidden.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope());
    }

    /// <summary>BERT's initialization: weights ~ N(0, initializer_range), zero biases, LayerNorm 1/0, zero padding row.</summary>
    public void InitWeights()
    {
        using var noGrad = torch.no_grad();
        var std = Config.InitializerRange;
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Linear linear:
                    nn.init.normal_(linear.weight!, 0, std);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
                case Embedding embedding:
                    nn.init.normal_(embedding.weight!, 0, std);
                    break;
                case LayerNorm norm:
                    nn.init.ones_(norm.weight!);
                    nn.init.zeros_(norm.bias!);
                    break;
            }
        }
        // The padding row stays zero, as Hugging Face's _init_weights does for padding_idx.
        embeddings.WordEmbeddingWeight[Config.PadTokenId].zero_();
    }

    public long ParameterCount(string prefix = "") =>
        named_parameters().Where(p => p.name.StartsWith(prefix, StringComparison.Ordinal)).Sum(p => p.parameter.numel());
}
