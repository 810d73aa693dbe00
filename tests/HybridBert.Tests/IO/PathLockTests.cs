using HybridBert.Benchmarks;
using HybridBert.IO;
using HybridBert.Tests.Benchmarks;
using HybridBert.Tests.Cli;
using HybridBert.Tests.Training;
using HybridBert.Training;

namespace HybridBert.Tests.IO;

/// <summary>
/// One writer per output folder, between real processes: a second writer is refused naming the first (PID, command,
/// start time); <c>--overwrite</c> and <c>--resume</c> cannot take a folder that a live run holds; a SIGKILLed holder
/// leaves no stale lock. The first writer is a CLI child held still right after it took its lock
/// (<see cref="PausePoints"/> "locked", or a later point); the second runs in this process.
/// </summary>
[Collection("Console")]
public sealed class PathLockTests(TinyData data) : IClassFixture<TinyData>, IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-lock-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => ModelCommandTests.Run(args);

    private string[] Pretrain(string run, params string[] extra) =>
        ["pretrain", "--data", data.DataDir, "--out", run, "--preset", "tiny", "--pattern", "PA", "--batch", "4",
         "--eval-every", "100", "--eval-batches", "1", "--checkpoint-every", "1", "--threads", "1", .. extra];

    private static void AssertInUseBy(PausedChild holder, string command, (int Exit, string Out, string Err) result)
    {
        Assert.Equal(1, result.Exit);
        Assert.Matches($@"is in use by PID {holder.Process.Id} \({command}, started \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\)", result.Err);
    }

    [Fact]
    public void A_live_run_refuses_a_second_run_an_overwrite_and_a_resume_and_its_lock_dies_with_it()
    {
        var run = Path.Combine(root, "run");
        using var first = new PausedChild("step:3", Pretrain(run, "--seed", "1", "--max-steps", "6"));   // steps 1 and 2 are checkpointed
        var before = Checkpoint.List(run).Select(c => c.Step).ToList();
        Assert.Equal([2, 1], before);

        AssertInUseBy(first, "hybridbert pretrain", Run(Pretrain(run, "--seed", "2", "--max-steps", "6")));
        AssertInUseBy(first, "hybridbert pretrain", Run(Pretrain(run, "--overwrite", "--max-steps", "6")));
        AssertInUseBy(first, "hybridbert pretrain", Run(Pretrain(run, "--resume", "--max-steps", "6")));
        Assert.Equal(before, Checkpoint.List(run).Select(c => c.Step));   // --overwrite deleted nothing
        Assert.True(File.Exists(Path.Combine(run, "metrics.jsonl")));

        first.Kill();
        var resumed = Run(Pretrain(run, "--resume", "--max-steps", "6"));
        Assert.True(resumed.Exit == 0, resumed.Err);
        Assert.Equal(6, Checkpoint.List(run)[0].Step);
    }

    [Fact]
    public void Fine_tuning_data_preparation_exports_and_reproduction_refuse_a_folder_another_process_writes()
    {
        var model = Path.Combine(root, "model");
        var trained = Run(Pretrain(model, "--max-steps", "1"));
        Assert.True(trained.Exit == 0, trained.Err);

        var ft = Path.Combine(root, "ft");
        string[] finetune = ["finetune", "--checkpoint", model, "--task", "sentiment-sentences", "--epochs", "1", "--max-train-examples",
            "8", "--out", ft];
        using (var holder = new PausedChild("locked", finetune))
            AssertInUseBy(holder, "hybridbert finetune", Run([.. finetune, "--seeds", "2"]));

        var prepared = Path.Combine(root, "prepared");
        var corpus = Path.Combine(root, "corpus.txt");
        File.WriteAllText(corpus, "Call me Ishmael. Some years ago I went to sea.\n\nIt is a way I have of driving off the spleen.\n");
        string[] prepare = ["data", "prepare", "--corpus", corpus, "--out", prepared];
        using (var holder = new PausedChild("locked", prepare))
            AssertInUseBy(holder, "hybridbert data prepare", Run([.. prepare, "--overwrite"]));

        var hf = Path.Combine(root, "hf");
        string[] export = ["export", "hf", "--model", model, "--out", hf];
        using (var holder = new PausedChild("locked", export))
            AssertInUseBy(holder, "hybridbert export hf", Run([.. export, "--overwrite"]));

        var onnx = Path.Combine(root, "model.onnx");
        string[] exportOnnx = ["export", "onnx", "--model", model, "--out", onnx];
        using (var holder = new PausedChild("locked", exportOnnx))
            AssertInUseBy(holder, "hybridbert export onnx", Run([.. exportOnnx, "--overwrite"]));

        var reproduction = Path.Combine(root, "reproduce");
        string[] reproduce = ["reproduce", "--budget", "smoke", "--out", reproduction];
        using (var holder = new PausedChild("locked", reproduce))
            AssertInUseBy(holder, "hybridbert reproduce", Run([.. reproduce, "--resume"]));
    }

    [Fact]
    public void Within_one_process_the_lock_is_reentrant_and_released_with_its_last_holder()
    {
        var target = Path.Combine(root, "shared");
        using (PathLock.Acquire(target))
        using (PathLock.Acquire(target + "/"))
        {
            Assert.True(File.Exists(PathLock.LockFileFor(target)));
            var owner = PathLock.ReadOwner(PathLock.LockFileFor(target));
            Assert.Equal(Environment.ProcessId, owner?.Pid);
        }
        // Released: another process can take it now (it pauses once it holds it).
        using var child = new PausedChild("locked", "tokenizer", "train", "--corpus", Path.Combine(root, "none.txt"), "--out", target);
    }
}
