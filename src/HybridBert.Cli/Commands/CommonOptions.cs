using System.CommandLine;
using HybridBert.Data;

namespace HybridBert.Cli.Commands;

/// <summary>Options and output shared by several commands.</summary>
internal static class CommonOptions
{
    public static Option<InvalidUtf8Policy> OnInvalid() => new("--on-invalid")
    {
        Description = "On invalid UTF-8: fail (say file, line and byte offset), skip the line, or replace the bytes",
        DefaultValueFactory = _ => InvalidUtf8Policy.Fail,
    };

    public static Option<string> TextField() => new("--text-field")
    {
        Description = "The JSON field that holds the text in .jsonl files",
        DefaultValueFactory = _ => "text",
    };

    /// <summary>"1,2,3" → [1, 2, 3]; a bad item is an error naming the option and the item.</summary>
    public static List<int> IntList(string text, string option, int min = 0)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0) throw new ArgumentException($"{option} needs at least one number (got '{text}')");
        return items.Select(item => int.TryParse(item, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= min
            ? v
            : throw new ArgumentException($"{option}: '{item}' is not a whole number >= {min} (got '{text}')")).ToList();
    }

    /// <summary>"train,infer" → enum values; an unknown name is an error listing the allowed ones.</summary>
    public static List<T> EnumList<T>(string text, string option) where T : struct, Enum =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(item => Enum.TryParse<T>(item, ignoreCase: true, out var v) && Enum.IsDefined(v)
                ? v
                : throw new ArgumentException($"{option}: '{item}' is not one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}"))
            .ToList();

    public static IReadOnlyList<CorpusSource> Sources(string[]? paths) =>
        paths is { Length: > 0 } ? CorpusSource.Resolve(paths) : CorpusSource.Default();

    public static void PrintCorpusStats(CorpusStats stats)
    {
        foreach (var warning in stats.Warnings) Console.Error.WriteLine($"warning: {warning}");
        var notes = new List<string>();
        if (stats.InvalidLinesSkipped > 0) notes.Add($"{stats.InvalidLinesSkipped} invalid-UTF-8 lines skipped");
        if (stats.InvalidLinesReplaced > 0) notes.Add($"{stats.InvalidLinesReplaced} invalid-UTF-8 lines repaired");
        if (stats.LongLinesSplit > 0) notes.Add($"{stats.LongLinesSplit} over-long line pieces cut");
        if (stats.EmptyFiles > 0) notes.Add($"{stats.EmptyFiles} empty files");
        if (stats.JsonLinesWithoutText > 0) notes.Add($"{stats.JsonLinesWithoutText} JSON lines without text");
        Console.WriteLine($"read {stats.BytesRead / 1e6:F1} MB, {stats.Lines:N0} lines, {stats.Documents:N0} documents" + (notes.Count > 0 ? "; " + string.Join(", ", notes) : ""));
    }
}

/// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, out of order).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
