namespace HybridBert.FineTuning;

/// <summary>One example: text, optional second text, optional label (as written in the file), and where it came from.</summary>
public sealed record LabeledExample(string Text, string? Pair, string? Label, string Source, long Line);

/// <summary>Which columns (or JSON fields) hold the text, the optional second text and the label.</summary>
public sealed record ColumnSpec(string Text, string? Pair = null, string? Label = "label");

/// <summary>What reading skipped, so nothing is dropped silently.</summary>
public sealed class ReadReport
{
    public long Rows;
    public long EmptyTexts;
    public long MalformedRowsSkipped;
    public List<string> Warnings { get; } = [];

    public void Warn(string message)
    {
        if (Warnings.Count < 10) Warnings.Add(message);
    }
}
