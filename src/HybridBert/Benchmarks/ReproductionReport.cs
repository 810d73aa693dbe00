using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using HybridBert.FineTuning;
using HybridBert.Model;
using HybridBert.Training;

namespace HybridBert.Benchmarks;

/// <summary>A value over pre-training seeds: sample mean and standard deviation (std 0 and n 1 for one seed).</summary>
public sealed record Spread(double Mean, [property: JsonPropertyName("std")] double Std, [property: JsonPropertyName("n")] int N)
{
    public static Spread Of(IReadOnlyList<double> values)
    {
        var (mean, std) = Metrics.MeanStd(values);
        return new Spread(mean, std, values.Count);
    }
}

/// <summary>
/// One claim judged on paired runs: for every pre-training seed both arms ran with, <c>b − a</c> (the claim's
/// arm minus its reference). Verdict: <c>held</c> when every seed's difference points the claimed way and the mean
/// difference exceeds the noise (the larger of the two arms' standard deviations over seeds); <c>did not hold</c>
/// when every seed's difference points the other way by more than that; otherwise <c>within noise</c>; with a
/// single seed, <c>one seed: not judged</c>.
/// </summary>
public sealed record PairedComparison(
    string Claim,
    string Metric,
    string ReferenceArm,
    string Arm,
    string Better,
    IReadOnlyList<int> Seeds,
    IReadOnlyList<double> Reference,
    IReadOnlyList<double> Value,
    Spread Difference,
    double RelativeDifference,
    double Noise,
    string Verdict)
{
    /// <summary>The smallest mean difference this run could have called <c>held</c>: the noise it must exceed, and that
    /// as a share of the reference (NaN with one seed, where nothing is judged).</summary>
    public double Detectable => Seeds.Count < 2 ? double.NaN : Noise;

    public double DetectableRelative => Seeds.Count < 2 || Reference.Count == 0 || Reference.Average() == 0 ? double.NaN
        : Noise / Math.Abs(Reference.Average());

    public static PairedComparison Judge(string claim, string metric, string referenceArm, string arm, bool higherIsBetter,
        IReadOnlyDictionary<int, double> reference, IReadOnlyDictionary<int, double> value)
    {
        var seeds = reference.Keys.Intersect(value.Keys).Order().ToList();
        var r = seeds.Select(s => reference[s]).ToList();
        var v = seeds.Select(s => value[s]).ToList();
        var diffs = seeds.Select(s => value[s] - reference[s]).ToList();
        var difference = Spread.Of(diffs);
        var noise = Math.Max(Spread.Of(r).Std, Spread.Of(v).Std);
        var sign = higherIsBetter ? 1 : -1;
        var verdict = seeds.Count < 2 ? "one seed: not judged"
            : diffs.All(d => sign * d > 0) && Math.Abs(difference.Mean) > noise ? "held"
            : diffs.All(d => sign * d < 0) && Math.Abs(difference.Mean) > noise ? "did not hold"
            : "within noise";
        var relative = r.Count == 0 || r.Average() == 0 ? double.NaN : v.Average() / r.Average() - 1;
        return new PairedComparison(claim, metric, referenceArm, arm, higherIsBetter ? "higher" : "lower", seeds, r, v, difference,
            relative, noise, verdict);
    }
}

/// <summary>Writes <c>report.md</c> (tables over seeds, paired differences, verdicts), <c>results.json</c> and the plots.</summary>
public static class ReproductionReport
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <summary>The report's name in the output folder.</summary>
    public const string FileName = "report.md";

    public static string Write(string outDir, ReproduceBudget budget, int threads, IReadOnlyList<PretrainArm> arms,
        IReadOnlyList<PretrainRun> pretrained,
        IReadOnlyList<FineTuneRun> downstream, IReadOnlyList<string> tasks, IReadOnlyList<BenchResult> benchRounds, TimeSpan elapsed)
    {
        var mainTask = tasks[0];
        var config = Presets.Build(budget.Preset, "bert");
        var summaries = arms.Select(a => Summarize(a, pretrained, downstream, tasks)).ToList();
        var comparisons = Comparisons(arms, pretrained, downstream, tasks);
        var taskNames = tasks.ToDictionary(t => t, t => new TaskSpec { Name = t }.IsTagged ? $"{t} dev token accuracy" : $"{t} dev accuracy");
        var bench = benchRounds.GroupBy(r => (r.Pattern, r.Seq)).Select(g => BenchRunner.Combine(g.ToList())).ToList();

        var md = new StringBuilder();
        var pipelineMark = budget.PipelineCheck ? " *(pipeline check)*" : "";
        md.AppendLine($"# HybridBERT at small scale: `{budget.Name}` budget\n");
        md.AppendLine($"Command: `hybridbert reproduce --budget {budget.Name}` · finished {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · " +
            $"{elapsed.TotalMinutes:F1} minutes\n");
        if (budget.PipelineCheck)
            md.AppendLine($"**A pipeline check, not a test of the claims:** `{budget.Preset}` models pre-trained for {budget.Steps} " +
                "steps. It shows that every stage " +
                          "runs and writes its numbers; its verdicts below are marked *(pipeline check)* and say nothing about the " +
                              "paper. `--budget default` judges the claims.\n");

        md.AppendLine("## Machine and setup\n");
        md.AppendLine($"- Machine: {CpuModel()}, {Environment.ProcessorCount} cores, {MemoryGiB():F0} GiB; " +
            $"{RuntimeInformation.OSDescription}; {RuntimeInformation.FrameworkDescription}; TorchSharp " +
            $"{typeof(TorchSharp.torch).Assembly.GetName().Version}; {threads} threads.");
        md.AppendLine($"- Models: `{budget.Preset}` ({config.NumHiddenLayers} layers × {config.HiddenSize}, {config.NumAttentionHeads} " +
            $"heads, FFN {config.IntermediateSize}, post-LayerNorm as BERT), vocabulary {Data.EmbeddedData.Vocabulary().Count:N0} " +
            $"(embedded). Arms: {string.Join(", ", arms.Select(a => $"`{a.Id}` ({a.Pattern}{(a.DropMask ? ", DropMask" : "")}, " +
                $"{Pct(a.MaskRate, 0)})"))}.");
        md.AppendLine("- Pre-training, every arm the same: embedded corpus (State of the Union + Moby-Dick, 12 MB) prepared once, " +
            $"sequences of {budget.SeqLen}, batch {budget.Batch}, {budget.Steps} steps (≈{pretrained.Average(p => p.Tokens):N0} tokens), " +
            $"AdamW lr {budget.PretrainLr.ToString(C)}, {Pct(budget.WarmupFraction, 0)} warm-up then linear decay, dropout " +
            $"{budget.PretrainDropout.ToString(C)}, weights initialized N(0, {budget.InitializerRange.ToString(C)}), " +
            $"{budget.PretrainPrecision.ToString().ToLowerInvariant()} (fp32 master weights), masking " +
            $"{new Data.MaskingOptions().SplitText}, MLM only.");
        md.AppendLine($"- Seeds: pre-training seeds {string.Join(", ", budget.PretrainSeeds)} for every arm" +
            (budget.SingleSeedArms.Count > 0
            ? $" but {string.Join(", ", budget.SingleSeedArms)} (no claim rests on it; seed {budget.PretrainSeeds[0]} only)" : "") +
            ". Arms run with one seed draw the same batches and, at one masking rate, the same masked positions (tested), so the " +
            "per-seed difference between two arms is a paired statistic. Validation: held-out documents with masks from a fixed seed, so " +
            "every arm is scored on the same positions (at its own masking rate).");
        md.AppendLine($"- Fine-tuning: {string.Join(", ", tasks)}; every pre-trained model over fine-tuning seeds " +
            $"{string.Join(", ", budget.FineTuneSeeds)}; {budget.FineTuneEpochs} epoch(s), lr {budget.FineTuneLr.ToString(C)}, dropout " +
            $"0.1, max length {budget.FineTuneMaxLength}" +
                      (budget.FineTuneMaxTrain is { } cap ? $", first {cap} training examples only" : "") +
                          "; the dev accuracy of the best epoch. " +
                          (budget.TokenTask is { } token && tasks.Contains(token)
                              ? $"{token} is token classification (a tag per word, labels on each word's first piece): the first " +
                                $"{budget.TokenMaxTrain?.ToString("N0", C) ?? "all"} training sentences, and token accuracy over the words of " +
                                $"the first {budget.TokenMaxEval?.ToString("N0", C) ?? "all"} dev sentences. " : "") +
                          "A pre-training seed's downstream score is the mean over its fine-tuning " +
                          "seeds; tables give mean ± std over pre-training seeds.");
        md.AppendLine();

        var section = 0;
        md.AppendLine($"## {++section}. Every arm\n");
        var otherTasks = tasks.Skip(1).ToList();
        md.AppendLine($"| arm | layers | DropMask | masking | val MLM loss | val MLM accuracy | {mainTask} dev accuracy | test accuracy " +
            string.Concat(otherTasks.Select(t => $"| {taskNames[t]} ")) + "| run tokens/s | run peak RSS MiB |");
        md.AppendLine("|---|---|---|---:|---:|---:|---:|---:|" + string.Concat(otherTasks.Select(_ => "---:|")) + "---:|---:|");
        foreach (var s in summaries)
        {
            var d = s.Downstream.GetValueOrDefault(mainTask);
            md.AppendLine($"| {s.Title} | `{s.LayerPattern}` | {(s.DropMask ? "yes" : "no")} | {Pct(s.MaskRate, 0)} | " +
                $"{F(s.ValMlmLoss, 4)} | {P(s.ValMlmAccuracy)} | {(d is null ? "—" : P(d.DevAccuracy))} | " +
                $"{(d?.TestAccuracy is { } t ? P(t) : "—")} | " +
                string.Concat(otherTasks.Select(o => $"{(s.Downstream.GetValueOrDefault(o) is { } od ? P(od.DevAccuracy) : "—")} | ")) +
                $"{s.TokensPerS.Mean:N0} | {s.PeakRssMib.Mean:N0} |");
        }
        var majority = downstream.FirstOrDefault(d => d.Task == mainTask)?.MajorityBaseline ?? double.NaN;
        md.AppendLine($"\nMean ± sample std over the pre-training seeds (a value without ± comes from one seed). " +
                      (double.IsNaN(majority) ? "" :
                          $"Always answering the training set's most frequent label scores {Pct(majority, 1)} on {mainTask} dev. ") +
                      "Run tokens/s and peak RSS are each run's own process on a shared machine (they include evaluation and are " +
                          "measured without `malloc_trim`); " +
                      (bench.Count > 0 ? "the speed and memory claims are judged on the interleaved benchmark below." :
                          "this budget times no training steps, so the speed and memory claims are not judged here."));
        var plateau = summaries.Where(s => s.ValMlmAccuracy.Mean < 0.10).ToList();
        if (plateau.Count > 0)
            md.AppendLine($"\n**{string.Join(", ", plateau.Select(s => s.Id))}: validation MLM accuracy under 10% — still near the " +
                "unigram plateau, where loss and downstream differences mean little.**");
        md.AppendLine("\n![validation MLM loss](val-loss.png)\n");

        md.AppendLine($"## {++section}. Paired differences\n");
        md.AppendLine("Per pre-training seed, the arm minus its reference; the verdict rule is under the table.\n");
        md.AppendLine("| claim | metric | arm − reference per seed | mean ± std | relative | noise = smallest detectable | verdict |");
        md.AppendLine("|---|---|---|---:|---:|---:|---|");
        foreach (var c in comparisons)
        {
            var isAccuracy = c.Metric.Contains("accuracy", StringComparison.Ordinal);
            string D(double v) => isAccuracy ? (v * 100).ToString("+0.00;-0.00;0.00", C) + " pt" : v.ToString("+0.0000;-0.0000;0.0000", C);
            md.AppendLine($"| {c.Claim} | {c.Metric} ({c.Arm} vs {c.ReferenceArm}) | " +
                $"{string.Join(", ", c.Seeds.Select((s, i) => $"s{s}: {D(c.Value[i] - c.Reference[i])}"))} | {D(c.Difference.Mean)} ± " +
                $"{(isAccuracy ? (c.Difference.Std * 100).ToString("0.00", C) + " pt" : c.Difference.Std.ToString("0.0000", C))} | " +
                $"{Rel(c.RelativeDifference)} | " +
                $"{(isAccuracy ? (c.Noise * 100).ToString("0.00", C) + " pt" : c.Noise.ToString("0.0000", C))} | **{c.Verdict}**{pipelineMark} |");
        }
        md.AppendLine("\nVerdict: *held* when every seed's difference points the way the claim says and the mean difference is larger " +
            "than the noise (the larger of the two arms' standard deviations over pre-training seeds); *did not hold* when every seed " +
            "points the other way by more than the noise; otherwise *within noise*. The noise is therefore the smallest difference the " +
            "run could have detected: a real effect smaller than it reads *within noise* here. Each downstream task has its own noise. " +
            "Two or three seeds make this a coarse test: a *held* " +
            "here is a consistent effect at this scale, not a significance test.\n");

        if (bench.Count > 0)
        {
            md.AppendLine($"## {++section}. Training-step speed and memory, bert vs hybrid (`hybridbert bench`)\n");
            md.AppendLine($"`{budget.BenchPreset}` models, {string.Join("/", bench.Select(b => b.Precision).Distinct())}, {threads} " +
                $"threads; each configuration in a fresh process, configurations interleaved (A B A B …), {budget.BenchRounds} rounds × " +
                $"{budget.BenchSteps} timed steps after {budget.BenchWarmup} warm-up steps; batch × seq = " +
                $"{bench[0].Batch * bench[0].Seq:N0} tokens; memory is the process's peak RSS with the default `--trim-every 1`.\n");
            md.AppendLine("| pattern | seq | batch | median ms (min–max over all steps) | tokens/s | vs bert | " +
                "peak RSS MiB (per round) | vs bert |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in bench)
            {
                var reference = bench.First(b => b.Pattern == "bert" && b.Seq == r.Seq);
                var rss = benchRounds.Where(b => b.Pattern == r.Pattern && b.Seq == r.Seq && b.Status == "ok").Select(b => b.PeakRssMiB ??
                    0).ToList();
                md.AppendLine(r.Status != "ok"
                    ? $"| {r.Pattern} | {r.Seq} | {r.Batch} | {r.Status}: {r.Error} | | | | |"
                    : $"| {r.Pattern} (`{r.LayerPattern}`) | {r.Seq} | {r.Batch} | {r.MedianMs:F0} ({r.MinMs:F0}–{r.MaxMs:F0}) | " +
                        $"{r.TokensPerSecond:N0} | {Ratio(r.TokensPerSecond, reference.TokensPerSecond)} | " +
                        $"{string.Join(" / ", rss.Select(v => v.ToString("N0", C)))} | {Ratio(r.PeakRssMiB, reference.PeakRssMiB)} |");
            }
            md.AppendLine();
        }

        md.AppendLine($"## {++section}. DropMask vs plain BERT\n");
        md.AppendLine($"| masking | val MLM accuracy: plain | DropMask | " +
            string.Join(" | ", tasks.Select(t => $"{taskNames[t]}: plain | DropMask")) + " |");
        md.AppendLine("|---:|---:|---:|" + string.Concat(tasks.Select(_ => "---:|---:|")));
        foreach (var (plain, drop) in DropMaskPairs(arms))
        {
            var p = summaries.First(s => s.Id == plain.Id);
            var d = summaries.First(s => s.Id == drop.Id);
            md.AppendLine($"| {Pct(plain.MaskRate, 0)} | {P(p.ValMlmAccuracy)} | {P(d.ValMlmAccuracy)} | " +
                string.Join(" | ", tasks.Select(t => $"{P(p.Downstream[t].DevAccuracy)} | {P(d.Downstream[t].DevAccuracy)}")) + " |");
        }
        md.AppendLine("\nA DropMask model is validated with DropMask inputs, as it was trained: its masked tokens see no other masked " +
            "token, so its MLM numbers answer a different question from the plain model's and are not compared as a claim.\n");
        md.AppendLine("![DropMask validation loss](dropmask-val-loss.png)\n");

        md.AppendLine($"## {++section}. The paper's claims at this scale\n");
        foreach (var c in comparisons)
        {
            var isAccuracy = c.Metric.Contains("accuracy", StringComparison.Ordinal);
            var detectable = double.IsNaN(c.Detectable) ? ""
                : "; the smallest difference this run could have detected: " +
                    $"{(isAccuracy ? (c.Detectable * 100).ToString("0.00", C) + " pt" : c.Detectable.ToString("0.0000", C))}" +
                  $" ({Pct(c.DetectableRelative, 1)} relative)";
            md.AppendLine($"- *{c.Claim}* ({c.Metric}, {c.Arm} vs {c.ReferenceArm}): {Rel(c.RelativeDifference)} relative — " +
                $"**{c.Verdict}**{pipelineMark}{detectable}.");
        }
        foreach (var seq in bench.Select(b => b.Seq).Distinct())
        {
            var b = bench.First(r => r.Pattern == "bert" && r.Seq == seq);
            var h = bench.FirstOrDefault(r => r.Pattern == "hybrid" && r.Seq == seq);
            if (h is null || b.Status != "ok" || h.Status != "ok") continue;
            md.AppendLine($"- *~8% faster, ~13% less memory* (seq {seq}, `{budget.BenchPreset}`): training tokens/s " +
                $"{Ratio(h.TokensPerSecond, b.TokensPerSecond)}, peak memory {Ratio(h.PeakRssMiB, b.PeakRssMiB)} — " +
                $"**{SpeedVerdict(benchRounds, seq)}**.");
        }
        md.AppendLine("\nAt this scale (minutes of CPU pre-training on a 12 MB corpus) the models are far from converged: the numbers " +
            "test the direction of the paper's effects, not its absolute results. `--budget long` runs all ten arms with three seeds.\n");

        md.AppendLine("## Raw data\n");
        md.AppendLine("- `results.json` — every number above, per arm and per seed (fields described in docs/results/README.md); " +
            "`pretrain/ARM-sSEED/` — each pre-training run's `metrics.jsonl`, `summary.json`, `loss.png`; " +
            "`finetune/TASK/ARM-sSEED/results.json` — each fine-tuning run; `stages/*.json` — what this report was built from; `logs/` — " +
            "each child process's output.");

        var results = new
        {
            budget = budget.Name, preset = budget.Preset, elapsed_s = elapsed.TotalSeconds, threads,
            machine = new { cpu = CpuModel(), cores = Environment.ProcessorCount, memory_gib = Math.Round(MemoryGiB(), 1),
                os = RuntimeInformation.OSDescription, runtime = RuntimeInformation.FrameworkDescription },
            recipe = new
            {
                seq_len = budget.SeqLen, batch = budget.Batch, steps = budget.Steps, lr = budget.PretrainLr, warmup_fraction = budget.WarmupFraction,
                dropout = budget.PretrainDropout, initializer_range = budget.InitializerRange,
                    precision = budget.PretrainPrecision.ToString().ToLowerInvariant(), pretrain_seeds = budget.PretrainSeeds,
                finetune_seeds = budget.FineTuneSeeds, finetune_epochs = budget.FineTuneEpochs, finetune_lr = budget.FineTuneLr,
                    finetune_max_length = budget.FineTuneMaxLength, token_task = budget.TokenTask, token_max_train = budget.TokenMaxTrain,
                    token_max_eval = budget.TokenMaxEval,
            },
            arms = summaries, comparisons, bench = benchRounds,
        };
        IO.AtomicFile.WriteAllText(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(results, IO.JsonFiles.Options));

        Plots(outDir, arms, pretrained);
        var path = Path.Combine(outDir, FileName);
        IO.AtomicFile.WriteAllText(path, md.ToString());
        return path;
    }

    /// <summary>One arm over its pre-training seeds (results.json's <c>arms[]</c>).</summary>
    public sealed record ArmSummary(string Id, string Title, string LayerPattern, bool DropMask, double MaskRate,
        Spread ValMlmLoss, Spread ValMlmAccuracy, Spread TokensPerS, Spread PeakRssMib,
        IReadOnlyDictionary<string, DownstreamSummary> Downstream, IReadOnlyList<PretrainRun> Runs, IReadOnlyList<FineTuneRun> FineTuneRuns);

    /// <summary>Downstream scores of one arm on one task: over pre-training seeds, each the mean over its fine-tuning seeds.</summary>
    public sealed record DownstreamSummary(Spread DevAccuracy, Spread? TestAccuracy, Spread DevMacroF1, Spread DevMcc, double MajorityBaseline);

    private static ArmSummary Summarize(PretrainArm arm, IReadOnlyList<PretrainRun> pretrained, IReadOnlyList<FineTuneRun> downstream,
        IReadOnlyList<string> tasks)
    {
        var runs = pretrained.Where(p => p.Arm == arm.Id).OrderBy(p => p.Seed).ToList();
        var ft = downstream.Where(d => d.Arm == arm.Id).OrderBy(d => d.Task).ThenBy(d => d.PretrainSeed).ToList();
        var perTask = tasks.Where(t => ft.Any(f => f.Task == t)).ToDictionary(t => t, t =>
        {
            var list = ft.Where(f => f.Task == t).ToList();
            return new DownstreamSummary(Spread.Of(list.Select(f => f.DevAccuracy.Average()).ToList()),
                list.All(f => f.TestAccuracy is not null) ? Spread.Of(list.Select(f => f.TestAccuracy!.Average()).ToList()) : null,
                Spread.Of(list.Select(f => f.DevMacroF1.Average()).ToList()), Spread.Of(list.Select(f => f.DevMcc.Average()).ToList()),
                    list[0].MajorityBaseline);
        });
        return new ArmSummary(arm.Id, arm.Title, arm.Pattern, arm.DropMask, arm.MaskRate,
            Spread.Of(runs.Select(r => r.ValMlmLoss).ToList()), Spread.Of(runs.Select(r => r.ValMlmAccuracy).ToList()),
            Spread.Of(runs.Select(r => r.TokensPerS).ToList()), Spread.Of(runs.Select(r => r.PeakRssMib).ToList()), perTask, runs, ft);
    }

    private static IEnumerable<(PretrainArm Plain, PretrainArm Drop)> DropMaskPairs(IReadOnlyList<PretrainArm> arms) =>
        arms.Where(a => a.DropMask)
            .Select(d => (Plain: arms.FirstOrDefault(p => !p.DropMask && p.Pattern == d.Pattern && p.MaskRate == d.MaskRate), Drop: d))
            .Where(p => p.Plain is not null)
            .Select(p => (p.Plain!, p.Drop));

    private static List<PairedComparison> Comparisons(IReadOnlyList<PretrainArm> arms, IReadOnlyList<PretrainRun> pretrained,
        IReadOnlyList<FineTuneRun> downstream, IReadOnlyList<string> tasks)
    {
        Dictionary<int, double> Mlm(string arm, Func<PretrainRun, double> metric) =>
            pretrained.Where(p => p.Arm == arm).ToDictionary(p => p.Seed, metric);
        Dictionary<int, double> Dev(string arm, string task) =>
            downstream.Where(d => d.Arm == arm && d.Task == task).ToDictionary(d => d.PretrainSeed, d => d.DevAccuracy.Average());
        string Metric(string task) => new TaskSpec { Name = task }.IsTagged ? $"{task} dev token accuracy" : $"{task} dev accuracy";
        var list = new List<PairedComparison>();
        if (arms.Any(a => a.Id == "bert") && arms.Any(a => a.Id == "hybrid"))
        {
            list.Add(PairedComparison.Judge("HybridBERT reaches lower pre-training loss than BERT", "val MLM loss", "bert", "hybrid", false,
                Mlm("bert", p => p.ValMlmLoss), Mlm("hybrid", p => p.ValMlmLoss)));
            list.Add(PairedComparison.Judge("HybridBERT predicts masked tokens better than BERT", "val MLM accuracy", "bert", "hybrid",
                true, Mlm("bert", p => p.ValMlmAccuracy), Mlm("hybrid", p => p.ValMlmAccuracy)));
            foreach (var task in tasks)
                list.Add(PairedComparison.Judge("HybridBERT gains ~1.5% relative accuracy downstream", Metric(task), "bert", "hybrid",
                    true, Dev("bert", task), Dev("hybrid", task)));
        }
        foreach (var task in tasks)
            foreach (var (plain, drop) in DropMaskPairs(arms))
                list.Add(PairedComparison.Judge($"DropMask improves BERT downstream at {Pct(plain.MaskRate, 0)} masking",
                    Metric(task), plain.Id, drop.Id, true, Dev(plain.Id, task), Dev(drop.Id, task)));
        return list;
    }

    /// <summary>Faster / less memory only when every round of one agrees with every round of the other.</summary>
    private static string SpeedVerdict(IReadOnlyList<BenchResult> rounds, int seq)
    {
        List<BenchResult> Of(string p) => rounds.Where(r => r.Pattern == p && r.Seq == seq && r.Status == "ok").ToList();
        var (b, h) = (Of("bert"), Of("hybrid"));
        if (b.Count < 2 || h.Count < 2) return "one round: not judged";
        var faster = h.Min(r => r.TokensPerSecond!.Value) > b.Max(r => r.TokensPerSecond!.Value) ? "faster in every round"
            : h.Max(r => r.TokensPerSecond!.Value) < b.Min(r => r.TokensPerSecond!.Value) ? "slower in every round" :
                "speed within round-to-round noise";
        var leaner = h.Max(r => r.PeakRssMiB!.Value) < b.Min(r => r.PeakRssMiB!.Value) ? "less memory in every round"
            : h.Min(r => r.PeakRssMiB!.Value) > b.Max(r => r.PeakRssMiB!.Value) ? "more memory in every round" : "memory within round-to-round noise";
        return $"{faster}; {leaner}";
    }

    private static void Plots(string outDir, IReadOnlyList<PretrainArm> arms, IReadOnlyList<PretrainRun> runs)
    {
        IEnumerable<(string, IReadOnlyList<(long, double)>)> Curves(Func<PretrainArm, bool> which, string kind, string key) =>
            runs.Where(r => arms.Any(a => a.Id == r.Arm && which(a)))
                .Select(r =>
                    ($"{r.Arm} s{r.Seed}",
                    (IReadOnlyList<(long, double)>)MetricsLog.Read(Path.Combine(outDir, "pretrain", $"{r.Arm}-s{r.Seed}"), kind, key)));
        LossPlot.Save(Path.Combine(outDir, "val-loss.png"), "Validation MLM loss, 15% masking",
            Curves(a => !a.DropMask && a.MaskRate == 0.15, "eval", "mlm_loss"));
        LossPlot.Save(Path.Combine(outDir, "train-loss.png"), "Training loss, 15% masking",
            Curves(a => !a.DropMask && a.MaskRate == 0.15, "train", "loss"));
        LossPlot.Save(Path.Combine(outDir, "dropmask-val-loss.png"), "Validation MLM loss, BERT with and without DropMask",
            Curves(a => a.Pattern.All(c => c == 'A'), "eval", "mlm_loss"));
    }

    private static string F(Spread s, int decimals) =>
        double.IsNaN(s.Mean) ? "—" : s.N > 1 ? $"{s.Mean.ToString("F" + decimals, C)} ± {s.Std.ToString("F" + decimals, C)}" :
            s.Mean.ToString("F" + decimals, C);

    private static string P(Spread s) =>
        double.IsNaN(s.Mean) ? "—" : s.N > 1 ? $"{Pct(s.Mean, 2)} ± {(s.Std * 100).ToString("F2", C)}" : Pct(s.Mean, 2);

    private static string Pct(double value, int decimals) =>
        double.IsNaN(value) ? "—" : (value * 100).ToString("F" + decimals, C) + "%";

    private static string Rel(double relative) => double.IsNaN(relative) ? "—" : relative.ToString("+0.0%;-0.0%;0.0%", C);

    private static string Ratio(double? value, double? reference) =>
        value is not { } v || reference is not { } r || r == 0 ? "—" : (v / r).ToString("0.00", C) + "×";

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':',
                2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    private static double MemoryGiB() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0;
}
