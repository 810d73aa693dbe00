using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using HybridBert.Model;
using HybridBert.Training;

namespace HybridBert.Benchmarks;

/// <summary>Writes <c>report.md</c> (tables with relative differences, honest notes) and the loss-curve plots.</summary>
public static class ReproductionReport
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static string Write(string outDir, ReproduceBudget budget, int threads, IReadOnlyList<ArmResult> arms,
        IReadOnlyDictionary<(string Task, string Arm), JsonElement> downstream, IReadOnlyList<string> tasks, IReadOnlyList<BenchResult> bench, TimeSpan elapsed)
    {
        var md = new StringBuilder();
        var config = Presets.Build(budget.Preset, "bert");
        var bert = arms.First(a => a.Arm.Id == "bert");
        md.AppendLine($"# HybridBERT at small scale: `{budget.Name}` budget\n");
        md.AppendLine($"Command: `hybridbert reproduce --budget {budget.Name} --out {Path.GetFileName(outDir.TrimEnd('/'))}` · finished {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · {elapsed.TotalMinutes:F1} minutes\n");
        md.AppendLine("## Machine and setup\n");
        md.AppendLine($"- Machine: {CpuModel()}, {Environment.ProcessorCount} cores, {MemoryGiB():F0} GiB; {RuntimeInformation.OSDescription}; {RuntimeInformation.FrameworkDescription}; TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}; {threads} threads; fp32.");
        md.AppendLine($"- Models: `{budget.Preset}` ({config.NumHiddenLayers} layers × {config.HiddenSize}, {config.NumAttentionHeads} heads, FFN {config.IntermediateSize}), vocabulary 8,192 (embedded).");
        md.AppendLine($"- Pre-training (every arm the same): embedded corpus (State of the Union + Moby-Dick, 12 MB), sequences of {budget.SeqLen}, batch {budget.Batch}, {budget.Steps} steps (≈{bert.Tokens:N0} tokens), AdamW lr {budget.PretrainLr.ToString(C)} with 6% warm-up and linear decay, masking 80/10/10, MLM only, seed {Reproduction.Seed}. Validation: held-out documents, masks from a fixed seed, so every arm is scored on the same positions (at its own masking rate).");
        md.AppendLine($"- Fine-tuning: {string.Join(", ", tasks)}; {budget.FineTuneEpochs} epoch(s), lr {budget.FineTuneLr.ToString(C)}, max length {budget.FineTuneMaxLength}, seeds {string.Join(", ", budget.FineTuneSeeds)}" +
                      (budget.FineTuneMaxTrain is { } cap ? $", first {cap} training examples only" : "") + "; dev metrics of the best epoch, mean ± sample std over seeds.");
        md.AppendLine();

        md.AppendLine("## 1. Pre-training: HybridBERT vs BERT (15% masking)\n");
        md.AppendLine("| model | layers | final val MLM loss | best | Δ loss vs BERT | MLM acc | train tokens/s | Δ speed | peak RSS MiB | Δ memory | time s |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var a in arms.Where(a => a.Arm.MaskRate == 0.15 && !a.Arm.DropMask))
            md.AppendLine($"| {a.Arm.Title} | `{a.LayerPattern}` | {a.FinalEvalLoss:F4} | {a.BestEvalLoss:F4} | {Rel(a.FinalEvalLoss, bert.FinalEvalLoss)} | {Pct(a.EvalAccuracy, 1)} | {a.TokensPerSecond:N0} | {Rel(a.TokensPerSecond, bert.TokensPerSecond)} | {a.PeakRssMiB:N0} | {Rel(a.PeakRssMiB, bert.PeakRssMiB)} | {a.Seconds:F0} |");
        md.AppendLine("\nTokens/s counts training steps only; peak RSS is each run's own process (it includes evaluation). One pre-training seed per arm.\n");
        md.AppendLine("![validation MLM loss](val-loss.png)\n");

        if (bench.Count > 0)
        {
            md.AppendLine("## 2. Training-step speed and memory, bert vs hybrid (`hybridbert bench`)\n");
            md.AppendLine($"Each configuration in a fresh process, patterns interleaved, {budget.BenchRounds} rounds × {budget.BenchSteps} timed steps; batch × seq = 4,096 tokens.\n");
            md.AppendLine("| pattern | seq | batch | median ms (min–max) | tokens/s | Δ vs bert | peak RSS MiB | Δ vs bert |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in bench)
            {
                var reference = bench.First(b => b.Pattern == "bert" && b.Seq == r.Seq);
                md.AppendLine(r.Status != "ok"
                    ? $"| {r.Pattern} | {r.Seq} | {r.Batch} | {r.Status}: {r.Error} | | | | |"
                    : $"| {r.Pattern} (`{r.LayerPattern}`) | {r.Seq} | {r.Batch} | {r.MedianMs:F0} ({r.MinMs:F0}–{r.MaxMs:F0}) | {r.TokensPerSecond:N0} | {Rel(r.TokensPerSecond ?? 0, reference.TokensPerSecond ?? 0)} | {r.PeakRssMiB:N0} | {Rel(r.PeakRssMiB ?? 0, reference.PeakRssMiB ?? 0)} |");
            }
            md.AppendLine();
        }

        foreach (var task in tasks)
        {
            md.AppendLine($"## {(bench.Count > 0 ? 3 : 2)}. Downstream: {task}\n");
            md.AppendLine("| model | accuracy | Δ vs BERT (relative) | macro F1 | MCC | majority baseline |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|");
            var bertAcc = Dev(downstream[(task, "bert")], "accuracy");
            foreach (var a in arms)
            {
                var r = downstream[(task, a.Arm.Id)];
                var acc = Dev(r, "accuracy");
                md.AppendLine($"| {a.Arm.Title} | {Pct(acc.Mean, 2)} ± {Pct(acc.Std, 2)} | {Rel(acc.Mean, bertAcc.Mean)}{Noise(acc, bertAcc)} | {Dev(r, "macro_f1").Mean:F4} | {Dev(r, "mcc").Mean:F4} | {Pct(Number(r.GetProperty("majority_baseline")), 1)} |");
            }
            md.AppendLine();
        }

        md.AppendLine("## DropMask vs plain BERT at each masking rate\n");
        md.AppendLine("| masking | val MLM loss: none | DropMask | MLM acc: none | DropMask | downstream accuracy: none | DropMask | Δ (relative) |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var rate in new[] { 0.15, 0.30, 0.40 })
        {
            var plain = arms.First(a => a.Arm.Pattern == "bert" && !a.Arm.DropMask && a.Arm.MaskRate == rate);
            var drop = arms.First(a => a.Arm.DropMask && a.Arm.MaskRate == rate);
            var pa = Dev(downstream[(tasks[0], plain.Arm.Id)], "accuracy");
            var da = Dev(downstream[(tasks[0], drop.Arm.Id)], "accuracy");
            md.AppendLine($"| {Pct(rate, 0)} | {plain.FinalEvalLoss:F4} | {drop.FinalEvalLoss:F4} | {Pct(plain.EvalAccuracy, 1)} | {Pct(drop.EvalAccuracy, 1)} | {Pct(pa.Mean, 2)} ± {Pct(pa.Std, 2)} | {Pct(da.Mean, 2)} ± {Pct(da.Std, 2)} | {Rel(da.Mean, pa.Mean)}{Noise(da, pa)} |");
        }
        md.AppendLine("\nDownstream accuracy on " + tasks[0] + ". A DropMask model is validated with DropMask inputs, as it was trained, so its MLM loss answers a harder question (masked tokens see no other masked token) and is not directly comparable with the plain model's.\n");
        md.AppendLine("![DropMask validation loss](dropmask-val-loss.png)\n");

        md.AppendLine("## The paper's claims at this scale\n");
        var hybrid = arms.First(a => a.Arm.Id == "hybrid");
        var hybridAcc = Dev(downstream[(tasks[0], "hybrid")], "accuracy");
        var bertTaskAcc = Dev(downstream[(tasks[0], "bert")], "accuracy");
        md.AppendLine($"- *HybridBERT reaches lower pre-training loss than BERT*: validation MLM loss {hybrid.FinalEvalLoss:F4} vs {bert.FinalEvalLoss:F4} ({Rel(hybrid.FinalEvalLoss, bert.FinalEvalLoss)}) — " +
                      (hybrid.FinalEvalLoss < bert.FinalEvalLoss ? "held" : "did not hold") + (Math.Abs(hybrid.FinalEvalLoss / bert.FinalEvalLoss - 1) < 0.01 ? ", but by under 1% from a single seed: not a reliable difference" : "") + ".");
        if (bench.Count > 0)
        {
            foreach (var seq in budget.BenchSeqs)
            {
                var b = bench.First(r => r.Pattern == "bert" && r.Seq == seq);
                var h = bench.First(r => r.Pattern == "hybrid" && r.Seq == seq);
                if (b.Status != "ok" || h.Status != "ok") continue;
                md.AppendLine($"- *~8% faster, ~13% less memory* (seq {seq}): training tokens/s {Rel(h.TokensPerSecond!.Value, b.TokensPerSecond!.Value)}, peak memory {Rel(h.PeakRssMiB!.Value, b.PeakRssMiB!.Value)}" +
                              (Math.Abs(h.TokensPerSecond.Value / b.TokensPerSecond.Value - 1) < 0.03 ? " (speed within the ±3% run-to-run noise of this machine)" : "") + ".");
            }
        }
        md.AppendLine($"- *~1.5% relative accuracy gain downstream*: {tasks[0]} accuracy {Pct(hybridAcc.Mean, 2)} vs {Pct(bertTaskAcc.Mean, 2)} ({Rel(hybridAcc.Mean, bertTaskAcc.Mean)}){Noise(hybridAcc, bertTaskAcc)}.");
        foreach (var rate in new[] { 0.15, 0.30, 0.40 })
        {
            var pa = Dev(downstream[(tasks[0], arms.First(a => a.Arm.Pattern == "bert" && !a.Arm.DropMask && a.Arm.MaskRate == rate).Arm.Id)], "accuracy");
            var da = Dev(downstream[(tasks[0], arms.First(a => a.Arm.DropMask && a.Arm.MaskRate == rate).Arm.Id)], "accuracy");
            md.AppendLine($"- *DropMask improves BERT downstream* at {Pct(rate, 0)}: {Pct(da.Mean, 2)} vs {Pct(pa.Mean, 2)} ({Rel(da.Mean, pa.Mean)}) — {(da.Mean > pa.Mean ? "held" : "did not hold")}{Noise(da, pa)}.");
        }
        if (arms.All(a => Math.Abs(a.EvalAccuracy - arms[0].EvalAccuracy) < 0.005))
            md.AppendLine($"\n**Every arm ends with the same validation MLM accuracy ({Pct(arms[0].EvalAccuracy, 1)}): the models still predict little more than the most frequent tokens (the unigram plateau). At this budget loss and downstream differences are not meaningful; run `--budget long`.**");
        md.AppendLine("\n\"Within noise\" marks a difference smaller than the combined standard deviation over fine-tuning seeds. Pre-training used one seed per arm, so small loss differences cannot be told from seed variation. At this scale (minutes of CPU pre-training, a 12 MB corpus) the models are far from converged: the numbers test the pipeline and the direction of effects, not the paper's absolute results.\n");

        md.AppendLine("## Raw data\n");
        md.AppendLine("- `pretrain/*/metrics.jsonl`, `summary.json`, `loss.png` — every pre-training run; `finetune/*/*/results.json` — every fine-tuning run; `stages/*.json` — what this report was built from; `logs/` — each child process's output.");
        File.WriteAllText(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(new { arms, bench }, new JsonSerializerOptions(Checkpoint.Json) { IncludeFields = true }));

        Plots(outDir, arms);
        var path = Path.Combine(outDir, "report.md");
        File.WriteAllText(path, md.ToString());
        return path;
    }

    private static void Plots(string outDir, IReadOnlyList<ArmResult> arms)
    {
        List<(long, double)> Curve(ArmResult a) => MetricsLog.Read(Path.Combine(outDir, "pretrain", a.Arm.Id), "eval", "mlm_loss");
        LossPlot.Save(Path.Combine(outDir, "val-loss.png"), "Validation MLM loss, 15% masking",
            arms.Where(a => !a.Arm.DropMask && a.Arm.MaskRate == 0.15).Select(a => ($"{a.Arm.Id} ({a.LayerPattern})", (IReadOnlyList<(long, double)>)Curve(a))));
        LossPlot.Save(Path.Combine(outDir, "train-loss.png"), "Training loss, 15% masking",
            arms.Where(a => !a.Arm.DropMask && a.Arm.MaskRate == 0.15).Select(a => ($"{a.Arm.Id} ({a.LayerPattern})",
                (IReadOnlyList<(long, double)>)MetricsLog.Read(Path.Combine(outDir, "pretrain", a.Arm.Id), "train", "loss"))));
        LossPlot.Save(Path.Combine(outDir, "dropmask-val-loss.png"), "Validation MLM loss, BERT with and without DropMask",
            arms.Where(a => a.Arm.Pattern == "bert").Select(a => (a.Arm.Id, (IReadOnlyList<(long, double)>)Curve(a))));
    }

    private static (double Mean, double Std) Dev(JsonElement results, string metric)
    {
        var m = results.GetProperty("dev").GetProperty(metric);
        return (Number(m.GetProperty("mean")), Number(m.GetProperty("std")));
    }

    private static double Number(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : double.Parse(e.GetString()!, C);

    private static string Pct(double value, int decimals) =>
        double.IsNaN(value) ? "—" : (value * 100).ToString("F" + decimals, C) + "%";

    private static string Rel(double value, double reference) =>
        reference == 0 || double.IsNaN(value) || double.IsNaN(reference) ? "—" : (value / reference - 1).ToString("+0.0%;-0.0%;0.0%", C);

    private static string Noise((double Mean, double Std) a, (double Mean, double Std) b) =>
        Math.Abs(a.Mean - b.Mean) < Math.Sqrt(a.Std * a.Std + b.Std * b.Std) ? " (within noise)" : "";

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    private static double MemoryGiB() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0;
}
