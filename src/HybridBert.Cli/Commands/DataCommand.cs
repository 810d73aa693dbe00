using System.CommandLine;
using System.Diagnostics;
using HybridBert.Data;
using HybridBert.Text;
using Spectre.Console;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert data prepare | verify</c>: corpus → packed token shards, and checking them.</summary>
internal static class DataCommand
{
    public static Command Build()
    {
        var corpus =
            new Option<string[]>("--corpus") { Description =
            "Corpus files or directories (.txt, .txt.gz, .jsonl[.gz]); default: the embedded corpus", AllowMultipleArgumentsPerToken = true };
        var vocab = new Option<FileInfo?>("--vocab") { Description = "WordPiece vocab.txt [default: the embedded 8192-token vocabulary]" };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per packed sequence, [CLS]/[SEP] included",
            DefaultValueFactory = _ => PrepareOptions.Defaults.SeqLen };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output directory (written elsewhere first, renamed when complete)",
            Required = true };
        var validation = new Option<double>("--validation-fraction") { Description = "Share of documents held out for validation",
            DefaultValueFactory = _ => PrepareOptions.Defaults.ValidationFraction };
        var seed = new Option<int>("--seed") { Description = "Seed for splitting and pairing: same seed, same bytes",
            DefaultValueFactory = _ => PrepareOptions.Defaults.Seed };
        var workers = new Option<int>("--workers") { Description = "Tokenization threads",
            DefaultValueFactory = _ => PrepareOptions.Defaults.Workers };
        var cased = new Option<bool>("--cased") { Description = "Keep case and accents (the vocabulary must be cased too)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing prepared directory" };
        var onInvalid = CommonOptions.OnInvalid();
        var textField = CommonOptions.TextField();

        var prepare = new Command("prepare", "Tokenize and pack a corpus into memory-mapped shards with a manifest and a validation split")
        {
            corpus, vocab, seqLen, output, validation, seed, workers, cased, overwrite, onInvalid, textField,
        };
        prepare.SetAction(parse => CliErrors.Run(cancel =>
        {
            var sources = CommonOptions.Sources(parse.GetValue(corpus));
            var vocabulary = parse.GetValue(vocab) is { } v ? Vocabulary.Load(v.FullName) : EmbeddedData.Vocabulary();
            var options = new PrepareOptions
            {
                SeqLen = parse.GetValue(seqLen), ValidationFraction = parse.GetValue(validation), Seed = parse.GetValue(seed),
                Workers = parse.GetValue(workers), Lowercase = !parse.GetValue(cased),
                    OnInvalid = CommonOptions.Parse<InvalidUtf8Policy>(parse.GetValue(onInvalid)!),
                Overwrite = parse.GetValue(overwrite), TextField = parse.GetValue(textField)!,
            };
            var outDir = parse.GetValue(output)!.FullName;
            var stopwatch = Stopwatch.StartNew();
            ShardManifest manifest = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(),
                    new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("tokenizing and packing", maxValue: Math.Max(1, sources.Sum(s => s.Length)));
                    manifest = DataPreparation.Run(sources, vocabulary, outDir, options,
                        new SynchronousProgress<PrepareProgress>(p =>
                        {
                            task.Value = p.RawBytes;
                            task.Description = $"tokenizing and packing: {p.Sequences:N0} sequences";
                        }), cancel, message => AnsiConsole.MarkupLine(Markup.Escape(message)));
                    task.Value = task.MaxValue;
                });
            var seconds = stopwatch.Elapsed.TotalSeconds;
            foreach (var w in manifest.Warnings) Console.Error.WriteLine($"warning: {w}");
            var table = new Table().AddColumn("split").AddColumn(new TableColumn("documents").RightAligned())
                .AddColumn(new TableColumn("sequences").RightAligned()).AddColumn(new TableColumn("tokens").RightAligned())
                .AddColumn(new TableColumn("shards").RightAligned());
            foreach (var (name, split) in manifest.Splits)
                table.AddRow(name, $"{split.Documents:N0}", $"{split.Sequences:N0}", $"{split.Tokens:N0}", $"{split.Shards.Count}");
            AnsiConsole.Write(table);
            var mb = manifest.Stats["bytes_read"] / 1e6;
            Console.WriteLine($"{mb:F1} MB of text in {seconds:F1} s ({mb / seconds:F1} MB/s, " +
                $"{manifest.Splits.Values.Sum(s => s.Tokens) / seconds / 1e6:F2} M tokens/s) -> {outDir}");
        }));

        var directory = new Argument<DirectoryInfo>("dir") { Description = "A prepared data directory" };
        var verify = new Command("verify", "Check every shard's size and SHA-256 against the manifest") { directory };
        verify.SetAction(parse => CliErrors.Run(() =>
        {
            var dir = parse.GetValue(directory)!.FullName;
            var manifest = ShardManifest.Load(dir);
            foreach (var split in manifest.Splits.Keys)
            {
                using var dataset = ShardDataset.Open(dir, split);
                dataset.VerifyHashes();
                Console.WriteLine($"{split}: {dataset.Count:N0} sequences, " +
                    $"{CommonOptions.Plural(manifest.Splits[split].Shards.Count, "shard")}, hashes match");
            }
        }));

        return new Command("data", "Prepare pre-training data") { prepare, verify };
    }
}
