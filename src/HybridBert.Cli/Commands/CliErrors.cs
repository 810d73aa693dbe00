using HybridBert.Interop;
using HybridBert.Model;

namespace HybridBert.Cli.Commands;

/// <summary>Turns the library's input errors into one red line and exit code 2; anything else is a bug and shows its stack.</summary>
internal static class CliErrors
{
    public static int Run(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is ConfigException or WeightMismatchException or InvalidDataException or FileNotFoundException or ArgumentException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
