namespace HybridBert.FineTuning;

/// <summary>One example: text, optional second text, optional label (as written in the file), where it came from,
/// and the value of the caller's id column if one was named.</summary>
public sealed record LabeledExample(string Text, string? Pair, string? Label, string Source, long Line)
{
    public string? Id { get; init; }
}

/// <summary>Which columns (or JSON fields) hold the text, the optional second text, the label and an optional id
/// that is carried through to predictions.</summary>
public sealed record ColumnSpec(string Text, string? Pair = null, string? Label = "label", string? Id = null);

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
