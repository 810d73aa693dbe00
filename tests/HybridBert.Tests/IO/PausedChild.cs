using System.Diagnostics;
using System.Text;
using HybridBert.Benchmarks;
using HybridBert.IO;
using HybridBert.Tests.Benchmarks;

namespace HybridBert.Tests.IO;

/// <summary>
/// The CLI in a child process, held still at a <see cref="PausePoints"/> point (it prints "paused at NAME" and
/// waits): the crash tests kill it there, the lock tests keep it holding its lock. Disposing it kills it (SIGKILL).
/// </summary>
internal sealed class PausedChild : IDisposable
{
    private readonly StringBuilder stdout = new(), stderr = new();

    public Process Process { get; }
    /// <summary>What the child printed; complete once it has been killed (<see cref="Kill"/> waits for the streams' end).</summary>
    public string Stdout { get { lock (stdout) return stdout.ToString(); } }
    public string Stderr { get { lock (stderr) return stderr.ToString(); } }

    public PausedChild(string pauseAt, params string[] args)
    {
        CliChild.Use();
        var (file, prefix) = SelfProcess.Command();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in prefix.Concat(args)) start.ArgumentList.Add(a);
        start.Environment[PausePoints.Variable] = pauseAt;
        Process = Process.Start(start)!;
        var paused = new ManualResetEventSlim();
        Process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        Process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (e.Data.StartsWith("paused at ", StringComparison.Ordinal)) paused.Set();
        };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (!paused.Wait(100))
            if (Process.HasExited || DateTime.UtcNow > deadline)
                Assert.Fail($"the child never reached {pauseAt}: {Stderr}");
    }

    /// <summary>SIGKILL: no handler runs, nothing is flushed or cleaned up by our code.</summary>
    public void Kill()
    {
        Process.Kill();
        Process.WaitForExit();   // also waits for the output streams to end
    }

    public void Dispose()
    {
        if (!Process.HasExited) Kill();
        Process.Dispose();
    }
}
