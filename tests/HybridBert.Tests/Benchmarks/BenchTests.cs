using System.Text.Json;
using HybridBert.Benchmarks;
using HybridBert.Tests.Cli;

namespace HybridBert.Tests.Benchmarks;

[Collection("Console")]
public sealed class BenchTests
{
    public BenchTests() => CliChild.Use();

    [Fact]
    public void Json_output_has_the_stable_fields_with_real_measurements()
    {
        var (exit, output, error) = ModelCommandTests.Run("bench", "--preset", "tiny", "--patterns", "bert,ponet", "--seq", "32", "--batch", "4",
            "--steps", "2", "--warmup", "1", "--mode", "train,infer", "--json");
        Assert.True(exit == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        foreach (var line in lines)
        {
            var r = JsonDocument.Parse(line).RootElement;
            foreach (var field in new[] { "pattern", "seq", "batch", "precision", "threads", "mode", "median_ms", "min_ms", "max_ms", "tokens_per_s", "peak_rss_mib", "params" })
                Assert.True(r.TryGetProperty(field, out _), $"missing {field}: {line}");
            Assert.Equal("ok", r.GetProperty("status").GetString());
            Assert.True(r.GetProperty("median_ms").GetDouble() > 0);
            Assert.True(r.GetProperty("peak_rss_mib").GetDouble() > 50);
            Assert.InRange(r.GetProperty("min_ms").GetDouble(), 0, r.GetProperty("max_ms").GetDouble());
        }
        Assert.Contains(lines, l => l.Contains("\"mode\":\"infer\"") && l.Contains("\"pattern\":\"ponet\""));
    }

    [Fact]
    public void A_configuration_that_cannot_fit_is_reported_not_run()
    {
        var result = BenchRunner.RunInChild(new BenchSpec { Preset = "mini", Pattern = "bert", Seq = 200_000, Batch = 4 }, TimeSpan.FromMinutes(1));
        Assert.Equal("out_of_memory", result.Status);
        Assert.Contains("GiB", result.Error);
    }
}
