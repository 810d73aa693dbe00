using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace HybridBert.IO;

/// <summary>A folder or file that another process is writing.</summary>
public sealed class PathInUseException(string message) : IOException(message);

/// <summary>
/// One writer per output: every command that writes a folder or file (a run, a fine-tuning, a reproduction, prepared
/// data, an export) holds this lock on it for as long as it writes. The lock is an advisory lock on a sibling file
/// (<c>PARENT/.NAME.lock</c>), taken with .NET's own <see cref="FileShare.None"/>, which on Unix is
/// <c>flock(LOCK_EX | LOCK_NB)</c>: the kernel releases it when the process ends in any way, SIGKILL included, so a
/// dead writer never leaves a stale lock. The lock sits beside the path rather than in it because some writers replace
/// the whole folder by a rename. A second writer is refused at once, naming the holder ("runs/x is in use by PID 4711
/// (hybridbert pretrain, started 2026-12-06 10:31:02)"), which a sidecar <c>.NAME.lock.owner</c> records (the locked
/// file itself cannot be read by another process). Lock files are left in place: deleting one while another process
/// opens it would let two writers lock two different files.
/// Within one process the lock is re-entrant (a reproduction holds its folder while the stages it runs lock theirs).
/// </summary>
public sealed class PathLock : IDisposable
{
    /// <summary>Who holds a lock, as the sidecar records it.</summary>
    public sealed record Owner(int Pid, string Command, DateTimeOffset Started);

    private static readonly Dictionary<string, (FileStream Stream, int Count)> Held = new(StringComparer.Ordinal);
    private readonly string lockFile;
    private bool disposed;

    private PathLock(string lockFile) => this.lockFile = lockFile;

    /// <summary>The lock file for <paramref name="path"/>: <c>PARENT/.NAME.lock</c>.</summary>
    public static string LockFileFor(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        return Path.Combine(Path.GetDirectoryName(full) ?? full, $".{Path.GetFileName(full)}.lock");
    }

    /// <summary>
    /// Takes the lock on <paramref name="path"/> (a folder or a file, which need not exist yet; its parent is created),
    /// or throws <see cref="PathInUseException"/> naming the process that holds it.
    /// </summary>
    public static PathLock Acquire(string path)
    {
        var file = LockFileFor(path);
        lock (Held)
        {
            if (Held.TryGetValue(file, out var held))
            {
                Held[file] = (held.Stream, held.Count + 1);
                return new PathLock(file);
            }
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            FileStream stream;
            try
            {
                stream = new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && File.Exists(file))
            {
                throw new PathInUseException($"{path} is in use by {Describe(ReadOwner(file))}: wait for it to finish, stop it, or " +
                    "choose another path");
            }
            try
            {
                AtomicFile.WriteAllText(file + ".owner",
                    JsonSerializer.Serialize(new Owner(Environment.ProcessId, CommandLine(), DateTimeOffset.Now)));
            }
            catch
            {
                stream.Dispose();   // a lock nobody can name (a full disk, say) is not kept
                throw;
            }
            Held[file] = (stream, 1);
        }
        PausePoints.Reach("locked");
        return new PathLock(file);
    }

    /// <summary>The holder recorded for <paramref name="lockFile"/>, if its sidecar is readable and names a running process.</summary>
    public static Owner? ReadOwner(string lockFile)
    {
        try
        {
            var owner = JsonSerializer.Deserialize<Owner>(File.ReadAllText(lockFile + ".owner"));
            if (owner is null) return null;
            using var process = Process.GetProcessById(owner.Pid);
            return process.HasExited ? null : owner;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string Describe(Owner? owner) => owner is null
        ? "another process"
        : $"PID {owner.Pid} ({owner.Command}, started {owner.Started.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)})";

    /// <summary>"hybridbert pretrain" for the CLI, else the program's name: enough for a person to recognize the holder.</summary>
    private static string CommandLine()
    {
        var args = Environment.GetCommandLineArgs();
        var program = Path.GetFileNameWithoutExtension(args.FirstOrDefault() ?? "") is "HybridBert.Cli" or "hybridbert" ? "hybridbert" :
            Path.GetFileName(args.FirstOrDefault() ?? "process");
        var verb = args.Skip(1).TakeWhile(a => !a.StartsWith('-')).Take(2);
        return string.Join(' ', new[] { program }.Concat(program == "hybridbert" ? verb : []));
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        lock (Held)
        {
            if (!Held.TryGetValue(lockFile, out var held)) return;
            if (held.Count > 1)
            {
                Held[lockFile] = (held.Stream, held.Count - 1);
                return;
            }
            Held.Remove(lockFile);
            held.Stream.Dispose();   // releases the flock; the file stays (see the class comment)
        }
    }
}
