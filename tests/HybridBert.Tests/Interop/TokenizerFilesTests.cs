using HybridBert.Interop;
using HybridBert.Tests.Text;
using HybridBert.Text;

namespace HybridBert.Tests.Interop;

/// <summary>The tokenizer.json we write, read by Hugging Face's own Rust <c>tokenizers</c> (through Tokenizers.DotNet).</summary>
public sealed class TokenizerFilesTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Hugging_faces_rust_tokenizer_reads_our_tokenizer_json_and_gives_our_ids_with_cls_and_sep(bool lowercase)
    {
        var vocabulary = HuggingFaceOracle.BertBaseUncasedVocabulary();
        var folder = Directory.CreateTempSubdirectory("hybridbert-tokenizer-json-").FullName;
        try
        {
            TokenizerFiles.Write(folder, vocabulary, lowercase, 512);
            using var rust = new Tokenizers.DotNet.Tokenizer(Path.Combine(folder, "tokenizer.json"));
            var ours = new BertTokenizer(vocabulary, lowercase);
            var texts = ((IEnumerable<object[]>)BertTokenizerTests.TrickyStrings()).Select(row => (string)row[0])
                .Concat(new HybridBert.Data.CorpusReader().Read(HybridBert.Data.CorpusSource.Default()).SelectMany(d => d.Paragraphs).Take(1000))
                .ToList();
            foreach (var text in texts)
            {
                var expected = ours.Encode(text, maxLength: int.MaxValue / 2).InputIds;
                var actual = rust.Encode(text).Select(i => (int)i).ToArray();
                if (!expected.SequenceEqual(actual))
                    Assert.Fail($"ids differ for \"{text[..Math.Min(60, text.Length)]}\": ours {string.Join(' ', expected.Take(12))} …, " +
                        $"Hugging Face's {string.Join(' ', actual.Take(12))} …");
            }
            Assert.Equal(vocabulary.Tokens, File.ReadAllLines(Path.Combine(folder, "vocab.txt")));
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "tokenizer_config.json")))!;
            Assert.Equal(lowercase, config["do_lower_case"]!.GetValue<bool>());
            Assert.Equal("[MASK]", config["mask_token"]!.GetValue<string>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

public sealed class TokenizerTrainJsonTests
{
    [Fact]
    public void Tokenizer_train_writes_a_tokenizer_json_beside_the_vocabulary_that_hugging_face_reads()
    {
        var folder = Directory.CreateTempSubdirectory("hybridbert-tokenizer-train-").FullName;
        try
        {
            var corpus = Path.Combine(folder, "corpus.txt");
            File.WriteAllLines(corpus,
                Enumerable.Range(0, 200).Select(i => $"The whale number {i} swam past the ship; Ishmael watched it, cased Or Not."));
            var vocabPath = Path.Combine(folder, "vocab.txt");
            var (exit, _, err) = HybridBert.Tests.Cli.ModelCommandTests.Run("tokenizer", "train", "--corpus", corpus, "--out", vocabPath,
                "--vocab-size", "120", "--cased");
            Assert.True(exit == 0, err);
            var jsonPath = Path.Combine(folder, "tokenizer.json");
            Assert.Equal(jsonPath, TokenizerFiles.JsonBeside(vocabPath));
            using var rust = new Tokenizers.DotNet.Tokenizer(jsonPath);
            var ours = new BertTokenizer(Vocabulary.Load(vocabPath), lowercase: false);
            foreach (var text in new[] { "The whale swam past Ishmael.", "cased Or Not [MASK] watched", "number 7 unseen-word" })
                Assert.Equal(ours.Encode(text).InputIds, rust.Encode(text).Select(i => (int)i).ToArray());
            Assert.Equal(Path.Combine(folder, "mine.tokenizer.json"), TokenizerFiles.JsonBeside(Path.Combine(folder, "mine.txt")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
