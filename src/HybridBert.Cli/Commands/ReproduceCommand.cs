using System.CommandLine;
using HybridBert.Benchmarks;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert reproduce</c>: the paper's comparisons at small scale, end to end, into report.md.</summary>
internal static class ReproduceCommand
{
    public static Command Build()
    {
        var budget = new Option<string>("--budget") { DefaultValueFactory = _ => "default", Description = "smoke (<3 min, tiny model), default (~20 min on 2 cores), long (hours)" };
        var output = new Option<DirectoryInfo>("--out") { DefaultValueFactory = _ => new DirectoryInfo("runs/reproduce"), Description = "Report folder: report.md, plots, raw metrics" };
        var task = new Option<string[]>("--task") { Description = "More downstream tasks besides the embedded one (e.g. imdb after `datasets fetch imdb`)", AllowMultipleArgumentsPerToken = true };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run: finished stages are kept" };
        var command = new Command("reproduce", "Pre-train BERT, HybridBERT variants, PoNet and BERT±DropMask with one budget, fine-tune each, and write report.md")
        {
            budget, output, task, threads, resume,
        };
        command.SetAction(p => CliErrors.Run(cancel =>
        {
            var b = ReproduceBudget.Get(p.GetValue(budget)!);
            var outDir = p.GetValue(output)!.FullName;
            Console.WriteLine($"reproduce, budget {b.Name}: {b.Preset} model, {b.Steps} pre-training steps × 10 arms, fine-tuning × {b.FineTuneSeeds.Length} seeds -> {outDir}");
            new Reproduction(b, outDir, p.GetValue(task) ?? [], p.GetValue(threads), p.GetValue(resume), Console.WriteLine).Run(cancel);
        }));
        return command;
    }
}
