using System.Text.Json;
using HybridBert.Tests.Cli;

namespace HybridBert.Tests.Benchmarks;

[Collection("Console")]
public sealed class GemmBenchmarkTests
{
    public GemmBenchmarkTests() => CliChild.Use();

    [Fact]
    public void Gemm_times_each_engine_on_the_same_product_and_sums_a_forward()
    {
        var (exit, output, error) = ModelCommandTests.Run("bench", "gemm", "--preset", "tiny", "--seq", "16", "--batch", "4",
            "--rounds", "2", "--repeats", "1", "--warmup", "0", "--json");
        Assert.True(exit == 0, error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        string[] engines = ["torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8"];
        var products = rows.Where(r => r.GetProperty("kind").GetString() == "product").ToList();
        // tiny: hidden 64, intermediate 256, two layers; 64 tokens.
        Assert.Equal(["projections 64x64x192", "output 64x64x64", "ffn_in 64x64x256", "ffn_out 64x256x64"],
            products.Select(r => $"{r.GetProperty("part").GetString()} {r.GetProperty("m")}x{r.GetProperty("k")}x{r.GetProperty("n")}").Distinct());
        Assert.Equal(16, products.Count);
        foreach (var r in products)
        {
            Assert.Equal(2, r.GetProperty("per_forward").GetInt32());
            Assert.True(r.GetProperty("median_ms").GetDouble() > 0 && r.GetProperty("gflops").GetDouble() > 0, r.ToString());
            Assert.InRange(r.GetProperty("min_ms").GetDouble(), 0, r.GetProperty("median_ms").GetDouble());
            // Every engine computes the same product, to its own precision: fp32 engines to rounding, bf16 and int8 really
            // in their type (an engine that ran fp32 instead would show no error).
            var relative = r.GetProperty("max_rel_error").GetDouble();
            switch (r.GetProperty("engine").GetString())
            {
                case "torch-fp32": Assert.Equal(0, relative); break;
                case "onnx-fp32": Assert.InRange(relative, 0, 1e-5); break;
                case "torch-bf16": Assert.InRange(relative, 1e-4, 2e-2); break;
                case "onnx-int8": Assert.InRange(relative, 1e-3, 5e-2); break;
                default: Assert.Fail($"unknown engine: {r}"); break;
            }
        }
        var forwards = rows.Where(r => r.GetProperty("kind").GetString() == "forward").ToList();
        Assert.Equal(engines, forwards.Select(r => r.GetProperty("engine").GetString()));
        foreach (var f in forwards)
        {
            var engine = f.GetProperty("engine").GetString();
            var sum = products.Where(r => r.GetProperty("engine").GetString() == engine)
                .Sum(r => r.GetProperty("per_forward").GetInt32() * r.GetProperty("median_ms").GetDouble());
            Assert.Equal(sum, f.GetProperty("median_ms").GetDouble(), 9);
            Assert.True(!f.TryGetProperty("max_rel_error", out var e) || e.ValueKind == JsonValueKind.Null, f.ToString());
        }
        var torch = forwards[0].GetProperty("median_ms").GetDouble();
        Assert.Equal(1.0, forwards[0].GetProperty("vs_torch_fp32").GetDouble());
        Assert.Equal(torch / forwards[3].GetProperty("median_ms").GetDouble(), forwards[3].GetProperty("vs_torch_fp32").GetDouble(), 9);

        var (badExit, _, badError) = ModelCommandTests.Run("bench", "gemm", "--rounds", "0", "--preset", "huge");
        Assert.Equal(2, badExit);
        Assert.Contains("--rounds must be >= 1 (got 0)", badError);
    }
}
