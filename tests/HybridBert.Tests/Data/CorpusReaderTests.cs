using System.IO.Compression;
using System.Text;
using HybridBert.Data;

namespace HybridBert.Tests.Data;

public sealed class CorpusReaderTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("hybridbert-corpus-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Write(string name, string text) => Write(name, Encoding.UTF8.GetBytes(text));

    [Fact]
    public void Blank_lines_separate_documents_and_crlf_is_a_line_end()
    {
        var path = Write("a.txt", "Para one.\r\nPara two.\r\n\r\n\r\nSecond doc.\n");
        var docs = new CorpusReader().Read(CorpusSource.FromFile(path)).ToList();
        Assert.Equal(2, docs.Count);
        Assert.Equal(["Para one.", "Para two."], docs[0].Paragraphs);
        Assert.Equal(["Second doc."], docs[1].Paragraphs);
        Assert.Equal(5, docs[1].Line);
    }

    [Fact]
    public void Gzip_jsonl_and_directories_are_read_in_sorted_order()
    {
        using (var gz = new GZipStream(File.Create(Path.Combine(folder, "b.txt.gz")), CompressionLevel.Fastest))
            gz.Write(Encoding.UTF8.GetBytes("from gzip"));
        Write("sub/c.jsonl", "{\"text\": \"from json\\nsecond paragraph\"}\n{\"other\": 1}\n");
        Write("a.txt", "from text");
        Write("ignored.csv", "x,y");

        var reader = new CorpusReader();
        var docs = reader.Read(CorpusSource.Resolve([folder])).ToList();

        Assert.Equal(["from text", "from gzip", "from json"], docs.Select(d => d.Paragraphs[0]));
        Assert.Equal(["from json", "second paragraph"], docs[2].Paragraphs);
        Assert.Equal(1, reader.Stats.JsonLinesWithoutText);
    }

    [Fact]
    public void Invalid_utf8_fails_with_file_line_and_byte_offset()
    {
        var path = Write("bad.txt", [.. "good line\n"u8, .. "ok "u8, 0xC3, 0x28, .. " bad\n"u8]);
        var error = Assert.Throws<InvalidDataException>(() => new CorpusReader().Read(CorpusSource.FromFile(path)).ToList());
        Assert.Contains($"{path}:2: invalid UTF-8 at byte offset 13", error.Message);
    }

    [Fact]
    public void Invalid_utf8_can_be_skipped_or_replaced_and_is_counted()
    {
        var path = Write("bad.txt", [.. "good\n"u8, 0xFF, .. "x\n"u8, .. "end"u8]);
        var skip = new CorpusReader(InvalidUtf8Policy.Skip);
        Assert.Equal(["good", "end"], skip.Read(CorpusSource.FromFile(path)).Single().Paragraphs);
        Assert.Equal(1, skip.Stats.InvalidLinesSkipped);

        var replace = new CorpusReader(InvalidUtf8Policy.Replace);
        Assert.Equal(["good", "\uFFFDx", "end"], replace.Read(CorpusSource.FromFile(path)).Single().Paragraphs);
        Assert.Equal(1, replace.Stats.InvalidLinesReplaced);
    }

    [Fact]
    public void Over_long_lines_are_cut_at_character_boundaries_and_counted()
    {
        var line = string.Concat(Enumerable.Repeat("é", 1500));   // 3,000 bytes
        var reader = new CorpusReader(maxLineBytes: 1001);
        var paragraphs = reader.Read(CorpusSource.FromFile(Write("long.txt", line))).Single().Paragraphs;
        Assert.Equal(line, string.Concat(paragraphs));
        Assert.All(paragraphs, p => Assert.True(Encoding.UTF8.GetByteCount(p) <= 1001));
        Assert.True(reader.Stats.LongLinesSplit >= 2);
    }

    [Fact]
    public void Empty_files_are_counted_and_missing_paths_or_wrong_extensions_fail_by_name()
    {
        var reader = new CorpusReader();
        Assert.Empty(reader.Read(CorpusSource.FromFile(Write("empty.txt", ""))).ToList());
        Assert.Equal(1, reader.Stats.EmptyFiles);
        Assert.Contains("/no/such/corpus", Assert.Throws<FileNotFoundException>(() => CorpusSource.Resolve(["/no/such/corpus"])).Message);
        Assert.Contains("unsupported corpus file", Assert.Throws<InvalidDataException>(() => CorpusSource.Resolve([Write("x.csv", "a")])).Message);
    }

    [Fact]
    public void A_malformed_json_line_names_file_and_line()
    {
        var path = Write("bad.jsonl", "{\"text\": \"ok\"}\n{not json\n");
        var error = Assert.Throws<InvalidDataException>(() => new CorpusReader().Read(CorpusSource.FromFile(path)).ToList());
        Assert.StartsWith($"{path}:2:", error.Message);
    }

    [Fact]
    public void The_embedded_default_corpus_is_there()
    {
        var sources = CorpusSource.Default();
        Assert.Equal(["embedded:moby-dick.txt.gz", "embedded:sotu.txt.gz"], sources.Select(s => s.Name));
    }
}
