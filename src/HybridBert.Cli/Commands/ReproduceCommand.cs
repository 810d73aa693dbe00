using System.CommandLine;
using HybridBert.Benchmarks;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert reproduce</c>: the paper's comparisons at small scale, end to end, into report.md.</summary>
internal static class ReproduceCommand
{
    public static Command Build()
    {
        var budget = new Option<string>("--budget")
        {
            DefaultValueFactory = _ => "default",
            Description =
                $"smoke ({ReproduceBudget.Smoke.ExpectedTime}, a pipeline check), default ({ReproduceBudget.Default.ExpectedTime} on 2 " +
                $"cores: the claim-carrying arms, 2 seeds), long ({ReproduceBudget.Long.ExpectedTime}: all ten arms, 3 seeds)",
        };
        var output = new Option<DirectoryInfo>("--out") { DefaultValueFactory = _ => new DirectoryInfo("runs/reproduce"),
            Description = "Report folder: report.md, plots, raw metrics" };
        var task = new Option<string[]>("--task") { Description =
            "More downstream tasks besides the embedded one (e.g. imdb after `datasets fetch imdb`)", AllowMultipleArgumentsPerToken = true };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount,
            Description = "libtorch threads in all (shared by the --jobs children)" };
        var jobs = new Option<int>("--jobs")
        {
            DefaultValueFactory = _ => Math.Min(2, Environment.ProcessorCount),
            Description =
                "Child runs at once, sharing --threads (2 runs × 1 thread do ~1.3× the work of 1 × 2 on 2 cores; per-run speed then is " +
                "not comparable, the bench stage is)",
        };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run: finished stages are kept" };
        var command = new Command("reproduce",
            "Pre-train BERT, HybridBERT variants, PoNet and BERT±DropMask with one budget, fine-tune each, and write report.md")
        {
            budget, output, task, threads, jobs, resume,
        };
        command.SetAction(p => CliErrors.Run(cancel =>
        {
            var b = ReproduceBudget.Get(p.GetValue(budget)!);
            var outDir = p.GetValue(output)!.FullName;
            if (p.GetResult(budget) is null or { Implicit: true })
                Console.WriteLine($"no --budget given: running the default budget, a {b.ExpectedTime} job on 2 cores (--budget smoke " +
                    $"checks the pipeline in {ReproduceBudget.Smoke.ExpectedTime})");
            Console.WriteLine($"reproduce, budget {b.Name} ({b.ExpectedTime} on 2 cores): {b.Preset} model, {b.Steps} pre-training steps " +
                $"× {CommonOptions.Plural(b.Arms.Count, "arm")} × {CommonOptions.Plural(b.PretrainSeeds.Count, "seed")}, " +
                              $"fine-tuning × {CommonOptions.Plural(b.FineTuneSeeds.Count, "seed")} each -> {outDir}");
            if (p.GetValue(jobs) < 1 ||
                p.GetValue(threads) < 1) throw new ArgumentException($"--jobs and --threads must be >= 1 (got {p.GetValue(jobs)}, " +
                $"{p.GetValue(threads)})");
            new Reproduction(b, outDir, p.GetValue(task) ?? [], p.GetValue(threads), p.GetValue(resume), Console.WriteLine,
                p.GetValue(jobs)).Run(cancel);
        }));
        return command;
    }
}
