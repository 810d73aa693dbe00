using System.Globalization;

namespace HybridBert.FineTuning;

/// <summary>Where a task's files are and how to read them; what <c>--task</c>, <c>--data-dir</c>, <c>--train</c> … say.</summary>
public sealed record TaskSpec
{
    /// <summary><c>sentiment-sentences</c> (embedded), <c>imdb</c>, <c>spam-assassin</c>, <c>glue/NAME</c>, or null for files.</summary>
    public string? Name { get; init; }
    public string? DataDir { get; init; }
    public string? Train { get; init; }
    public string? Dev { get; init; }
    public string? Test { get; init; }
    public ColumnSpec Columns { get; init; } = new("text", null, "label");
    public bool Regression { get; init; }
    public string? CacheRoot { get; init; }
    /// <summary>With --train and no --dev: hold out this share of the training file as dev (a seeded split, the
    /// same every run); null = a dev file is required.</summary>
    public double? DevFraction { get; init; }
    /// <summary>Score at most this many dev and test examples (the first N of each file); null = all.</summary>
    public int? MaxEvalExamples { get; init; }
    /// <summary>Score no test split even where the task has one (the main job judges on dev and saves the time).</summary>
    public bool NoTest { get; init; }

    /// <summary>Whether this is token classification: a tagged data set (brown-pos, brown) or a --train file in CoNLL layout
    /// (.conll, .iob, .bio, .iob2, .iobes) or .jsonl whose first object has "tokens".</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsTagged =>
        (Name is { } name && DownstreamDatasets.All.Any(d => d.Tagged && d.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
        || TaggedFiles.IsTaggedFile(Train);
}

/// <summary>A loaded task: examples per split, the label vocabulary (from training data), its metrics.</summary>
public sealed class TaskData
{
    public required string Name { get; init; }
    public required bool Regression { get; init; }
    /// <summary>Class names in id order; empty for regression.</summary>
    public required IReadOnlyList<string> Labels { get; init; }
    public required IReadOnlyList<string> Metrics { get; init; }
    public required List<LabeledExample> Train { get; init; }
    public required List<LabeledExample> Dev { get; init; }
    public List<LabeledExample>? Test { get; init; }
    public required ReadReport Report { get; init; }

    public int Outputs => Regression ? 1 : Labels.Count;

    public static TaskData Load(TaskSpec spec)
    {
        var report = new ReadReport();
        List<LabeledExample> train, dev;
        List<LabeledExample>? test = null;
        string name;
        var regression = spec.Regression;
        IReadOnlyList<string>? metrics = null;

        if (spec.Name is { } n && n.StartsWith("glue/", StringComparison.OrdinalIgnoreCase))
        {
            var glue = GlueTask.Get(n[5..]);
            var folder = spec.DataDir ?? throw new ArgumentException($"--task {n} needs --data-dir: the task's folder from the GLUE distribution");
            (name, regression, metrics) = ("glue/" + glue.Name, glue.Regression, glue.Metrics);
            train = glue.Read(folder, "train", report);
            dev = glue.Read(folder, "dev", report);
            // GLUE's test labels are hidden; a labelled test file given explicitly is evaluated.
            if (spec.Test is { } t) test = TaskFileReader.Read(t, glue.Columns, true, report);
        }
        else if (spec.Name is { } dataset)
        {
            var folder = dataset.Equals("sentiment-sentences", StringComparison.OrdinalIgnoreCase) &&
                !DownstreamDatasets.IsReady(dataset, spec.CacheRoot)
                ? DownstreamDatasets.EmbeddedSentiment(spec.CacheRoot)
                : DownstreamDatasets.IsReady(dataset, spec.CacheRoot) ? DownstreamDatasets.Folder(dataset, spec.CacheRoot)
                : throw new FileNotFoundException($"Data set '{DownstreamDatasets.Get(dataset).Name}' is not in the cache " +
                    $"({DownstreamDatasets.Folder(dataset, spec.CacheRoot)}): run `hybridbert datasets fetch {dataset}` first");
            name = DownstreamDatasets.Get(dataset).Name;
            var columns = new ColumnSpec("text", null, "label");
            train = TaskFileReader.Read(Path.Combine(folder, "train.tsv"), columns, true, report);
            dev = TaskFileReader.Read(Path.Combine(folder, "dev.tsv"), columns, true, report);
            var testPath = Path.Combine(folder, "test.tsv");
            if (File.Exists(testPath)) test = TaskFileReader.Read(testPath, columns, true, report);
        }
        else
        {
            if (spec.Train is null || (spec.Dev is null && spec.DevFraction is null))
                throw new ArgumentException("give --task NAME, or a --train file with --dev FILE or --dev-fraction (e.g. 0.1)");
            if (spec.Dev is not null && spec.DevFraction is not null) throw new ArgumentException("give --dev or --dev-fraction, not both");
            name = Path.GetFileNameWithoutExtension(spec.Train);
            train = TaskFileReader.Read(spec.Train, spec.Columns, true, report);
            if (spec.DevFraction is { } fraction)
            {
                if (fraction is <= 0 or >= 1) throw new ArgumentException($"--dev-fraction must be in (0, 1) (got {fraction})");
                (train, dev) = HoldOut(train, fraction);
            }
            else
            {
                dev = TaskFileReader.Read(spec.Dev!, spec.Columns, true, report);
            }
            if (spec.Test is { } t) test = TaskFileReader.Read(t, spec.Columns, true, report);
        }
        if (spec.MaxEvalExamples is { } cap)
        {
            if (cap < 1) throw new ArgumentException($"--max-eval-examples must be >= 1 (got {cap})");
            if (dev.Count > cap) dev = dev[..cap];
            if (test is not null && test.Count > cap) test = test[..cap];
        }
        if (train.Count == 0) throw new InvalidDataException($"{name}: the training file has no usable examples");
        if (dev.Count == 0) throw new InvalidDataException($"{name}: the dev file has no usable examples");

        var labels = regression ? [] : LabelVocabulary(train);
        foreach (var e in dev.Concat(test ?? []).Concat(train)) CheckLabel(e, labels, regression);
        metrics ??= regression ? ["pearson", "spearman"] : ["accuracy"];   // what the score (model selection) averages; all metrics are reported
        return new TaskData { Name = name, Regression = regression, Labels = labels, Metrics = metrics, Train = train, Dev = dev,
            Test = test, Report = report };
    }

    /// <summary>A seeded shuffle (seed 13, the same every run and process) and the first <paramref name="fraction"/> as dev,
    /// at least one example each side; the training examples keep their file order.</summary>
    public static (List<LabeledExample> Train, List<LabeledExample> Dev) HoldOut(List<LabeledExample> examples, double fraction)
    {
        if (examples.Count < 2) throw new InvalidDataException($"--dev-fraction needs at least 2 training examples (got {examples.Count})");
        var order = Enumerable.Range(0, examples.Count).ToArray();
        new Random(13).Shuffle(order);
        var devCount = Math.Clamp((int)Math.Round(fraction * examples.Count), 1, examples.Count - 1);
        var devRows = order[..devCount].ToHashSet();
        return (examples.Where((_, i) => !devRows.Contains(i)).ToList(), order[..devCount].Order().Select(i => examples[i]).ToList());
    }

    /// <summary>The distinct training labels, numerically ordered when they are all integers ("0", "1"), else ordinally.</summary>
    public static List<string> LabelVocabulary(IEnumerable<LabeledExample> train)
    {
        var distinct = train.Select(e => e.Label!).Distinct().ToList();
        return distinct.All(l => long.TryParse(l, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
            ? distinct.OrderBy(l => long.Parse(l, CultureInfo.InvariantCulture)).ToList()
            : distinct.Order(StringComparer.Ordinal).ToList();
    }

    private static void CheckLabel(LabeledExample e, IReadOnlyList<string> labels, bool regression)
    {
        if (e.Label is null) throw new InvalidDataException($"{e.Source}:{e.Line}: no label");
        if (regression)
        {
            if (!double.TryParse(e.Label, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                throw new InvalidDataException($"{e.Source}:{e.Line}: the label '{e.Label}' is not a number (regression task)");
        }
        else if (!labels.Contains(e.Label))
        {
            throw new InvalidDataException($"{e.Source}:{e.Line}: the label '{e.Label}' never appears in the training data (labels: " +
                $"{string.Join(", ", labels)})");
        }
    }

    /// <summary>The class id of a label, or the regression target.</summary>
    public float Target(LabeledExample e) =>
        Regression ? float.Parse(e.Label!, CultureInfo.InvariantCulture) : Labels.IndexOf(e.Label!);
}

internal static class ListExtensions
{
    public static int IndexOf(this IReadOnlyList<string> list, string value)
    {
        for (var i = 0; i < list.Count; i++) if (list[i] == value) return i;
        return -1;
    }
}
