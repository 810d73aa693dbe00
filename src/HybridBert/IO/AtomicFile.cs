using System.Runtime.InteropServices;
using System.Text;

namespace HybridBert.IO;

/// <summary>
/// The one way this project puts a file or folder in place: write it under a temporary name next to its final place
/// (<c>NAME.tmp-PID</c>), fsync what was written, rename it over the final name, fsync the parent folder. A reader
/// sees the old version or the new one, never a half-written file, and after the call returns the new version
/// survives a power loss (the rename itself is recorded by the parent's fsync). A crash leaves only the temporary,
/// which <see cref="StaleTemporaries"/> removes on the next start.
/// </summary>
public static partial class AtomicFile
{
    public static void WriteAllText(string path, string text) =>
        Write(path, temp => File.WriteAllText(temp, text, new UTF8Encoding(false)));

    public static void WriteAllLines(string path, IEnumerable<string> lines) =>
        Write(path, temp => File.WriteAllLines(temp, lines, new UTF8Encoding(false)));

    /// <summary>Writes what is left of <paramref name="content"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteStream(string path, Stream content) =>
        Write(path, temp => { using var file = File.Create(temp); content.CopyTo(file); });

    /// <summary>
    /// <paramref name="write"/> creates the file at the temporary path it is given (any writer: a serializer, a PNG
    /// encoder, a stream); the file is then made durable and renamed to <paramref name="path"/>. On failure the
    /// temporary is removed and the old file, if any, stays.
    /// </summary>
    public static void Write(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path);
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        // Keep the extension last: some writers (ScottPlot's SavePng) choose the format by it.
        var temp = Path.Combine(parent, $".{Path.GetFileNameWithoutExtension(full)}.tmp-{Environment.ProcessId}{Path.GetExtension(full)}");
        try
        {
            write(temp);
            SyncFile(temp);
            File.Move(temp, full, overwrite: true);
            SyncFolder(parent);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Writes a whole folder: <paramref name="write"/> fills a temporary sibling (<c>.NAME.tmp-PID</c>), which is
    /// then put in place by <see cref="PublishFolder"/>; on failure the temporary folder is removed and
    /// <paramref name="final"/> is as it was.
    /// </summary>
    public static void WriteFolder(string final, Action<string> write)
    {
        var full = Path.GetFullPath(final);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            PublishFolder(temp, full);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>
    /// Puts a folder written under a temporary name (<paramref name="temp"/>, a sibling of <paramref name="final"/>) in
    /// place: every file in it and the folder itself are fsync'ed, an existing <paramref name="final"/> is removed, the
    /// folder renamed, and the parent fsync'ed so the rename is durable.
    /// </summary>
    public static void PublishFolder(string temp, string final)
    {
        foreach (var file in Directory.EnumerateFiles(temp, "*", SearchOption.AllDirectories)) SyncFile(file);
        foreach (var folder in Directory.EnumerateDirectories(temp, "*", SearchOption.AllDirectories)) SyncFolder(folder);
        SyncFolder(temp);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
        SyncFolder(Path.GetDirectoryName(Path.GetFullPath(final))!);
    }

    /// <summary>Flushes a file's data and metadata to the device (fsync).</summary>
    public static void SyncFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// fsync of a directory, which records renames and new entries in it. .NET cannot open a directory as a stream,
    /// and no library here does this, so it is the two POSIX calls by hand (open O_RDONLY|O_DIRECTORY, fsync).
    /// Not on Windows, where NTFS journals renames itself and a directory cannot be opened this way.
    /// </summary>
    public static void SyncFolder(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        var fd = open(path, OperatingSystem.IsMacOS() ? 0x100000 : 0x10000);   // O_RDONLY | O_DIRECTORY (macOS, Linux values)
        if (fd < 0) throw new IOException($"cannot open the folder {path} to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (fsync(fd) != 0) throw new IOException($"cannot sync the folder {path} to disk (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
