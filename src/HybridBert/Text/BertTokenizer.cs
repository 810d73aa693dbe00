using System.Buffers;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace HybridBert.Text;

/// <summary>One token of a text and the span of the text it came from (UTF-16 positions, end exclusive); null where it
/// came from no text ([CLS], [SEP]) or could not be traced.</summary>
public sealed record TokenSpan(int Id, bool Special, int? Start, int? End);

/// <summary>One encoded text or pair, as Hugging Face's BERT tokenizer returns it.</summary>
public sealed record EncodedText(int[] InputIds, int[] AttentionMask, int[] TokenTypeIds, int[] WordIds)
{
    public int Length => InputIds.Length;
    /// <summary>Where a row was made from a text with <see cref="BertTokenizer.TokenizeWithSpans"/> (token classification): each
    /// position's first and one-past-last UTF-16 offset in the text, -1 for [CLS]/[SEP]; null otherwise.</summary>
    public int[]? Starts { get; init; }
    public int[]? Ends { get; init; }
}

/// <summary>
/// BERT WordPiece tokenization producing Hugging Face's ids: <see cref="BasicTokenizer"/> splits words, and
/// Microsoft.ML.Tokenizers' <c>WordPieceTokenizer</c> (with its own normalizer and pre-tokenizer switched off)
/// does the greedy longest-match-first subword split of each word. A per-instance word cache skips WordPiece
/// for words seen before (most of them, in running text). Not thread-safe: give each worker its own instance.
/// </summary>
/// <remarks>
/// Special tokens written in raw text (a literal "[MASK]", "[SEP]") are those tokens, as in Hugging Face's tokenizers,
/// where they are added tokens matched in the text before it is normalized: case-sensitive, the leftmost first.
/// </remarks>
public sealed class BertTokenizer
{
    private const int MaxCachedWords = 200_000;
    private readonly WordPieceTokenizer wordPiece;
    private readonly WordCache cache = new();
    private readonly List<(int Start, int Length)> words = [];

    private readonly string[] specialTokens;

    public Vocabulary Vocabulary { get; }
    public BasicTokenizer Basic { get; }

    public BertTokenizer(Vocabulary vocabulary, bool lowercase = true)
    {
        Vocabulary = vocabulary;
        specialTokens = Vocabulary.SpecialTokens.Where(vocabulary.Contains).ToArray();
        Basic = new BasicTokenizer(lowercase);
        using var stream = new MemoryStream(new UTF8Encoding(false).GetBytes(string.Join('\n', vocabulary.Tokens) + "\n"));
        wordPiece = WordPieceTokenizer.Create(stream, new WordPieceOptions
        {
            UnknownToken = Vocabulary.Unk,
            ContinuingSubwordPrefix = "##",
            MaxInputCharsPerWord = 100,   // BERT's: longer words become [UNK]
            PreTokenizer = null,
            Normalizer = null,
        });
    }

    public static BertTokenizer Load(string vocabPath, bool lowercase = true) => new(Vocabulary.Load(vocabPath), lowercase);

    /// <summary>Word-piece ids of <paramref name="text"/> without special tokens, appended to <paramref name="ids"/>;
    /// <paramref name="wordIds"/> (optional) gets the index of the word each piece came from, counting from
    /// <paramref name="firstWord"/>. Returns the number of words.</summary>
    public int AppendIds(string text, List<int> ids, List<int>? wordIds = null, int firstWord = 0)
    {
        if (!text.Contains('[')) return AppendWords(text, ids, wordIds, firstWord);   // no special token can be in it
        var count = 0;
        for (var start = 0; ;)
        {
            var (at, token) = NextSpecial(text, start);
            count += AppendWords(text[start..(at < 0 ? text.Length : at)], ids, wordIds, firstWord + count);
            if (at < 0) return count;
            ids.Add(Vocabulary[token]);
            wordIds?.Add(firstWord + count);
            count++;
            start = at + token.Length;
        }
    }

    /// <summary>
    /// The word pieces of <paramref name="text"/> (no [CLS]/[SEP]) with the span of the input each came from, in UTF-16
    /// positions (<see cref="TokenSpan"/>): a piece's characters, or for [UNK] its whole word; special tokens written in
    /// the text are marked special. Spans are null where the text's normalization cannot be traced back
    /// (<see cref="BasicTokenizer.SplitWithOffsets"/>); the ids are always <see cref="Tokenize"/>'s.
    /// </summary>
    public List<TokenSpan> TokenizeWithSpans(string text)
    {
        var spans = new List<TokenSpan>();
        for (var start = 0; ;)
        {
            var (at, token) = text.Contains('[') ? NextSpecial(text, start) : (-1, "");
            var end = at < 0 ? text.Length : at;
            var segment = text[start..end];
            var ids = new List<int>();
            AppendWords(segment, ids, null, 0);
            var traced = Basic.SplitWithOffsets(segment);
            var k = 0;
            if (traced is not null)
                foreach (var (word, starts, ends) in traced)
                {
                    var pieces = Pieces(word);
                    var position = 0;
                    foreach (var id in pieces)
                    {
                        var length = id == Vocabulary.UnkId ? word.Length - position : Vocabulary.Tokens[id].Length - (position > 0 ? 2 : 0);
                        length = Math.Clamp(length, 1, word.Length - position);
                        spans.Add(new TokenSpan(id, false, start + starts[position], start + ends[position + length - 1]));
                        position += length;
                        k++;
                    }
                }
            if (traced is null || k != ids.Count)
            {
                spans.RemoveRange(spans.Count - k, k);
                spans.AddRange(ids.Select(id => new TokenSpan(id, false, null, null)));
            }
            if (at < 0) return spans;
            spans.Add(new TokenSpan(Vocabulary[token], true, at, at + token.Length));
            start = at + token.Length;
        }
    }

    /// <summary>The first special token in <paramref name="text"/> at or after <paramref name="start"/> (the longest
    /// where two begin at one place), or -1.</summary>
    private (int At, string Token) NextSpecial(string text, int start)
    {
        var (at, found) = (-1, "");
        foreach (var token in specialTokens)
        {
            var i = text.IndexOf(token, start, StringComparison.Ordinal);
            if (i >= 0 && (at < 0 || i < at || (i == at && token.Length > found.Length))) (at, found) = (i, token);
        }
        return (at, found);
    }

    /// <summary>
    /// The words of <paramref name="text"/>, their pieces appended to <paramref name="ids"/>; returns how many words.
    /// BERT's normalization is character by character and its words never cross whitespace, so the text is taken a
    /// stretch at a time: stretches of printable ASCII are lowercased and split on whitespace and ASCII punctuation in
    /// place (vectorised searches; no string made), and each whitespace-delimited chunk holding anything else (a
    /// non-ASCII or control character) goes through <see cref="BasicTokenizer.Normalize"/> on its own.
    /// </summary>
    /// <remarks>Written by hand rather than calling FastBertTokenizer (which this path replaced): finding each word
    /// in the word cache by span, it runs at ~1.15-1.2x that library's speed on the embedded corpus (<c>bench text</c>),
    /// and FastBertTokenizer parts from Hugging Face on ASCII controls such as a vertical tab (it splits there;
    /// Hugging Face deletes them) and cuts words over 100 characters where Hugging Face makes them [UNK].</remarks>
    private int AppendWords(string text, List<int> ids, List<int>? wordIds, int firstWord)
    {
        var count = 0;
        var rest = text.AsSpan();
        var offset = 0;   // of rest in text
        while (rest.Length > 0)
        {
            var odd = rest.IndexOfAnyExcept(PlainAscii);
            var plain = odd < 0 ? rest.Length : rest[..odd].LastIndexOfAny(AsciiSpaces) + 1;   // up to the odd chunk's start
            if (plain > 0) count += AppendPlain(rest[..plain], ids, wordIds, firstWord + count);
            if (odd < 0) break;
            var end = rest[odd..].IndexOfAny(AsciiSpaces);
            end = end < 0 ? rest.Length : odd + end;
            var normalized = Basic.Normalize(text.Substring(offset + plain, end - plain));
            words.Clear();
            BasicTokenizer.SplitNormalized(normalized, words);
            foreach (var (start, length) in words) AppendWord(normalized.AsSpan(start, length), ids, wordIds, firstWord + count++);
            rest = rest[end..];
            offset += end;
        }
        return count;
    }

    private const string AsciiSpaceText = "\t\n\r ";
    private static readonly char[] AsciiVisible = Enumerable.Range(33, 126 - 33 + 1).Select(c => (char)c).ToArray();
    /// <summary>Printable ASCII and the ASCII whitespace BERT keeps (tab, line feed, carriage return, space).</summary>
    private static readonly SearchValues<char> PlainAscii = SearchValues.Create(AsciiSpaceText + new string(AsciiVisible));
    private static readonly SearchValues<char> AsciiSpaces = SearchValues.Create(AsciiSpaceText);
    /// <summary>What ends a word in printable ASCII: whitespace, and BERT's punctuation (<see cref="BasicTokenizer.IsPunctuation"/>),
    /// each character of which is a word of its own.</summary>
    private static readonly SearchValues<char> AsciiBreaks = SearchValues.Create(
        AsciiSpaceText + new string(AsciiVisible.Where(c => BasicTokenizer.IsPunctuation(new Rune(c))).ToArray()));
    private char[] lowered = new char[1024];

    private int AppendPlain(ReadOnlySpan<char> text, List<int> ids, List<int>? wordIds, int firstWord)
    {
        if (lowered.Length < text.Length) lowered = new char[Math.Max(text.Length, 2 * lowered.Length)];
        var s = lowered.AsSpan(0, text.Length);
        if (Basic.Lowercase) System.Text.Ascii.ToLower(text, s, out _);
        else text.CopyTo(s);
        var count = 0;
        while (s.Length > 0)
        {
            var k = s.IndexOfAny(AsciiBreaks);
            if (k < 0)
            {
                AppendWord(s, ids, wordIds, firstWord + count++);
                break;
            }
            if (k > 0) AppendWord(s[..k], ids, wordIds, firstWord + count++);
            if (s[k] > ' ') AppendWord(s.Slice(k, 1), ids, wordIds, firstWord + count++);
            s = s[(k + 1)..];
        }
        return count;
    }

    /// <summary>The one piece of each one-character ASCII word (punctuation, digits, "a"), -1 until met or where it makes more
    /// than one: a third of the words in prose, taken without a lookup.</summary>
    private readonly int[] asciiWords = Enumerable.Repeat(-1, 128).ToArray();

    private void AppendWord(ReadOnlySpan<char> word, List<int> ids, List<int>? wordIds, int wordId)
    {
        if (word.Length == 1 && word[0] < 128 && asciiWords[word[0]] >= 0)
        {
            ids.Add(asciiWords[word[0]]);
            wordIds?.Add(wordId);
            return;
        }
        var pieces = Pieces(word);
        if (word.Length == 1 && word[0] < 128 && pieces.Length == 1) asciiWords[word[0]] = pieces[0];
        if (pieces.Length == 1) ids.Add(pieces[0]);
        else ids.AddRange(pieces);
        if (wordIds is not null)
            for (var k = 0; k < pieces.Length; k++) wordIds.Add(wordId);
    }

    public int[] Tokenize(string text)
    {
        var ids = new List<int>();
        AppendIds(text, ids);
        return ids.ToArray();
    }

    private ReadOnlySpan<int> Pieces(ReadOnlySpan<char> word)
    {
        if (cache.TryGet(word, out var hit)) return hit;
        int[] pieces = Runes(word) > wordPiece.MaxInputCharsPerWord
            ? [Vocabulary.UnkId]   // counted in characters, as Hugging Face does (not UTF-16 units)
            : wordPiece.EncodeToIds(word.ToString(), considerPreTokenization: false, considerNormalization: false).ToArray();
        if (cache.Count >= MaxCachedWords) cache.Clear();
        cache.Add(word, pieces);
        return pieces;
    }

    private static int Runes(ReadOnlySpan<char> word)
    {
        var runes = 0;
        foreach (var _ in word.EnumerateRunes()) runes++;
        return runes;
    }

    /// <summary>
    /// How many tokens of each text Hugging Face's <c>longest_first</c> truncation keeps (<c>truncate_encodings</c> in
    /// the Rust <c>tokenizers</c>, utils/truncation.rs): when only the longer text must shrink, it keeps what the
    /// shorter leaves; when both exceed half the budget, each keeps half and the spare token of an odd budget goes to
    /// the longer original (to the second text on a tie).
    /// </summary>
    public static (int KeepA, int KeepB) LongestFirst(int a, int b, int budget)
    {
        if (a + b <= budget) return (a, b);
        var swapped = a > b;
        var (shorter, longer) = swapped ? (b, a) : (a, b);
        longer = shorter > budget ? shorter : Math.Max(shorter, budget - shorter);
        if (shorter + longer > budget) (shorter, longer) = (budget / 2, budget / 2 + budget % 2);
        return swapped ? (longer, shorter) : (shorter, longer);
    }

    /// <summary>
    /// <c>[CLS] a [SEP]</c> or <c>[CLS] a [SEP] b [SEP]</c> with token types 0/1, truncated to
    /// <paramref name="maxLength"/> (pairs: Hugging Face's longest first, see <see cref="LongestFirst"/>) and
    /// optionally padded to it. Word ids are -1 for special tokens and padding; b's words continue a's numbering.
    /// </summary>
    /// <param name="fromLeft">Cut each text's beginning instead of its end (Hugging Face's <c>truncation_side="left"</c>).</param>
    public EncodedText Encode(string text, string? pair = null, int maxLength = 512, bool padToMaxLength = false, bool fromLeft = false)
    {
        var specials = pair is null ? 2 : 3;
        if (maxLength < specials) throw new ArgumentException($"max length {maxLength} leaves no room for the {specials} special tokens");
        List<int> a = [], aWords = [], b = [], bWords = [];
        var aWordCount = AppendIds(text, a, aWords);
        if (pair is not null) AppendIds(pair, b, bWords, aWordCount);

        var (keepA, keepB) = LongestFirst(a.Count, b.Count, maxLength - specials);
        foreach (var (list, keep) in new[] { (a, keepA), (aWords, keepA), (b, keepB), (bWords, keepB) })
            list.RemoveRange(fromLeft ? 0 : keep, list.Count - keep);

        var length = padToMaxLength ? maxLength : a.Count + b.Count + specials;
        var ids = new int[length];
        var mask = new int[length];
        var types = new int[length];
        var wordIds = new int[length];
        Array.Fill(ids, Vocabulary.PadId);
        Array.Fill(wordIds, -1);
        var n = 0;
        void Put(int id, int type, int word) { ids[n] = id; mask[n] = 1; types[n] = type; wordIds[n] = word; n++; }
        Put(Vocabulary.ClsId, 0, -1);
        for (var i = 0; i < a.Count; i++) Put(a[i], 0, aWords[i]);
        Put(Vocabulary.SepId, 0, -1);
        if (pair is not null)
        {
            for (var i = 0; i < b.Count; i++) Put(b[i], 1, bWords[i]);
            Put(Vocabulary.SepId, 1, -1);
        }
        return new EncodedText(ids, mask, types, wordIds);
    }

    /// <summary>
    /// Text of token ids as Hugging Face's <c>decode</c> gives it: pieces joined by spaces, <c>##</c> continuations
    /// glued to their word, then <c>clean_up_tokenization</c> (no space before . ? ! , and in English contractions);
    /// with <paramref name="skipSpecialTokens"/> [CLS], [SEP], [PAD] and [MASK] are left out.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var tokens = ids.Where(id => !(skipSpecialTokens && Vocabulary.IsSpecial(id) && id != Vocabulary.UnkId)).Select(id => Vocabulary.Tokens[id]);
        var text = string.Join(' ', tokens).Replace(" ##", "", StringComparison.Ordinal).Trim();
        foreach (var (from, to) in CleanUp) text = text.Replace(from, to, StringComparison.Ordinal);
        return text;
    }

    private static readonly (string, string)[] CleanUp =
        [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"),
            (" 're", "'re")];
}
