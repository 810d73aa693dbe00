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
    private readonly Dictionary<string, int[]> cache = new(WordComparer.Instance);
    private readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cached;   // the cache, looked up by span
    private readonly List<(int Start, int Length)> words = [];

    private readonly string[] specialTokens;

    public Vocabulary Vocabulary { get; }
    public BasicTokenizer Basic { get; }

    public BertTokenizer(Vocabulary vocabulary, bool lowercase = true)
    {
        Vocabulary = vocabulary;
        specialTokens = Vocabulary.SpecialTokens.Where(vocabulary.Contains).ToArray();
        Basic = new BasicTokenizer(lowercase);
        cached = cache.GetAlternateLookup<ReadOnlySpan<char>>();
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
    /// <paramref name="firstWord"/>. Returns the number of words when <paramref name="wordIds"/> is given (else it may
    /// return 0: an uncased tokenizer asked for ids alone hands the text to FastBertTokenizer, which does not count words).</summary>
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

    private int AppendWords(string text, List<int> ids, List<int>? wordIds, int firstWord)
    {
        if (wordIds is null && Basic.Lowercase && AppendFast(text, ids)) return 0;
        var normalized = Basic.Normalize(text);
        words.Clear();
        BasicTokenizer.SplitNormalized(normalized, words);
        for (var w = 0; w < words.Count; w++)
        {
            var pieces = Pieces(normalized.AsSpan(words[w].Start, words[w].Length));
            if (pieces.Length == 1) ids.Add(pieces[0]);
            else ids.AddRange(pieces);
            if (wordIds is not null)
                for (var k = 0; k < pieces.Length; k++) wordIds.Add(firstWord + w);
        }
        return words.Count;
    }

    private FastBertTokenizer.BertTokenizer? fast;
    private long[] fastIds = new long[256], fastMask = new long[256];
    private int[]? pieceLengths;

    /// <summary>
    /// Ids alone of a text without special tokens, from FastBertTokenizer (NuGet <c>FastBertTokenizer</c>): the same ids
    /// as Hugging Face's uncased BERT tokenizer (<c>BertTokenizerTests</c> checks it against the Rust tokenizer on the
    /// tricky strings and the corpus) at ~1.4x our own path's speed (<c>bench text</c>). Cased tokenizers, word ids
    /// and offsets stay on our own path.
    /// </summary>
    /// <returns>False, with nothing appended, for a text FastBertTokenizer would split differently: one with a word of more
    /// than 100 characters, which it cuts into pieces where BERT makes it [UNK] (the tricky strings found it).</returns>
    private bool AppendFast(string text, List<int> ids)
    {
        if (fast is null)
        {
            fast = new FastBertTokenizer.BertTokenizer();
            using var reader = new StringReader(string.Join('\n', Vocabulary.Tokens) + "\n");
            fast.LoadVocabulary(reader, convertInputToLowercase: true, Vocabulary.Unk, Vocabulary.Cls, Vocabulary.Sep, Vocabulary.Pad);
            // Each piece's length in characters, negative for a ## continuation (which adds to its word's length).
            pieceLengths = Vocabulary.Tokens.Select(t => t.StartsWith("##", StringComparison.Ordinal)
                ? -t[2..].EnumerateRunes().Count() : t.EnumerateRunes().Count()).ToArray();
        }
        // [CLS] and [SEP] around at most one token per character, three for a Hangul syllable (its jamo), and one place
        // that stays empty unless that bound is wrong.
        var room = 3 * text.Length + 3;
        if (fastIds.Length < room) (fastIds, fastMask) = (new long[room], new long[room]);
        var count = fast.Encode(text, fastIds.AsSpan(0, room), fastMask.AsSpan(0, room), null);
        if (count == room) throw new InvalidOperationException($"FastBertTokenizer filled all {room} places for a text of {text.Length} characters");
        var word = 0;
        for (var i = 1; i < count - 1; i++)
        {
            var length = pieceLengths![fastIds[i]];
            word = length < 0 ? word - length : length;
            if (word > wordPiece.MaxInputCharsPerWord) return false;
        }
        var first = ids.Count;
        System.Runtime.InteropServices.CollectionsMarshal.SetCount(ids, first + count - 2);
        var added = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids)[first..];
        for (var i = 0; i < added.Length; i++) added[i] = (int)fastIds[i + 1];
        return true;
    }

    public int[] Tokenize(string text)
    {
        var ids = new List<int>();
        AppendIds(text, ids);
        return ids.ToArray();
    }

    private int[] Pieces(ReadOnlySpan<char> word) => cached.TryGetValue(word, out var pieces) ? pieces : Pieces(word.ToString());

    private int[] Pieces(string word)
    {
        if (cache.TryGetValue(word, out var hit)) return hit;
        var pieces = word.EnumerateRunes().Count() > wordPiece.MaxInputCharsPerWord
            ? [Vocabulary.UnkId]   // counted in characters, as Hugging Face does (not UTF-16 units)
            : wordPiece.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false).ToArray();
        if (cache.Count >= MaxCachedWords) cache.Clear();
        cache[word] = pieces;
        return pieces;
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

    /// <summary>Ordinal equality for the word cache with a cheap hash (FNV-1a over the UTF-16 units; the cache lives in
    /// one process and is never persisted), looked up by span so that a word is not made a string to be found.</summary>
    private sealed class WordComparer : IEqualityComparer<string>, IAlternateEqualityComparer<ReadOnlySpan<char>, string>
    {
        public static readonly WordComparer Instance = new();
        public bool Equals(string? x, string? y) => string.Equals(x, y, StringComparison.Ordinal);
        public int GetHashCode(string word) => GetHashCode(word.AsSpan());
        public bool Equals(ReadOnlySpan<char> alternate, string other) => alternate.SequenceEqual(other);
        public string Create(ReadOnlySpan<char> alternate) => alternate.ToString();

        public int GetHashCode(ReadOnlySpan<char> word)
        {
            var hash = 2166136261u;
            foreach (var c in word) hash = (hash ^ c) * 16777619u;
            return (int)hash;
        }
    }
}
