using System.Text.Json;
using HybridBert.Interop;
using static TorchSharp.torch;

namespace HybridBert.Tests.Reproducibility;

/// <summary>
/// "The same run" across processes, as the cross-process and crash tests mean it: the same records (steps, learning
/// rates, token counts, every field that is not a float exactly) with losses and weights equal up to float rounding.
/// </summary>
/// <remarks>
/// libtorch does not round every process's first step the same way: in full test-suite runs on this 2-core machine,
/// about one in three had one child whose first step's losses or gradients differed from its twin's in the last bits
/// (losses 1.5e-6 relative apart, the steps after it equal to 7 digits), while 345 children started on a loaded or
/// idle machine outside the suite never did. The cause was
/// not found (not the allocator's alignment, huge pages, uninitialized memory, environment or thread settings:
/// docs/results/design-measurements.md#first-step-rounding). So losses are compared to
/// <see cref="LossTolerance"/> (relative) and weights to <see cref="WeightTolerance"/> (absolute): a different
/// thread count moves them by 1.2e-7 and 4.6e-7 after 12 steps (the suite's odd first steps moved losses by 1.5e-6),
/// while anything a resume can get wrong moves them by far more: the optimizer's state forgotten on resume, 7e-4–1.9e-3
/// relative in the losses and 1.9e-2 in the weights; a different seed (<see cref="AssertDifferent"/>).
/// </remarks>
internal static class SameRun
{
    public const double LossTolerance = 1e-5;
    public const double WeightTolerance = 1e-4;

    /// <summary>metrics.jsonl records of one type, without the fields that measure the machine (time, speed, memory).</summary>
    public static List<Dictionary<string, JsonElement>> Records(string runDir, string type) =>
        File.ReadLines(Path.Combine(runDir, "metrics.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(r => r.GetProperty("type").GetString() == type)
            .Select(r => r.EnumerateObject()
                .Where(p => p.Name is not ("tokens_per_s" or "elapsed_s" or "rss_mib"))
                .ToDictionary(p => p.Name, p => p.Value.Clone()))
            .ToList();

    /// <summary>Whether two records are the same: every field present in both, integers and text exactly, other numbers
    /// within <see cref="LossTolerance"/> relative; null when they are, else what differs.</summary>
    public static string? Difference(Dictionary<string, JsonElement> expected, Dictionary<string, JsonElement> actual)
    {
        if (!expected.Keys.Order().SequenceEqual(actual.Keys.Order()))
            return $"fields {string.Join(",", expected.Keys.Order())} vs {string.Join(",", actual.Keys.Order())}";
        foreach (var (name, e) in expected)
        {
            var a = actual[name];
            if (e.ValueKind == JsonValueKind.Number && a.ValueKind == JsonValueKind.Number && !(e.TryGetInt64(out _) && a.TryGetInt64(out _)))
            {
                double x = e.GetDouble(), y = a.GetDouble();
                if (Math.Abs(x - y) > LossTolerance * Math.Max(Math.Abs(x), Math.Abs(y)))
                    return $"{name} {x} vs {y}";
            }
            else if (e.GetRawText() != a.GetRawText()) return $"{name} {e.GetRawText()} vs {a.GetRawText()}";
        }
        return null;
    }

    public static void AssertSameRecords(IReadOnlyList<Dictionary<string, JsonElement>> expected, IReadOnlyList<Dictionary<string, JsonElement>> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
            if (Difference(expected[i], actual[i]) is { } difference)
                Assert.Fail($"record {i + 1} ({Describe(expected[i])}) differs: {difference}");
    }

    public static void AssertSameRecords(string expectedRun, string actualRun, string type) =>
        AssertSameRecords(Records(expectedRun, type), Records(actualRun, type));

    /// <summary>The comparison can fail: two runs that should differ (another seed) differ beyond the tolerance in some record.</summary>
    public static void AssertDifferent(string runA, string runB, string type)
    {
        var (a, b) = (Records(runA, type), Records(runB, type));
        Assert.Equal(a.Count, b.Count);
        Assert.Contains(a.Zip(b), pair => Difference(pair.First, pair.Second) is not null);
    }

    /// <summary>Two safetensors files with the same tensors (names, shapes, types) and values within <see cref="WeightTolerance"/>.</summary>
    public static void AssertSameWeights(string expectedFile, string actualFile)
    {
        using var scope = NewDisposeScope();
        var (expected, actual) = (SafetensorsFile.Read(expectedFile), SafetensorsFile.Read(actualFile));
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            var a = actual[name];
            Assert.Equal(e.shape, a.shape);
            Assert.Equal(e.dtype, a.dtype);
            var largest = e.to(ScalarType.Float64).sub(a.to(ScalarType.Float64)).abs().max().item<double>();
            Assert.True(largest <= WeightTolerance, $"{name}: values differ by up to {largest}");
        }
    }

    private static string Describe(Dictionary<string, JsonElement> record) =>
        string.Join(",", record.Where(p => p.Key is "type" or "step").Select(p => $"{p.Key}={p.Value.GetRawText()}"));
}
