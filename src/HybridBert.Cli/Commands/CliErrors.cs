using HybridBert.Interop;
using HybridBert.Model;

namespace HybridBert.Cli.Commands;

/// <summary>Turns every failure into one line on stderr and an exit code (<see cref="UsageError"/>, <see
/// cref="RuntimeError"/>); no stack traces unless <see cref="TraceVariable"/> asks.</summary>
internal static class CliErrors
{
    public static int Run(Action action) => Run(_ => action());

    /// <summary>Exit codes: 2 when the command line is wrong (a parse error, an option out of range, an invalid config),
    /// 1 when the command could not do its work (a missing or malformed file, a failed run).</summary>
    public const int UsageError = 2, RuntimeError = 1;

    /// <summary>Set to 1 to let unexpected exceptions show their stack trace.</summary>
    public const string TraceVariable = "HYBRIDBERT_TRACE";

    /// <summary>Exit codes of a run stopped by a signal, after it saved what it had (the shell's 128 + signal number).</summary>
    public const int InterruptedBySigint = 130, InterruptedBySigterm = 143;

    /// <summary>Runs <paramref name="action"/> with a token that Ctrl-C (SIGINT) or SIGTERM cancels; the action
    /// decides what to save before it stops. A run that was stopped so exits 130 (SIGINT) or 143 (SIGTERM), even when
    /// the action returned normally after saving, so that scripts and schedulers do not take it for success.</summary>
    public static int Run(Action<CancellationToken> action)
    {
        using var cancel = new CancellationTokenSource();
        var stoppedBy = 0;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;   // let the work stop cleanly instead of killing the process
            Interlocked.CompareExchange(ref stoppedBy, InterruptedBySigint, 0);
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        var hub = Interop.Hub.HubSettings.Current;
        Interop.Hub.HubSettings.Current = hub with { Cancel = cancel.Token };   // a download stops too, resumable
        using var restore = new Restore(() => Interop.Hub.HubSettings.Current = hub);
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            Interlocked.CompareExchange(ref stoppedBy, InterruptedBySigterm, 0);
            cancel.Cancel();
        });
        try
        {
            action(cancel.Token);
            if (stoppedBy != 0)
                Console.Error.WriteLine($"interrupted ({(stoppedBy == InterruptedBySigint ? "SIGINT" : "SIGTERM")}): exit {stoppedBy}");
            return stoppedBy;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine($"interrupted ({(stoppedBy == InterruptedBySigterm ? "SIGTERM" : "SIGINT")})");
            return stoppedBy == 0 ? InterruptedBySigint : stoppedBy;
        }
        catch (Exception e) when (e is ConfigException or ArgumentException)
        {
            // The command line asks for something impossible (a value out of range, an invalid model config).
            Console.Error.WriteLine($"error: {e.Message}");
            return UsageError;
        }
        catch (HybridBert.IO.OutputExistsException e)
        {
            Console.Error.WriteLine($"error: {e.CommandLineMessage}");
            return RuntimeError;
        }
        catch (Exception e) when (e is WeightMismatchException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
                                      or IOException or UnauthorizedAccessException or Training.TrainingDivergedException
                                      or Benchmarks.StageFailedException or FineTuning.ExternalToolException
                                      or Inference.InvalidInputException or Inference.UnsupportedTaskException)
        {
            // The world is not as the command needs it: a file missing or malformed, a folder in the way, a failed tool or run.
            Console.Error.WriteLine($"error: {e.Message}");
            return RuntimeError;
        }
        catch (Exception e) when (Memory.OutOfMemory.Matches(e.Message) && Environment.GetEnvironmentVariable(TraceVariable) is not "1")
        {
            // libtorch could not allocate a tensor: its message carries a C++ stack; say what happened and what to change.
            var described = Memory.OutOfMemory.Describe(e.Message, Memory.MemoryUsage.AvailableBytes(), Memory.MemoryUsage.PeakMiB * 1048576,
                Memory.MemoryUsage.LimitBytes());
            Console.Error.WriteLine($"error: {described}");
            return RuntimeError;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable(TraceVariable) is not "1")
        {
            // A bug or a failure inside libtorch: one line by default (the stack trace is for whoever fixes it).
            Console.Error.WriteLine($"error: {e.Message} ({e.GetType().Name}; an unexpected failure — set {TraceVariable}=1 to see where " +
                "it happened, and please report it)");
            return RuntimeError;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private sealed class Restore(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
