using System.Globalization;
using System.Text.RegularExpressions;

namespace HybridBert.Training;

/// <summary>
/// Recognizes libtorch's allocation failures and says them in one line. libtorch reports them as an exception whose
/// message carries its C++ stack ("DefaultCPUAllocator: can't allocate memory: you tried to allocate N bytes"), or
/// as std::bad_alloc.
/// </summary>
public static partial class OutOfMemory
{
    public static bool Matches(string message) =>
        message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
        || message.Contains("bad_alloc", StringComparison.Ordinal)
        || message.Contains("DefaultCPUAllocator", StringComparison.Ordinal);

    /// <summary>"out of memory: one tensor needed 64.0 GiB, 20.3 GiB available — …", from libtorch's message.</summary>
    public static string Describe(string message, double? availableBytes)
    {
        var asked = TriedToAllocate().Match(message) is { Success: true } m
            && double.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)
            ? $"one tensor needed {Gib(bytes)}" : "an allocation failed";
        var free = availableBytes is { } b ? $", {Gib(b)} available" : "";
        return $"out of memory: {asked}{free} — use a smaller batch or sequence length (or a smaller model)";
    }

    private static string Gib(double bytes) => (bytes / 1073741824.0).ToString("0.0", CultureInfo.InvariantCulture) + " GiB";

    [GeneratedRegex(@"tried to allocate (\d+) bytes")]
    private static partial Regex TriedToAllocate();
}
