using System.CommandLine;
using System.Diagnostics;
using HybridBert.Data;
using HybridBert.Text;
using Spectre.Console;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert tokenizer train</c>: learn a WordPiece vocabulary from a corpus.</summary>
internal static class TokenizerCommand
{
    public static Command Build()
    {
        var corpus =
            new Option<string[]>("--corpus") { Description =
            "Corpus files or directories (.txt, .txt.gz, .jsonl); default: the embedded corpus", AllowMultipleArgumentsPerToken = true };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Vocabulary size, special tokens included",
            DefaultValueFactory = _ => new WordPieceTrainerOptions().VocabSize };
        var minFrequency = new Option<int>("--min-frequency") { Description = "Never merge a pair seen fewer times",
            DefaultValueFactory = _ => new WordPieceTrainerOptions().MinFrequency };
        var limitAlphabet = new Option<int?>("--limit-alphabet") { Description = "Keep only this many most frequent characters [default: all]" };
        var cased = new Option<bool>("--cased") { Description = "Keep case and accents (without it: uncased, as bert-base-uncased)" };
        var onInvalid = CommonOptions.OnInvalid();
        var textField = CommonOptions.TextField();
        var output = new Option<FileInfo>("--out") { Description = "Where to write vocab.txt", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing --out file" };

        var train = new Command("train", "Learn a WordPiece vocabulary (Hugging Face's WordPiece trainer algorithm)")
        {
            corpus, vocabSize, minFrequency, limitAlphabet, cased, onInvalid, textField, output, overwrite,
        };
        train.SetAction(parse => CliErrors.Run(() =>
        {
            var path = parse.GetValue(output)!.FullName;
            using var outLock = IO.PathLock.Acquire(path);
            if (File.Exists(path) && !parse.GetValue(overwrite)) throw new IO.OutputExistsException(path, "a file", resumable: false);
            var jsonPath = Interop.TokenizerFiles.JsonBeside(path);
            if (File.Exists(jsonPath) && !parse.GetValue(overwrite)) throw new IO.OutputExistsException(jsonPath, "a file", resumable: false);
            var options = new WordPieceTrainerOptions
            {
                VocabSize = parse.GetValue(vocabSize), MinFrequency = parse.GetValue(minFrequency), LimitAlphabet = parse.GetValue(limitAlphabet),
            }.Validate();
            var sources = CommonOptions.Sources(parse.GetValue(corpus));
            var stopwatch = Stopwatch.StartNew();
            VocabularyTraining.Result result = null!;
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var counting = ctx.AddTask("counting words", maxValue: 1);
                    var merging = ctx.AddTask("learning merges", maxValue: 1);
                    result = VocabularyTraining.Run(sources, options, !parse.GetValue(cased),
                        CommonOptions.Parse<InvalidUtf8Policy>(parse.GetValue(onInvalid)!),
                        new SynchronousProgress<(string Stage, double Fraction)>(
                            p => (p.Stage == "counting words" ? counting : merging).Value = p.Fraction),
                            parse.GetValue(textField)!);
                    counting.Value = merging.Value = 1;
                });
            result.Vocabulary.Save(path);   // atomically
            IO.AtomicFile.WriteAllText(jsonPath, Interop.TokenizerFiles.TokenizerJson(result.Vocabulary, !parse.GetValue(cased)));
            CommonOptions.PrintCorpusStats(result.Corpus);
            Console.WriteLine($"{result.Vocabulary.Count} tokens from {result.Words:N0} words ({result.DistinctWords:N0} distinct) in " +
                $"{stopwatch.Elapsed.TotalSeconds:F1} s -> {path}, {jsonPath}");
            if (result.Vocabulary.Count < options.VocabSize)
                Console.WriteLine($"note: stopped at {result.Vocabulary.Count} < {options.VocabSize}: no pair left with frequency >= " +
                    $"{options.MinFrequency}");
        }));
        return new Command("tokenizer", "Train WordPiece vocabularies") { train };
    }
}
