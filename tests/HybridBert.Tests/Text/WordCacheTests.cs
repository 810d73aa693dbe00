using HybridBert.Text;

namespace HybridBert.Tests.Text;

public sealed class WordCacheTests
{
    [Fact]
    public void Every_word_added_is_found_with_its_pieces_after_the_table_grows_and_none_after_clear()
    {
        var cache = new WordCache();
        // 20,000 words (the table starts at 2,048 entries and 16 k characters), of 1 to 40 characters, each with 1 to 3 pieces;
        // words sharing their first eight bytes and differing in length or the last character.
        var random = new Random(7);
        var words = Enumerable.Range(0, 20_000).Select(i => $"w{i}" + new string((char)('a' + i % 26), i % 40)).ToList();
        words.AddRange(["", "a", "ab", "abcd", "abcde", "abcdefgh", "abcdefgi", "\u00e9t\u00e9", "\ud83d\ude00"]);
        var pieces = words.ToDictionary(w => w, _ => Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(30_000)).ToArray());
        foreach (var w in words)
        {
            Assert.False(cache.TryGet(w, out _), w);
            cache.Add(w, pieces[w]);
        }
        Assert.Equal(words.Count, cache.Count);
        foreach (var w in words)
        {
            Assert.True(cache.TryGet(w, out var found), w);
            Assert.Equal(pieces[w], found.ToArray());
        }
        Assert.False(cache.TryGet("w1bb", out _));
        Assert.False(cache.TryGet("abcdefg", out _));

        cache.Clear();
        Assert.Equal(0, cache.Count);
        Assert.All(words, w => Assert.False(cache.TryGet(w, out _)));
        cache.Add("again", [1, 2]);
        Assert.True(cache.TryGet("again", out var again));
        Assert.Equal([1, 2], again.ToArray());
    }
}
