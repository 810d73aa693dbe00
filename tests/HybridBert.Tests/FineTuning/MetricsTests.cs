using HybridBert.FineTuning;

namespace HybridBert.Tests.FineTuning;

public sealed class MetricsTests
{
    // gold:      1 1 1 0 0 0 1 0
    // predicted: 1 0 1 0 1 0 1 0   → TP 3, FN 1, FP 1, TN 3
    private static readonly int[] Gold = [1, 1, 1, 0, 0, 0, 1, 0];
    private const double SklearnMcc = 0.4523809523809524, SklearnMacroF1 = 0.6222222222222222;
    private static readonly int[] Predicted = [1, 0, 1, 0, 1, 0, 1, 0];

    [Fact]
    public void Binary_metrics_match_hand_computed_values()
    {
        Assert.Equal(0.75, Metrics.Accuracy(Gold, Predicted));
        Assert.Equal(0.75, Metrics.F1(Gold, Predicted), 12);               // 2·3 / (2·3 + 1 + 1)
        Assert.Equal(0.75, Metrics.MacroF1(Gold, Predicted), 12);          // class 0 also 0.75
        Assert.Equal(0.5, Metrics.Matthews(Gold, Predicted, 2), 12);       // (3·3 − 1·1) / √(4·4·4·4)
        Assert.Equal(new long[,] { { 3, 1 }, { 1, 3 } }, Metrics.ConfusionMatrix(Gold, Predicted, 2));
    }

    [Fact]
    public void Multiclass_mcc_and_macro_f1_match_scikit_learn()
    {
        int[] gold = [0, 1, 2, 0, 1, 2, 2, 1];
        int[] predicted = [0, 2, 1, 0, 0, 2, 2, 1];
        // Values from scikit-learn 1.2 (Debian bookworm): matthews_corrcoef, f1_score(average="macro").
        Assert.Equal(SklearnMcc, Metrics.Matthews(gold, predicted, 3), 10);
        Assert.Equal(SklearnMacroF1, Metrics.MacroF1(gold, predicted), 10);
    }

    [Fact]
    public void Degenerate_classification_follows_the_zero_division_convention()
    {
        int[] oneClass = [1, 1, 1, 1];
        int[] constant = [0, 0, 0, 0];
        Assert.Equal(0, Metrics.Matthews(oneClass, oneClass, 2));     // a single class: undefined → 0
        Assert.Equal(0, Metrics.Matthews(Gold, [0, 0, 0, 0, 0, 0, 0, 0], 2));  // constant predictions → 0
        Assert.Equal(0, Metrics.F1(oneClass, constant));               // no true positive → 0
        Assert.Equal(1.0, Metrics.F1(oneClass, oneClass));
        Assert.Equal(0.0, Metrics.Accuracy(oneClass, constant));
    }

    [Fact]
    public void Pearson_and_spearman_match_scipy_including_ties()
    {
        double[] x = [1, 2, 3, 4, 5];
        double[] y = [2, 1, 4, 3, 7];
        // By hand: Σdxdy = 12, Σdx² = 10, Σdy² = 21.2 → 12/√212; ranks of y = 2,1,4,3,5 → 8/10. SciPy 1.10 agrees.
        Assert.Equal(12 / Math.Sqrt(212), Metrics.Pearson(x, y), 12);
        Assert.Equal(0.8, Metrics.Spearman(x, y), 12);
        // Ties share their average rank: ranks of [1, 2, 2, 3] are [1, 2.5, 2.5, 4].
        Assert.Equal([1, 2.5, 2.5, 4], Metrics.Ranks([1, 2, 2, 3]));
        Assert.Equal(0.9486832980505138, Metrics.Spearman([1, 2, 2, 3], [1, 2, 3, 4]), 10);
    }

    [Fact]
    public void Correlation_with_a_constant_is_undefined()
    {
        Assert.True(double.IsNaN(Metrics.Pearson([1, 2, 3], [5, 5, 5])));
        Assert.True(double.IsNaN(Metrics.Spearman([4, 4, 4], [1, 2, 3])));
    }

    [Fact]
    public void Mean_and_sample_standard_deviation_over_seeds()
    {
        var (mean, std) = Metrics.MeanStd([0.80, 0.82, 0.84]);
        Assert.Equal(0.82, mean, 12);
        Assert.Equal(0.02, std, 12);
        Assert.Equal((0.5, 0.0), Metrics.MeanStd([0.5]));
    }
}
