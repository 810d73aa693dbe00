using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>BERT embeddings: word + position + token type, then LayerNorm and dropout (<c>embeddings.*</c>).</summary>
public sealed class Embeddings : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    private readonly Embedding token_type_embeddings;
    private readonly LayerNorm LayerNorm;   // HF spelling, for checkpoints
    private readonly double dropoutProb;
    private readonly int maxPositions;

    /// <summary>Keep less for backward in training (<see cref="HybridBertEncoder.SaveMemory"/>).</summary>
    internal bool SaveMemory { get; set; }

    public Embeddings(EncoderConfig c) : base(nameof(Embeddings))
    {
        word_embeddings = nn.Embedding(c.VocabSize, c.HiddenSize, padding_idx: c.PadTokenId);
        position_embeddings = nn.Embedding(c.MaxPositionEmbeddings, c.HiddenSize);
        token_type_embeddings = nn.Embedding(c.TypeVocabSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        dropoutProb = c.HiddenDropoutProb;
        maxPositions = c.MaxPositionEmbeddings;
        RegisterComponents();
    }

    /// <summary>The word embedding matrix [vocab, hidden]; the MLM decoder reuses it (weight tying).</summary>
    public Tensor WordEmbeddingWeight => word_embeddings.weight!;

    // inputIds, tokenTypeIds: [batch, seq] -> [batch, seq, hidden]
    public override Tensor forward(Tensor inputIds, Tensor? tokenTypeIds)
    {
        var seq = inputIds.shape[1];
        if (seq > maxPositions)
            throw new ArgumentException($"sequence length {seq} exceeds max_position_embeddings={maxPositions}");
        // Own scope: the three lookups and their sum are not needed once normalized (the LayerNorm saved its input).
        using var scope = torch.NewDisposeScope();
        var positions = torch.arange(seq, device: inputIds.device).unsqueeze(0);
        var types = tokenTypeIds ?? torch.zeros_like(inputIds);
        var sum = word_embeddings.call(inputIds) + position_embeddings.call(positions) + token_type_embeddings.call(types);
        return HiddenDropout.Apply(LayerNorm.call(sum), dropoutProb, training, SaveMemory).MoveToOuterDisposeScope();
    }
}
