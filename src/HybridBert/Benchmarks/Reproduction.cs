using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HybridBert.Data;
using HybridBert.FineTuning;
using HybridBert.Model;
using HybridBert.Training;

namespace HybridBert.Benchmarks;

/// <summary>One pre-training arm of the comparison.</summary>
public sealed record PretrainArm(string Id, string Title, string Pattern, bool DropMask, double MaskRate);

/// <summary>One pre-training run: an arm with one seed.</summary>
public sealed record PretrainRun(string Arm, int Seed, string LayerPattern, double ValMlmLoss, double ValMlmAccuracy, double BestValMlmLoss,
    long Steps, long Tokens, double TokensPerS, double PeakRssMib, double Seconds);

/// <summary>One pre-trained model fine-tuned on one task over several fine-tuning seeds (one value per fine-tuning seed).</summary>
public sealed record FineTuneRun(string Task, string Arm, int PretrainSeed, IReadOnlyList<int> FineTuneSeeds, IReadOnlyList<double> DevAccuracy,
    IReadOnlyList<double>? TestAccuracy, IReadOnlyList<double> DevMacroF1, IReadOnlyList<double> DevMcc, double MajorityBaseline, double Seconds);

/// <summary>
/// <c>hybridbert reproduce</c>: the paper's comparisons at small scale, end to end on the embedded data —
/// prepare data once; pre-train every arm with every pre-training seed (each run in a fresh child process, so its
/// speed and peak memory are its own; arms with one seed draw the same batches and masks); fine-tune each
/// pre-trained model on the embedded task (and any --task) over several seeds; time bert vs hybrid training steps;
/// write report.md, results.json and plots. Each finished stage is recorded in <c>stages/</c>, so <c>--resume</c>
/// skips it.
/// </summary>
public sealed class Reproduction(ReproduceBudget budget, string outDir, IReadOnlyList<string> tasks, int threads, bool resume,
    Action<string> log, int jobs = 1)
{
    /// <summary>Every arm there is. Patterns are pattern names or letters for the budget's depth (see <see cref="Arms"/>).</summary>
    public static readonly IReadOnlyList<PretrainArm> AllArms =
    [
        new("bert", "BERT", "bert", false, 0.15),
        new("hybrid", "HybridBERT (pooling bottom, attention top)", "hybrid", false, 0.15),
        new("pool-top", "HybridBERT (attention bottom, pooling top)", "pool-top", false, 0.15),
        new("in-layer", "HybridBERT (attention + pooling heads in every layer)", "in-layer", false, 0.15),
        new("ponet", "PoNet (pooling only)", "ponet", false, 0.15),
        new("bert-dm15", "BERT + DropMask, 15% masking", "bert", true, 0.15),
        new("bert-30", "BERT, 30% masking", "bert", false, 0.30),
        new("bert-dm30", "BERT + DropMask, 30% masking", "bert", true, 0.30),
        new("bert-40", "BERT, 40% masking", "bert", false, 0.40),
        new("bert-dm40", "BERT + DropMask, 40% masking", "bert", true, 0.40),
    ];

    /// <summary>The arms a budget runs, with their patterns as letters for <paramref name="layers"/> layers.</summary>
    public static IReadOnlyList<PretrainArm> Arms(ReproduceBudget budget, int layers) => budget.Arms.Select(id =>
    {
        var arm = AllArms.FirstOrDefault(a => a.Id == id) ??
            throw new ArgumentException($"unknown arm '{id}'; known: {string.Join(", ", AllArms.Select(a => a.Id))}");
        return arm with { Pattern = Presets.Pattern(arm.Pattern, layers) };
    }).ToList();

    private readonly string stagesDir = Path.Combine(outDir, "stages");
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private int done, started, total;   // stages finished, running now, in all
    private double costDone, costLeft;   // reference seconds of wall-clock time (StageCost), for the ETA

    public string Run(CancellationToken cancel = default)
    {
        using var outLock = IO.PathLock.Acquire(outDir);   // one reproduction per folder; its stages lock their own subfolders
        if (!resume && Directory.Exists(stagesDir) && Directory.EnumerateFiles(stagesDir).Any())
            throw new IO.OutputExistsException(outDir, "a reproduction", resumable: true, replaceable: false);
        Directory.CreateDirectory(stagesDir);
        var layers = Presets.Size(budget.Preset).NumHiddenLayers;
        var arms = Arms(budget, layers);
        var allTasks = new[] { "sentiment-sentences" }.Concat(budget.TokenTask is { } token ? [token] : Array.Empty<string>())
            .Concat(tasks).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var runs = budget.PretrainSeeds.SelectMany(seed => arms.Select(arm => (Arm: arm, Seed: seed)))   // seed-major: early stages cover every arm
            .Where(r => r.Seed == budget.PretrainSeeds[0] || !budget.SingleSeedArms.Contains(r.Arm.Id)).ToList();
        total = 1 + runs.Count * (1 + allTasks.Count) + (budget.BenchSeqs.Count > 0 ? 1 : 0);
        costLeft = StageCost.Total(budget, runs.Select(r => r.Arm.MaskRate), allTasks.Count, jobs);
        var report = Path.Combine(outDir, ReproductionReport.FileName);
        var stages = new[] { "data" }
            .Concat(runs.SelectMany(r => allTasks.Select(t => FineTuneKey(t, r.Arm.Id, r.Seed)).Prepend(PretrainKey(r.Arm.Id, r.Seed))))
            .Concat(budget.BenchSeqs.Count > 0 ? ["bench"] : Array.Empty<string>());
        if (resume && File.Exists(report) && stages.All(s => File.Exists(Path.Combine(stagesDir, s + ".json"))))
        {
            // Rewriting the report now would time nothing and say so ("0.0 minutes"): leave the finished one as it is.
            log($"{outDir} is already complete: all {total} stages are done and the report is {report}; nothing to do");
            return report;
        }

        var dataDir = Path.Combine(outDir, "data");
        Stage("prepare data (once, shared by every arm)", "data", StageCost.Data, () =>
        {
            DataPreparation.Run(CorpusSource.Default(), EmbeddedData.Vocabulary(), dataDir,
                new PrepareOptions { SeqLen = budget.SeqLen, Overwrite = true }, cancel: cancel);
            return new { data = dataDir };
        });

        // One job per pre-training run: pre-train, then fine-tune that model at once (no barrier between the stages, so
        // no worker waits idle for the slowest run), the costliest runs first (the 40%-masking arms predict 2.7× the
        // positions) so that two workers finish together.
        var results = Parallel(runs, run =>
        {
            var (arm, seed) = run;
            var runDir = PretrainDir(arm.Id, seed);
            var pretrainedRun = Stage($"pre-train {arm.Id} seed {seed} ({arm.Title})", PretrainKey(arm.Id, seed),
                StageCost.Pretrain(budget, arm.MaskRate) / Math.Max(1, jobs), () =>
            {
                var resumable = Checkpoint.List(runDir).Count > 0;
                var options = new PretrainOptions
                {
                    DataDir = dataDir, RunDir = runDir, Model = Presets.Build(budget.Preset, arm.Pattern, EmbeddedData.Vocabulary().Count),
                    MaxSteps = budget.Steps, BatchSize = budget.Batch, LearningRate = budget.PretrainLr,
                    WarmupSteps = (int)Math.Round(budget.WarmupFraction * budget.Steps), Dropout = budget.PretrainDropout,
                        InitializerRange = budget.InitializerRange,
                    Precision = budget.PretrainPrecision, TrimEvery = budget.TrimEvery, EvalEvery = budget.EvalEvery,
                        EvalBatches = budget.EvalBatches is 0 ? null : budget.EvalBatches,
                    CheckpointEvery = budget.Steps, LogEvery = Math.Max(1, budget.Steps / 100), Masking = new MaskingOptions { Rate = arm.MaskRate },
                    DropMask = arm.DropMask, Seed = seed, Threads = ChildThreads,
                    // A stage not recorded as done is continued from its checkpoint, or redone over what a crash left.
                    Resume = resumable, Overwrite = !resumable && Directory.Exists(runDir),
                }.Validate();
                Child("pretrain", options, PretrainKey(arm.Id, seed), cancel);
                var s = Pretrainer.ReadSummary(runDir) ??
                    throw new StageFailedException($"{runDir} has no readable {Pretrainer.SummaryFile} after its run");
                return new PretrainRun(arm.Id, seed, arm.Pattern, s.FinalEval?.MlmLoss ?? double.NaN, s.FinalEval?.MlmAccuracy ?? double.NaN,
                    s.BestEvalLoss ?? double.NaN, s.Steps, s.Tokens, s.TokensPerSecond, s.PeakRssMiB, s.Seconds);
            });
            var fineTuned = allTasks.Select(task =>
            {
                cancel.ThrowIfCancellationRequested();
                var ftDir = Path.Combine(outDir, "finetune", task, $"{arm.Id}-s{seed}");
                return Stage($"fine-tune {arm.Id} seed {seed} on {task}", FineTuneKey(task, arm.Id, seed),
                    StageCost.FineTune(budget) / Math.Max(1, jobs), () =>
                {
                    var tagged = new TaskSpec { Name = task }.IsTagged;
                    var options = new FineTuneOptions
                    {
                        Task = tagged ? new TaskSpec { Name = task, MaxEvalExamples = budget.TokenMaxEval, NoTest = true } :
                            new TaskSpec { Name = task },
                        Checkpoint = runDir, OutDir = ftDir, Overwrite = true, Epochs = budget.FineTuneEpochs,
                        Seeds = budget.FineTuneSeeds, LearningRate = budget.FineTuneLr, MaxLength = budget.FineTuneMaxLength,
                        MaxTrainExamples = tagged ? budget.TokenMaxTrain : budget.FineTuneMaxTrain, Threads = ChildThreads,
                    }.Validate();
                    var begun = clock.Elapsed.TotalSeconds;
                    Child("finetune", options, FineTuneKey(task, arm.Id, seed), cancel);
                    return ReadFineTune(Path.Combine(ftDir, "results.json"), task, arm.Id, seed, clock.Elapsed.TotalSeconds - begun);
                });
            }).ToList();
            return (Pretrained: pretrainedRun, FineTuned: fineTuned);
        }, cancel, order: run => -run.Arm.MaskRate);
        var pretrained = results.Select(r => r.Pretrained).ToList();
        var downstream = results.SelectMany(r => r.FineTuned).ToList();

        List<BenchResult> bench = [];
        if (budget.BenchSeqs.Count > 0)
            bench = Stage("time training steps (bert vs hybrid, interleaved)", "bench", StageCost.Bench(budget), () =>
            {
                var specs = budget.BenchSeqs.SelectMany(seq => new[] { "bert", "hybrid" }.Select(p => new BenchSpec
                {
                    Preset = budget.BenchPreset, Pattern = p, Seq = seq, Batch = Math.Max(1, 4096 / seq), Steps = budget.BenchSteps,
                        Warmup = budget.BenchWarmup,
                    Threads = threads, Mode = BenchMode.Train, VocabSize = EmbeddedData.Vocabulary().Count,
                })).ToList();
                return BenchRunner.RunRounds(specs, budget.BenchRounds, TimeSpan.FromMinutes(30), cancel: cancel).Select(r => r.Result).ToList();
            });

        var path = ReproductionReport.Write(outDir, budget, threads, arms, pretrained, downstream, allTasks, bench, clock.Elapsed);
        log($"report: {path} ({clock.Elapsed.TotalMinutes:F1} min)");
        return path;
    }

    /// <summary>Threads per child: the machine's threads shared by the children running at once.</summary>
    private int ChildThreads => Math.Max(1, threads / Math.Max(1, jobs));

    /// <summary>Runs <paramref name="work"/> for every item, <c>jobs</c> at a time, each worker taking the next item when
    /// it is free, in the order of <paramref name="order"/> (stable); results come back in the items' order.</summary>
    private List<T> Parallel<TItem, T>(IReadOnlyList<TItem> items, Func<TItem, T> work, CancellationToken cancel, Func<TItem, double>? order = null)
    {
        var results = new T[items.Count];
        var queue = Enumerable.Range(0, items.Count).OrderBy(i => order?.Invoke(items[i]) ?? 0).ToList();
        try
        {
            System.Threading.Tasks.Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(queue,
                System.Collections.Concurrent.EnumerablePartitionerOptions.NoBuffering),
                new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, jobs), CancellationToken = cancel },
                i => results[i] = work(items[i]));
        }
        catch (AggregateException e)
        {
            // A failed stage or Ctrl-C inside a worker: rethrow it as itself (a named message, not a wrapped stack trace).
            var first = e.Flatten().InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException) ?? e.Flatten().InnerExceptions[0];
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        }
        return results.ToList();
    }

    /// <summary>A stage's name in <c>stages/</c>, <c>options/</c> and <c>logs/</c>.</summary>
    private static string PretrainKey(string arm, int seed) => $"pretrain-{arm}-s{seed}";

    private static string FineTuneKey(string task, string arm, int seed) => $"finetune-{task}-{arm}-s{seed}";

    private string PretrainDir(string arm, int seed) => Path.Combine(outDir, "pretrain", $"{arm}-s{seed}");

    /// <summary>The per-fine-tuning-seed numbers from a <c>finetune</c> results.json.</summary>
    public static FineTuneRun ReadFineTune(string resultsFile, string task, string arm, int pretrainSeed, double seconds)
    {
        var results = FineTuneResults.Read(resultsFile);
        var seeds = results.Seeds;
        // A token task reports accuracy (and entity F1) but no macro F1 or MCC: those are NaN for it.
        List<double> Values(Func<FineTuneSeedResults, IReadOnlyDictionary<string, double>?> split, string metric) =>
            seeds.Select(s => split(s)!.GetValueOrDefault(metric, double.NaN)).ToList();
        var hasTest = seeds.All(s => s.Test is not null);
        return new FineTuneRun(task, arm, pretrainSeed, seeds.Select(s => s.Seed).ToList(), Values(s => s.Dev, "accuracy"),
            hasTest ? Values(s => s.Test, "accuracy") : null, Values(s => s.Dev, "macro_f1"), Values(s => s.Dev, "mcc"),
                results.MajorityBaseline ?? double.NaN, seconds);
    }

    /// <param name="cost">The stage's share of the run's wall-clock time (<see cref="StageCost"/>): the ETA weighs stages by it.</param>
    private T Stage<T>(string title, string key, double cost, Func<T> work)
    {
        var file = Path.Combine(stagesDir, key + ".json");
        if (File.Exists(file))
        {
            lock (stagesDir)
            {
                costLeft -= cost;   // done by an earlier process: neither this run's time nor its work
                log($"[{++done}/{total}] {title}: done earlier");
            }
            return JsonSerializer.Deserialize<T>(File.ReadAllText(file), IO.JsonFiles.Options)!;
        }
        lock (stagesDir)
        {
            var eta = $", ETA {StageCost.Eta(clock.Elapsed, costDone, costLeft):hh\\:mm\\:ss}";
            log($"[{done + started + 1}/{total}] {title} (elapsed {clock.Elapsed:hh\\:mm\\:ss}{eta})");
            started++;
        }
        var result = work();
        IO.AtomicFile.WriteAllText(file, JsonSerializer.Serialize(result, IO.JsonFiles.Options));
        lock (stagesDir)
        {
            done++;
            started--;
            costDone += cost;
            costLeft -= cost;
        }
        return result;
    }

    /// <summary>Runs <c>hybridbert COMMAND --options-file F</c>, F holding <paramref name="options"/> (the command's
    /// options record as JSON, kept under <c>options/</c> as the record of what each stage ran).</summary>
    private void Child<TOptions>(string command, TOptions options, string name, CancellationToken cancel)
    {
        var file = Path.Combine(outDir, "options", name + ".json");
        IO.AtomicFile.WriteAllText(file, JsonSerializer.Serialize(options, IO.JsonFiles.Options));
        var result = SelfProcess.Run([command, "--options-file", file], TimeSpan.FromHours(12), Path.Combine(outDir, "logs", name + ".log"), cancel);
        cancel.ThrowIfCancellationRequested();
        if (result.ExitCode != 0)
            throw new StageFailedException($"stage {name} failed (exit {result.ExitCode}): {result.Stderr.Trim().Split('\n').LastOrDefault()} — " +
                $"see {Path.Combine(outDir, "logs", name + ".log")}; fix and rerun with --resume");
    }

}

public sealed class StageFailedException(string message) : Exception(message);
