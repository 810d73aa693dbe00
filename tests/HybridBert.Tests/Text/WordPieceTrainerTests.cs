using HybridBert.Data;
using HybridBert.Text;

namespace HybridBert.Tests.Text;

public sealed class WordPieceTrainerTests
{
    private static Dictionary<string, long> Count(string text)
    {
        var counter = new WordCounter();
        counter.Add(text);
        return counter.Counts;
    }

    private static string Repeat(string word, int times) => string.Join(' ', Enumerable.Repeat(word, times));

    [Fact]
    public void Learns_the_textbook_merges_in_frequency_order_with_continuation_prefixes()
    {
        // The Hugging Face course's BPE example: hug×10, pug×5, pun×12, bun×4, hugs×5.
        var counts = Count(string.Join(' ', Repeat("hug", 10), Repeat("pug", 5), Repeat("pun", 12), Repeat("bun", 4), Repeat("hugs", 5)));

        var vocab = WordPieceTrainer.Train(counts, new WordPieceTrainerOptions { VocabSize = 100, MinFrequency = 1 });

        string[] expected =
        [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
            "b", "g", "h", "n", "p", "s", "u",                          // alphabet by code point
            "##b", "##g", "##h", "##n", "##p", "##s", "##u",            // continuation characters
            "##ug", "##un", "hug", "pun", "pug", "hugs", "bun",         // merges: 20, 16, 15, 12, 5 (tie: smaller ids first), 5, 4
        ];
        Assert.Equal(expected, vocab);
    }

    [Fact]
    public void Stops_at_the_vocabulary_size_and_at_the_minimum_frequency()
    {
        var counts = Count(string.Join(' ', Repeat("hug", 10), Repeat("pug", 5), Repeat("pun", 12), Repeat("bun", 4), Repeat("hugs", 5)));
        Assert.Equal(21, WordPieceTrainer.Train(counts, new WordPieceTrainerOptions { VocabSize = 21, MinFrequency = 1 }).Count);
        // Only pairs seen ≥ 13 times: ##ug (20), ##un (16), hug (15).
        Assert.Equal(["##ug", "##un", "hug"],
            WordPieceTrainer.Train(counts, new WordPieceTrainerOptions { VocabSize = 100, MinFrequency = 13 })[19..]);
    }

    [Fact]
    public void Training_is_deterministic_whatever_the_dictionary_order()
    {
        var text = "the quick brown fox jumps over the lazy dog; the dog sleeps, the fox runs. " + Repeat("foxes dogs", 3);
        var forward = Count(text);
        var backward = forward.Reverse().ToDictionary(kv => kv.Key, kv => kv.Value);
        var options = new WordPieceTrainerOptions { VocabSize = 80, MinFrequency = 1 };
        Assert.Equal(WordPieceTrainer.Train(forward, options), WordPieceTrainer.Train(backward, options));
    }

    [Fact]
    public void The_embedded_vocabulary_round_trips_the_embedded_corpus_with_few_unknowns()
    {
        var tokenizer = new BertTokenizer(EmbeddedData.Vocabulary());
        long tokens = 0, unknown = 0;
        foreach (var document in new CorpusReader().Read(CorpusSource.Default()))
            foreach (var paragraph in document.Paragraphs)
                foreach (var id in tokenizer.Tokenize(paragraph))
                {
                    tokens++;
                    if (id == tokenizer.Vocabulary.UnkId) unknown++;
                }
        Assert.Equal(8192, tokenizer.Vocabulary.Count);
        Assert.True(tokens > 2_000_000, $"only {tokens} tokens");
        // Every character of the corpus is in the alphabet, so only words over 100 characters could be [UNK].
        Assert.True(unknown < tokens / 10_000, $"{unknown} of {tokens} tokens are [UNK]");
    }

    [Fact]
    public void The_word_counter_stays_bounded_and_keeps_frequent_words_exact()
    {
        var counter = new WordCounter(maxWords: 1000);
        for (var i = 0; i < 5000; i++) counter.Add($"common rare{i}");
        Assert.True(counter.Counts.Count <= 1000);
        Assert.Equal(5000, counter.Counts["common"]);
        Assert.True(counter.Pruned > 0);
    }
}
