namespace HybridBert.FineTuning;

/// <summary>
/// The GLUE tasks' file layouts as distributed (train.tsv, dev.tsv, test.tsv per task folder), their metrics and
/// quirks: CoLA's train/dev files have no header (source, label, original label, sentence); MNLI has matched and
/// mismatched dev/test files; QQP's train file has a few rows with missing fields (skipped and counted); STS-B is
/// regression on a 0–5 score. Test files carry no labels.
/// </summary>
public sealed record GlueTask(string Name, ColumnSpec Columns, ColumnSpec TestColumns, bool Regression, string[] Metrics,
    string DevFile = "dev.tsv", string TestFile = "test.tsv", bool HeaderlessTrainDev = false, bool SkipMalformed = false)
{
    public static readonly IReadOnlyDictionary<string, GlueTask> All = new Dictionary<string, GlueTask>(StringComparer.OrdinalIgnoreCase)
    {
        ["cola"] = new("cola", new("sentence", null, "label"), new("sentence", null, null), false, ["mcc"], HeaderlessTrainDev: true),
        ["sst-2"] = new("sst-2", new("sentence", null, "label"), new("sentence", null, null), false, ["accuracy"]),
        ["mrpc"] = new("mrpc", new("#1 String", "#2 String", "Quality"), new("#1 String", "#2 String", null), false, ["f1", "accuracy"]),
        ["sts-b"] = new("sts-b", new("sentence1", "sentence2", "score"), new("sentence1", "sentence2", null), true, ["pearson", "spearman"]),
        ["qqp"] = new("qqp", new("question1", "question2", "is_duplicate"), new("question1", "question2", null), false, ["accuracy", "f1"],
            SkipMalformed: true),
        ["mnli"] = new("mnli", new("sentence1", "sentence2", "gold_label"), new("sentence1", "sentence2", null), false, ["accuracy"],
            "dev_matched.tsv", "test_matched.tsv"),
        ["mnli-mm"] = new("mnli-mm", new("sentence1", "sentence2", "gold_label"), new("sentence1", "sentence2", null), false, ["accuracy"],
            "dev_mismatched.tsv", "test_mismatched.tsv"),
        ["qnli"] = new("qnli", new("question", "sentence", "label"), new("question", "sentence", null), false, ["accuracy"]),
        ["rte"] = new("rte", new("sentence1", "sentence2", "label"), new("sentence1", "sentence2", null), false, ["accuracy"]),
        ["wnli"] = new("wnli", new("sentence1", "sentence2", "label"), new("sentence1", "sentence2", null), false, ["accuracy"]),
    };

    /// <summary>CoLA's train/dev columns, which the files do not name.</summary>
    public static readonly string[] ColaColumns = ["source", "label", "original_label", "sentence"];

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sst2"] = "sst-2", ["stsb"] = "sts-b", ["mnli-m"] = "mnli", ["mnli-matched"] = "mnli", ["mnli-mismatched"] = "mnli-mm",
    };

    public static GlueTask Get(string name) =>
        All.TryGetValue(Aliases.GetValueOrDefault(name, name), out var task) ? task
            : throw new ArgumentException($"unknown GLUE task '{name}'; known: {string.Join(", ", All.Keys)}");

    /// <summary>Reads one split ("train", "dev" or "test") from a GLUE task folder.</summary>
    public List<LabeledExample> Read(string folder, string split, ReadReport report)
    {
        var file = split switch { "train" => "train.tsv", "dev" => DevFile, "test" => TestFile,
            _ => throw new ArgumentException($"unknown split '{split}'") };
        var path = Path.Combine(folder, file);
        if (!File.Exists(path)) throw new FileNotFoundException($"GLUE {Name}: {path} not found (expected the task's folder from the " +
            "GLUE distribution)", path);
        var labelled = split != "test";
        var headerless = HeaderlessTrainDev && labelled;
        return TaskFileReader.Read(path, labelled ? Columns : TestColumns, labelled, report, SkipMalformed && split == "train",
            hasHeader: !headerless, headerless: headerless ? ColaColumns : null);
    }
}
