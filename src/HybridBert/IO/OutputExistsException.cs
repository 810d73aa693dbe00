namespace HybridBert.IO;

/// <summary>
/// An output folder or file that already holds something this call would replace. The message speaks the library's
/// language (the options record's <c>Resume</c>/<c>Overwrite</c>); the CLI says the same in flags
/// (<see cref="CommandLineMessage"/>), so neither names the other's words.
/// </summary>
public sealed class OutputExistsException(string path, string holds, bool resumable, bool replaceable = true)
    : IOException($"{path} already holds {holds}: " + string.Join(", ", new[]
    {
        resumable ? "continue it (Resume = true)" : null, replaceable ? "replace it (Overwrite = true)" : null, "or write somewhere else",
    }.OfType<string>()))
{
    public string Path { get; } = path;

    /// <summary>The same, for a person at the command line.</summary>
    public string CommandLineMessage { get; } = $"{path} already holds {holds}: " + string.Join(", ", new[]
    {
        resumable ? "continue it with --resume" : null, replaceable ? "replace it with --overwrite" : null, "or choose another --out",
    }.OfType<string>());
}
