using HybridBert.Text;

namespace HybridBert.Tests.Text;

public sealed class BertTokenizerTests : IClassFixture<BertTokenizerTests.Shared>
{
    public sealed class Shared : IDisposable
    {
        public Vocabulary Vocabulary { get; } = HuggingFaceOracle.BertBaseUncasedVocabulary();
        public HuggingFaceOracle Oracle { get; }
        public HuggingFaceOracle CasedOracle { get; }
        public Shared()
        {
            Oracle = new HuggingFaceOracle(Vocabulary);
            CasedOracle = new HuggingFaceOracle(Vocabulary, lowercase: false);
        }
        public void Dispose()
        {
            Oracle.Dispose();
            CasedOracle.Dispose();
        }
    }

    private readonly Shared shared;
    public BertTokenizerTests(Shared shared) => this.shared = shared;

    public static TheoryData<string> TrickyStrings() => new(
        "",
        "   \t\n  ",
        "Hello, world! It's a test.",
        "x = a + b < c > d ^ e | f ~ g $ h # i @ j & k * l % m ` n",
        "Café naïve résumé Ångström Zoë ÉCOLE façade",
        "İstanbul ǅ ﬁ ß Straße ΣΊΣΥΦΟΣ",
        "北京欢迎你 日本語のテキスト 한국어 텍스트",
        "mixed中文and english混合",
        "emoji 😀👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 𠀀 ext-B",
        "control\u0001chars\u0007and\u200Bzero\u200Dwidth\uFEFFbom\u00ADsoft",
        "nul\0byte and replacement \uFFFD char",
        "vertical\u000Btab form\u000Cfeed file\u001Cgroup\u001Drecord\u001Eunit\u001Fseparators next\u0085line del\u007Fete",
        "ascii vertical\u000Btab and form\u000Cfeed",
        "line\r\nbreaks\u2028and\u2029separators\u00A0nbsp\u3000ideographic",
        "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "“Smart quotes” — em dash – en dash … ellipsis «guillemets» ¿qué? ¡sí!",
        "[MASK] [CLS] [SEP] literal specials",
        "3.14159 1,000,000 $5.00 50% 2nd 1990s e-mail U.S.A.",
        "\u0301combining at start and e\u0301 decomposed",
        "ﾊﾝｶｸ half-width and ＦＵＬＬ ｗｉｄｔｈ",
        "words around one of 101 letters: " + new string('b', 50) + "unaffable" + new string('c', 42) + " and after it");

    [Theory]
    [MemberData(nameof(TrickyStrings))]
    public void Uncased_ids_equal_hugging_face(string text)
    {
        var tokenizer = new BertTokenizer(shared.Vocabulary);
        var expected = shared.Oracle.Tokenize(text);
        Assert.True(expected.Length > 0 || string.IsNullOrWhiteSpace(text), "the oracle returned nothing");
        Assert.Equal(expected, tokenizer.Tokenize(text));
        // With word ids too: the same words.
        var withWords = new List<int>();
        tokenizer.AppendIds(text, withWords, []);
        Assert.Equal(expected, withWords);
    }

    [Theory]
    [MemberData(nameof(TrickyStrings))]
    public void Cased_ids_equal_hugging_face(string text)
    {
        var tokenizer = new BertTokenizer(shared.Vocabulary, lowercase: false);
        Assert.Equal(shared.CasedOracle.Tokenize(text), tokenizer.Tokenize(text));
    }

    [Fact]
    public void Every_paragraph_of_the_embedded_corpus_gets_hugging_faces_ids()
    {
        var tokenizer = new BertTokenizer(shared.Vocabulary);
        var paragraphs = 0;
        foreach (var document in new HybridBert.Data.CorpusReader().Read(HybridBert.Data.CorpusSource.Default()))
            foreach (var paragraph in document.Paragraphs)
            {
                var expected = shared.Oracle.Tokenize(paragraph);
                var actual = tokenizer.Tokenize(paragraph);
                var withWords = new List<int>();
                tokenizer.AppendIds(paragraph, withWords, []);
                Assert.Equal(actual, withWords);
                if (!expected.SequenceEqual(actual))
                    Assert.Fail($"{document.Source} line {document.Line}: ids differ for \"{paragraph[..Math.Min(80, paragraph.Length)]}…\"");
                paragraphs++;
            }
        Assert.True(paragraphs >= 2970, $"only {paragraphs} paragraphs");
    }

    [Fact]
    public void Special_tokens_are_found_by_text_in_the_vocabulary()
    {
        var v = shared.Vocabulary;
        Assert.Equal((0, 100, 101, 102, 103), (v.PadId, v.UnkId, v.ClsId, v.SepId, v.MaskId));
        var custom = new Vocabulary(["hello", "[MASK]", "[SEP]", "[CLS]", "[UNK]", "[PAD]"]);
        Assert.Equal((5, 4, 3, 2, 1), (custom.PadId, custom.UnkId, custom.ClsId, custom.SepId, custom.MaskId));
    }

    [Fact]
    public void A_pair_is_cls_a_sep_b_sep_with_token_types_word_ids_and_padding()
    {
        var tokenizer = new BertTokenizer(shared.Vocabulary);
        var e = tokenizer.Encode("Hello world", "unaffable!", maxLength: 12, padToMaxLength: true);

        // [CLS] hello world [SEP] una ##ffa ##ble ! [SEP] [PAD] [PAD] [PAD]
        Assert.Equal([101, 7592, 2088, 102, 14477, 20961, 3468, 999, 102, 0, 0, 0], e.InputIds);
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], e.AttentionMask);
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0], e.TokenTypeIds);
        Assert.Equal([-1, 0, 1, -1, 2, 2, 2, 3, -1, -1, -1, -1], e.WordIds);
    }

    [Fact]
    public void Pair_truncation_removes_from_the_longer_side_first()
    {
        var tokenizer = new BertTokenizer(shared.Vocabulary);
        var e = tokenizer.Encode("one two three four five six", "seven eight", maxLength: 9);
        // budget 6: a keeps 4, b keeps 2
        Assert.Equal(["[CLS]", "one", "two", "three", "four", "[SEP]", "seven", "eight", "[SEP]"],
            e.InputIds.Select(i => shared.Vocabulary.Tokens[i]));
    }

    /// <summary>The expectations of Hugging Face's own test of this rule (tokenizers, utils/truncation.rs,
    /// <c>truncate_encodings_longest_first</c>: budget 7, texts of 0, 2, 4 and 8 tokens). The Tokenizers.DotNet oracle
    /// encodes single texts only, so pairs are checked against this table.</summary>
    [Theory]
    [InlineData(0, 0, 0, 0)] [InlineData(0, 2, 0, 2)] [InlineData(0, 4, 0, 4)] [InlineData(0, 8, 0, 7)]
    [InlineData(2, 0, 2, 0)] [InlineData(2, 2, 2, 2)] [InlineData(2, 4, 2, 4)] [InlineData(2, 8, 2, 5)]
    [InlineData(4, 0, 4, 0)] [InlineData(4, 2, 4, 2)] [InlineData(4, 4, 3, 4)] [InlineData(4, 8, 3, 4)]
    [InlineData(8, 0, 7, 0)] [InlineData(8, 2, 5, 2)] [InlineData(8, 4, 4, 3)] [InlineData(8, 8, 3, 4)]
    public void Pair_truncation_keeps_what_hugging_face_keeps(int a, int b, int keepA, int keepB) =>
        Assert.Equal((keepA, keepB), BertTokenizer.LongestFirst(a, b, 7));

    [Fact]
    public void When_both_texts_exceed_half_an_odd_budget_the_longer_original_keeps_the_spare_token()
    {
        var tokenizer = new BertTokenizer(shared.Vocabulary);
        // 8 + 4 tokens into a budget of 7 (max length 10): the first text is the longer, so it keeps 4 and the second 3.
        var e = tokenizer.Encode("one two three four five six seven eight", "nine ten eleven twelve", maxLength: 10);
        Assert.Equal(["[CLS]", "one", "two", "three", "four", "[SEP]", "nine", "ten", "eleven", "[SEP]"],
            e.InputIds.Select(i => shared.Vocabulary.Tokens[i]));
        Assert.Equal([0, 0, 0, 0, 0, 0, 1, 1, 1, 1], e.TokenTypeIds);
    }

    [Fact]
    public void A_vocabulary_without_special_tokens_is_rejected_by_name()
    {
        var error = Assert.Throws<InvalidDataException>(() => new Vocabulary(["[PAD]", "[UNK]", "a", "b"], "my-vocab.txt"));
        Assert.Contains("my-vocab.txt", error.Message);
        Assert.Contains("[CLS] [SEP] [MASK]", error.Message);
    }

    [Fact]
    public void A_missing_vocabulary_file_is_named()
    {
        var error = Assert.Throws<FileNotFoundException>(() => Vocabulary.Load("/nonexistent/vocab.txt"));
        Assert.Contains("/nonexistent/vocab.txt", error.Message);
    }
}
