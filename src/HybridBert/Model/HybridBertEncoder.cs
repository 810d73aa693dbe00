using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// The encoder, Hugging Face's <c>BertModel</c>: embeddings, the mixed layer stack and — with
/// <c>addPoolingLayer</c>, as HF's <c>add_pooling_layer</c> — BERT's pooler. Keys <c>embeddings.*</c>,
/// <c>encoder.layer.{i}.*</c>, <c>pooler.dense.*</c>. <c>forward</c> returns the last hidden state
/// [batch, seq, hidden]. Heads are composed around it: <see cref="HybridBertModel"/> (pre-training, fill-mask) and
/// <see cref="FineTuning.SequenceClassifier"/>.
/// </summary>
public sealed class HybridBertEncoder : nn.Module<EncoderInputs, Tensor>
{
    private readonly Embeddings embeddings;
    private readonly Encoder encoder;
    private readonly Pooler? pooler;
    private readonly bool hasPooling;

    public EncoderConfig Config { get; }

    public HybridBertEncoder(EncoderConfig config, bool addPoolingLayer = false) : this(config, addPoolingLayer, initialize: true) { }

    /// <param name="initialize">False when a head class initializes the whole model once its head exists, so the
    /// random stream, and with it every seeded model, is the same as when this was one class.</param>
    internal HybridBertEncoder(EncoderConfig config, bool addPoolingLayer, bool initialize) : base(nameof(HybridBertEncoder))
    {
        Config = config.Validate();
        embeddings = new Embeddings(config);
        encoder = new Encoder(config);
        if (addPoolingLayer) pooler = new Pooler(config);
        hasPooling = config.LayerPattern.Any(m => Mixers.Get(m).Pools);
        RegisterComponents();
        if (initialize) BertInitialization.Apply(this, config);
    }

    /// <summary>BERT's pooler (dense + tanh of the [CLS] hidden state), or null when built without one.</summary>
    public Pooler? Pooler => pooler;

    /// <summary>
    /// Keep less for backward in training, at some compute (<c>--save-memory</c>; off by default): the FFN's
    /// activation is computed again in backward instead of kept (<see cref="ActivatedLinear"/>) and hidden dropouts
    /// keep 1-byte masks (<see cref="HiddenDropout"/>). Results are bitwise the same in fp32. Measured at mini, 4,096
    /// tokens: 5–6% lower peak memory (geometric mean over the configurations) for 3–9% longer steps
    /// (docs/results/compare-pytorch).
    /// </summary>
    public bool SaveMemory
    {
        get => saveMemory;
        set
        {
            saveMemory = value;
            SetSaveMemory(this, value);
        }
    }
    private bool saveMemory;

    /// <summary>Sets <see cref="SaveMemory"/>'s switch on every part under <paramref name="root"/> (a model, or one layer).</summary>
    internal static void SetSaveMemory(nn.Module root, bool value)
    {
        foreach (var module in root.modules())
            if (module is SelfOutput output) output.SaveMemory = value;
            else if (module is Embeddings embeddings) embeddings.SaveMemory = value;
    }

    /// <summary>The word embedding matrix [vocab, hidden]; the MLM decoder is tied to it.</summary>
    public Tensor WordEmbeddingWeight => embeddings.WordEmbeddingWeight;

    /// <summary>Where the weights are: inputs must be made there.</summary>
    public Device Device => embeddings.WordEmbeddingWeight.device;

    public override Tensor forward(EncoderInputs inputs)
    {
        var context = MixerContext.Build(inputs, Config, hasPooling);
        return encoder.call(embeddings.call(inputs.InputIds, inputs.TokenTypeIds), context);
    }

    /// <summary>Inference entry point: no gradients, own dispose scope; returns the last hidden state.</summary>
    public Tensor Infer(EncoderInputs inputs)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return forward(inputs).MoveToOuterDisposeScope();
    }
}

/// <summary>BERT's initialization (HF <c>_init_weights</c>): weights ~ N(0, initializer_range), zero biases, LayerNorm
/// 1/0, zero padding row.</summary>
public static class BertInitialization
{
    public static void Apply(nn.Module module, EncoderConfig config)
    {
        using var noGrad = torch.no_grad();
        var std = config.InitializerRange;
        foreach (var (_, child) in module.named_modules())
        {
            switch (child)
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
        foreach (var (_, child) in module.named_modules())
            if (child is Embeddings embeddings) embeddings.WordEmbeddingWeight[config.PadTokenId].zero_();
    }
}
