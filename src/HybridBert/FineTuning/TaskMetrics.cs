namespace HybridBert.FineTuning;

/// <summary>
/// The metrics of one evaluation. <c>score</c> follows the GLUE convention: the mean of the task's metrics
/// (e.g. MRPC: F1 and accuracy; STS-B: Pearson and Spearman; CoLA: MCC); early stopping and model selection use it.
/// </summary>
public sealed record TaskMetrics(IReadOnlyDictionary<string, double> Values, long[,]? Confusion)
{
    public double Score => Values["score"];

    public static TaskMetrics Compute(TaskData task, IReadOnlyList<LabeledExample> examples, IReadOnlyList<float> predictions)
    {
        var values = new Dictionary<string, double>();
        long[,]? confusion = null;
        if (task.Regression)
        {
            var gold = examples.Select(e => (double)task.Target(e)).ToList();
            var predicted = predictions.Select(p => (double)p).ToList();
            values["pearson"] = Metrics.Pearson(gold, predicted);
            values["spearman"] = Metrics.Spearman(gold, predicted);
            values["mse"] = gold.Zip(predicted).Average(p => (p.First - p.Second) * (p.First - p.Second));
        }
        else
        {
            var gold = examples.Select(e => (int)task.Target(e)).ToList();
            var predicted = predictions.Select(p => (int)p).ToList();
            values["accuracy"] = Metrics.Accuracy(gold, predicted);
            values["macro_f1"] = Metrics.MacroF1(gold, predicted);
            values["mcc"] = Metrics.Matthews(gold, predicted, task.Labels.Count);
            if (task.Labels.Count == 2) values["f1"] = Metrics.F1(gold, predicted, PositiveClass(task.Labels));
            confusion = Metrics.ConfusionMatrix(gold, predicted, task.Labels.Count);
        }
        var scored = task.Metrics.Select(m => values.GetValueOrDefault(m, double.NaN)).ToList();
        values["score"] = scored.Any(double.IsNaN) ? double.NaN : scored.Average();
        return new TaskMetrics(values, confusion);
    }

    /// <summary>The class binary F1 is about: "1", "positive", "spam" or "entailment" when present, else the second label.</summary>
    public static int PositiveClass(IReadOnlyList<string> labels)
    {
        foreach (var name in new[] { "1", "positive", "spam", "entailment", "true" })
            for (var i = 0; i < labels.Count; i++)
                if (labels[i].Equals(name, StringComparison.OrdinalIgnoreCase)) return i;
        return 1;
    }
}
