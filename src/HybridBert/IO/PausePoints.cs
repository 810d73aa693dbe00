using System.Globalization;

namespace HybridBert.IO;

/// <summary>
/// Named places in long-running work where a crash test can hold the process still and kill it with SIGKILL at a
/// known moment: <c>HYBRIDBERT_PAUSE_AT=checkpoint-write:2</c> stops the process the second time it reaches
/// <c>checkpoint-write</c>; it prints <c>paused at checkpoint-write</c> to stderr and waits to be killed. Without the
/// variable (every real run) a pause point costs one dictionary lookup. Points: <c>step</c> (after the backward pass,
/// before the optimizer step), <c>checkpoint-write</c> (weights written into the temporary folder, not yet renamed),
/// <c>eval</c> (after the first evaluation batch).
/// </summary>
public static class PausePoints
{
    public const string Variable = "HYBRIDBERT_PAUSE_AT";

    private static readonly (string Name, int Occurrence)? Target = Parse(Environment.GetEnvironmentVariable(Variable));
    private static int reached;

    public static void Reach(string name)
    {
        if (Target is not { } target || target.Name != name || Interlocked.Increment(ref reached) != target.Occurrence) return;
        Console.Error.WriteLine($"paused at {name}");
        Console.Error.Flush();
        Thread.Sleep(Timeout.Infinite);
    }

    private static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        var parts = value.Split(':');
        return (parts[0], parts.Length > 1 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 1);
    }
}
