using System.Text.Json;
using System.Text.Json.Serialization;
using HybridBert.Model;

namespace HybridBert.Training;

/// <summary>Where a run stands: enough, with the weights and optimizer state, to continue exactly.</summary>
/// <remarks>No RNG or scheduler state is stored because none is needed: the learning rate is a function of
/// <see cref="Step"/>, and every step reseeds libtorch's generator (dropout) and the masking generator from
/// (seed, step); the data order of an epoch is a permutation seeded by (seed, epoch).</remarks>
public sealed record TrainerState
{
    public long Step { get; init; }
    public long Tokens { get; init; }
    public int Epoch { get; init; }
    public long Position { get; init; }
    public double BestEvalLoss { get; init; } = double.PositiveInfinity;
    public long BestStep { get; init; } = -1;
    public double ElapsedSeconds { get; init; }
}

public sealed record CheckpointManifest
{
    public required TrainerState State { get; init; }
    public required PretrainOptions Options { get; init; }
    /// <summary>SHA-256 of every other file in the checkpoint folder.</summary>
    public required Dictionary<string, string> Files { get; init; }
}

/// <summary>
/// <c>RUN_DIR/checkpoints/step-N/</c>: <c>model.safetensors</c> (fp32), <c>optimizer.bin</c>, <c>config.json</c>,
/// <c>vocab.txt</c> and <c>trainer.json</c> (state, options, file hashes). Written into a temporary folder and
/// renamed when complete (every file and both folders fsync'ed around the rename), so a crash, a power loss or a
/// full disk never leaves a folder that <c>--resume</c> would pick up; on resume the hashes are checked.
/// </summary>
public static class Checkpoint
{
    public const string WeightsFile = Interop.ModelLayout.Weights, OptimizerFile = Interop.ModelLayout.Optimizer,
        ConfigFile = Interop.ModelLayout.Config,
        VocabFile = Interop.ModelLayout.Vocab, TrainerFile = Interop.ModelLayout.Trainer;

    public static string Folder(string runDir) => Path.Combine(runDir, Interop.ModelLayout.Checkpoints);

    /// <summary>Writes a checkpoint; <paramref name="writeFiles"/> puts the weights and optimizer state into the folder it is given.</summary>
    public static string Save(string runDir, TrainerState state, PretrainOptions options, string vocabPath, Action<string> writeFiles)
    {
        var root = Folder(runDir);
        Directory.CreateDirectory(root);
        var final = Path.Combine(root, $"step-{state.Step}");
        var temp = Path.Combine(root, $".step-{state.Step}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(temp);
        try
        {
            writeFiles(temp);
            File.WriteAllText(Path.Combine(temp, ConfigFile), options.Model.ToJson());
            File.Copy(vocabPath, Path.Combine(temp, VocabFile));
            var files = Directory.GetFiles(temp).Select(Path.GetFileName).Order(StringComparer.Ordinal)
                .ToDictionary(f => f!, f => Data.ShardManifest.Sha256(Path.Combine(temp, f!)));
            var manifest = new CheckpointManifest { State = state, Options = options, Files = files };
            File.WriteAllText(Path.Combine(temp, TrainerFile), JsonSerializer.Serialize(manifest, IO.JsonFiles.Options));
            IO.PausePoints.Reach("checkpoint-write");
            IO.AtomicFile.PublishFolder(temp, final);   // fsync files and folders, rename, fsync the parent
            return final;
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, true);
            throw;
        }
    }

    public static CheckpointManifest Read(string folder, bool verify = true)
    {
        var path = Path.Combine(folder, TrainerFile);
        if (!File.Exists(path)) throw new InvalidDataException($"{folder}: not a checkpoint (no {TrainerFile})");
        CheckpointManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<CheckpointManifest>(File.ReadAllText(path), IO.JsonFiles.Options) ??
                throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: corrupted ({e.Message})", e);
        }
        if (verify)
            foreach (var (file, hash) in manifest.Files)
            {
                var full = Path.Combine(folder, file);
                if (!File.Exists(full)) throw new InvalidDataException($"{folder}: corrupted checkpoint, {file} is missing");
                if (Data.ShardManifest.Sha256(full) != hash) throw new InvalidDataException($"{folder}: corrupted checkpoint, {file} " +
                    "does not match its recorded SHA-256");
            }
        return manifest;
    }

    /// <summary>Complete checkpoint folders of a run, newest step first.</summary>
    public static List<(long Step, string Folder)> List(string runDir)
    {
        var root = Folder(runDir);
        if (!Directory.Exists(root)) return [];
        return Directory.GetDirectories(root, "step-*")
            .Select(d => (Step: long.TryParse(Path.GetFileName(d)["step-".Length..], out var s) ? s : -1, Folder: d))
            .Where(c => c.Step >= 0 && File.Exists(Path.Combine(c.Folder, TrainerFile)))
            .OrderByDescending(c => c.Step).ToList();
    }

    /// <summary>
    /// The newest checkpoint of a run whose files match their hashes. A corrupt newer one (a disk error, a file
    /// edited or truncated by hand) is renamed <c>corrupt-step-N</c> — so that nothing picks it up again — with a
    /// warning naming what was wrong, and the next older one is tried; with <paramref name="strict"/> the first
    /// corrupt one is an error instead.
    /// </summary>
    public static (string Folder, CheckpointManifest Manifest) NewestValid(string runDir, bool strict, Action<string> log)
    {
        var all = List(runDir);
        if (all.Count == 0) throw new InvalidDataException($"--resume: {Folder(runDir)} holds no complete checkpoint");
        var problems = new List<string>();
        foreach (var (step, folder) in all)
        {
            try
            {
                return (folder, Read(folder));
            }
            catch (InvalidDataException e) when (!strict)
            {
                var aside = Path.Combine(Path.GetDirectoryName(folder)!, $"corrupt-step-{step}");
                if (Directory.Exists(aside)) Directory.Delete(aside, recursive: true);
                Directory.Move(folder, aside);
                problems.Add(e.Message);
                log($"warning: {e.Message}; moved it to {aside} and falling back to an older checkpoint (--resume-strict stops instead)");
            }
        }
        throw new InvalidDataException($"--resume: no valid checkpoint in {Folder(runDir)}: {string.Join("; ", problems)}");
    }

    /// <summary>Deletes all but the newest <paramref name="keepLast"/> and the best one.</summary>
    public static void Prune(string runDir, int keepLast, long bestStep)
    {
        foreach (var (step, folder) in List(runDir).Skip(keepLast))
            if (step != bestStep) Directory.Delete(folder, recursive: true);
    }

    /// <summary>Fails naming every field in which a resumed run's model differs from its checkpoint's.</summary>
    public static void CheckSameModel(EncoderConfig saved, EncoderConfig requested, string folder)
    {
        var a = JsonSerializer.SerializeToElement(saved, IO.JsonFiles.Options);
        var b = JsonSerializer.SerializeToElement(requested, IO.JsonFiles.Options);
        var differences = a.EnumerateObject()
            .Where(p => !b.TryGetProperty(p.Name, out var v) || v.ToString() != p.Value.ToString())
            .Select(p => $"{p.Name}: checkpoint {p.Value}, now {(b.TryGetProperty(p.Name, out var v) ? v.ToString() : "unset")}")
            .ToList();
        if (differences.Count > 0)
            throw new InvalidDataException($"Cannot resume from {folder} with a different model — {string.Join("; ", differences)}");
    }
}
