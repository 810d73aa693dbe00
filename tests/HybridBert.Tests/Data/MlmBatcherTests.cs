using HybridBert.Data;
using HybridBert.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Data;

public sealed class MlmBatcherTests
{
    private static readonly Vocabulary Vocab = EmbeddedData.Vocabulary();

    // Real text, tokenized: sequences of different lengths with whole words made of several pieces.
    private static List<PackedSequence> Sequences()
    {
        var tokenizer = new BertTokenizer(Vocab);
        var text = "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, " +
                   "and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world. " +
                   "Whenever I find myself growing grim about the mouth; whenever it is a damp, drizzly November in my soul.";
        var result = new List<PackedSequence>();
        for (var n = 20; n <= 60; n += 8)
        {
            var e = tokenizer.Encode(text, maxLength: n);
            result.Add(new PackedSequence(e.InputIds, new int[e.Length], e.Length, e.Length, SentenceLabel.None));
        }
        return result;
    }

    public static TheoryData<double, bool> Rates() =>
        new() { { 0.15, false }, { 0.30, false }, { 0.40, false }, { 0.15, true }, { 0.40, true }, { 0.05, false } };

    [Theory]
    [MemberData(nameof(Rates))]
    public void Masking_statistics_match_the_configured_rate_and_split_and_skip_specials_and_padding(double rate, bool wholeWord)
    {
        var sequences = Sequences();
        var batcher = new MlmBatcher(Vocab, new MaskingOptions { Rate = rate, WholeWord = wholeWord }, seed: 7);
        long maskable = 0, chosen = 0, masked = 0, randomized = 0, kept = 0;
        for (var step = 0; step < 300; step++)
        {
            using var batch = batcher.Build(sequences);
            var ids = batch.InputIds.reshape(-1).data<long>().ToArray();
            var original =
                sequences.SelectMany(s =>
                s.Ids.Select(i => (long)i).Concat(Enumerable.Repeat((long)Vocab.PadId, (int)batch.InputIds.shape[1] - s.Length))).ToArray();
            var positions = batch.MaskedPositions.data<long>().ToArray();
            var labels = batch.MaskedLabels.data<long>().ToArray();
            var drop = batch.DropPositions.reshape(-1).data<bool>().ToArray();
            for (var k = 0; k < positions.Length; k++)
            {
                var p = positions[k];
                Assert.False(Vocab.IsSpecial((int)original[p]), "a special token or padding was chosen");
                Assert.Equal(original[p], labels[k]);
                if (ids[p] == Vocab.MaskId) masked++;
                else if (ids[p] == original[p]) kept++;
                else randomized++;
                Assert.Equal(ids[p] == Vocab.MaskId, drop[p]);
            }
            Assert.Equal(positions.Length, drop.Count(d => d) + positions.Count(p => !drop[p]));
            Assert.Equal(drop.Count(d => d), ids.Count(i => i == Vocab.MaskId));   // drop = exactly the [MASK] positions
            chosen += positions.Length;
            maskable += sequences.Sum(s => s.Ids.Count(i => !Vocab.IsSpecial(i)));
        }
        // The rate is exact per sequence up to rounding (and whole words may fall short of the budget).
        Assert.InRange((double)chosen / maskable, rate * (wholeWord ? 0.85 : 0.95), rate * 1.06 + 0.005);
        Assert.InRange((double)masked / chosen, 0.77, 0.83);
        // A "random" draw can land on the original token: ~1/8187 of them, invisible here.
        Assert.InRange((double)randomized / chosen, 0.08, 0.12);
        Assert.InRange((double)kept / chosen, 0.08, 0.12);
    }

    [Fact]
    public void Whole_word_masking_takes_every_piece_of_a_chosen_word()
    {
        var sequences = Sequences();
        var starts = Vocab.WordStarts();
        var batcher = new MlmBatcher(Vocab, new MaskingOptions { Rate = 0.3, WholeWord = true }, seed: 3);
        for (var step = 0; step < 50; step++)
        {
            using var batch = batcher.Build(sequences);
            var seq = (int)batch.InputIds.shape[1];
            var chosen = batch.MaskedPositions.data<long>().ToHashSet();
            foreach (var p in chosen)
            {
                var (row, col) = ((int)p / seq, (int)p % seq);
                var ids = sequences[row].Ids;
                if (col + 1 < sequences[row].Length && !starts[ids[col + 1]] && !Vocab.IsSpecial(ids[col + 1]))
                    Assert.Contains(p + 1, chosen);   // the next piece of the same word is chosen too
            }
        }
    }

    [Fact]
    public void Masks_are_fresh_each_call_and_reproducible_from_the_seed()
    {
        var sequences = Sequences();
        long[] Positions(MlmBatcher b) { using var batch = b.Build(sequences); return batch.MaskedPositions.data<long>().ToArray(); }
        var a = new MlmBatcher(Vocab, new MaskingOptions(), seed: 1);
        var b = new MlmBatcher(Vocab, new MaskingOptions(), seed: 1);
        var first = Positions(a);
        Assert.Equal(first, Positions(b));
        Assert.NotEqual(first, Positions(a));
    }

    [Fact]
    public void Batches_pad_to_the_longest_sequence_and_give_padding_its_own_segment()
    {
        var sequences = Sequences().Take(2).ToList();
        using var batch = new MlmBatcher(Vocab, new MaskingOptions(), seed: 1).Build(sequences);
        Assert.Equal([2L, sequences.Max(s => s.Length)], batch.InputIds.shape);
        var shortRow = sequences[0].Length;
        Assert.Equal(0L, batch.AttentionMask[0, shortRow].item<long>());
        Assert.Equal(Vocab.PadId, batch.InputIds[0, shortRow].item<long>());
        Assert.Equal(1L, batch.SegmentIds[0, shortRow].item<long>());
    }

    [Theory]
    [InlineData("80/10/10", 0.8, 0.1)]
    [InlineData("100/0/0", 1.0, 0.0)]
    public void Mask_splits_parse(string text, double mask, double random) =>
        Assert.Equal((mask, random), MaskingOptions.ParseSplit(text));

    [Theory]
    [InlineData("80/10")]
    [InlineData("80/10/20")]
    [InlineData("a/b/c")]
    public void Bad_mask_splits_are_rejected(string text) => Assert.Throws<ArgumentException>(() => MaskingOptions.ParseSplit(text));

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void Rates_outside_zero_one_are_rejected(double rate) =>
        Assert.Throws<ArgumentException>(() => new MaskingOptions { Rate = rate }.Validate());
}
