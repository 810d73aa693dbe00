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
            foreach (var field in new[] { "pattern", "seq", "batch", "precision", "threads", "mode", "median_ms", "min_ms", "max_ms",
                "tokens_per_s", "peak_rss_mib", "params" })
                Assert.True(r.TryGetProperty(field, out _), $"missing {field}: {line}");
            Assert.Equal("ok", r.GetProperty("status").GetString());
            Assert.True(r.GetProperty("median_ms").GetDouble() > 0);
            Assert.True(r.GetProperty("peak_rss_mib").GetDouble() > 50);
            Assert.InRange(r.GetProperty("min_ms").GetDouble(), 0, r.GetProperty("max_ms").GetDouble());
            // A training step trims, so the next one maps memory in again.
            if (OperatingSystem.IsLinux() && r.GetProperty("mode").GetString() == "train")
                Assert.True(r.GetProperty("minor_faults_per_step").GetDouble() > 0, line);
        }
        Assert.Contains(lines, l => l.Contains("\"mode\":\"infer\"") && l.Contains("\"pattern\":\"ponet\""));
    }

    [Fact]
    public void Layers_profiles_each_kind_and_shows_attention_holding_its_quadratic_memory()
    {
        // Held memory is a difference of resident memory: measured in a fresh process, as a user runs it, not in this one
        // (whose allocator may already hold freed pages from earlier tests).
        var (exit, output, error, _) = SelfProcess.Run(["bench", "layers", "--preset", "tiny", "--seq", "512", "--batch", "4",
            "--repeats", "1", "--warmup", "0", "--json"], TimeSpan.FromMinutes(5));
        Assert.True(exit == 0, error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["A layer", "A mixer", "P layer", "P mixer", "H layer", "H mixer"],
            rows.Select(r => $"{r.GetProperty("letter").GetString()} {r.GetProperty("part").GetString()}"));
        foreach (var r in rows)
        {
            Assert.True(r.GetProperty("forward_ms").GetDouble() > 0 && r.GetProperty("backward_ms").GetDouble() > 0, r.ToString());
            Assert.Equal(512, r.GetProperty("seq").GetInt32());
        }
        double Get(string letter, string part, string field) =>
            rows.Single(r => r.GetProperty("letter").GetString() == letter &&
                r.GetProperty("part").GetString() == part).GetProperty(field).GetDouble();
        // tiny: hidden 64, two heads. Mixer parameters: 3 (A), 5 (P) and 8 half-width (H) projections with biases.
        Assert.Equal(3 * (64 * 64 + 64), Get("A", "mixer", "params"));
        Assert.Equal(5 * (64 * 64 + 64), Get("P", "mixer", "params"));
        Assert.Equal(8 * (64 * 32 + 32), Get("H", "mixer", "params"));
        // The rest of a layer (output dense, FFN, two LayerNorms) is the same whatever the mixer.
        var rest = Get("A", "layer", "params") - Get("A", "mixer", "params");
        Assert.Equal(rest, Get("P", "layer", "params") - Get("P", "mixer", "params"));
        Assert.Equal(rest, Get("H", "layer", "params") - Get("H", "mixer", "params"));
        // Attention keeps [4, 2, 512, 512] probabilities (8 MiB each: softmax, dropout mask, dropped) for backward;
        // pooling keeps a few [4, 512, 64] tensors (0.5 MiB each).
        Assert.InRange(Get("A", "mixer", "held_mib"), 16, 200);
        Assert.True(Get("P", "mixer", "held_mib") < Get("A", "mixer", "held_mib") / 2, output);

        var (badExit, _, badError) = ModelCommandTests.Run("bench", "layers", "--letters", "AX");
        Assert.Equal(2, badExit);   // a usage error, as every out-of-range option
        Assert.Contains("--letters must be letters of", badError);
    }

    [Fact]
    public void A_configuration_that_cannot_fit_is_reported_not_run()
    {
        var result = BenchRunner.RunInChild(new BenchSpec { Preset = "mini", Pattern = "bert", Seq = 200_000, Batch = 4 }, TimeSpan.FromMinutes(1));
        Assert.Equal("out_of_memory", result.Status);
        Assert.Contains("GiB", result.Error);
    }

    /// <summary>A training child turns libtorch's huge-page allocation on before its first tensor, an inference child
    /// does not, and a value the user set is obeyed: each bench child reports what its allocator did.</summary>
    [Fact]
    public void Training_children_allocate_large_tensors_on_huge_pages_unless_the_environment_says_no()
    {
        if (!OperatingSystem.IsLinux()) return;   // THP_MEM_ALLOC_ENABLE is libtorch's on Linux only
        bool HugePages(string mode, string? variable)
        {
            var (file, prefix) = SelfProcess.Command();
            var start = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true,
                UseShellExecute = false };
            foreach (var a in prefix.Concat(["bench", "--preset", "tiny", "--patterns", "bert", "--seq", "16", "--batch", "2",
                "--steps", "1", "--warmup", "0", "--mode", mode, "--json"])) start.ArgumentList.Add(a);
            start.Environment.Remove(HybridBert.Memory.NativeMemory.HugePagesVariable);
            if (variable is not null) start.Environment[HybridBert.Memory.NativeMemory.HugePagesVariable] = variable;
            using var process = System.Diagnostics.Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, stderr.Result);
            return JsonDocument.Parse(stdout).RootElement.GetProperty("huge_pages").GetBoolean();
        }
        Assert.True(HugePages("train", null));
        Assert.False(HugePages("train", "0"));
        Assert.False(HugePages("infer", null));
    }

    [Fact]
    public void Serve_times_its_requests_after_an_untimed_warm_up_and_counts_every_answer()
    {
        var out_ = Directory.CreateTempSubdirectory("hybridbert-bench-serve-").FullName;
        try
        {
            var (exit, output, error) = ModelCommandTests.Run("bench", "serve", "--preset", "tiny", "--concurrency", "8", "--requests", "1000",
                "--batched-only", "--warmup-seconds", "1", "--runtime", "onnx", "--quantized", "--out", out_);
            Assert.True(exit == 0, error + output);
            Assert.Contains("1,000 requests after 1 s of warm-up", error);
            var r = JsonDocument.Parse(Assert.Single(File.ReadAllLines(Path.Combine(out_, "results.jsonl")))).RootElement;
            Assert.Equal("onnx-int8", r.GetProperty("runtime").GetString());
            Assert.Equal(1000, r.GetProperty("ok").GetInt32());
            Assert.Equal(0, r.GetProperty("errors").GetInt32());
            Assert.Equal(0, r.GetProperty("lost").GetInt32());
            Assert.Equal(1, r.GetProperty("warmup_s").GetDouble());
            // The mean batch is of the timed requests' batches: at most the requests in flight, at least one
            Assert.InRange(r.GetProperty("mean_batch_requests").GetDouble(), 1, 8);
            Assert.True(r.GetProperty("requests_per_s").GetDouble() > 0);
        }
        finally
        {
            Directory.Delete(out_, recursive: true);
        }

        var (badExit, _, badError) = ModelCommandTests.Run("bench", "serve", "--warmup-seconds", "-1");
        Assert.Equal(2, badExit);
        Assert.Contains("--warmup-seconds must be >= 0 (got -1)", badError);
    }
}
