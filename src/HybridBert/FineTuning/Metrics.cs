namespace HybridBert.FineTuning;

/// <summary>
/// Classification and regression metrics, as scikit-learn and SciPy define them. Degenerate inputs follow
/// scikit-learn's zero-division convention: F1 and MCC are 0 when undefined (no positive predictions or labels,
/// a single class, constant predictions); Pearson and Spearman are NaN when either side is constant (as SciPy).
/// </summary>
public static class Metrics
{
    public static double Accuracy(IReadOnlyList<int> gold, IReadOnlyList<int> predicted)
    {
        Check(gold.Count, predicted.Count);
        return gold.Count == 0 ? double.NaN : gold.Zip(predicted).Count(p => p.First == p.Second) / (double)gold.Count;
    }

    /// <summary>F1 of one class (binary F1 takes the positive class, 1).</summary>
    public static double F1(IReadOnlyList<int> gold, IReadOnlyList<int> predicted, int positive = 1)
    {
        Check(gold.Count, predicted.Count);
        long tp = 0, fp = 0, fn = 0;
        for (var i = 0; i < gold.Count; i++)
        {
            if (predicted[i] == positive && gold[i] == positive) tp++;
            else if (predicted[i] == positive) fp++;
            else if (gold[i] == positive) fn++;
        }
        return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
    }

    /// <summary>Unweighted mean of the per-class F1 over the classes present in gold or predictions.</summary>
    public static double MacroF1(IReadOnlyList<int> gold, IReadOnlyList<int> predicted)
    {
        var classes = gold.Concat(predicted).Distinct().ToList();
        return classes.Count == 0 ? double.NaN : classes.Average(c => F1(gold, predicted, c));
    }

    /// <summary>Matthews correlation, in its multi-class form (Gorodkin 2004), which is the usual MCC for two classes.</summary>
    public static double Matthews(IReadOnlyList<int> gold, IReadOnlyList<int> predicted, int classes)
    {
        var c = ConfusionMatrix(gold, predicted, classes);
        double n = gold.Count, correct = 0;
        var t = new double[classes];
        var p = new double[classes];
        for (var i = 0; i < classes; i++)
        {
            correct += c[i, i];
            for (var j = 0; j < classes; j++) { t[i] += c[i, j]; p[j] += c[i, j]; }
        }
        var numerator = correct * n - t.Zip(p).Sum(x => x.First * x.Second);
        var denominator = Math.Sqrt((n * n - p.Sum(x => x * x)) * (n * n - t.Sum(x => x * x)));
        return denominator == 0 ? 0 : numerator / denominator;
    }

    /// <summary>Rows: gold class; columns: predicted class.</summary>
    public static long[,] ConfusionMatrix(IReadOnlyList<int> gold, IReadOnlyList<int> predicted, int classes)
    {
        Check(gold.Count, predicted.Count);
        var m = new long[classes, classes];
        for (var i = 0; i < gold.Count; i++) m[gold[i], predicted[i]]++;
        return m;
    }

    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        Check(x.Count, y.Count);
        if (x.Count < 2) return double.NaN;
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < x.Count; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>Pearson correlation of the ranks, ties sharing their average rank (SciPy's spearmanr).</summary>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y) => Pearson(Ranks(x), Ranks(y));

    public static double[] Ranks(IReadOnlyList<double> values)
    {
        var order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Count];
        for (var start = 0; start < order.Length;)
        {
            var end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]]) end++;
            var average = (start + end) / 2.0 + 1;
            for (var k = start; k <= end; k++) ranks[order[k]] = average;
            start = end + 1;
        }
        return ranks;
    }

    /// <summary>The middle value (the mean of the two middle ones for an even count); NaN for none.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0) return double.NaN;
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    public static (double Mean, double Std) MeanStd(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return (double.NaN, double.NaN);
        var mean = values.Average();
        // Sample standard deviation (n-1), as papers report over seeds; 0 for a single run.
        var std = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return (mean, std);
    }

    private static void Check(int a, int b)
    {
        if (a != b) throw new ArgumentException($"{a} gold labels but {b} predictions");
    }
}
