using HybridBert.Tests.Cli;
using HybridBert.Training;

namespace HybridBert.Tests.Training;

/// <summary>
/// Running <c>pretrain</c> again does what it says: <c>--resume</c> on a finished run touches nothing; <c>--resume</c>
/// alone continues with the options saved with the run (no flags repeated, no data prepared); a flag that would change
/// the run is refused, a longer <c>--max-steps</c> pointing to <c>--init-from</c>; a run that died before its first
/// checkpoint can be started again.
/// </summary>
[Collection("Console")]
public sealed class RerunTests(TinyData data) : IClassFixture<TinyData>, IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-rerun-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => ModelCommandTests.Run(args);

    private string[] Pretrain(string run, params string[] extra) =>
        ["pretrain", "--data", data.DataDir, "--out", run, "--preset", "tiny", "--pattern", "PA", "--batch", "4", "--lr", "2e-3", "--seed", "5",
         "--eval-every", "3", "--eval-batches", "1", "--log-every", "1", "--threads", "1", .. extra];

    private static Dictionary<string, byte[]> Files(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllBytes);

    [Fact]
    public void Resuming_a_finished_run_says_so_and_leaves_every_file_as_it_was()
    {
        var run = Path.Combine(root, "finished");
        var first = Run(Pretrain(run, "--max-steps", "4"));
        Assert.True(first.Exit == 0, first.Err);
        var before = Files(run);

        var again = Run("pretrain", "--out", run, "--resume");
        Assert.True(again.Exit == 0, again.Err);
        Assert.Contains($"{run} is already complete at step 4 of 4: nothing to do", again.Out);
        Assert.Contains("--init-from", again.Out);
        var after = Files(run);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());   // no new TensorBoard file, no data prepared
        Assert.All(before, kv => Assert.Equal(kv.Value, after[kv.Key]));

        var longer = Run("pretrain", "--out", run, "--resume", "--max-steps", "8");
        Assert.Equal(2, longer.Exit);
        Assert.Contains("--max-steps 4 (now 8)", longer.Err);
        Assert.Contains($"--init-from {run} --out ANOTHER_DIR", longer.Err);
    }

    [Fact]
    public void Resume_alone_continues_with_the_saved_options_exactly_as_an_uninterrupted_run()
    {
        var straight = Path.Combine(root, "straight");
        Assert.Equal(0, Run(Pretrain(straight, "--max-steps", "6")).Exit);

        // Stopped early by a token budget (a budget, not part of the schedule, so it may change on resume).
        var run = Path.Combine(root, "stopped");
        var first = Run(Pretrain(run, "--max-steps", "6", "--max-tokens", "200"));
        Assert.True(first.Exit == 0, first.Err);
        Assert.InRange(Checkpoint.List(run)[0].Step, 1, 5);

        var spent = Run("pretrain", "--out", run, "--resume");   // the saved budget still holds
        Assert.True(spent.Exit == 0, spent.Err);
        Assert.Contains("has spent its budget (--max-tokens 200)", spent.Out);
        Assert.Contains("resume with a larger --max-tokens", spent.Out);

        var resumed = Run("pretrain", "--out", run, "--resume", "--max-tokens", "1000000");
        Assert.True(resumed.Exit == 0, resumed.Err);
        Assert.False(Directory.Exists(Path.Combine(run, "data")), "resume prepared the embedded corpus instead of using the run's data");
        Assert.Equal(6, Checkpoint.List(run)[0].Step);
        Reproducibility.SameRun.AssertSameRecords(straight, run, "train");

        // A newest checkpoint whose trainer.json is damaged: --resume alone still finds the options (in the one before),
        // and the run goes on from there, setting the damaged one aside with a warning as a resume always has.
        var damaged = Path.Combine(root, "damaged");
        Assert.Equal(0, Run(Pretrain(damaged, "--max-steps", "6", "--max-tokens", "300", "--checkpoint-every", "1")).Exit);
        var newest = Checkpoint.List(damaged)[0];
        File.WriteAllText(Path.Combine(newest.Folder, Checkpoint.TrainerFile), "{ truncated");
        var recovered = Run("pretrain", "--out", damaged, "--resume", "--max-tokens", "1000000");
        Assert.True(recovered.Exit == 0, recovered.Err + recovered.Out);
        Assert.Contains($"corrupt-step-{newest.Step}", recovered.Out);
        Assert.Equal(6, Checkpoint.List(damaged)[0].Step);

        // A flag that changes the run is still refused, naming it.
        var changed = Run("pretrain", "--out", run, "--resume", "--lr", "0.01", "--max-steps", "6");
        Assert.NotEqual(0, changed.Exit);
        Assert.Contains("--lr 0.002 (now 0.01)", changed.Err);
    }

    [Fact]
    public void A_run_that_died_before_its_first_checkpoint_starts_again_without_overwrite()
    {
        var run = Path.Combine(root, "died");
        Directory.CreateDirectory(Path.Combine(run, "tensorboard"));
        File.WriteAllText(Path.Combine(run, "metrics.jsonl"), "{\"type\":\"train\",\"step\":1,\"loss\":9.1,\"left_by\":\"the dead run\"}\n");

        var resume = Run(Pretrain(run, "--max-steps", "2", "--resume"));
        Assert.NotEqual(0, resume.Exit);
        Assert.Contains("holds no checkpoint to continue from", resume.Err);
        Assert.Contains("start it again without --resume", resume.Err);

        var again = Run(Pretrain(run, "--max-steps", "2"));
        Assert.True(again.Exit == 0, again.Err);
        Assert.Contains("left by a run that stopped before its first checkpoint", again.Out);
        Assert.Equal(2, Checkpoint.List(run)[0].Step);
        Assert.DoesNotContain("the dead run", File.ReadAllText(Path.Combine(run, "metrics.jsonl")));
    }

    [Fact]
    public void From_the_library_a_folder_holding_a_run_is_refused_in_the_librarys_terms()
    {
        var options = new PretrainOptions
        {
            DataDir = data.DataDir, RunDir = Path.Combine(root, "library"),
                Model = HybridBert.Model.Presets.Build("tiny", "PA", 8192) with { MaxPositionEmbeddings = 64 },
            BatchSize = 4, MaxSteps = 1, EvalBatches = 1, Threads = 1,
        };
        new Pretrainer(options).Run();
        var error = Assert.Throws<HybridBert.IO.OutputExistsException>(() => new Pretrainer(options).Run());
        Assert.Contains("already holds a run: continue it (Resume = true), replace it (Overwrite = true)", error.Message);
        Assert.DoesNotContain("--", error.Message);   // no command-line flag inside a library exception
    }
}
