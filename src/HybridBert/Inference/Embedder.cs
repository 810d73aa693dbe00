using HybridBert.FineTuning;
using HybridBert.Text;
using TorchSharp;

namespace HybridBert.Inference;

/// <summary>
/// Sentence embeddings, sentence-transformers' conventions: the [CLS] hidden state or the mean of the real tokens'
/// (<see cref="Pooling"/>), optionally L2-normalised; over-long texts truncated to the model's maximum or refused.
/// </summary>
public sealed class Embedder(InferenceModel model)
{
    /// <summary>sentence-transformers' usual choice; the CLI's and the server's default.</summary>
    public const Pooling DefaultPooling = Pooling.Mean;

    /// <summary>Whether vectors are L2-normalised when a caller does not say (text-embeddings-inference's default).</summary>
    public const bool NormalizeByDefault = true;

    /// <summary>One vector per text, in input order.</summary>
    public float[][] Embed(IReadOnlyList<string> texts, Pooling pooling = DefaultPooling, bool normalize = NormalizeByDefault,
        bool truncate = InferenceModel.TruncateByDefault, CancellationToken cancel = default) =>
        Embed(model.Encode(texts, truncate), pooling, normalize, cancel);

    public float[][] Embed(IReadOnlyList<EncodedText> rows, Pooling pooling, bool normalize, CancellationToken cancel = default)
    {
        var vectors = new float[rows.Count][];
        model.Run(rows, (hidden, inputs, indices) =>
        {
            var pooled = pooling == Pooling.Cls ? hidden.select(1, 0) : hidden.mean([1]);   // equal-length batches: every token is real
            if (normalize) pooled = torch.nn.functional.normalize(pooled, p: 2, dim: -1);
            var width = (int)pooled.shape[1];
            var flat = pooled.cpu().data<float>().ToArray();
            for (var k = 0; k < indices.Length; k++) vectors[indices[k]] = flat.AsSpan(k * width, width).ToArray();
        }, cancel);
        return vectors;
    }
}
