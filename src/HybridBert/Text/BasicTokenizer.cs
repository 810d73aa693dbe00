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
/// Hugging Face's order is kept: clean, CJK, strip accents, then lowercase.
/// </remarks>
public sealed class BasicTokenizer(bool lowercase = true)
{
    public bool Lowercase { get; } = lowercase;

    /// <summary>Appends the words of <paramref name="text"/> to <paramref name="words"/>.</summary>
    public void Split(string text, List<string> words)
    {
        var normalized = Normalize(text);
        var start = -1;
        for (var i = 0; i < normalized.Length;)
        {
            var rune = Rune.GetRuneAt(normalized, i);
            var width = rune.Utf16SequenceLength;
            if (Rune.IsWhiteSpace(rune) || IsPunctuation(rune))
            {
                if (start >= 0) words.Add(normalized[start..i]);
                start = -1;
                if (!Rune.IsWhiteSpace(rune)) words.Add(normalized.Substring(i, width));
            }
            else if (start < 0)
            {
                start = i;
            }
            i += width;
        }
        if (start >= 0) words.Add(normalized[start..]);
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
        var words = new List<(string, int[], int[])>();
        void Add(int from, int to) =>
            words.Add((flat[from..to], starts.GetRange(from, to - from).ToArray(), ends.GetRange(from, to - from).ToArray()));
        var start = -1;
        for (var i = 0; i < flat.Length;)
        {
            var rune = Rune.GetRuneAt(flat, i);
            var width = rune.Utf16SequenceLength;
            if (Rune.IsWhiteSpace(rune) || IsPunctuation(rune))
            {
                if (start >= 0) Add(start, i);
                start = -1;
                if (!Rune.IsWhiteSpace(rune)) Add(i, i + width);
            }
            else if (start < 0)
            {
                start = i;
            }
            i += width;
        }
        if (start >= 0) Add(start, flat.Length);
        return words.Select(w => w.Item1).SequenceEqual(Split(text)) ? words : null;
    }

    public List<string> Split(string text)
    {
        var words = new List<string>();
        Split(text, words);
        return words;
    }

    public string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length + 8);
        var ascii = true;
        foreach (var rune in text.EnumerateRunes())
        {
            var v = rune.Value;
            if (v == 0 || v == 0xFFFD || IsControl(rune)) continue;
            if (Rune.IsWhiteSpace(rune)) builder.Append(' ');
            else if (IsCjk(v)) builder.Append(' ').Append(rune.ToString()).Append(' ');
            else
            {
                if (v > 0x7F) ascii = false;
                builder.Append(rune.ToString());
            }
        }
        var s = builder.ToString();
        if (!Lowercase) return s;
        if (!ascii) s = StripAccents(s);
        return s.ToLowerInvariant();
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
