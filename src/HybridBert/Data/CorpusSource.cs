using System.IO.Compression;
using System.Reflection;

namespace HybridBert.Data;

/// <summary>One corpus input: a file on disk or a resource embedded in this library (the default corpus).</summary>
public sealed record CorpusSource(string Name, long Length, Func<Stream> OpenRaw)
{
    public static readonly string[] Extensions = [".txt", ".txt.gz", ".jsonl", ".jsonl.gz"];

    public bool IsJsonLines => Name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ||
        Name.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase);
    public bool IsGzip => Name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    /// <summary>The decompressed bytes; <paramref name="rawBytesRead"/> (if given) counts the bytes taken from the file.</summary>
    public Stream Open(Action<int>? rawBytesRead = null)
    {
        var raw = rawBytesRead is null ? OpenRaw() : new ObservedStream(OpenRaw(), bytes => rawBytesRead(bytes.Length));
        return IsGzip ? new GZipStream(raw, CompressionMode.Decompress) : raw;
    }

    public static bool HasCorpusExtension(string path) =>
        Extensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Files and directories → sources. Directories are walked recursively in ordinal path order (so a corpus
    /// always reads in the same order) and contribute only files with a corpus extension; a file named directly
    /// must have one.
    /// </summary>
    public static IReadOnlyList<CorpusSource> Resolve(IEnumerable<string> paths, Action<string>? skipped = null)
    {
        var sources = new List<CorpusSource>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var all = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
                var files = all.Where(HasCorpusExtension).ToList();
                var others = all.Where(f => !HasCorpusExtension(f)).ToList();
                foreach (var other in others.Take(10))
                    skipped?.Invoke($"skipped {other}: not a corpus file (expected {string.Join(", ", Extensions)})");
                if (others.Count > 10) skipped?.Invoke($"skipped {others.Count - 10} more files in {path} that are not corpus files");
                if (files.Count == 0)
                {
                    var found = others.Count > 0 ? $"; it has {others.Count} other files, e.g. {Path.GetFileName(others[0])}" : "";
                    throw new InvalidDataException($"{path}: the directory holds no corpus files ({string.Join(", ", Extensions)}){found}");
                }
                sources.AddRange(files.Select(FromFile));
            }
            else if (File.Exists(path))
            {
                if (!HasCorpusExtension(path))
                    throw new InvalidDataException($"{path}: unsupported corpus file; expected one of {string.Join(", ", Extensions)}");
                sources.Add(FromFile(path));
            }
            else
            {
                throw new FileNotFoundException($"Corpus path not found: {path}", path);
            }
        }
        return sources;
    }

    public static CorpusSource FromFile(string path) =>
        new(path, new FileInfo(path).Length, () => File.OpenRead(path));

    /// <summary>The embedded default corpus: State of the Union addresses 1790–2021 and Moby-Dick (see data/README.md).</summary>
    public static IReadOnlyList<CorpusSource> Default()
    {
        var assembly = typeof(CorpusSource).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(EmbeddedData.CorpusPrefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var probe = assembly.GetManifestResourceStream(n)!;
                return new CorpusSource("embedded:" + n[EmbeddedData.CorpusPrefix.Length..], probe.Length,
                    () => assembly.GetManifestResourceStream(n)!);
            })
            .ToList();
    }
}

/// <summary>Names of the data files embedded in the library from the repository's <c>data/</c> folder.</summary>
public static class EmbeddedData
{
    public const string CorpusPrefix = "HybridBert.data.corpus.";
    public const string VocabName = "HybridBert.data.vocab.txt";

    public static Stream OpenVocabulary() =>
        Assembly.GetExecutingAssembly().GetManifestResourceStream(VocabName)
        ?? throw new InvalidOperationException($"The embedded vocabulary {VocabName} is missing from this build");

    public static Text.Vocabulary Vocabulary()
    {
        using var stream = OpenVocabulary();
        return Text.Vocabulary.Read(stream, "embedded:vocab.txt");
    }
}

public delegate void BytesObserver(ReadOnlySpan<byte> bytes);

/// <summary>A read-only pass-through stream that shows every byte read to an observer: progress over compressed
/// files, hashing a source while it is parsed.</summary>
internal sealed class ObservedStream(Stream inner, BytesObserver onRead) : Stream
{
    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = inner.Read(buffer, offset, count);
        onRead(buffer.AsSpan(offset, n));
        return n;
    }
    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        onRead(buffer[..n]);
        return n;
    }
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
