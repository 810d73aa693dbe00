using HybridBert.Interop;
using HybridBert.Model;

namespace HybridBert.Cli.Commands;

/// <summary>Turns the library's input errors into one red line and exit code 2; anything else is a bug and shows its stack.</summary>
internal static class CliErrors
{
    public static int Run(Action action) => Run(_ => action());

    /// <summary>Runs <paramref name="action"/> with a token that Ctrl-C (SIGINT) or SIGTERM cancels; the action
    /// decides what to save before it stops.</summary>
    public static int Run(Action<CancellationToken> action)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;   // let the work stop cleanly instead of killing the process
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            cancel.Cancel();
        });
        try
        {
            action(cancel.Token);
            return 0;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("interrupted");
            return 130;
        }
        catch (Exception e) when (e is ConfigException or WeightMismatchException or InvalidDataException or FileNotFoundException
                                      or DirectoryNotFoundException or ArgumentException or IOException or UnauthorizedAccessException
                                      or Training.TrainingDivergedException or Benchmarks.StageFailedException)
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
