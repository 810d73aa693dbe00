using System.Diagnostics;
using System.Text;

namespace HybridBert.Benchmarks;

/// <summary>Runs this program again as a child process (`hybridbert ARGS`), capturing its output.</summary>
public static class SelfProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr, bool TimedOut);

    /// <summary>Set when the running program is not the CLI (a test host): how to start the CLI instead.</summary>
    public static (string File, string[] Prefix)? Override { get; set; }

    /// <summary>The app host, or `dotnet the.dll` when this runs under `dotnet run` / `dotnet x.dll`.</summary>
    public static (string File, string[] Prefix) Command()
    {
        if (Override is { } o) return o;
        var process = Environment.ProcessPath ?? "dotnet";
        var entry = System.Reflection.Assembly.GetEntryAssembly()?.Location ?? "";
        return Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? (process, [entry]) : (process, []);
    }

    public static Result Run(IEnumerable<string> arguments, TimeSpan timeout, string? logFile = null, CancellationToken cancel = default)
    {
        var (file, prefix) = Command();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in prefix.Concat(arguments)) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + timeout;
        var timedOut = false;
        while (!process.WaitForExit(500))
        {
            if (cancel.IsCancellationRequested)
            {
                // Ask the child to stop cleanly (it checkpoints on SIGTERM), then wait for it.
                Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit();
                process.WaitForExit();
                break;
            }
            if (DateTime.UtcNow > deadline)
            {
                process.Kill(entireProcessTree: true);
                timedOut = true;
                break;
            }
        }
        process.WaitForExit();
        if (logFile is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
            File.WriteAllText(logFile, $"$ hybridbert {string.Join(' ', arguments)}\n\n{stdout}\n--- stderr ---\n{stderr}");
        }
        return new Result(timedOut ? -1 : process.ExitCode, stdout.ToString(), stderr.ToString(), timedOut);
    }
}
