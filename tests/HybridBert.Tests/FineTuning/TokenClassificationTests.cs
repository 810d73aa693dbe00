using HybridBert.FineTuning;
using HybridBert.Tests.Cli;
using HybridBert.Text;

namespace HybridBert.Tests.FineTuning;

/// <summary>Token classification: reading CoNLL and JSONL, windows and first-piece labels, fine-tuning a tiny tagger that
/// learns a learnable rule, and Hugging Face's pipeline output with each aggregation strategy.</summary>
[Collection("Console")]
public sealed class TokenClassificationTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-token-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(temp, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Conll_files_give_sentences_skip_docstart_and_name_a_bad_line()
    {
        var path = Write("a.conll", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n");
        var report = new TaggedReadReport();
        var sentences = TaggedFiles.Read(path, report);
        Assert.Equal(2, sentences.Count);
        Assert.Equal(["EU", "rejects"], sentences[0].Words);
        Assert.Equal(["B-ORG", "O"], sentences[0].Tags);
        Assert.Equal(3, sentences[0].Line);
        Assert.Equal(1, report.DocumentStarts);

        var bad = Write("bad.conll", "EU B-ORG\nrejects VBZ O\n");
        var error = Assert.Throws<InvalidDataException>(() => TaggedFiles.Read(bad, new TaggedReadReport()));
        Assert.Equal($"{bad}:2: 3 columns, but the file's first token line (1) has 2: expected the word first and the tag last, whitespace-separated",
            error.Message);
    }

    [Fact]
    public void Jsonl_files_count_empty_sentences_and_name_a_length_mismatch()
    {
        var path = Write("a.jsonl", "{\"tokens\": [\"a\", \"b\"], \"tags\": [\"X\", \"Y\"]}\n{\"tokens\": [], \"tags\": []}\n");
        var report = new TaggedReadReport();
        Assert.Single(TaggedFiles.Read(path, report));
        Assert.Equal(1, report.EmptySentences);
        var bad = Write("bad.jsonl", "{\"tokens\": [\"a\", \"b\"], \"tags\": [\"X\"]}\n");
        Assert.Equal($"{bad}:1: 2 tokens but 1 tags", Assert.Throws<InvalidDataException>(() => TaggedFiles.Read(bad, new TaggedReadReport())).Message);
    }

    [Fact]
    public void A_dev_tag_never_seen_in_training_is_named_at_its_line()
    {
        var train = Write("train.conll", "a X\nb Y\n");
        var dev = Write("dev.conll", "a X\n\nb X\nc Z\n");
        var error = Assert.Throws<InvalidDataException>(() => TokenTaskData.Load(new TaskSpec { Train = train, Dev = dev }));
        Assert.Equal($"{dev}:4: the tag 'Z' never appears in the training data (tags: X, Y)", error.Message);
    }

    [Fact]
    public void Each_word_is_labelled_on_its_first_piece_and_long_sentences_become_windows_of_whole_words()
    {
        var tokenizer = new BertTokenizer(HybridBert.Data.EmbeddedData.Vocabulary());
        string[] words = ["unbelievably", "the", "cat", "sat"];
        var expectedPieces = words.Select(w => tokenizer.Tokenize(w).Length).ToArray();
        Assert.True(expectedPieces[0] > 1, "the test needs a word of several pieces");

        var whole = Assert.Single(TokenWindow.Of(tokenizer, words, [1, 2, 3, 4], 64, 0));
        Assert.Equal(expectedPieces.Sum() + 2, whole.Encoded.Length);
        Assert.Equal(TokenWindow.Ignore, whole.Labels[0]);
        Assert.Equal(1, whole.Labels[1]);
        Assert.All(whole.Labels[2..expectedPieces[0]], l => Assert.Equal(TokenWindow.Ignore, l));
        Assert.Equal(2, whole.Labels[1 + expectedPieces[0]]);
        Assert.Equal(4, whole.Labels.Count(l => l != TokenWindow.Ignore));

        var windows = TokenWindow.Of(tokenizer, words, [1, 2, 3, 4], expectedPieces[0] + 3, 0);   // room for the long word + one more
        Assert.True(windows.Count >= 2);
        Assert.Equal(Enumerable.Range(0, 4), windows.SelectMany(w => w.WordOfPosition.Where(x => x >= 0)));
        Assert.All(windows, w => Assert.True(w.Encoded.Length <= expectedPieces[0] + 3));
    }

    [Fact]
    public void Pipeline_aggregation_follows_hugging_face()
    {
        string[] labels = ["B-PER", "I-PER", "O"];
        TaggedPiece P(int index, string token, int start, int end, params float[] p) =>
            new(index, token, start, end, token.StartsWith("##", StringComparison.Ordinal), p);
        // "Hugo Wei lives": Hu ##go → PER (the second piece leans O), Wei → I-PER, lives → O
        var pieces = new[]
        {
            P(1, "hu", 0, 2, 0.9f, 0.05f, 0.05f), P(2, "##go", 2, 4, 0.2f, 0.3f, 0.5f), P(3, "wei", 5, 8, 0.1f, 0.8f, 0.1f),
            P(4, "lives", 9, 14, 0.0f, 0.1f, 0.9f),
        };

        var none = TokenTagger.Aggregate(pieces, labels, Aggregation.None);
        Assert.Equal([("B-PER", "hu", 1), ("I-PER", "wei", 3)], none.Select(e => (e.Entity!, e.Word, e.Index!.Value)));

        // simple: piece by piece; ##go is O, so Hu and Wei are two groups.
        var simple = TokenTagger.Aggregate(pieces, labels, Aggregation.Simple);
        Assert.Equal([("PER", "hu", 0, 2), ("PER", "wei", 5, 8)], simple.Select(e => (e.EntityGroup!, e.Word, e.Start, e.End)));

        // first: the word "hugo" takes its first piece's B-PER; Wei continues it.
        var first = TokenTagger.Aggregate(pieces, labels, Aggregation.First);
        var group = Assert.Single(first);
        Assert.Equal(("PER", "hugo wei", 0, 8), (group.EntityGroup!, group.Word, group.Start, group.End));
        Assert.Equal((0.9f + 0.8f) / 2, group.Score, 5);

        // average: hugo's mean is (0.55, 0.175, 0.275) → B-PER with 0.55.
        Assert.Equal((0.55f + 0.8f) / 2, Assert.Single(TokenTagger.Aggregate(pieces, labels, Aggregation.Average)).Score, 5);
        // max: hugo's best piece is hu (0.9).
        Assert.Equal((0.9f + 0.8f) / 2, Assert.Single(TokenTagger.Aggregate(pieces, labels, Aggregation.Max)).Score, 5);
    }

    [Fact]
    public void A_tiny_tagger_learns_a_rule_is_saved_and_tags_text_from_the_command_line()
    {
        // A learnable rule: a number word is B-NUM, the word after it I-NUM; everything else O.
        string[] numbers = ["one", "two", "three", "four", "five", "six"];
        string[] others = ["cat", "dog", "house", "tree", "car", "book", "sun", "road"];
        var random = new Random(3);
        string Sentence()
        {
            var lines = new List<string>();
            for (var i = 0; i < 6;)
            {
                if (random.Next(3) == 0 && i < 5)
                {
                    lines.Add($"{numbers[random.Next(numbers.Length)]} B-NUM");
                    lines.Add($"{others[random.Next(others.Length)]} I-NUM");
                    i += 2;
                }
                else
                {
                    lines.Add($"{others[random.Next(others.Length)]} O");
                    i++;
                }
            }
            return string.Join("\n", lines) + "\n\n";
        }
        var train = Write("train.conll", string.Concat(Enumerable.Range(0, 160).Select(_ => Sentence())));
        var dev = Write("dev.conll", string.Concat(Enumerable.Range(0, 30).Select(_ => Sentence())));
        var output = Path.Combine(temp, "ner");

        var (exit, stdout, stderr) = ModelCommandTests.Run("finetune", "--init", "random", "--preset", "tiny", "--train", train, "--dev", dev,
            "--epochs", "20", "--batch", "16", "--lr", "2e-3", "--max-len", "16", "--out", output);

        Assert.True(exit == 0, stderr);
        var results = FineTuneResults.Read(Path.Combine(output, "results.json"));
        Assert.True(results.Dev["accuracy"].Mean > 0.9, $"token accuracy {results.Dev["accuracy"].Mean}");
        Assert.True(results.Dev["f1"].Mean > 0.8, $"entity F1 {results.Dev["f1"].Mean}");
        Assert.Contains("f1_strict", results.Dev.Keys);
        Assert.Equal(results.Dev["f1"].Mean, results.Dev["f1_NUM"].Mean, 12);   // one entity type: its F1 is the micro F1
        Assert.Contains("precision_NUM", results.Dev.Keys);
        Assert.Contains("f1", stdout);

        var (tagged, json, tagErrors) = ModelCommandTests.Run("tag", "--model", Path.Combine(output, "seed-1"), "--aggregation", "first",
            "the cat sun two dog");
        Assert.True(tagged == 0, tagErrors);
        var entities = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsArray();
        Assert.True(entities.Count == 1, json);
        var entity = entities[0]!;
        Assert.Equal("NUM", entity["entity_group"]!.GetValue<string>());
        Assert.Equal("two dog", entity["word"]!.GetValue<string>());
        Assert.Equal(12, entity["start"]!.GetValue<int>());
        Assert.Equal(19, entity["end"]!.GetValue<int>());

        // evaluate scores a tagged file as fine-tuning scored dev.
        var (evaluated, scores, evaluateErrors) = ModelCommandTests.Run("evaluate", "--model", Path.Combine(output, "seed-1"), "--file", dev);
        Assert.True(evaluated == 0, evaluateErrors);
        Assert.Contains("30 sentences", scores);
        Assert.Matches(@"accuracy\s+0\.9\d{3}|accuracy\s+1\.0000", scores);

        // A sequence command says what the folder is instead of misloading it.
        var (predicted, _, predictErrors) = ModelCommandTests.Run("predict", "--model", Path.Combine(output, "seed-1"), "a text");
        Assert.Equal(1, predicted);
        Assert.Contains("is a token classifier", predictErrors);
    }
}
