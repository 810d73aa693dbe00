using System.Text;
using System.Text.Json;
using Microsoft.VisualBasic.FileIO;

namespace HybridBert.FineTuning;

/// <summary>
/// Reads labelled (or unlabelled) examples from a file with named columns:
/// <list type="bullet">
/// <item><c>.tsv</c>: a header line, then tab-separated fields, no quoting — GLUE's convention (its texts contain
/// unbalanced quotes).</item>
/// <item><c>.csv</c>: a header line, RFC 4180 quoting (through .NET's <c>TextFieldParser</c>).</item>
/// <item><c>.jsonl</c>: one object per line with the named fields (labels may be strings or numbers).</item>
/// <item><c>.txt</c>: one text per line, no header and no labels (the same rule in every command).</item>
/// </list>
/// Any other extension is refused, naming these: guessing a format from the contents would misread a file.
/// A missing column is an error that names it and the columns present; a row with the wrong number of fields is an
/// error at file:line (or, with <c>skipMalformed</c>, a counted skip: GLUE's QQP has such rows); an empty text is
/// skipped with a warning.
/// </summary>
public static class TaskFileReader
{
    public static List<LabeledExample> Read(string path, ColumnSpec columns, bool requireLabel, ReadReport report,
        bool skipMalformed = false, bool hasHeader = true, IReadOnlyList<string>? headerless = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Task file not found: {path}", path);
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".jsonl":
                return ReadJsonLines(path, columns, requireLabel, report);
            case ".csv":
                return ReadRows(path, CsvRows(path), columns, requireLabel, report, skipMalformed, hasHeader ? null : headerless);
            case ".tsv":
                return ReadRows(path, TsvRows(path), columns, requireLabel, report, skipMalformed, hasHeader ? null : headerless);
            case ".txt" when columns.Id is not null:
                throw new InvalidDataException($"{path}: a .txt file holds one text per line and no columns, so it has no id column " +
                    $"'{columns.Id}'; use a .tsv, .csv or .jsonl file");
            case ".txt" when !requireLabel:
                return ReadPlainLines(path, report);
            case ".txt":
                throw new InvalidDataException($"{path}: a .txt file holds one text per line and no labels; labelled data goes in a " +
                    ".tsv, .csv or .jsonl file with named columns");
            default:
                throw new InvalidDataException($"{path}: unknown file type '{Path.GetExtension(path)}' — use .tsv (header, " +
                    "tab-separated), .csv (header, RFC 4180), .jsonl (one JSON object per line) or .txt (one text per line)");
        }
    }

    /// <summary>A plain text file (.txt), one text per line (UTF-8, errors at file:line); empty lines are counted and skipped.</summary>
    public static List<LabeledExample> ReadPlainLines(string path, ReadReport report)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Input file not found: {path}", path);
        var examples = new List<LabeledExample>();
        foreach (var (line, text) in Utf8Lines(path))
        {
            report.Rows++;
            if (string.IsNullOrWhiteSpace(text)) { report.EmptyTexts++; continue; }
            examples.Add(new LabeledExample(text, null, null, path, line));
        }
        return examples;
    }

    private static List<LabeledExample> ReadRows(string path, IEnumerable<(long Line, string[] Fields)> rows, ColumnSpec columns,
        bool requireLabel, ReadReport report, bool skipMalformed, IReadOnlyList<string>? headerless)
    {
        var examples = new List<LabeledExample>();
        string[]? header = headerless?.ToArray();
        int text = -1, pair = -1, label = -1, id = -1;
        void Resolve()
        {
            int Find(string? name, bool required)
            {
                if (name is null) return -1;
                var index = Array.FindIndex(header!, h => h.Trim().Equals(name, StringComparison.OrdinalIgnoreCase));
                if (index < 0 && required)
                    throw new InvalidDataException($"{path}: no column '{name}'; the columns are: " +
                        $"{string.Join(", ", header!.Take(20).Select(h => $"'{Shorten(h)}'"))}" +
                                                   (header!.Length > 20 ? $" … ({header.Length} in all)" : ""));
                return index;
            }
            (text, pair, label, id) = (Find(columns.Text, true), Find(columns.Pair, true), Find(columns.Label, requireLabel), Find(columns.Id, true));
        }
        if (header is not null) Resolve();
        foreach (var (line, fields) in rows)
        {
            if (header is null)
            {
                header = fields;
                Resolve();
                continue;
            }
            if (fields.Length == 1 && fields[0].Length == 0) continue;   // blank line
            report.Rows++;
            if (fields.Length != header.Length)
            {
                var message = $"{path}:{line}: expected {header.Length} fields, found {fields.Length}";
                if (!skipMalformed) throw new InvalidDataException(message);
                report.MalformedRowsSkipped++;
                report.Warn(message + " — skipped");
                continue;
            }
            var example = new LabeledExample(fields[text], pair >= 0 ? fields[pair] : null, label >= 0 ? fields[label].Trim() : null, path, line)
            {
                Id = id >= 0 ? fields[id] : null,
            };
            if (Keep(example, report)) examples.Add(example);
        }
        if (header is null) throw new InvalidDataException($"{path}: the file is empty (no header line)");
        return examples;
    }

    private static bool Keep(LabeledExample e, ReadReport report)
    {
        if (string.IsNullOrWhiteSpace(e.Text) || (e.Pair is not null && string.IsNullOrWhiteSpace(e.Pair)))
        {
            report.EmptyTexts++;
            report.Warn($"{e.Source}:{e.Line}: empty text — skipped");
            return false;
        }
        return true;
    }

    private static IEnumerable<(long, string[])> TsvRows(string path)
    {
        foreach (var (line, text) in Utf8Lines(path))
            yield return (line, text.TrimEnd('\r').Split('\t'));
    }

    /// <summary>The file's lines, numbered from 1; bytes that are not UTF-8 are an error at file:line (never silently replaced).</summary>
    /// <remarks>Split on bytes, then decoded line by line, so that the line named is the one holding the bad bytes
    /// (a StreamReader decodes whole blocks ahead of the line it returns).</remarks>
    internal static IEnumerable<(long Line, string Text)> Utf8Lines(string path)
    {
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        using var stream = new BufferedStream(File.OpenRead(path), 1 << 16);
        var bytes = new MemoryStream();
        long line = 0;
        string Decode()
        {
            var span = bytes.GetBuffer().AsSpan(0, (int)bytes.Length);
            if (line == 1 && span.StartsWith("\uFEFF"u8)) span = span[3..];   // a UTF-8 byte order mark
            if (span.EndsWith("\r"u8)) span = span[..^1];
            try
            {
                return strict.GetString(span);
            }
            catch (DecoderFallbackException e)
            {
                throw new InvalidDataException($"{path}:{line}: not UTF-8 text ({e.Message}) — save the file as UTF-8", e);
            }
        }
        int b;
        while ((b = stream.ReadByte()) >= 0)
        {
            if (b != '\n')
            {
                bytes.WriteByte((byte)b);
                continue;
            }
            line++;
            yield return (line, Decode());
            bytes.SetLength(0);
        }
        if (bytes.Length > 0)
        {
            line++;
            yield return (line, Decode());
        }
    }

    /// <summary>A field or line as an error message quotes it: at most 80 characters.</summary>
    private static string Shorten(string text) => text.Length > 80 ? text[..80] + $"… ({text.Length} characters)" : text;

    private static IEnumerable<(long, string[])> CsvRows(string path)
    {
        // TextFieldParser decodes ahead of the line it returns (and from its constructor), so a bad byte would surface
        // with no line, or the wrong one: check the encoding line by line first.
        foreach (var _ in Utf8Lines(path)) { }
        using var parser = new TextFieldParser(path,
            new UTF8Encoding(false, throwOnInvalidBytes: true)) { TextFieldType = FieldType.Delimited, HasFieldsEnclosedInQuotes = true,
            TrimWhiteSpace = false };
        parser.SetDelimiters(",");
        while (!parser.EndOfData)
        {
            var line = parser.LineNumber;
            string[] fields;
            try
            {
                fields = parser.ReadFields() ?? [];
            }
            catch (MalformedLineException e)
            {
                throw new InvalidDataException($"{path}:{e.LineNumber}:{MalformedColumn(parser.ErrorLine)}: {MalformedReason(parser.ErrorLine)}", e);
            }
            yield return (line, fields);
        }
    }

    /// <summary>The 1-based column of the first quote that breaks RFC 4180 in a line the CSV parser rejected.</summary>
    private static int MalformedColumn(string line)
    {
        var inQuotes = false;
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] != '"') continue;
            var fieldStart = i == 0 || line[i - 1] == ',';
            if (!inQuotes && !fieldStart) return i + 1;          // a quote inside an unquoted field
            if (!inQuotes) { inQuotes = true; continue; }
            if (i + 1 < line.Length && line[i + 1] == '"') { i++; continue; }   // "" inside quotes
            if (i + 1 < line.Length && line[i + 1] != ',') return i + 2;       // text after a closing quote
            inQuotes = false;
        }
        return Math.Max(1, line.LastIndexOf('"') + 1);                         // a quote never closed
    }

    private static string MalformedReason(string line) =>
        "malformed CSV: a stray or unclosed double quote (RFC 4180: a field with quotes must be enclosed in quotes, and a quote inside " +
            $"it doubled as \"\"); the line reads: {(line.Length > 120 ? line[..120] + "…" : line)}";

    private static List<LabeledExample> ReadJsonLines(string path, ColumnSpec columns, bool requireLabel, ReadReport report)
    {
        var examples = new List<LabeledExample>();
        foreach (var (line, text) in Utf8Lines(path))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            report.Rows++;
            JsonElement root;
            try
            {
                root = JsonDocument.Parse(text).RootElement;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{line}: not a JSON object ({e.Message})", e);
            }
            string? Field(string? name, bool required)
            {
                if (name is null) return null;
                if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null)
                    return v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText();
                if (required) throw new InvalidDataException($"{path}:{line}: no field '{name}'");
                return null;
            }
            var example = new LabeledExample(Field(columns.Text, true)!, Field(columns.Pair, columns.Pair is not null),
                Field(columns.Label, requireLabel)?.Trim(), path, line)
            {
                Id = Field(columns.Id, columns.Id is not null),
            };
            if (Keep(example, report)) examples.Add(example);
        }
        return examples;
    }
}
