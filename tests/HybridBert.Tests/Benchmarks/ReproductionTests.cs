using HybridBert.Benchmarks;

namespace HybridBert.Tests.Benchmarks;

public sealed class ReproductionTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-reproduce-").FullName;
    private readonly string? savedCache = Environment.GetEnvironmentVariable("HYBRIDBERT_CACHE");

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("HYBRIDBERT_CACHE", savedCache);
        Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void The_smoke_budget_writes_a_report_with_numbers_for_every_model_and_resumes_from_finished_stages()
    {
        CliChild.Use();
        Environment.SetEnvironmentVariable("HYBRIDBERT_CACHE", Path.Combine(root, "cache"));   // inherited by the children
        var outDir = Path.Combine(root, "report");
        var lines = new List<string>();

        var report = new Reproduction(ReproduceBudget.Smoke, outDir, [], threads: 2, resume: false, lines.Add, jobs: 2).Run();

        var text = File.ReadAllText(report);
        foreach (var arm in Reproduction.Arms(ReproduceBudget.Smoke, 2))
        {
            var row = text.Split('\n').FirstOrDefault(l => l.StartsWith($"| {arm.Title} |"));
            Assert.True(row is not null, $"no row for {arm.Title}");
            Assert.Matches(@"\d+\.\d+% ± \d+\.\d+", row);   // accuracies: mean ± std over pre-training seeds
        }
        Assert.Contains("## 2. Paired differences", text);
        Assert.Contains("## 3. DropMask vs plain BERT", text);   // no bench section in the smoke budget
        Assert.DoesNotContain("NaN", text);
        // What the smoke report is, said as such: a pipeline check, no speed claims judged without a bench, the baseline named.
        Assert.Contains("**A pipeline check, not a test of the claims:**", text);
        Assert.All(text.Split('\n').Where(l => l.Contains("**held**") || l.Contains("**did not hold**") || l.Contains("**within noise**")),
            l => Assert.Contains("*(pipeline check)*", l));
        Assert.Contains("this budget times no training steps, so the speed and memory claims are not judged here", text);
        Assert.DoesNotContain("interleaved benchmark below", text);
        Assert.Matches(@"Always answering the training set's most frequent label scores \d+\.\d% on sentiment-sentences dev", text);
        Assert.True(File.Exists(Path.Combine(outDir, "val-loss.png")));

        // results.json: plain documented fields, per arm and per seed.
        var json = File.ReadAllText(Path.Combine(outDir, "results.json"));
        Assert.DoesNotContain("item1", json);
        Assert.DoesNotContain("mi_b", json);
        using var results = System.Text.Json.JsonDocument.Parse(json);
        var arms = results.RootElement.GetProperty("arms").EnumerateArray().ToList();
        Assert.Equal(ReproduceBudget.Smoke.Arms, arms.Select(a => a.GetProperty("id").GetString()));
        foreach (var arm in arms)
        {
            Assert.Equal(2, arm.GetProperty("val_mlm_accuracy").GetProperty("n").GetInt32());
            Assert.InRange(arm.GetProperty("val_mlm_accuracy").GetProperty("mean").GetDouble(), 0, 1);
            Assert.Equal([1, 2], arm.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("seed").GetInt32()));
            var downstream = arm.GetProperty("downstream").GetProperty("sentiment-sentences");
            Assert.InRange(downstream.GetProperty("dev_accuracy").GetProperty("mean").GetDouble(), 0, 1);
            Assert.True(arm.GetProperty("runs")[0].GetProperty("peak_rss_mib").GetDouble() > 0);
        }
        var comparisons = results.RootElement.GetProperty("comparisons").EnumerateArray().ToList();
        Assert.Contains(comparisons, c => c.GetProperty("arm").GetString() == "hybrid" && c.GetProperty("metric").GetString() == "val MLM loss");
        Assert.Contains(comparisons, c => c.GetProperty("arm").GetString() == "bert-dm40" && c.GetProperty("reference_arm").GetString() == "bert-40");
        Assert.All(comparisons, c => Assert.Equal(2, c.GetProperty("difference").GetProperty("n").GetInt32()));
        Assert.All(comparisons, c => Assert.Contains(c.GetProperty("verdict").GetString(), new[] { "held", "did not hold", "within noise" }));

        // A second run with --resume does no work again, and leaves the finished report as it was.
        lines.Clear();
        var before = File.ReadAllBytes(report);
        var resultsBefore = File.ReadAllBytes(Path.Combine(outDir, "results.json"));
        new Reproduction(ReproduceBudget.Smoke, outDir, [], threads: 2, resume: true, lines.Add).Run();
        Assert.Contains(lines, l => l.Contains("is already complete: all") && l.Contains("nothing to do"));
        Assert.DoesNotContain(lines, l => l.StartsWith('['));
        Assert.Equal(before, File.ReadAllBytes(report));
        Assert.Equal(resultsBefore, File.ReadAllBytes(Path.Combine(outDir, "results.json")));
        // A stage undone (as if killed) is the only work a resume does.
        File.Delete(Path.Combine(outDir, "stages", "finetune-sentiment-sentences-hybrid-s2.json"));
        lines.Clear();
        new Reproduction(ReproduceBudget.Smoke, outDir, [], threads: 2, resume: true, lines.Add).Run();
        Assert.Single(lines, l => l.StartsWith('[') && !l.Contains("done earlier"));
        // …and without it refuses to overwrite.
        var refused =
            Assert.Throws<HybridBert.IO.OutputExistsException>(() => new Reproduction(ReproduceBudget.Smoke, outDir, [], 2, false, lines.Add).Run());
        Assert.Contains("already holds a reproduction: continue it (Resume = true), or write somewhere else", refused.Message);
    }

    [Fact]
    public void The_first_eta_of_the_main_job_weighs_stages_by_their_cost()
    {
        // The default budget's runs: every arm with each seed, PoNet once; the data stage took its measured 20 s.
        var budget = ReproduceBudget.Default;
        var arms = Reproduction.Arms(budget, 4);
        var rates =
            budget.PretrainSeeds.SelectMany(seed =>
            arms.Where(a => seed == budget.PretrainSeeds[0] || !budget.SingleSeedArms.Contains(a.Id))).Select(a => a.MaskRate).ToList();
        Assert.Equal(11, rates.Count);
        var total = StageCost.Total(budget, rates, tasks: 1, jobs: 2);
        // The data stage takes a second or two: an ETA extrapolated from it alone would say minutes (it said 2:24 in a
        // fresh clone's run before the reference took over), so the first ETA is the reference estimate.
        var eta = StageCost.Eta(TimeSpan.FromSeconds(1), StageCost.Data, total - StageCost.Data);
        Assert.InRange(eta.TotalMinutes, 20, 30);   // the committed run took 26.4 minutes in all; counting stages as equal said 0.7
        // After a minute's work the machine's own speed scales it: twice as slow, twice as long.
        var later = StageCost.Eta(TimeSpan.FromSeconds(400), 200, 1000);
        Assert.Equal(2000, later.TotalSeconds, 6);
        // A 40%-masking run costs more than a 15% one, a fine-tuning a small part of a pre-training run.
        Assert.True(StageCost.Pretrain(budget, 0.40) > 1.3 * StageCost.Pretrain(budget, 0.15));
        Assert.InRange(StageCost.FineTune(budget) / StageCost.Pretrain(budget, 0.15), 0.1, 0.2);
    }
}
