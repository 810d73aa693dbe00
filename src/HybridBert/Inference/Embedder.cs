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

    /// <summary>Every token's vector, the last hidden state itself: per row, one vector per token ([CLS] and [SEP] included).</summary>
    public float[][][] EmbedAll(IReadOnlyList<EncodedText> rows, CancellationToken cancel = default)
    {
        var result = new float[rows.Count][][];
        model.Run(rows, (hidden, inputs, indices) =>
        {
            var (length, width) = ((int)hidden.shape[1], (int)hidden.shape[2]);
            var flat = hidden.cpu().data<float>().ToArray();
            for (var k = 0; k < indices.Length; k++)
                result[indices[k]] = Enumerable.Range(0, length).Select(t => flat.AsSpan((k * length + t) * width, width).ToArray()).ToArray();
        }, cancel);
        return result;
    }

    /// <summary>
    /// SPLADE-style sparse vectors from the MLM head, as text-embeddings-inference's <c>/embed_sparse</c>: per vocabulary
    /// entry the maximum over the row's tokens of log(1 + relu(logit)); only the entries above zero, by index.
    /// </summary>
    public List<(int Index, float Value)>[] EmbedSparse(IReadOnlyList<EncodedText> rows, CancellationToken cancel = default)
    {
        model.Require(InferenceTask.EmbedSparse);
        var result = new List<(int, float)>[rows.Count];
        model.Run(rows, (hidden, inputs, indices) =>
        {
            for (var k = 0; k < indices.Length; k++)
            {
                using var scope = torch.NewDisposeScope();
                var weights = model.MlmLogitsOfRow(hidden, k).relu().log1p().amax([0]).cpu().data<float>().ToArray();   // [vocab]
                var entries = new List<(int, float)>();
                for (var v = 0; v < weights.Length; v++)
                    if (weights[v] > 0) entries.Add((v, weights[v]));
                result[indices[k]] = entries;
            }
        }, cancel);
        return result;
    }

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
