using System.Text.Json;
using HybridBert.Benchmarks;
using HybridBert.Data;
using HybridBert.Tests.Benchmarks;

namespace HybridBert.Tests.Reproducibility;

/// <summary>
/// One seed, one run — across processes: each run here is the real CLI in a fresh child process, so anything
/// derived from a per-process hash (as .NET's HashCode is) would show up as a difference.
/// </summary>
public sealed class CrossProcessTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-seeds-").FullName;
    private readonly string data;

    public CrossProcessTests()
    {
        CliChild.Use();
        var corpus = Path.Combine(root, "corpus.txt");
        var documents = new CorpusReader().Read(CorpusSource.Default()).Where(d => d.Source.Contains("moby")).Take(12);
        File.WriteAllLines(corpus, documents.SelectMany(d => d.Paragraphs.Append("")));
        data = Path.Combine(root, "data");
        DataPreparation.Run(CorpusSource.Resolve([corpus]), EmbeddedData.Vocabulary(), data,
            new PrepareOptions { SeqLen = 32, ValidationFraction = 0.25 });
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Pretrain(string run, string pattern, int seed, params string[] extra)
    {
        var dir = Path.Combine(root, run);
        string[] args = ["pretrain", "--data", data, "--out", dir, "--preset", "tiny", "--pattern", pattern, "--max-steps", "8",
            "--batch", "8", "--lr", "3e-3", "--warmup", "1", "--log-every", "1", "--eval-every", "4", "--eval-batches", "2",
            "--checkpoint-every", "4", "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--threads", "2", .. extra];
        var result = SelfProcess.Run(args, TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, $"pretrain {run} exited {result.ExitCode}: {result.Stderr}");
        return dir;
    }

    /// <summary>metrics.jsonl records of one type as text, without the fields that measure the machine (time, speed,
    /// memory): for records that must match exactly (a batch's sequences and digest); losses: <see cref="SameRun"/>.</summary>
    internal static List<string> Records(string runDir, string type) =>
        SameRun.Records(runDir, type).Select(r => string.Join(",", r.Select(p => $"{p.Key}={p.Value.GetRawText()}"))).ToList();

    [Fact]
    public void Two_processes_with_one_seed_log_identical_losses_and_evaluations()
    {
        var a = Pretrain("a", "PA", 7);
        var b = Pretrain("b", "PA", 7);
        var other = Pretrain("c", "PA", 8);

        Assert.Equal(8, Records(a, "train").Count);
        SameRun.AssertSameRecords(a, b, "train");
        SameRun.AssertSameRecords(a, b, "eval");
        SameRun.AssertDifferent(a, other, "train");   // the comparison can fail
    }

    [Fact]
    public void A_run_stopped_early_and_resumed_in_a_new_process_logs_the_uninterrupted_runs_losses()
    {
        var straight = Pretrain("straight", "PA", 7);
        // The first process stops on a token budget after a few steps (the schedule still spans 8 steps); the second resumes.
        var broken = Pretrain("broken", "PA", 7, "--max-tokens", "600");
        var stoppedAt = Records(broken, "train").Count;
        Assert.InRange(stoppedAt, 2, 7);
        Pretrain("broken", "PA", 7, "--resume", "--max-tokens", "1000000");   // --resume keeps the saved budget unless given

        SameRun.AssertSameRecords(straight, broken, "train");
        // The first process also evaluated where its budget ended; apart from that, the same evaluations.
        SameRun.AssertSameRecords(SameRun.Records(straight, "eval"),
            SameRun.Records(broken, "eval").Where(r => r["step"].GetInt64() != stoppedAt).ToList());
    }

    [Fact]
    public void Two_arms_with_one_seed_draw_the_same_batches_and_the_same_masks()
    {
        var bert = Pretrain("bert", "AA", 7, "--log-batches");
        var hybrid = Pretrain("hybrid", "PA", 7, "--log-batches", "--dropmask");
        var otherSeed = Pretrain("bert-8", "AA", 8, "--log-batches");

        var batches = Records(bert, "batch");
        Assert.Equal(8, batches.Count);
        Assert.Contains("sha256=", batches[0]);
        Assert.Equal(batches, Records(hybrid, "batch"));
        var other = Records(otherSeed, "batch");
        Assert.All(batches.Zip(other), pair => Assert.NotEqual(pair.First, pair.Second));
    }

    private static void Cli(params string[] args)
    {
        var result = SelfProcess.Run(args, TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, $"{args[0]} exited {result.ExitCode}: {result.Stderr}");
    }

    [Fact]
    public void Data_preparation_and_fine_tuning_give_the_same_bytes_and_scores_in_two_processes()
    {
        var corpus = Path.Combine(root, "corpus.txt");
        foreach (var name in new[] { "p1", "p2" })
            Cli("data", "prepare", "--corpus", corpus, "--out", Path.Combine(root, name), "--seq-len", "32", "--seed", "5");
        static string Shards(string dir) => string.Join(",", JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json"))).RootElement
            .GetProperty("splits").EnumerateObject().SelectMany(s =>
                s.Value.GetProperty("shards").EnumerateArray().Select(h => h.GetProperty("sha256").GetString())));
        Assert.Equal(Shards(Path.Combine(root, "p1")), Shards(Path.Combine(root, "p2")));

        foreach (var name in new[] { "f1", "f2" })
            Cli("finetune", "--init", "random", "--preset", "tiny", "--task", "sentiment-sentences", "--max-train-examples", "96", "--epochs", "1",
                "--batch", "16", "--max-len", "32", "--seeds", "3", "--threads", "2", "--out", Path.Combine(root, name));
        static List<Dictionary<string, JsonElement>> Scores(string dir)
        {
            var seed = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json"))).RootElement.GetProperty("seeds")[0];
            return new[] { "dev", "test" }.Select(split => seed.GetProperty(split).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone())).ToList();
        }
        SameRun.AssertSameRecords(Scores(Path.Combine(root, "f1")), Scores(Path.Combine(root, "f2")));
        SameRun.AssertSameWeights(Path.Combine(root, "f1", "seed-3", "model.safetensors"), Path.Combine(root, "f2", "seed-3", "model.safetensors"));
    }
}
