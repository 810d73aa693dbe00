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

        var report = new Reproduction(ReproduceBudget.Smoke, outDir, [], threads: 2, resume: false, lines.Add).Run();

        var text = File.ReadAllText(report);
        foreach (var arm in Reproduction.Arms(2))
        {
            var row = text.Split('\n').FirstOrDefault(l => l.StartsWith($"| {arm.Title} |") && l.Contains('±'));
            Assert.True(row is not null, $"no downstream row for {arm.Title}");
            Assert.Matches(@"\d+\.\d+% ± \d+\.\d+%", row);   // accuracy mean ± std over seeds
        }
        Assert.Contains("## 1. Pre-training", text);
        Assert.Contains("## DropMask vs plain BERT", text);
        Assert.DoesNotContain("NaN", text);
        Assert.True(File.Exists(Path.Combine(outDir, "val-loss.png")));

        // A second run with --resume does no work again.
        lines.Clear();
        new Reproduction(ReproduceBudget.Smoke, outDir, [], threads: 2, resume: true, lines.Add).Run();
        Assert.All(lines.Where(l => l.StartsWith('[')), l => Assert.Contains("done earlier", l));
        // …and without it refuses to overwrite.
        Assert.Throws<IOException>(() => new Reproduction(ReproduceBudget.Smoke, outDir, [], 2, false, lines.Add).Run());
    }
}
