using System.CommandLine;
using HybridBert.Benchmarks;
using HybridBert.Data;
using HybridBert.Text;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert bench text</c>: tokenizer throughput and shard build time.</summary>
internal static class BenchCommand
{
    public static Command Build()
    {
        var corpus = new Option<string[]>("--corpus") { Description = "Corpus to measure on (default: the embedded corpus)", AllowMultipleArgumentsPerToken = true };
        var vocab = new Option<FileInfo?>("--vocab") { Description = "vocab.txt (default: the embedded vocabulary)" };
        var repeats = new Option<int>("--repeats") { Description = "Runs per measurement; the best is reported", DefaultValueFactory = _ => 3 };
        var text = new Command("text", "Tokenization throughput (MB/s, tokens/s) and data prepare time") { corpus, vocab, repeats };
        text.SetAction(parse => CliErrors.Run(() =>
        {
            var vocabulary = parse.GetValue(vocab) is { } v ? Vocabulary.Load(v.FullName) : EmbeddedData.Vocabulary();
            var r = TextBenchmark.Run(CommonOptions.Sources(parse.GetValue(corpus)), vocabulary, parse.GetValue(repeats));
            Console.WriteLine($"tokenize (1 thread): {r.Megabytes:F1} MB, {r.Tokens:N0} tokens in {r.TokenizeSeconds:F2} s = {r.TokenizeMegabytesPerSecond:F1} MB/s, {r.TokensPerSecond / 1e6:F2} M tokens/s");
            Console.WriteLine($"data prepare, seq 128: {r.PrepareSecondsOneWorker:F2} s with 1 worker, {r.PrepareSecondsAllWorkers:F2} s with {r.Workers} workers");
        }));
        return new Command("bench", "Benchmarks that print figures") { text };
    }
}
