using System.Diagnostics;
using System.Globalization;

namespace HybridBert.IO;

/// <summary>
/// Temporary folders are named <c>…-PID</c> by the process that writes them and renamed into place when complete;
/// a process killed mid-write (SIGKILL, power loss) leaves its folder behind. The next start removes those whose
/// process is gone, saying so, and never touches one whose process still runs.
/// </summary>
public static class StaleTemporaries
{
    /// <summary>Removes the folders in <paramref name="parent"/> that match <paramref name="pattern"/> (a
    /// <c>Directory.GetDirectories</c> pattern ending in the writer's PID) and whose writer is no longer running.</summary>
    public static int Remove(string parent, string pattern, Action<string>? log)
    {
        if (!Directory.Exists(parent)) return 0;
        var removed = 0;
        foreach (var folder in Directory.GetDirectories(parent, pattern))
        {
            var suffix = folder[(folder.LastIndexOf('-') + 1)..];
            if (!int.TryParse(suffix, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId ||
                IsRunning(pid)) continue;
            try
            {
                var mib = new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) / 1048576.0;
                Directory.Delete(folder, recursive: true);
                removed++;
                log?.Invoke($"removed {folder} ({mib:F1} MiB), left behind by process {pid}, which is no longer running");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log?.Invoke($"could not remove the leftover {folder}: {e.Message}");
            }
        }
        return removed;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
