using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HybridBert.Data;
using HybridBert.Model;
using HybridBert.Training;

namespace HybridBert.Benchmarks;

/// <summary>One pre-training arm of the comparison.</summary>
public sealed record PretrainArm(string Id, string Title, string Pattern, bool DropMask, double MaskRate);

public sealed record ArmResult(PretrainArm Arm, string LayerPattern, double FinalEvalLoss, double BestEvalLoss, double EvalAccuracy,
    double TokensPerSecond, double PeakRssMiB, double Seconds, long Tokens,
    IReadOnlyDictionary<string, (double Mean, double Std)>? Downstream, IReadOnlyList<double>? DownstreamPerSeed);

/// <summary>
/// <c>hybridbert reproduce</c>: the paper's comparisons at small scale, end to end on the embedded data —
/// prepare data; pre-train every arm with the same budget (each in a fresh child process, so its speed and peak
/// memory are its own); fine-tune each on the embedded task (and any --task) over several seeds; time bert vs
/// hybrid training steps; write report.md with plots and the raw metrics. Each finished stage is recorded in
/// <c>stages/</c>, so <c>--resume</c> skips it.
/// </summary>
public sealed class Reproduction(ReproduceBudget budget, string outDir, IReadOnlyList<string> tasks, int threads, bool resume, Action<string> log)
{
    public const int Seed = 42;

    public static IReadOnlyList<PretrainArm> Arms(int layers) =>
    [
        new("bert", "BERT", "bert", false, 0.15),
        new("hybrid", "HybridBERT (pooling bottom, attention top)", "hybrid", false, 0.15),
        new("pool-top", "HybridBERT (attention bottom, pooling top)", new string('A', layers / 2) + new string('P', layers - layers / 2), false, 0.15),
        new("in-layer", "HybridBERT (attention + pooling heads in every layer)", new string('H', layers), false, 0.15),
        new("ponet", "PoNet (pooling only)", "ponet", false, 0.15),
        new("bert-dm15", "BERT + DropMask, 15% masking", "bert", true, 0.15),
        new("bert-30", "BERT, 30% masking", "bert", false, 0.30),
        new("bert-dm30", "BERT + DropMask, 30% masking", "bert", true, 0.30),
        new("bert-40", "BERT, 40% masking", "bert", false, 0.40),
        new("bert-dm40", "BERT + DropMask, 40% masking", "bert", true, 0.40),
    ];

    private readonly string stagesDir = Path.Combine(outDir, "stages");
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private int done, total;

    public string Run(CancellationToken cancel = default)
    {
        if (!resume && Directory.Exists(stagesDir) && Directory.EnumerateFiles(stagesDir).Any())
            throw new IOException($"{outDir} already holds a reproduction: use --resume to continue it, or another --out");
        Directory.CreateDirectory(stagesDir);
        var layers = Presets.Size(budget.Preset).NumHiddenLayers;
        var arms = Arms(layers);
        var allTasks = new[] { "sentiment-sentences" }.Concat(tasks.Where(t => t != "sentiment-sentences")).ToList();
        total = 1 + arms.Count * (1 + allTasks.Count) + (budget.BenchSeqs.Length > 0 ? 1 : 0);

        var dataDir = Path.Combine(outDir, "data");
        Stage("prepare data", "data", () =>
        {
            DataPreparation.Run(CorpusSource.Default(), EmbeddedData.Vocabulary(), dataDir, new PrepareOptions { SeqLen = budget.SeqLen, Overwrite = true }, cancel: cancel);
            return new { data = dataDir };
        });

        var pretrained = new Dictionary<string, PretrainSummary>();
        foreach (var arm in arms)
        {
            cancel.ThrowIfCancellationRequested();
            var runDir = Path.Combine(outDir, "pretrain", arm.Id);
            pretrained[arm.Id] = Stage($"pre-train {arm.Id} ({arm.Title})", "pretrain-" + arm.Id, () =>
            {
                var args = new List<string>
                {
                    "pretrain", "--data", dataDir, "--out", runDir, "--preset", budget.Preset, "--pattern", arm.Pattern,
                    "--max-steps", Num(budget.Steps), "--batch", Num(budget.Batch), "--lr", Num(budget.PretrainLr),
                    "--eval-every", Num(budget.EvalEvery), "--eval-batches", Num(budget.EvalBatches), "--checkpoint-every", Num(budget.Steps),
                    "--log-every", Num(Math.Max(1, budget.Steps / 60)), "--mask-rate", Num(arm.MaskRate), "--seed", Num(Seed), "--threads", Num(threads),
                };
                if (arm.DropMask) args.Add("--dropmask");
                if (Checkpoint.List(runDir).Count > 0) args.Add("--resume");
                Child(args, $"pretrain-{arm.Id}", cancel);
                return JsonSerializer.Deserialize<PretrainSummary>(File.ReadAllText(Path.Combine(runDir, "summary.json")), Checkpoint.Json)!;
            });
        }

        var downstream = new Dictionary<(string Task, string Arm), JsonElement>();
        foreach (var task in allTasks)
            foreach (var arm in arms)
            {
                cancel.ThrowIfCancellationRequested();
                var ftDir = Path.Combine(outDir, "finetune", task, arm.Id);
                downstream[(task, arm.Id)] = Stage($"fine-tune {arm.Id} on {task}", $"finetune-{task}-{arm.Id}", () =>
                {
                    var args = new List<string>
                    {
                        "finetune", "--checkpoint", Path.Combine(outDir, "pretrain", arm.Id), "--task", task, "--epochs", Num(budget.FineTuneEpochs),
                        "--seeds", string.Join(',', budget.FineTuneSeeds), "--lr", Num(budget.FineTuneLr), "--max-len", Num(budget.FineTuneMaxLength),
                        "--threads", Num(threads), "--out", ftDir,
                    };
                    if (budget.FineTuneMaxTrain is { } cap) args.AddRange(["--max-train-examples", Num(cap)]);
                    Child(args, $"finetune-{task}-{arm.Id}", cancel);
                    return JsonDocument.Parse(File.ReadAllText(Path.Combine(ftDir, "results.json"))).RootElement.Clone();
                });
            }

        List<BenchResult> bench = [];
        if (budget.BenchSeqs.Length > 0)
            bench = Stage("time training steps (bert vs hybrid)", "bench", () =>
            {
                var specs = budget.BenchSeqs.SelectMany(seq => new[] { "bert", "hybrid" }.Select(p => new BenchSpec
                {
                    Preset = budget.Preset, Pattern = p, Seq = seq, Batch = Math.Max(1, 4096 / seq), Steps = budget.BenchSteps, Warmup = 2,
                    Threads = threads, Mode = BenchMode.Train, VocabSize = EmbeddedData.Vocabulary().Count,
                })).ToList();
                var rounds = new Dictionary<BenchSpec, List<BenchResult>>();
                for (var r = 0; r < budget.BenchRounds; r++)
                    foreach (var spec in specs)
                    {
                        cancel.ThrowIfCancellationRequested();
                        (rounds.TryGetValue(spec, out var list) ? list : rounds[spec] = []).Add(BenchRunner.RunInChild(spec, TimeSpan.FromMinutes(30)));
                    }
                return specs.Select(s => BenchRunner.Combine(rounds[s])).ToList();
            });

        var results = arms.Select(arm =>
        {
            var s = pretrained[arm.Id];
            var ft = downstream[("sentiment-sentences", arm.Id)];
            return new ArmResult(arm, Presets.Pattern(arm.Pattern, layers), s.FinalEval?.MlmLoss ?? double.NaN, s.BestEvalLoss, s.FinalEval?.MlmAccuracy ?? double.NaN,
                s.TokensPerSecond, s.PeakRssMiB, s.Seconds, s.Tokens, ReadAggregate(ft, "dev"), ReadSeeds(ft));
        }).ToList();
        var path = ReproductionReport.Write(outDir, budget, threads, results, downstream, allTasks, bench, clock.Elapsed);
        log($"report: {path} ({clock.Elapsed.TotalMinutes:F1} min)");
        return path;
    }

    private T Stage<T>(string title, string key, Func<T> work)
    {
        var file = Path.Combine(stagesDir, key + ".json");
        if (File.Exists(file))
        {
            done++;
            log($"[{done}/{total}] {title}: done earlier");
            return JsonSerializer.Deserialize<T>(File.ReadAllText(file), Checkpoint.Json)!;
        }
        var eta = done == 0 ? "" : $", ETA {TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / Math.Max(1, done) * (total - done)):hh\\:mm\\:ss}";
        log($"[{done + 1}/{total}] {title} (elapsed {clock.Elapsed:hh\\:mm\\:ss}{eta})");
        var result = work();
        var temp = file + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(result, Checkpoint.Json));
        File.Move(temp, file, overwrite: true);
        done++;
        return result;
    }

    private void Child(List<string> args, string name, CancellationToken cancel)
    {
        var result = SelfProcess.Run(args, TimeSpan.FromHours(12), Path.Combine(outDir, "logs", name + ".log"), cancel);
        cancel.ThrowIfCancellationRequested();
        if (result.ExitCode != 0)
            throw new StageFailedException($"stage {name} failed (exit {result.ExitCode}): {result.Stderr.Trim().Split('\n').LastOrDefault()} — see {Path.Combine(outDir, "logs", name + ".log")}; fix and rerun with --resume");
    }

    private static string Num(double v) => v.ToString(CultureInfo.InvariantCulture);

    private static Dictionary<string, (double Mean, double Std)> ReadAggregate(JsonElement results, string split) =>
        results.GetProperty(split).EnumerateObject().ToDictionary(p => p.Name, p => (Value(p.Value.GetProperty("mean")), Value(p.Value.GetProperty("std"))));

    private static List<double> ReadSeeds(JsonElement results) =>
        results.GetProperty("seeds").EnumerateArray().Select(s => Value(s.GetProperty("dev").GetProperty("accuracy"))).ToList();

    private static double Value(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : double.Parse(e.GetString()!, CultureInfo.InvariantCulture);
}

public sealed class StageFailedException(string message) : Exception(message);
