using HybridBert.Interop;
using HybridBert.Model;

namespace HybridBert.Cli.Commands;

/// <summary>Turns the library's input errors into one red line and exit code 2; anything else is a bug and shows its stack.</summary>
internal static class CliErrors
{
    public static int Run(Action action) => Run(_ => action());

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
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            Interlocked.CompareExchange(ref stoppedBy, InterruptedBySigterm, 0);
            cancel.Cancel();
        });
        try
        {
            action(cancel.Token);
            if (stoppedBy != 0) Console.Error.WriteLine($"interrupted ({(stoppedBy == InterruptedBySigint ? "SIGINT" : "SIGTERM")}): exit {stoppedBy}");
            return stoppedBy;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine($"interrupted ({(stoppedBy == InterruptedBySigterm ? "SIGTERM" : "SIGINT")})");
            return stoppedBy == 0 ? InterruptedBySigint : stoppedBy;
        }
        catch (Exception e) when (e is ConfigException or WeightMismatchException or InvalidDataException or FileNotFoundException
                                      or DirectoryNotFoundException or ArgumentException or IOException or UnauthorizedAccessException
                                      or Training.TrainingDivergedException or Benchmarks.StageFailedException or FineTuning.ExternalToolException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
