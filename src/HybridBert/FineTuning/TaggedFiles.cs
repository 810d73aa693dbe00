using System.Text.Json;

namespace HybridBert.FineTuning;

/// <summary>One sentence of a token-classification file: its words and their tags (empty when the file has none).</summary>
public sealed record TaggedSentence(IReadOnlyList<string> Words, IReadOnlyList<string> Tags, string Source, long Line);

/// <summary>What reading tagged files skipped: empty sentences and <c>-DOCSTART-</c> lines.</summary>
public sealed class TaggedReadReport
{
    public int EmptySentences { get; set; }
    public int DocumentStarts { get; set; }
}

/// <summary>
/// Reads token-classification data:
/// <list type="bullet">
/// <item>CoNLL layout (any extension but <c>.jsonl</c>): one token a line, whitespace-separated columns — the word first,
/// the tag last (CoNLL-2003's <c>word POS chunk NER</c> gives NER) — a blank line between sentences, <c>-DOCSTART-</c>
/// lines skipped. Every token line has the number of columns of the file's first one; another count is an error at
/// file:line.</item>
/// <item><c>.jsonl</c>: one <c>{"tokens": [...], "tags": [...]}</c> a line, as many tags as tokens.</item>
/// </list>
/// An empty sentence is counted and skipped. Without <c>requireTags</c>, a CoNLL file may have the word column alone.
/// </summary>
public static class TaggedFiles
{
    /// <summary>Whether a file holds tagged words: CoNLL layout by extension, or .jsonl whose first object has "tokens".</summary>
    public static bool IsTaggedFile(string? path)
    {
        if (path is null || !File.Exists(path)) return false;
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is ".conll" or ".iob" or ".bio" or ".iob2" or ".iobes") return true;
        if (extension != ".jsonl") return false;
        var first = File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l));
        try
        {
            return first is not null && JsonDocument.Parse(first).RootElement is { ValueKind: JsonValueKind.Object } o &&
                o.TryGetProperty("tokens", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public static List<TaggedSentence> Read(string path, TaggedReadReport report, bool requireTags = true)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Tagged file not found: {path}", path);
        return Path.GetExtension(path).Equals(".jsonl", StringComparison.OrdinalIgnoreCase)
            ? ReadJsonLines(path, report, requireTags) : ReadConll(path, report, requireTags);
    }

    private static List<TaggedSentence> ReadConll(string path, TaggedReadReport report, bool requireTags)
    {
        var sentences = new List<TaggedSentence>();
        List<string> words = [], tags = [];
        int? columns = null;
        var firstColumnsLine = 0L;
        var start = 0L;
        void Flush()
        {
            if (words.Count > 0) sentences.Add(new TaggedSentence(words, tags, path, start));
            (words, tags) = ([], []);
        }
        foreach (var (line, text) in TaskFileReader.Utf8Lines(path))
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                Flush();
                continue;
            }
            var fields = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields[0] == "-DOCSTART-")
            {
                Flush();
                report.DocumentStarts++;
                continue;
            }
            if (columns is null)
            {
                (columns, firstColumnsLine) = (fields.Length, line);
                if (requireTags && fields.Length < 2)
                    throw new InvalidDataException($"{path}:{line}: one column ('{fields[0]}'): expected a word and its tag, " +
                                                   "whitespace-separated (CoNLL layout), or a .jsonl file with tokens and tags");
            }
            else if (fields.Length != columns)
            {
                throw new InvalidDataException($"{path}:{line}: {fields.Length} columns, but the file's first token line ({firstColumnsLine}) " +
                                               $"has {columns}: expected the word first and the tag last, whitespace-separated");
            }
            if (words.Count == 0) start = line;
            words.Add(fields[0]);
            if (fields.Length > 1) tags.Add(fields[^1]);
        }
        Flush();
        return sentences;
    }

    private static List<TaggedSentence> ReadJsonLines(string path, TaggedReadReport report, bool requireTags)
    {
        var sentences = new List<TaggedSentence>();
        foreach (var (line, text) in TaskFileReader.Utf8Lines(path))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            string[] words, tags;
            try
            {
                using var json = JsonDocument.Parse(text);
                var root = json.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("tokens", out var tokens) ||
                    tokens.ValueKind != JsonValueKind.Array)
                    throw new InvalidDataException($"{path}:{line}: expected an object with a \"tokens\" array (and \"tags\")");
                words = tokens.EnumerateArray().Select(t => t.GetString() ?? "").ToArray();
                var hasTags = root.TryGetProperty("tags", out var tagArray) && tagArray.ValueKind == JsonValueKind.Array;
                if (requireTags && !hasTags) throw new InvalidDataException($"{path}:{line}: no \"tags\" array");
                tags = hasTags
                    ? tagArray.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String ? t.GetString()! : t.GetRawText()).ToArray() : [];
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                throw new InvalidDataException($"{path}:{line}: not a JSON object with string \"tokens\" and \"tags\" ({e.Message})", e);
            }
            if (tags.Length > 0 && tags.Length != words.Length)
                throw new InvalidDataException($"{path}:{line}: {words.Length} tokens but {tags.Length} tags");
            if (words.Length == 0)
            {
                report.EmptySentences++;
                continue;
            }
            sentences.Add(new TaggedSentence(words, tags, path, line));
        }
        return sentences;
    }
}
