using System.Text;
using System.Text.Json;

namespace HybridBert.Data;

public enum InvalidUtf8Policy { Fail, Skip, Replace }

/// <summary>A document: its paragraphs (non-empty lines) and where it started.</summary>
public sealed record Document(IReadOnlyList<string> Paragraphs, string Source, long Line);

/// <summary>What reading skipped, replaced or split, so that nothing is dropped silently.</summary>
public sealed class CorpusStats
{
    public long BytesRead;
    public long Lines;
    public long Documents;
    public long InvalidLinesSkipped;
    public long InvalidLinesReplaced;
    public long LongLinesSplit;
    public long EmptyFiles;
    public long JsonLinesWithoutText;
    /// <summary>The fields of the first JSON line that lacked the text field ("id, body"), to name in a message.</summary>
    public string? FieldsOfALineWithoutText;
    public List<string> Warnings { get; } = [];

    /// <summary>Why reading gave nothing to work with, and what to do: the one message for every command that reads a corpus.</summary>
    public string WhyNothing(string textField) => JsonLinesWithoutText > 0 && Documents == 0
        ? $"{JsonLinesWithoutText:N0} JSON {(JsonLinesWithoutText == 1 ? "line has" : "lines have")} no string field \"{textField}\" " +
          $"(e.g. {Warnings.FirstOrDefault()}{(FieldsOfALineWithoutText is { } f ? $"; its fields: {f}" : "")}); name the field that " +
              "holds the text with --text-field"
        : $"{Documents:N0} documents, {BytesRead:N0} bytes read — is it empty?";

    public void Warn(string message)
    {
        if (Warnings.Count < 20) Warnings.Add(message);
    }
}

/// <summary>
/// Streams documents out of corpus files without holding a file in memory. Plain text: documents are separated by
/// blank lines (a file without blank lines is one document); JSON lines: one document per line, from a text field.
/// Bytes are decoded as strict UTF-8: an invalid sequence fails with file, line and byte offset, or is skipped or
/// replaced (U+FFFD) and counted, as <see cref="InvalidUtf8Policy"/> says. Lines longer than
/// <c>maxLineBytes</c> are cut into pieces at character boundaries and counted.
/// </summary>
public sealed class CorpusReader(InvalidUtf8Policy onInvalid = InvalidUtf8Policy.Fail, string textField = "text", int maxLineBytes = 1 << 20)
{
    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);
    private static readonly UTF8Encoding Lenient = new(false, throwOnInvalidBytes: false);

    public CorpusStats Stats { get; } = new();

    /// <summary>Bytes taken from the files themselves (compressed, for .gz): the measure of progress.</summary>
    public long RawBytesRead { get; private set; }

    public IEnumerable<Document> Read(IEnumerable<CorpusSource> sources)
    {
        foreach (var source in sources)
            foreach (var document in Read(source))
                yield return document;
    }

    public IEnumerable<Document> Read(CorpusSource source)
    {
        var paragraphs = new List<string>();
        long firstLine = 0, lines = 0;
        foreach (var (text, lineNumber) in Lines(source))
        {
            lines++;
            if (source.IsJsonLines)
            {
                if (string.IsNullOrWhiteSpace(text)) continue;
                var body = JsonText(text, source, lineNumber);
                if (body is null) continue;
                var parts = body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (parts.Length == 0) continue;
                Stats.Documents++;
                yield return new Document(parts, source.Name, lineNumber);
                continue;
            }
            if (string.IsNullOrWhiteSpace(text))
            {
                if (paragraphs.Count > 0)
                {
                    Stats.Documents++;
                    yield return new Document(paragraphs, source.Name, firstLine);
                    paragraphs = [];
                }
                continue;
            }
            if (paragraphs.Count == 0) firstLine = lineNumber;
            paragraphs.Add(text.Trim());
        }
        if (paragraphs.Count > 0)
        {
            Stats.Documents++;
            yield return new Document(paragraphs, source.Name, firstLine);
        }
        if (lines == 0)
        {
            Stats.EmptyFiles++;
            Stats.Warn($"{source.Name}: empty file, skipped");
        }
    }

    private string? JsonText(string line, CorpusSource source, long lineNumber)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty(textField, out var value) &&
                value.ValueKind == JsonValueKind.String)
                return value.GetString();
            if (Stats.FieldsOfALineWithoutText is null && json.RootElement.ValueKind == JsonValueKind.Object)
                Stats.FieldsOfALineWithoutText = string.Join(", ", json.RootElement.EnumerateObject().Take(12).Select(p => p.Name));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source.Name}:{lineNumber}: not a JSON object ({e.Message})", e);
        }
        Stats.JsonLinesWithoutText++;
        Stats.Warn($"{source.Name}:{lineNumber}: no string field \"{textField}\", skipped");
        return null;
    }

    /// <summary>Decoded lines with their 1-based line numbers; '\r\n' and '\n' both end a line.</summary>
    private IEnumerable<(string Text, long Line)> Lines(CorpusSource source)
    {
        using var stream = source.Open(n => RawBytesRead += n);
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        long lineNumber = 1, offset = 0, lineStart = 0;
        var first = true;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            Stats.BytesRead += read;
            var pos = 0;
            if (first)
            {
                first = false;
                if (read >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF) pos = 3;   // UTF-8 BOM
                offset = lineStart = pos;
            }
            while (pos < read)
            {
                var newline = Array.IndexOf(buffer, (byte)'\n', pos, read - pos);
                var take = (newline < 0 ? read : newline) - pos;
                line.Write(buffer, pos, take);
                if (line.Length > maxLineBytes)
                {
                    foreach (var piece in SplitLongLine(line, source, lineNumber, lineStart)) yield return (piece, lineNumber);
                    lineStart = offset + take - line.Length;
                }
                offset += take;
                if (newline < 0) break;
                offset++;
                pos = newline + 1;
                var length = (int)line.Length;
                if (length > 0 && line.GetBuffer()[length - 1] == '\r') length--;
                if (Decode(line.GetBuffer().AsSpan(0, length), source, lineNumber, lineStart) is { } text) yield return (text, lineNumber);
                line.SetLength(0);
                Stats.Lines++;
                lineNumber++;
                lineStart = offset;
            }
        }
        if (line.Length > 0)
        {
            Stats.Lines++;
            if (Decode(line.GetBuffer().AsSpan(0, (int)line.Length), source, lineNumber, lineStart) is { } text) yield return (text, lineNumber);
        }
    }

    /// <summary>Cuts <paramref name="line"/> into pieces of at most maxLineBytes at character boundaries, keeping the tail.</summary>
    private List<string> SplitLongLine(MemoryStream line, CorpusSource source, long lineNumber, long lineStart)
    {
        var pieces = new List<string>();
        while (line.Length > maxLineBytes)
        {
            var bytes = line.GetBuffer();
            var cut = maxLineBytes;
            while (cut > 0 && (bytes[cut] & 0xC0) == 0x80) cut--;      // back off over continuation bytes 10xxxxxx
            if (cut == 0) cut = maxLineBytes;                           // no boundary at all: invalid bytes anyway
            if (Decode(bytes.AsSpan(0, cut), source, lineNumber, lineStart) is { } piece) pieces.Add(piece);
            var rest = bytes.AsSpan(cut, (int)line.Length - cut).ToArray();
            line.SetLength(0);
            line.Write(rest);
            lineStart += cut;
            Stats.LongLinesSplit++;
        }
        if (Stats.LongLinesSplit == 1) Stats.Warn($"{source.Name}:{lineNumber}: line longer than {maxLineBytes} bytes, cut into pieces");
        return pieces;
    }

    private string? Decode(ReadOnlySpan<byte> bytes, CorpusSource source, long lineNumber, long lineStart)
    {
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            var where =
                $"{source.Name}:{lineNumber}: invalid UTF-8 at byte offset " +
                $"{lineStart + Math.Max(0, e.Index)}{(source.IsGzip ? " (uncompressed)" : "")}";
            switch (onInvalid)
            {
                case InvalidUtf8Policy.Skip:
                    Stats.InvalidLinesSkipped++;
                    Stats.Warn(where + ": line skipped");
                    return null;
                case InvalidUtf8Policy.Replace:
                    Stats.InvalidLinesReplaced++;
                    Stats.Warn(where + ": replaced with U+FFFD");
                    return Lenient.GetString(bytes);
                default:
                    throw new InvalidDataException(where + " (use --on-invalid skip or replace to go on)", e);
            }
        }
    }
}
