using System.Security.Cryptography;
using System.Text;

namespace HybridBert.Text;

/// <summary>
/// A WordPiece vocabulary (<c>vocab.txt</c>: one token per line, id = line number). Special tokens are looked up
/// by their text, never assumed to sit at fixed ids.
/// </summary>
public sealed class Vocabulary
{
    public const string Pad = "[PAD]", Unk = "[UNK]", Cls = "[CLS]", Sep = "[SEP]", Mask = "[MASK]";
    public static readonly string[] SpecialTokens = [Pad, Unk, Cls, Sep, Mask];

    private readonly Dictionary<string, int> ids;

    public IReadOnlyList<string> Tokens { get; }
    public int Count => Tokens.Count;
    public int PadId { get; }
    public int UnkId { get; }
    public int ClsId { get; }
    public int SepId { get; }
    public int MaskId { get; }
    /// <summary>SHA-256 of the tokens joined by '\n': identifies a vocabulary regardless of line endings.</summary>
    public string Hash { get; }
    public string Source { get; }

    public Vocabulary(IReadOnlyList<string> tokens, string source = "vocabulary")
    {
        Source = source;
        Tokens = tokens;
        ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (var i = 0; i < tokens.Count; i++)
            if (!ids.TryAdd(tokens[i], i))
                throw new InvalidDataException($"{source}:{i + 1}: token '{tokens[i]}' appears twice (first on line {ids[tokens[i]] + 1})");
        var missing = SpecialTokens.Where(t => !ids.ContainsKey(t)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{source}: the vocabulary lacks the special token(s) {string.Join(" ", missing)}; a BERT " +
                $"vocabulary needs {string.Join(" ", SpecialTokens)}");
        (PadId, UnkId, ClsId, SepId, MaskId) = (ids[Pad], ids[Unk], ids[Cls], ids[Sep], ids[Mask]);
        Hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', tokens))));
    }

    public static Vocabulary Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Vocabulary file not found: {path}", path);
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    public static Vocabulary Read(Stream stream, string source)
    {
        using var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
        var tokens = new List<string>();
        try
        {
            while (reader.ReadLine() is { } line) tokens.Add(line);   // ReadLine strips \n and \r\n alike
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"{source}: not UTF-8 near line {tokens.Count + 1} ({e.Message})", e);
        }
        if (tokens.Count == 0) throw new InvalidDataException($"{source}: the vocabulary is empty");
        return new Vocabulary(tokens, source);
    }

    public void Save(string path)
    {
        IO.AtomicFile.WriteAllText(path, string.Join('\n', Tokens) + "\n");
    }

    public int this[string token] => ids.TryGetValue(token, out var id) ? id : UnkId;
    public bool Contains(string token) => ids.ContainsKey(token);
    public bool TryGetId(string token, out int id) => ids.TryGetValue(token, out id);
    public bool IsSpecial(int id) => id == PadId || id == UnkId || id == ClsId || id == SepId || id == MaskId;

    /// <summary>True for ids that start a word (not a <c>##</c> continuation): the unit of whole-word masking.</summary>
    public bool[] WordStarts() => Tokens.Select(t => !t.StartsWith("##", StringComparison.Ordinal)).ToArray();
}
