using System.Globalization;
using System.Text.Json;

namespace HybridBert.Benchmarks;

/// <summary>
/// Runs each <see cref="BenchSpec"/> in a fresh child process (this program with <c>bench --worker</c>), so peak
/// memory is that configuration's own and a configuration that runs out of memory is reported, not fatal.
/// Configurations that clearly cannot fit (estimated activations over the free memory) are not started.
/// </summary>
public static class BenchRunner
{
    /// <summary>
    /// Every spec in a fresh child, the whole list <paramref name="rounds"/> times, interleaved (A B C, A B C …: drift
    /// on a noisy machine hits every configuration alike). The one home of interleaved rounds: <c>bench</c> and
    /// <c>reproduce</c> both run their configurations through it. Results in the order run.
    /// </summary>
    public static List<(int Round, BenchSpec Spec, BenchResult Result)> RunRounds(IReadOnlyList<BenchSpec> specs, int rounds, TimeSpan timeout,
        Action<int, BenchSpec>? starting = null, CancellationToken cancel = default)
    {
        var results = new List<(int, BenchSpec, BenchResult)>();
        for (var round = 0; round < rounds; round++)
            foreach (var spec in specs)
            {
                cancel.ThrowIfCancellationRequested();
                starting?.Invoke(round, spec);
                results.Add((round, spec, RunInChild(spec, timeout)));
            }
        return results;
    }

    public static BenchResult RunInChild(BenchSpec spec, TimeSpan timeout)
    {
        if (EstimateBytes(spec) is var need && Memory.MemoryUsage.AvailableBytes() is { } free && need > 0.9 * free)
            return BenchResult.Failed(spec, "out_of_memory",
                $"needs about {need / 1073741824.0:F1} GiB of activations, {free / 1073741824.0:F1} GiB free: not started");

        // The child reads its spec from a JSON options file (never from assembled arguments).
        var file = Path.Combine(Path.GetTempPath(), $"hybridbert-bench-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, JsonSerializer.Serialize(spec, IO.JsonFiles.Lines));
        SelfProcess.Result run;
        try
        {
            run = SelfProcess.Run(["bench", "--worker", file], timeout);
        }
        finally
        {
            File.Delete(file);
        }
        if (run.TimedOut) return BenchResult.Failed(spec, "error", $"timed out after {timeout.TotalSeconds:F0} s");
        var line = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        if (run.ExitCode == 0 && line is not null) return JsonSerializer.Deserialize<BenchResult>(line, IO.JsonFiles.Lines)!;

        var message = run.Stderr;
        var oom = run.ExitCode is 137 or -9 || Memory.OutOfMemory.Matches(message);
        // libtorch may print one-time warnings on stderr: skip them for the error line.
        var firstLine =
            message.Split('\n').FirstOrDefault(l => l.Trim().Length > 0 && !l.Contains("Warning:", StringComparison.Ordinal))?.Trim() ??
            $"exit code {run.ExitCode}";
        return BenchResult.Failed(spec, oom ? "out_of_memory" : "error", firstLine.Length > 300 ? firstLine[..300] : firstLine);
    }

    /// <summary>A rough upper estimate of a configuration's activation memory (<see cref="Memory.MemoryEstimate"/>).</summary>
    public static double EstimateBytes(BenchSpec s) =>
        Memory.MemoryEstimate.ActivationBytes(Model.Presets.Build(s.Preset, s.Pattern, s.VocabSize), s.Batch, s.Seq, s.Precision,
            s.Mode == BenchMode.Train);

    /// <summary>Per-round results of one configuration combined: median of medians, overall min and max, highest peak.</summary>
    public static BenchResult Combine(IReadOnlyList<BenchResult> rounds)
    {
        var ok = rounds.Where(r => r.Status == "ok").ToList();
        if (ok.Count == 0) return rounds[0];
        var median = FineTuning.Metrics.Median(ok.Select(r => r.MedianMs!.Value));
        return ok[0] with
        {
            MedianMs = median, MinMs = ok.Min(r => r.MinMs), MaxMs = ok.Max(r => r.MaxMs), PeakRssMiB = ok.Max(r => r.PeakRssMiB),
            TokensPerSecond = ok[0].Batch * ok[0].Seq / (median / 1000), Steps = ok.Sum(r => r.Steps),
        };
    }

    public static void WriteCsv(string path, IEnumerable<BenchResult> results)
    {
        static string F(double? v) => v?.ToString("0.###", CultureInfo.InvariantCulture) ?? "";
        var lines =
            new List<string> { "pattern,layer_pattern,preset,seq,batch,precision,threads,mode,head,status," +
                "median_ms,min_ms,max_ms,tokens_per_s,peak_rss_mib,params" };
        lines.AddRange(results.Select(r =>
            string.Join(',', r.Pattern, r.LayerPattern, r.Preset, r.Seq, r.Batch, r.Precision, r.Threads, r.Mode, r.Head, r.Status,
            F(r.MedianMs), F(r.MinMs), F(r.MaxMs), F(r.TokensPerSecond), F(r.PeakRssMiB), r.Params?.ToString(CultureInfo.InvariantCulture) ?? "")));
        IO.AtomicFile.WriteAllLines(path, lines);
    }

    /// <summary>Throughput and peak memory against sequence length, one line per pattern, one PNG per mode.</summary>
    public static void WritePlots(string folder, IReadOnlyList<BenchResult> results)
    {
        foreach (var mode in results.Select(r => r.Mode).Distinct())
        {
            foreach (var (metric, label, pick) in new (string, string, Func<BenchResult, double?>)[]
                     { ("throughput", "tokens/s", r => r.TokensPerSecond), ("memory", "peak RSS (MiB)", r => r.PeakRssMiB) })
            {
                var plot = new ScottPlot.Plot();
                foreach (var group in results.Where(r => r.Mode == mode && r.Status == "ok").GroupBy(r => r.Pattern))
                {
                    var points = group.OrderBy(r => r.Seq).ToList();
                    var line = plot.Add.Scatter(points.Select(p => Math.Log2(p.Seq)).ToArray(), points.Select(p => pick(p)!.Value).ToArray());
                    line.LegendText = $"{group.Key} ({points[0].LayerPattern})";
                }
                // A log2 axis, labelled with the lengths themselves (128, 512, …), not their logarithms.
                var lengths = results.Where(r => r.Mode == mode && r.Status == "ok").Select(r => r.Seq).Distinct().Order().ToArray();
                plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                    lengths.Select(n => Math.Log2(n)).ToArray(),
                        lengths.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
                plot.Title($"{mode}: {label} vs sequence length");
                plot.XLabel("sequence length (log scale)");
                plot.YLabel(label);
                plot.ShowLegend();
                plot.SavePng(Path.Combine(folder, $"{mode}-{metric}.png"), 900, 540);
            }
        }
    }
}
