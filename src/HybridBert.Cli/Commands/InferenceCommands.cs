using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HybridBert.FineTuning;
using HybridBert.Inference;
using Spectre.Console;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert fill-mask</c> and <c>hybridbert embed</c>, on the library's inference core.</summary>
internal static class InferenceCommands
{
    private static Option<string> ModelOption() =>
        new("--model") { Required = true,
            Description = "The model: " + CommonOptions.ModelHelp };

    public static Command FillMaskCommand()
    {
        var model = ModelOption();
        var texts = new Argument<string[]>("text") { Description = "Texts with one or more [MASK]", Arity = ArgumentArity.OneOrMore };
        var topK = new Option<int>("--top-k") { DefaultValueFactory = _ => 5, Description = "Candidates per [MASK]" };
        var json = new Option<bool>("--json") { Description = "Print Hugging Face's pipeline output (score, token, token_str, sequence) as JSON" };
        var device = CommonOptions.Device("cpu");
        var command = new Command("fill-mask", "The most likely tokens for each [MASK] of a text") { texts, model, topK, json, device };
        var runtime = new RuntimeOptions();
        runtime.AddTo(command);
        command.SetAction(p => CliErrors.Run(() =>
        {
            if (p.GetValue(topK) < 1) throw new ArgumentException($"--top-k must be >= 1 (got {p.GetValue(topK)})");
            using var m = runtime.Load(p, p.GetValue(model)!.ModelPath(), device);
            var inputs = p.GetValue(texts)!;
            var results = new FillMask(m).Predict(inputs, p.GetValue(topK));
            if (p.GetValue(json))
            {
                foreach (var perText in results)
                {
                    var shaped =
                        perText.Select(mask =>
                        mask.Select(c => new { score = c.Score, token = c.Token, token_str = c.TokenStr, sequence = c.Sequence }).ToList()).ToList();
                    Console.WriteLine(perText.Count == 1 ? JsonSerializer.Serialize(shaped[0]) : JsonSerializer.Serialize(shaped));
                }
                return;
            }
            for (var i = 0; i < inputs.Length; i++)
                for (var mIndex = 0; mIndex < results[i].Count; mIndex++)
                {
                    var table = new Table().Title(Markup.Escape($"{inputs[i]}" + (results[i].Count > 1 ? $" — [MASK] {mIndex + 1}" : "")))
                        .AddColumn("token").AddColumn(new TableColumn("score").RightAligned()).AddColumn("sequence");
                    foreach (var c in results[i][mIndex]) table.AddRow(Markup.Escape(c.TokenStr),
                        c.Score.ToString("F4", CultureInfo.InvariantCulture), Markup.Escape(c.Sequence));
                    AnsiConsole.Write(table);
                }
        }));
        return command;
    }

    public static Command TagCommand()
    {
        var model = new Option<string>("--model") { Required = true,
            Description = "A token classifier: a seed-N folder of finetune --task-type token (or its fine-tuning folder, or a Hub id), or the " +
                          "ONNX model folder export onnx wrote of one (with --runtime onnx)" };
        var texts = new Argument<string[]>("text") { Description = "Texts to tag (or --input)", Arity = ArgumentArity.ZeroOrMore };
        var input = new Option<FileInfo?>("--input") { Description = "A .txt file, one text per line; one JSON array per line is printed" };
        var aggregation = CommonOptions.Choice("--aggregation",
            "Hugging Face's aggregation_strategy: none (each word piece), simple (pieces grouped into entities), first, average or max " +
            "(each word decided by its first piece, its pieces' mean, or its best piece, then grouped)", Aggregation.Simple);
        var device = CommonOptions.Device("cpu");
        var command = new Command("tag", "Tag the words of texts with a token classifier (part of speech, named entities), as Hugging Face's " +
                                         "token-classification pipeline answers: entity or entity_group, score, word, start, end")
        {
            texts, model, input, aggregation, device,
        };
        var runtime = new RuntimeOptions();
        runtime.AddTo(command);
        command.SetAction(p => CliErrors.Run(cancel =>
        {
            var lines = p.GetValue(input) is { } file ? TaskFileReader.ReadPlainLines(file.FullName, new ReadReport()).Select(e => e.Text).ToList()
                : p.GetValue(texts) is { Length: > 0 } given ? given.ToList()
                : throw new ArgumentException("give texts to tag, or --input FILE");
            var strategy = CommonOptions.Parse<Aggregation>(p.GetValue(aggregation)!);
            using var m = runtime.Load(p, p.GetValue(model)!.ModelPath(), device);
            m.Require(InferenceTask.Tag);
            var tagger = m.Tagger!;
            foreach (var text in lines)
                Console.WriteLine(JsonSerializer.Serialize(tagger.Predict(text, strategy, cancel), TokenPredictionJson));
        }));
        return command;
    }

    /// <summary>The pipeline's fields, snake_case, without the ones an aggregation leaves out.</summary>
    private static readonly JsonSerializerOptions TokenPredictionJson = new(IO.JsonFiles.Lines)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static Command EmbedCommand()
    {
        var model = ModelOption();
        var input = new Option<FileInfo>("--input") { Required = true,
            Description = "Texts: .txt (one per line), .jsonl, .tsv or .csv (the --text-field column)" };
        var textField = CommonOptions.TextField();
        var output = new Option<FileInfo>("--out") { Required = true,
            Description = "vectors.jsonl (one {\"line\", \"embedding\"} per text) or vectors.npy (float32 [texts, hidden]); written atomically" };
        var pooling = new Option<string?>("--pooling")
        {
            Description = "mean (of the real tokens) or cls [default: the model's own (a sentence-transformers modules.json), else mean]",
        };
        var noNormalize = new Option<bool>("--no-normalize") { Description = "Keep the raw vectors instead of L2-normalising them" };
        var truncate =
            new Option<bool>("--truncate") { Description = "Cut texts longer than the model's maximum instead of refusing them (naming the line)" };
        var chunk = new Option<int>("--chunk") { DefaultValueFactory = _ => 1024, Description = "Texts embedded per step of the progress bar" };
        var device = CommonOptions.Device("cpu");
        var command = new Command("embed", "Sentence embeddings of a file of texts") { model, input, textField, output, pooling,
            noNormalize, truncate, chunk, device };
        var runtime = new RuntimeOptions();
        runtime.AddTo(command);
        command.SetAction(p => CliErrors.Run(cancel =>
        {
            if (p.GetValue(chunk) < 1) throw new ArgumentException($"--chunk must be >= 1 (got {p.GetValue(chunk)})");
            Pooling? requested = p.GetValue(pooling) is { } named ? CommonOptions.Parse<Pooling>(named) : null;
            var outPath = p.GetValue(output)!.FullName;
            var npy = outPath.EndsWith(".npy", StringComparison.OrdinalIgnoreCase);
            if (!npy &&
                !outPath.EndsWith(".jsonl",
                StringComparison.OrdinalIgnoreCase)) throw new ArgumentException($"--out must end in .jsonl or .npy (got {outPath})");
            var path = p.GetValue(input)!.FullName;
            var report = new ReadReport();
            var examples = TaskFileReader.Read(path, new ColumnSpec(p.GetValue(textField)!, null, null), false, report);
            foreach (var w in report.Warnings) Console.Error.WriteLine($"warning: {w}");
            if (report.EmptyTexts > 0)
                Console.Error.WriteLine($"warning: {path}: {CommonOptions.Plural(report.EmptyTexts, "empty line")} skipped" + (npy
                    ? $": row i of {Path.GetFileName(outPath)} is the i-th non-empty line, not line i (a .jsonl output names each vector's line)"
                    : " (each vector's \"line\" is its line in the file)"));
            if (examples.Count == 0) throw new InvalidDataException($"{path}: no texts to embed ({report.Rows} rows)");

            using var m = runtime.Load(p, p.GetValue(model)!.ModelPath(), device);
            var embedder = new Embedder(m);
            var pool = m.PoolingFor(requested);
            var width = m.Config.HiddenSize;
            // Streamed: each chunk's vectors go to the temporary file as they are made; the file appears when complete.
            IO.AtomicFile.Write(outPath, temp =>
            {
                using var npyWriter = npy ? new Interop.NpyFile.Writer(temp, examples.Count, width) : null;
                using var jsonWriter = npy ? null : new StreamWriter(temp, false, new System.Text.UTF8Encoding(false));
                AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                    new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var bar = ctx.AddTask($"embedding {examples.Count:N0} texts", maxValue: examples.Count);
                        foreach (var part in examples.Chunk(p.GetValue(chunk)))
                        {
                            cancel.ThrowIfCancellationRequested();
                            List<HybridBert.Text.EncodedText> rows;
                            try
                            {
                                rows = m.Encode(part.Select(e => e.Text).ToList(), p.GetValue(truncate));
                            }
                            catch (InputTooLongException e) when (e.Index is { } i)
                            {
                                throw new InvalidDataException($"{part[i].Source}:{part[i].Line}: the text is {e.Length} tokens long, " +
                                    $"more than the model's maximum of {e.Maximum} — give --truncate to cut it");
                            }
                            var vectors = embedder.Embed(rows, pool, !p.GetValue(noNormalize), cancel);
                            for (var k = 0; k < part.Length; k++)
                            {
                                if (npyWriter is not null) npyWriter.Append(vectors[k]);
                                else jsonWriter!.WriteLine(JsonSerializer.Serialize(new { line = part[k].Line, embedding = vectors[k] }));
                            }
                            bar.Increment(part.Length);
                        }
                    });
                npyWriter?.Finish();
            });
            Console.WriteLine($"{examples.Count} vectors of {width} ({pool.ToString().ToLowerInvariant()} " +
                $"pooling{(p.GetValue(noNormalize) ? "" : ", L2-normalised")}) -> {outPath}");
        }));
        return command;
    }
}
