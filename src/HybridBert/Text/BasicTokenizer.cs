using System.Globalization;
using System.Text;

namespace HybridBert.Text;

/// <summary>
/// BERT's normalizer and pre-tokenizer, as Hugging Face <c>tokenizers</c>' <c>BertNormalizer</c> +
/// <c>BertPreTokenizer</c>: drop control characters, map whitespace to spaces, put spaces around CJK ideographs,
/// strip accents and lowercase (uncased), then split on whitespace and isolate every punctuation character.
/// </summary>
/// <remarks>
/// Written by hand because Microsoft.ML.Tokenizers' <c>BertTokenizer</c> differs from Hugging Face: it drops ASCII
/// symbols such as <c>= + &lt; &gt; ^ | ~ $</c> (1,885 of 5,000 corpus lines came out different). BERT counts every
/// ASCII non-alphanumeric printable character as punctuation, plus Unicode's P* categories.
/// Hugging Face's order is kept: clean, CJK, strip accents, then lowercase. Not thread-safe (it remembers the accent-free
/// form of each character it met): one per thread, as <see cref="BertTokenizer"/>.
/// </remarks>
public sealed class BasicTokenizer(bool lowercase = true)
{
    public bool Lowercase { get; } = lowercase;

    /// <summary>Appends the words of <paramref name="text"/> to <paramref name="words"/>.</summary>
    public void Split(string text, List<string> words)
    {
        var normalized = Normalize(text);
        var ranges = new List<(int Start, int Length)>();
        SplitNormalized(normalized, ranges);
        foreach (var (start, length) in ranges) words.Add(normalized.Substring(start, length));
    }

    /// <summary>The words of an already <see cref="Normalize">normalized</see> text, as (start, length) ranges of it
    /// appended to <paramref name="words"/>: split on whitespace, every punctuation character a word of its own.</summary>
    public static void SplitNormalized(string normalized, List<(int Start, int Length)> words)
    {
        var start = -1;
        for (var i = 0; i < normalized.Length;)
        {
            var c = normalized[i];
            bool space, punctuation;
            var width = 1;
            if (c < 0x80)
            {
                space = c == ' ' || c is >= '\t' and <= '\r';
                punctuation = !space && c is >= (char)33 and <= (char)47 or >= (char)58 and <= (char)64 or >= (char)91 and <= (char)96
                    or >= (char)123 and <= (char)126;
            }
            else
            {
                var rune = Rune.GetRuneAt(normalized, i);
                width = rune.Utf16SequenceLength;
                space = Rune.IsWhiteSpace(rune);
                punctuation = !space && IsPunctuation(rune);
            }
            if (space || punctuation)
            {
                if (start >= 0) words.Add((start, i - start));
                start = -1;
                if (punctuation) words.Add((i, width));
            }
            else if (start < 0)
            {
                start = i;
            }
            i += width;
        }
        if (start >= 0) words.Add((start, normalized.Length - start));
    }

    /// <summary>
    /// The words of <see cref="Split(string, List{string})"/> with where each came from in <paramref name="text"/>:
    /// normalizing rune by rune, each normalized character keeps the span of the input it came from. Null when the
    /// rune-by-rune words are not the words of the whole text (normalization across runes, which BERT's does not do
    /// for ordinary text).
    /// </summary>
    public List<(string Word, int[] Starts, int[] Ends)>? SplitWithOffsets(string text)
    {
        var normalized = new StringBuilder(text.Length + 8);
        var starts = new List<int>(text.Length);
        var ends = new List<int>(text.Length);
        for (var i = 0; i < text.Length;)
        {
            var rune = Rune.GetRuneAt(text, i);
            var piece = Normalize(rune.ToString());
            normalized.Append(piece);
            for (var k = 0; k < piece.Length; k++)
            {
                starts.Add(i);
                ends.Add(i + rune.Utf16SequenceLength);
            }
            i += rune.Utf16SequenceLength;
        }
        var flat = normalized.ToString();
        var ranges = new List<(int Start, int Length)>();
        SplitNormalized(flat, ranges);
        var words = ranges.Select(r => (flat.Substring(r.Start, r.Length), starts.GetRange(r.Start, r.Length).ToArray(),
            ends.GetRange(r.Start, r.Length).ToArray())).ToList();
        return words.Select(w => w.Item1).SequenceEqual(Split(text)) ? words : null;
    }

    public List<string> Split(string text)
    {
        var words = new List<string>();
        Split(text, words);
        return words;
    }

    /// <summary>ASCII characters <see cref="Normalize"/> drops (controls, the vertical tab and form feed among them as in
    /// Hugging Face's; tab, line feed and carriage return are whitespace).</summary>
    private static readonly System.Buffers.SearchValues<char> AsciiControls = System.Buffers.SearchValues.Create(
        "\0\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000B\u000C\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018" +
        "\u0019\u001A\u001B\u001C\u001D\u001E\u001F\u007F");

    /// <summary>BERT's normalization. An ASCII text without control characters takes a vectorised path (only lowercasing
    /// changes it: its whitespace characters are left as they are, which splits the same).</summary>
    public string Normalize(string text)
    {
        if (System.Text.Ascii.IsValid(text) && text.AsSpan().IndexOfAny(AsciiControls) < 0) return Lowercase ? text.ToLowerInvariant() : text;
        var builder = new StringBuilder(text.Length + 8);
        var marks = false;   // a combining mark of the input's own: accents are stripped from the whole text (canonical order)
        Span<char> units = stackalloc char[2];
        foreach (var rune in text.EnumerateRunes())
        {
            var v = rune.Value;
            if (v == 0 || v == 0xFFFD || IsControl(rune)) continue;
            if (Rune.IsWhiteSpace(rune)) builder.Append(' ');
            else if (v < 0x80) builder.Append((char)v);
            else if (IsCjk(v)) builder.Append(' ').Append(units[..rune.EncodeToUtf16(units)]).Append(' ');
            else if (Lowercase && !marks && !IsMark(rune)) builder.Append(Stripped(rune));
            else
            {
                marks |= Lowercase;
                builder.Append(units[..rune.EncodeToUtf16(units)]);
            }
        }
        var s = builder.ToString();
        if (!Lowercase) return s;
        if (marks) s = StripAccents(s);
        return s.ToLowerInvariant();
    }

    private static bool IsMark(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
        or UnicodeCategory.EnclosingMark;

    private readonly Dictionary<int, string> strippedRunes = [];

    /// <summary>A character without its accents (its canonical decomposition less the non-spacing marks), remembered.</summary>
    private string Stripped(Rune rune)
    {
        if (strippedRunes.TryGetValue(rune.Value, out var known)) return known;
        var stripped = StripAccents(rune.ToString());
        if (strippedRunes.Count < 10_000) strippedRunes[rune.Value] = stripped;
        return stripped;
    }

    private static string StripAccents(string s)
    {
        var decomposed = s.Normalize(NormalizationForm.FormD);
        var builder = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) builder.Append(rune.ToString());
        return builder.ToString();
    }

    // Rust's char::is_other minus \t \n \r: categories Cc, Cf, Cs, Co, Cn.
    private static bool IsControl(Rune r)
    {
        if (r.Value is '\t' or '\n' or '\r') return false;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    public static bool IsPunctuation(Rune r)
    {
        var v = r.Value;
        if (v is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    // The CJK Unified Ideographs blocks BERT pads with spaces (not Hangul, Hiragana or Katakana).
    private static bool IsCjk(int v) =>
        v is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B920 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
