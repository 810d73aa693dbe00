using TorchSharp;

namespace HybridBert.Inference;

/// <summary>One label and its score (a softmax probability, the raw logit, or a regression model's value).</summary>
public sealed record LabelScore(string Label, double Score);

/// <summary>Classification with a fine-tuned model: every label with its score, highest first (or the top k); a regression model returns its value.</summary>
public sealed class TextClassifier(InferenceModel model)
{
    public List<LabelScore[]> Classify(IReadOnlyList<string> texts, int? topK = null, bool rawScores = false, bool truncate = true,
        IReadOnlyList<string?>? pairs = null, CancellationToken cancel = default)
    {
        CheckModel();
        return Classify(model.Encode(texts, truncate, pairs), topK, rawScores, cancel);
    }

    internal void CheckModel()
    {
        if (!model.CanClassify)
            throw new UnsupportedTaskException($"{model.Source} is not a fine-tuned model folder (a classifier): predict needs a seed-N folder or a Hugging Face *ForSequenceClassification folder");
    }

    /// <summary>Texts encoded by <see cref="InferenceModel.Encode"/>.</summary>
    public List<LabelScore[]> Classify(IReadOnlyList<Text.EncodedText> rows, int? topK, bool rawScores, CancellationToken cancel = default)
    {
        CheckModel();
        var head = model.Task!;
        var results = new LabelScore[rows.Count][];
        model.Run(rows, (hidden, inputs, indices) =>
        {
            var logits = model.ClassifierLogits(hidden, inputs);
            var scores = (head.Regression || rawScores ? logits : logits.softmax(-1)).cpu();
            var width = (int)scores.shape[1];
            var flat = scores.data<float>().ToArray();
            for (var k = 0; k < indices.Length; k++)
            {
                var row = flat.AsSpan(k * width, width).ToArray();
                var labels = head.Regression ? [new LabelScore("score", row[0])]
                    : row.Select((s, j) => new LabelScore(head.Labels[j], s)).OrderByDescending(l => l.Score).ToArray();
                results[indices[k]] = topK is { } t ? labels.Take(t).ToArray() : labels;
            }
        }, cancel);
        return results.ToList();
    }
}
