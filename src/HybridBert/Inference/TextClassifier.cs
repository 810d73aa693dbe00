using HybridBert.Text;
using TorchSharp;

namespace HybridBert.Inference;

/// <summary>One label and its score (a softmax probability, the raw logit, or a regression model's value).</summary>
public sealed record LabelScore(string Label, double Score);

/// <summary>One input's class: the predicted label's index (or a regression model's value) and the probabilities in
/// label order (empty for regression).</summary>
public sealed record ClassPrediction(float Prediction, float[] Probabilities);

/// <summary>
/// Classification with a fine-tuned model, the one classification engine: <c>predict</c>, <c>evaluate</c>, fine-tuning's
/// dev scores and the server's <c>/predict</c> and <c>/rerank</c> all run it. Every label with its score, highest first
/// (or the top k); a regression model returns its value.
/// </summary>
public sealed class TextClassifier(InferenceModel model)
{
    public List<LabelScore[]> Classify(IReadOnlyList<string> texts, int? topK = null, bool rawScores = false,
        bool truncate = InferenceModel.TruncateByDefault,
        IReadOnlyList<string?>? pairs = null, CancellationToken cancel = default)
    {
        model.Require(InferenceTask.Classify);
        return Classify(model.Encode(texts, truncate, pairs), topK, rawScores, cancel);
    }

    /// <summary>Texts encoded by <see cref="InferenceModel.Encode"/>.</summary>
    public List<LabelScore[]> Classify(IReadOnlyList<EncodedText> rows, int? topK, bool rawScores, CancellationToken cancel = default)
    {
        var head = model.Task!;
        return Scores(rows, rawScores, cancel).Select(row =>
        {
            var labels = head.Regression ? [new LabelScore("score", row[0])]
                : row.Select((s, j) => new LabelScore(head.Labels[j], s)).OrderByDescending(l => l.Score).ToArray();
            return topK is { } t ? labels.Take(t).ToArray() : labels;
        }).ToList();
    }

    /// <summary>Per row, the predicted label's index (the first of equal highest) and the probabilities in label order;
    /// for regression the value.</summary>
    public List<ClassPrediction> Predict(IReadOnlyList<EncodedText> rows, CancellationToken cancel = default)
    {
        var regression = model.Task!.Regression;
        return Scores(rows, rawScores: false, cancel)
            .Select(row => regression ? new ClassPrediction(row[0], []) : new ClassPrediction(Array.IndexOf(row, row.Max()), row))
            .ToList();
    }

    /// <summary>Per row, in label order: softmax probabilities, or the logits themselves with <paramref name="rawScores"/>
    /// or a regression head.</summary>
    private float[][] Scores(IReadOnlyList<EncodedText> rows, bool rawScores, CancellationToken cancel)
    {
        model.Require(InferenceTask.Classify);
        var head = model.Task!;
        var results = new float[rows.Count][];
        model.Run(rows, (hidden, inputs, indices) =>
        {
            var logits = model.ClassifierLogits(hidden, inputs);
            var scores = (head.Regression || rawScores ? logits : logits.softmax(-1)).cpu();
            var width = (int)scores.shape[1];
            var flat = scores.data<float>().ToArray();
            for (var k = 0; k < indices.Length; k++) results[indices[k]] = flat.AsSpan(k * width, width).ToArray();
        }, cancel);
        return results;
    }
}
