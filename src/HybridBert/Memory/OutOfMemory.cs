using System.Globalization;
using System.Text.RegularExpressions;

namespace HybridBert.Memory;

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

    /// <summary>
    /// One line from libtorch's message saying what was short: "one tensor needed 64.0 GiB, more than the 20.3 GiB
    /// available"; or, when the tensor was smaller than what the system reports available (read after the failed step
    /// let go of its tensors), what held the rest — this process's peak, and the limit placed on it if there is one.
    /// </summary>
    /// <param name="peakBytes">This process's peak resident memory.</param>
    /// <param name="limitBytes">A limit on this process's memory (a container's cgroup limit, ulimit -v), if any.</param>
    public static string Describe(string message, double? availableBytes, double? peakBytes = null, double? limitBytes = null)
    {
        const string advice = "use a smaller batch or sequence length (or a smaller model)";
        if (TriedToAllocate().Match(message) is not { Success: true } m
            || !double.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var asked))
            return $"out of memory: an allocation failed{(peakBytes is { } p ? $" (this process peaked at {Gib(p)})" : "")} — {advice}";
        if (availableBytes is { } free && asked > free)
            return $"out of memory: one tensor needed {Gib(asked)}, more than the {Gib(free)} available — {advice}";
        var held = peakBytes is { } peak ? $" while this process held {Gib(peak)} at its peak" : "";
        var cause = limitBytes is { } limit
            ? $"; this process may use at most {Gib(limit)} (its container's memory limit or ulimit -v)"
            : availableBytes is { } now
                ? $"; {Gib(now)} are available now that the step's other tensors are freed, so it was those tensors, not the one that " +
                    "failed, that filled memory"
                : "";
        return $"out of memory: one tensor of {Gib(asked)} could not be allocated{held}{cause} — {advice}";
    }

    private static string Gib(double bytes) => (bytes / 1073741824.0).ToString("0.0", CultureInfo.InvariantCulture) + " GiB";

    [GeneratedRegex(@"tried to allocate (\d+) bytes")]
    private static partial Regex TriedToAllocate();
}
