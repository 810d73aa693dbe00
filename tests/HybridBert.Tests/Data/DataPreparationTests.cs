using HybridBert.Data;
using HybridBert.Text;

namespace HybridBert.Tests.Data;

public sealed class DataPreparationTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("hybridbert-prepare-").FullName;
    private static readonly Vocabulary Vocab = EmbeddedData.Vocabulary();
    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string Corpus()
    {
        var path = Path.Combine(folder, "corpus.txt");
        var lines = new List<string>();
        for (var d = 0; d < 30; d++)
        {
            for (var p = 0; p < 3; p++)
                lines.Add(string.Join(" ",
                    Enumerable.Range(0, 6).Select(s => $"Document {d} paragraph {p} sentence {s} speaks of the whale and the sea.")));
            lines.Add("");
        }
        File.WriteAllLines(path, lines);
        return path;
    }

    private ShardManifest Prepare(string outDir, PrepareOptions? options = null) =>
        DataPreparation.Run(CorpusSource.Resolve([Corpus()]), Vocab, outDir, options ?? new PrepareOptions { SeqLen = 64, Workers = 2 });

    [Fact]
    public void Shards_round_trip_every_sequence_exactly_and_respect_the_layout()
    {
        var dir = Path.Combine(folder, "out");
        var manifest = Prepare(dir);
        using var train = ShardDataset.Open(dir, "train");

        Assert.Equal(manifest.Splits["train"].Sequences, train.Count);
        Assert.True(train.Count > 20);
        var labels = new int[4];
        for (long i = 0; i < train.Count; i++)
        {
            var s = train[i];
            Assert.InRange(s.Length, 5, 64);
            Assert.Equal(Vocab.ClsId, s.Ids[0]);
            Assert.Equal(Vocab.SepId, s.Ids[s.Length - 1]);
            Assert.Equal(0, s.SentenceIds[0]);
            Assert.True(s.SentenceIds.Zip(s.SentenceIds.Skip(1)).All(p => p.Second - p.First is 0 or 1), "sentence ids rise by steps of one");
            if (s.Label != SentenceLabel.None)
            {
                Assert.Equal(Vocab.SepId, s.Ids[s.TypeBoundary - 1]);   // A ends with [SEP] right before B starts
                labels[s.Label]++;
            }
        }
        Assert.All(labels[..3], count => Assert.True(count > 0, "every sentence label occurs"));
        using var validation = ShardDataset.Open(dir, "validation");
        Assert.True(validation.Count > 0);
    }

    [Fact]
    public void The_same_seed_gives_the_same_bytes_whatever_the_worker_count()
    {
        var one = Prepare(Path.Combine(folder, "a"), new PrepareOptions { SeqLen = 64, Workers = 1 });
        var two = Prepare(Path.Combine(folder, "b"), new PrepareOptions { SeqLen = 64, Workers = 2 });
        var other = Prepare(Path.Combine(folder, "c"), new PrepareOptions { SeqLen = 64, Workers = 2, Seed = 99 });
        Assert.Equal(one.Splits["train"].Shards.Select(s => s.Sha256), two.Splits["train"].Shards.Select(s => s.Sha256));
        Assert.NotEqual(one.Splits["train"].Shards.Select(s => s.Sha256), other.Splits["train"].Shards.Select(s => s.Sha256));
    }

    [Fact]
    public void A_truncated_or_modified_shard_is_detected()
    {
        var dir = Path.Combine(folder, "out");
        var manifest = Prepare(dir);
        var shard = Path.Combine(dir, manifest.Splits["train"].Shards[0].File);

        var bytes = File.ReadAllBytes(shard);
        bytes[100] ^= 0xFF;
        File.WriteAllBytes(shard, bytes);
        using (var dataset = ShardDataset.Open(dir))
            Assert.Contains("was modified", Assert.Throws<InvalidDataException>(dataset.VerifyHashes).Message);

        File.WriteAllBytes(shard, bytes[..^10]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => ShardDataset.Open(dir)).Message);
    }

    [Fact]
    public void A_manifest_from_another_vocabulary_or_longer_sequences_is_refused_by_name()
    {
        var dir = Path.Combine(folder, "out");
        var manifest = Prepare(dir);
        var other = new Vocabulary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "x"]);
        Assert.Contains("another vocabulary",
            Assert.Throws<InvalidDataException>(() => manifest.CheckCompatible(dir, other.Hash, null, null)).Message);
        Assert.Contains("vocab_size=30522", Assert.Throws<InvalidDataException>(() => manifest.CheckCompatible(dir, null, 30522, null)).Message);
        Assert.Contains("max_position_embeddings=32",
            Assert.Throws<InvalidDataException>(() => manifest.CheckCompatible(dir, null, null, 32)).Message);
    }

    [Fact]
    public void An_existing_directory_is_never_clobbered_and_a_failed_run_leaves_nothing()
    {
        var dir = Path.Combine(folder, "out");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "precious.txt"), "keep me");
        Assert.Throws<HybridBert.IO.OutputExistsException>(() => Prepare(dir));
        Assert.Throws<IOException>(() => Prepare(dir, new PrepareOptions { SeqLen = 64, Overwrite = true }));
        Assert.True(File.Exists(Path.Combine(dir, "precious.txt")));

        var bad = Path.Combine(folder, "bad.txt");
        File.WriteAllBytes(bad, [.. "fine\n"u8, 0xFF, 0xFE]);
        var failed = Path.Combine(folder, "failed");
        Assert.Throws<InvalidDataException>(() => DataPreparation.Run(CorpusSource.Resolve([bad]), Vocab, failed, new PrepareOptions()));
        Assert.False(Directory.Exists(failed));
        Assert.Empty(Directory.GetDirectories(folder, ".failed.partial-*"));
    }

    [Fact]
    public void An_empty_corpus_is_a_clear_error()
    {
        var empty = Path.Combine(folder, "empty.txt");
        File.WriteAllText(empty, "\n\n");
        Assert.Contains("no training sequences", Assert.Throws<InvalidDataException>(() =>
            DataPreparation.Run(CorpusSource.Resolve([empty]), Vocab, Path.Combine(folder, "o"), new PrepareOptions())).Message);
    }
}
