using HybridBert.Benchmarks;
using HybridBert.IO;
using HybridBert.Tests.Benchmarks;
using HybridBert.Training;

namespace HybridBert.Tests.Training;

/// <summary>
/// SIGKILL at the worst moments — mid-step, mid-checkpoint-write, mid-evaluation — and <c>--resume</c> in a new
/// process each time: the run ends with the uninterrupted run's metrics, and no folder a resume could pick up is ever
/// half-written. The child holds still at a named point (<see cref="PausePoints"/>) and this test kills it there.
/// </summary>
public sealed class CrashTests(TinyData data) : IClassFixture<TinyData>
{
    private string[] Args(string run, params string[] extra) =>
    [
        "pretrain", "--data", data.DataDir, "--out", Path.Combine(data.Root, run), "--preset", "tiny", "--pattern", "PA",
        "--max-steps", "12", "--batch", "8", "--lr", "3e-3", "--warmup", "1", "--log-every", "1", "--eval-every", "4",
        "--eval-batches", "2", "--checkpoint-every", "4", "--keep", "1", "--seed", "7", "--threads", "2", .. extra,
    ];

    private static (int ExitCode, string Stdout, string Stderr) Run(string[] args, string? pauseAt = null)
    {
        if (pauseAt is not null)
        {
            using var child = new IO.PausedChild(pauseAt, args);
            child.Kill();
            Assert.Equal(137, child.Process.ExitCode);   // 128 + SIGKILL
            return (child.Process.ExitCode, child.Stdout, child.Stderr);
        }
        CliChild.Use();
        var run = SelfProcess.Run(args, TimeSpan.FromMinutes(3));
        Assert.False(run.TimedOut, "the run did not end");
        return (run.ExitCode, run.Stdout, run.Stderr);
    }

    private static List<string> Records(string runDir, string type) => Reproducibility.CrossProcessTests.Records(runDir, type);

    /// <summary>Every folder <c>--resume</c> could pick up verifies (all files present, every hash matching).</summary>
    private static void AssertNoHalfWrittenCheckpoint(string runDir)
    {
        foreach (var (_, folder) in Checkpoint.List(runDir)) Checkpoint.Read(folder, verify: true);
    }

    [Fact]
    public void Killed_mid_step_mid_checkpoint_and_mid_evaluation_the_resumed_run_ends_as_the_uninterrupted_one()
    {
        var straight = Run(Args("straight"));
        Assert.True(straight.ExitCode == 0, straight.Stderr);
        var runDir = Path.Combine(data.Root, "killed");

        // 1. Mid-step: inside step 6, after its backward pass (checkpoint at 4 exists).
        Run(Args("killed"), "step:6");
        AssertNoHalfWrittenCheckpoint(runDir);
        Assert.Equal(4, Checkpoint.List(runDir)[0].Step);

        // 2. Mid-checkpoint-write: resumed from 4, killed while step 8's checkpoint is in its temporary folder.
        Run(Args("killed", "--resume"), "checkpoint-write:1");
        AssertNoHalfWrittenCheckpoint(runDir);
        Assert.Equal(4, Checkpoint.List(runDir)[0].Step);
        Assert.Single(Directory.GetDirectories(Checkpoint.Folder(runDir), ".step-8.tmp-*"));

        // 3. Mid-evaluation at step 8; this start removes the leftover temporary folder, saying so.
        var third = Run(Args("killed", "--resume"), "eval:1");
        Assert.Contains("left behind by process", third.Stdout);
        Assert.Empty(Directory.GetDirectories(Checkpoint.Folder(runDir), ".step-*"));
        AssertNoHalfWrittenCheckpoint(runDir);

        // 4. To the end.
        var last = Run(Args("killed", "--resume"));
        Assert.True(last.ExitCode == 0, last.Stderr);
        AssertNoHalfWrittenCheckpoint(runDir);
        var expected = Path.Combine(data.Root, "straight");
        Assert.Equal(12, Records(expected, "train").Count);
        Reproducibility.SameRun.AssertSameRecords(expected, runDir, "train");
        Reproducibility.SameRun.AssertSameRecords(expected, runDir, "eval");
        Assert.Equal(Checkpoint.List(expected).Select(c => c.Step), Checkpoint.List(runDir).Select(c => c.Step));
        Reproducibility.SameRun.AssertSameWeights(Path.Combine(Checkpoint.List(expected)[0].Folder, Checkpoint.WeightsFile),
            Path.Combine(Checkpoint.List(runDir)[0].Folder, Checkpoint.WeightsFile));
    }
}
