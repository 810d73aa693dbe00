using System.CommandLine;
using System.Text.Json;
using HybridBert.Benchmarks;
using HybridBert.Data;
using HybridBert.Text;
using HybridBert.Training;
using Spectre.Console;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert bench</c> (model speed and memory), <c>bench text</c> (tokenizer) and <c>bench serve</c> (the server under load).</summary>
internal static class BenchCommand
{
    public static Command Build()
    {
        var d = BenchSpec.Defaults;
        var preset = new Option<string>("--preset") { DefaultValueFactory = _ => d.Preset, Description = "Model size" };
        var patterns = new Option<string>("--patterns",
            "--pattern") { DefaultValueFactory = _ => string.Join(',', BenchSpec.DefaultPatterns),
            Description = $"Comma-separated patterns to compare: {CommonOptions.PatternHelp}" };
        var seqs = new Option<string>("--seq") { DefaultValueFactory = _ => string.Join(',', BenchSpec.DefaultSeqs),
            Description = "Comma-separated sequence lengths" };
        var batch =
            new Option<int?>("--batch") { Description = $"Sequences per step [default: {BenchSpec.DefaultTokensPerStep} tokens' worth, at least 1]" };
        var precision = CommonOptions.Choice("--precision", "fp32, or bf16 (fp32 master weights)", d.Precision);
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => d.Threads, Description = "libtorch threads per run" };
        var device = CommonOptions.Device(d.Device);
        var dropout = new Option<double?>("--dropout") { Description = "Hidden and attention dropout [default: the preset's 0.1, as BERT]" };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => d.Steps, Description = "Timed steps per run" };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => d.Warmup, Description = "Untimed steps first" };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => d.Rounds,
            Description = "Repeat the whole A B C sequence this many times (interleaved), then combine" };
        var mode = new Option<string>("--mode") { DefaultValueFactory = _ => string.Join(',', BenchSpec.DefaultModes).ToLowerInvariant(),
            Description = "train, infer (TorchSharp forward), onnx (the same encoder in ONNX Runtime), onnx-int8 (its int8 graph); comma-separated" };
        var head = CommonOptions.Choice("--head", "MLM head over masked positions only (sparse) or all tokens (full)", d.Head);
        var maskRate = new Option<double>("--mask-rate") { DefaultValueFactory = _ => d.MaskRate,
            Description = "Share of tokens masked (sets the sparse MLM head's size)" };
        var vocabSize = new Option<int?>("--vocab-size") { Description = "Default: the embedded vocabulary's size" };
        var json = new Option<bool>("--json") { Description = "One JSON object per line on stdout instead of the table" };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Also write results.csv, results.jsonl and PNG plots here" };
        var timeout = new Option<int>("--timeout") { DefaultValueFactory = _ => BenchSpec.DefaultTimeoutSeconds,
            Description = "Seconds per child run" };
        var trimEvery = new Option<int>("--trim-every") { DefaultValueFactory = _ => d.TrimEvery,
            Description =
            "Training: return freed memory to the OS every N steps (0 = never): less memory, slower steps. Inference never trims, as predict does" };
        var saveMemory = new Option<bool>("--save-memory") { Description = "Training: keep less for backward (as pretrain --save-memory)" };
        var worker = new Option<string?>("--worker") { Hidden = true };

        var bench = new Command("bench", "Speed and peak memory of training steps and inference, each configuration in a fresh process")
        {
            preset, patterns, seqs, batch, precision, threads, device, dropout, steps, warmup, rounds, mode, head, maskRate, vocabSize,
                trimEvery, saveMemory, json, output, timeout, worker,
        };
        bench.SetAction(parse => CliErrors.Run(() =>
        {
            if (parse.GetValue(worker) is { } specFile)
            {
                var spec = JsonSerializer.Deserialize<BenchSpec>(File.ReadAllText(specFile), IO.JsonFiles.Lines)!;
                Console.WriteLine(JsonSerializer.Serialize(ModelBenchmark.Measure(spec), IO.JsonFiles.Lines));
                return;
            }
            var vocab = parse.GetValue(vocabSize) ?? EmbeddedData.Vocabulary().Count;
            var patternList = Split(parse.GetValue(patterns)!);
            if (patternList.GroupBy(p => p, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw new ArgumentException($"--patterns names {twice.Key} twice; use --rounds N to repeat every configuration");
            var modes = CommonOptions.EnumList<BenchMode>(parse.GetValue(mode)!, "--mode");
            var specs = new List<BenchSpec>();
            var deviceName = CommonOptions.DeviceValue(parse, device);
            foreach (var seq in CommonOptions.IntList(parse.GetValue(seqs)!, "--seq", min: 4))
                foreach (var m in modes)
                    foreach (var p in patternList)
                        specs.Add(new BenchSpec
                        {
                            Preset = parse.GetValue(preset)!, Pattern = p, Seq = seq, Batch = parse.GetValue(batch) ?? BenchSpec.DefaultBatch(seq),
                            Precision = CommonOptions.Parse<Precision>(parse.GetValue(precision)!), Threads = parse.GetValue(threads),
                                Steps = parse.GetValue(steps),
                            Warmup = parse.GetValue(warmup), Mode = m, Head = CommonOptions.Parse<MlmHeadMode>(parse.GetValue(head)!),
                                MaskRate = parse.GetValue(maskRate), VocabSize = vocab, TrimEvery = parse.GetValue(trimEvery),
                                SaveMemory = parse.GetValue(saveMemory),
                            Device = deviceName, Rounds = parse.GetValue(rounds), Dropout = parse.GetValue(dropout),
                        }.Validate());
            foreach (var s in specs) HybridBert.Model.Presets.Build(s.Preset, s.Pattern, s.VocabSize);   // fail early on a bad name
            var asJson = parse.GetValue(json);
            var all = BenchRunner.RunRounds(specs, parse.GetValue(rounds), TimeSpan.FromSeconds(parse.GetValue(timeout)),
                asJson ? null : (round, spec) =>
                    Console.Error.Write($"\rround {round + 1}: {spec.Pattern} seq {spec.Seq} {spec.Mode}…".PadRight(60)));
            var byRound = specs.ToDictionary(s => s, s => all.Where(r => r.Spec == s).Select(r => r.Result).ToList());
            if (!asJson) Console.Error.WriteLine();
            var results = specs.Select(s => BenchRunner.Combine(byRound[s])).ToList();
            if (asJson) foreach (var r in results) Console.WriteLine(JsonSerializer.Serialize(r, IO.JsonFiles.Lines));
            else PrintTable(results);
            if (parse.GetValue(output) is { } dir)
            {
                Directory.CreateDirectory(dir.FullName);
                BenchRunner.WriteCsv(Path.Combine(dir.FullName, "results.csv"), results);
                HybridBert.IO.AtomicFile.WriteAllLines(Path.Combine(dir.FullName, "results.jsonl"),
                    results.Select(r => JsonSerializer.Serialize(r, IO.JsonFiles.Lines)));
                BenchRunner.WritePlots(dir.FullName, results);
                if (!asJson) Console.WriteLine($"wrote {dir.FullName}/results.csv, results.jsonl and plots");
            }
        }));

        var corpus = new Option<string[]>("--corpus") { Description = "Corpus to measure on [default: the embedded corpus]",
            AllowMultipleArgumentsPerToken = true };
        var vocabFile = new Option<FileInfo?>("--vocab") { Description = "vocab.txt [default: the embedded vocabulary]" };
        var repeats = new Option<int>("--repeats") { Description = "Runs per measurement; the best is reported", DefaultValueFactory = _ => 3 };
        var textField = CommonOptions.TextField();
        var text = new Command("text", "Tokenization throughput (MB/s, tokens/s) and data prepare time") { corpus, vocabFile, repeats, textField };
        text.SetAction(parse => CliErrors.Run(() =>
        {
            var vocabulary = parse.GetValue(vocabFile) is { } v ? Vocabulary.Load(v.FullName) : EmbeddedData.Vocabulary();
            var r = TextBenchmark.Run(CommonOptions.Sources(parse.GetValue(corpus)), vocabulary, parse.GetValue(repeats),
                textField: parse.GetValue(textField)!);
            Console.WriteLine($"tokenize (1 thread): {r.Megabytes:F1} MB, {r.Tokens:N0} tokens in {r.TokenizeSeconds:F2} s = " +
                $"{r.TokenizeMegabytesPerSecond:F1} MB/s, {r.TokensPerSecond / 1e6:F2} M tokens/s");
            Console.WriteLine($"FastBertTokenizer's own Encode on the same text (the anchor): {r.AnchorMegabytesPerSecond:F1} MB/s; " +
                $"ours / anchor = {r.TokenizeMegabytesPerSecond / r.AnchorMegabytesPerSecond:F2}");
            Console.WriteLine($"data prepare, seq 128: {r.PrepareSecondsOneWorker:F2} s with 1 worker, {r.PrepareSecondsAllWorkers:F2} s " +
                $"with {r.Workers} workers");
        }));
        bench.Subcommands.Add(text);
        bench.Subcommands.Add(Serve());
        bench.Subcommands.Add(Layers());
        bench.Subcommands.Add(Runtimes());
        bench.Subcommands.Add(Gemm());
        return bench;
    }

    private static string[] Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static void PrintTable(IReadOnlyList<BenchResult> results)
    {
        var table =
            new Table().AddColumn("pattern").AddColumn("mode").AddColumn(new TableColumn("seq").RightAligned())
                .AddColumn(new TableColumn("batch").RightAligned())
            .AddColumn(new TableColumn("median ms").RightAligned()).AddColumn(new TableColumn("min–max ms").RightAligned())
            .AddColumn(new TableColumn("tokens/s").RightAligned()).AddColumn(new TableColumn("peak MiB").RightAligned())
            .AddColumn(new TableColumn("params").RightAligned());
        foreach (var r in results)
        {
            if (r.Status != "ok")
            {
                table.AddRow(Markup.Escape($"{r.Pattern} ({r.LayerPattern})"), r.Mode, $"{r.Seq}", $"{r.Batch}",
                    $"[red]{Markup.Escape(r.Status)}[/]", Markup.Escape(r.Error ?? ""), "", "", "");
                continue;
            }
            table.AddRow(Markup.Escape($"{r.Pattern} ({r.LayerPattern})"), r.Mode, $"{r.Seq}", $"{r.Batch}", $"{r.MedianMs:F1}",
                $"{r.MinMs:F0}–{r.MaxMs:F0}",
                $"{r.TokensPerSecond:N0}", $"{r.PeakRssMiB:N0}", $"{r.Params:N0}");
        }
        AnsiConsole.Write(table);
    }

    private static Command Layers()
    {
        var d = LayerProfileSpec.Defaults;
        var preset = new Option<string>("--preset") { DefaultValueFactory = _ => d.Preset, Description = "Model size" };
        var seq = new Option<int>("--seq") { DefaultValueFactory = _ => d.Seq, Description = "Sequence length" };
        var batch = new Option<int?>("--batch") { Description = $"Sequences [default: {BenchSpec.DefaultTokensPerStep} tokens' worth, at least 1]" };
        var layerSaveMemory = new Option<bool>("--save-memory") { Description = "Keep less for backward (as pretrain --save-memory)" };
        var letters = new Option<string>("--letters") { DefaultValueFactory = _ => d.Letters,
            Description = $"Layer kinds to profile ({HybridBert.Model.Mixers.Legend})" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => d.Threads, Description = "libtorch threads" };
        var repeats = new Option<int>("--repeats") { DefaultValueFactory = _ => d.Repeats,
            Description = "Timed repetitions (median reported), the kinds interleaved" };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => d.Warmup, Description = "Untimed repetitions first" };
        var dropout = new Option<double?>("--dropout") { Description = "Hidden and attention dropout [default: the preset's 0.1, as BERT]" };
        var json = new Option<bool>("--json") { Description = "One JSON object per line on stdout instead of the table" };
        var command = new Command("layers",
            "Where a training step goes: forward and backward time and memory held for backward of one layer of each kind (A, P, H) and " +
            "of its mixer alone")
        {
            preset, seq, batch, letters, threads, repeats, warmup, dropout, layerSaveMemory, json,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var spec = new LayerProfileSpec
            {
                Preset = parse.GetValue(preset)!, Seq = parse.GetValue(seq), Batch = parse.GetValue(batch), Letters = parse.GetValue(letters)!,
                Threads = parse.GetValue(threads), Repeats = parse.GetValue(repeats), Warmup = parse.GetValue(warmup),
                    Dropout = parse.GetValue(dropout),
                SaveMemory = parse.GetValue(layerSaveMemory),
            }.Validate();
            var asJson = parse.GetValue(json);
            IReadOnlyList<LayerProfileRow> rows;
            try
            {
                rows = LayerProfile.Measure(spec, asJson ? null : new SynchronousProgress<string>(m => Console.Error.Write($"\r{m}".PadRight(30))));
            }
            finally
            {
                if (!asJson) Console.Error.WriteLine();   // end the progress line, also before an error message
            }
            if (asJson)
            {
                foreach (var r in rows) Console.WriteLine(JsonSerializer.Serialize(r, IO.JsonFiles.Lines));
                return;
            }
            var table = new Table().AddColumn("layer").AddColumn("part").AddColumn(new TableColumn("forward ms").RightAligned())
                .AddColumn(new TableColumn("backward ms").RightAligned()).AddColumn(new TableColumn("total ms").RightAligned())
                .AddColumn(new TableColumn("held MiB").RightAligned()).AddColumn(new TableColumn("params").RightAligned());
            foreach (var r in rows)
                table.AddRow(Markup.Escape(HybridBert.Model.Mixers.Get(r.Letter[0]).Name), r.Part, $"{r.ForwardMs:F1}", $"{r.BackwardMs:F1}",
                    $"{r.ForwardMs + r.BackwardMs:F1}", $"{r.HeldMiB:F0}", $"{r.Params:N0}");
            AnsiConsole.Write(table);
            Console.WriteLine($"{spec.Preset}, seq {spec.Seq} × batch {spec.BatchOrDefault}, {spec.Threads} threads, training mode; " +
                $"medians of {spec.Repeats}");
        }));
        return command;
    }

    private static Command Gemm()
    {
        var d = new GemmBenchSpec();
        var preset = new Option<string>("--preset") { DefaultValueFactory = _ => d.Preset, Description = "Model size whose products are timed" };
        var seq = new Option<int>("--seq") { DefaultValueFactory = _ => d.Seq, Description = "Sequence length" };
        var batch = new Option<int?>("--batch") { Description = $"Sequences [default: {BenchSpec.DefaultTokensPerStep} tokens' worth, at least 1]" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => d.Threads, Description = "Threads for libtorch and ONNX Runtime" };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => d.Rounds,
            Description = "Rounds over every product and engine, interleaved (medians reported)" };
        var repeats = new Option<int>("--repeats") { DefaultValueFactory = _ => d.Repeats, Description = "Products timed together in a round" };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => d.Warmup, Description = "Untimed products of each kind first" };
        var json = new Option<bool>("--json") { Description = "One JSON object per line on stdout instead of the table" };
        var command = new Command("gemm",
            "What this CPU's matrix products give each engine (libtorch fp32 and bf16, ONNX Runtime fp32 and int8) at a model's sizes, and the " +
            "floor their sum puts under an encoder forward")
        {
            preset, seq, batch, threads, rounds, repeats, warmup, json,
        };
        command.SetAction(parse => CliErrors.Run(cancel =>
        {
            var spec = new GemmBenchSpec
            {
                Preset = parse.GetValue(preset)!, Seq = parse.GetValue(seq), Batch = parse.GetValue(batch), Threads = parse.GetValue(threads),
                Rounds = parse.GetValue(rounds), Repeats = parse.GetValue(repeats), Warmup = parse.GetValue(warmup),
            }.Validate();
            var asJson = parse.GetValue(json);
            IReadOnlyList<GemmRow> rows;
            try
            {
                rows = GemmBenchmark.Measure(spec, asJson ? null : new SynchronousProgress<string>(m => Console.Error.Write($"\r{m}".PadRight(30))),
                    cancel);
            }
            finally
            {
                if (!asJson) Console.Error.WriteLine();   // end the progress line, also before an error message
            }
            if (asJson)
            {
                foreach (var r in rows) Console.WriteLine(JsonSerializer.Serialize(r, IO.JsonFiles.Lines));
                return;
            }
            var table = new Table().AddColumn("product").AddColumn(new TableColumn("shape").RightAligned()).AddColumn("engine")
                .AddColumn(new TableColumn("median ms").RightAligned()).AddColumn(new TableColumn("G(FL)OPS").RightAligned())
                .AddColumn(new TableColumn("× torch-fp32").RightAligned()).AddColumn(new TableColumn("max rel. error").RightAligned());
            foreach (var r in rows)
                table.AddRow(r.Kind == "forward" ? "[bold]encoder forward[/]" : r.Part,
                    r.Kind == "forward" ? $"all {rows.Where(p => p.Kind == "product" && p.Engine == r.Engine).Sum(p => p.PerForward)}"
                        : $"{r.M}×{r.K}×{r.N} (×{r.PerForward})",
                    r.Engine, $"{r.MedianMs:F2}", $"{r.Gflops:F0}", $"{r.VsTorchFp32:F2}", r.MaxRelError is { } e ? $"{e:0.0e+0}" : "");
            AnsiConsole.Write(table);
            Console.WriteLine($"{spec.Preset}, {spec.Seq} × {spec.BatchOrDefault} tokens, {spec.Threads} threads; medians of {spec.Rounds} rounds. " +
                "A forward takes at least its products' time on its engine: the forward rows bound how much faster one runtime can be.");
        }));
        return command;
    }

    private static Command Runtimes()
    {
        var model = new Option<string>("--model") { Required = true, Description = "The model: " + CommonOptions.ModelHelp };
        var data = new Option<DirectoryInfo?>("--data") { Description =
            "Prepared data whose validation split gives the rows [default: the embedded corpus, prepared on the fly with the model's vocabulary]" };
        var file = new Option<FileInfo?>("--file") { Description = "A labelled file to score a classifier on (its task's metric per runtime)" };
        var rows = new Option<int>("--rows") { DefaultValueFactory = _ => 512, Description = "Validation rows to embed and fill" };
        var json = new Option<bool>("--json") { Description = "One JSON object per runtime on stdout instead of the table" };
        var command = new Command("runtimes",
            "One model under torch, ONNX Runtime and ONNX Runtime int8: tokens/s, embeddings' cosine to torch, fill-mask top-1 agreement " +
            "with torch, a classifier's metric")
        {
            model, data, file, rows, json,
        };
        command.SetAction(parse => CliErrors.Run(cancel =>
        {
            var results = RuntimeComparison.Run(parse.GetValue(model)!.ModelPath(), parse.GetValue(data)?.FullName, parse.GetValue(file)?.FullName,
                parse.GetValue(rows), Console.Error.WriteLine, cancel);
            if (parse.GetValue(json))
            {
                foreach (var r in results) Console.WriteLine(JsonSerializer.Serialize(r, IO.JsonFiles.Lines));
                return;
            }
            var table = new Table().AddColumn("runtime").AddColumn(new TableColumn("tokens/s").RightAligned())
                .AddColumn(new TableColumn("× torch").RightAligned()).AddColumn(new TableColumn("cosine to torch: mean / min").RightAligned())
                .AddColumn(new TableColumn("fill-mask top-1 = torch").RightAligned()).AddColumn(new TableColumn("metric").RightAligned());
            foreach (var r in results)
                table.AddRow(r.Runtime, $"{r.TokensPerSecond:N0}", $"{r.TokensPerSecond / results[0].TokensPerSecond:F2}",
                    r.MeanCosine is { } mean ? $"{mean:F5} / {r.MinCosine:F5}" : "—", r.FillMaskTop1Agreement is { } a ? $"{a:P1}" : "—",
                    r.Metric is null ? "—" : $"{r.Metric} {r.MetricValue:F4}");
            Console.WriteLine($"{results[0].Rows:N0} validation rows");
            AnsiConsole.Write(table);
        }));
        return command;
    }

    private static Command Serve()
    {
        var d = new ServeBenchSpec();
        var model =
            new Option<string?>("--model") { Description =
            "The model to serve, " + CommonOptions.ModelHelp + " [default: a randomly initialised --preset model over the embedded vocabulary]" };
        var preset = new Option<string>("--preset") { DefaultValueFactory = _ => d.Preset, Description = "Model size when no --model is given" };
        var pattern = new Option<string>("--pattern") { DefaultValueFactory = _ => d.Pattern,
            Description = "Layer pattern when no --model is given" };
        var requests = new Option<int>("--requests") { DefaultValueFactory = _ => d.Requests, Description = "Requests per run" };
        var concurrency = new Option<string>("--concurrency") { DefaultValueFactory = _ => string.Join(',', d.Concurrency),
            Description = "Requests in flight, comma-separated (one run each)" };
        var tokens = new Option<int>("--input-tokens") { DefaultValueFactory = _ => d.InputTokens,
            Description = "Tokens per input, [CLS]/[SEP] included" };
        var batchedOnly = new Option<bool>("--batched-only") { Description = "Skip the comparison runs with one request per forward" };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => d.Threads, Description = "The server's libtorch threads" };
        var maxWait = new Option<int>("--max-wait-ms") { DefaultValueFactory = _ => d.MaxWaitMs, Description = "The server's --max-wait-ms" };
        var route = new Option<string>("--route") { DefaultValueFactory = _ => d.Route,
            Description = $"What each request asks: {string.Join(", ", ServeBenchSpec.Routes)} (grpc-embed: tei.v1 Embed over gRPC)" };
        var workers = new Option<int>("--tokenization-workers") { DefaultValueFactory = _ => d.TokenizationWorkers,
            Description = "The server's --tokenization-workers" };
        var warmup = new Option<double>("--warmup-seconds") { DefaultValueFactory = _ => d.WarmupSeconds,
            Description = "Seconds of load at each run's concurrency before the timed requests (not counted)" };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Also write results.jsonl here" };
        var command = new Command("serve", "The HTTP server under load on loopback: requests/s, latency percentiles, mean batch, errors and memory")
        {
            model, preset, pattern, requests, concurrency, tokens, batchedOnly, threads, maxWait, workers, route, warmup, output,
        };
        var runtime = new RuntimeOptions();
        runtime.AddTo(command);
        command.SetAction(parse => CliErrors.Run(cancel =>
        {
            var spec = new ServeBenchSpec
            {
                Model = parse.GetValue(model)?.ModelPath(), Preset = parse.GetValue(preset)!, Pattern = parse.GetValue(pattern)!,
                    Requests = parse.GetValue(requests),
                Concurrency = CommonOptions.IntList(parse.GetValue(concurrency)!, "--concurrency"), InputTokens = parse.GetValue(tokens),
                CompareUnbatched = !parse.GetValue(batchedOnly), Threads = parse.GetValue(threads), MaxWaitMs = parse.GetValue(maxWait),
                TokenizationWorkers = parse.GetValue(workers), Route = parse.GetValue(route)!, Runtime = runtime.RuntimeValue(parse),
                Quantized = parse.GetValue(runtime.Quantized), WarmupSeconds = parse.GetValue(warmup),
            };
            var work = parse.GetValue(output)?.FullName ?? Path.Combine(Path.GetTempPath(), "hybridbert-bench-serve");
            Directory.CreateDirectory(work);
            var results = ServeBenchmark.Run(spec, work, Console.Error.WriteLine, cancel);
            var table =
                new Table().AddColumn("batching").AddColumn(new TableColumn("in flight").RightAligned())
                    .AddColumn(new TableColumn("req/s").RightAligned())
                .AddColumn(new TableColumn("p50 ms").RightAligned()).AddColumn(new TableColumn("p95 ms").RightAligned())
                .AddColumn(new TableColumn("p99 ms").RightAligned())
                .AddColumn(new TableColumn("mean batch").RightAligned()).AddColumn(new TableColumn("errors / lost").RightAligned())
                .AddColumn(new TableColumn("RSS first→last 1000, peak MiB").RightAligned());
            foreach (var r in results)
                table.AddRow(r.Batching, $"{r.Concurrency}", $"{r.RequestsPerSecond:N0}", $"{r.P50Ms:F1}", $"{r.P95Ms:F1}", $"{r.P99Ms:F1}",
                    $"{r.MeanBatchRequests:F1}",
                    $"{r.Errors} / {r.Lost}", $"{r.RssFirstMiB:N0} → {r.RssLastMiB:N0}, {r.PeakRssMiB:N0}");
            Console.WriteLine($"route: {results.FirstOrDefault()?.Route}, runtime: {results.FirstOrDefault()?.Runtime}");
            AnsiConsole.Write(table);
            if (parse.GetValue(output) is { } dir)
            {
                var path = Path.Combine(dir.FullName, "results.jsonl");
                IO.AtomicFile.Write(path, temp => File.WriteAllLines(temp, results.Select(r => JsonSerializer.Serialize(r, IO.JsonFiles.Lines))));
                Console.WriteLine($"wrote {path}");
            }
        }));
        return command;
    }
}
