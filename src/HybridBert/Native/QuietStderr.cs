using System.Runtime.InteropServices;

namespace HybridBert.Native;

/// <summary>
/// Runs an action with the process's standard error (file descriptor 2) pointed at /dev/null, then puts it back.
/// For libtorch's one-time warnings that no setting turns off: its CPU <c>index_reduce</c> prints "index_reduce() is
/// in beta" the first time it runs (a <c>TORCH_WARN_ONCE</c> through c10's default handler, which neither
/// <c>TORCH_CPP_LOG_LEVEL</c> nor anything TorchSharp exposes reaches), before error messages and in server logs.
/// Calling it once here uses up the "once". No library here redirects a native file descriptor, so this is the POSIX
/// calls by hand (dup, open, dup2, close); on other systems the action just runs.
/// </summary>
internal static partial class QuietStderr
{
    public static void Run(Action action)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            action();
            return;
        }
        Console.Error.Flush();
        var saved = dup(2);
        var devNull = open("/dev/null", 1);   // O_WRONLY
        if (saved < 0 || devNull < 0 || dup2(devNull, 2) < 0)
        {
            if (saved >= 0) _ = close(saved);
            if (devNull >= 0) _ = close(devNull);
            action();
            return;
        }
        try
        {
            action();
        }
        finally
        {
            _ = dup2(saved, 2);
            _ = close(saved);
            _ = close(devNull);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int fd, int fd2);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
