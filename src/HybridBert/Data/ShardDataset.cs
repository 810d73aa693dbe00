using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace HybridBert.Data;

/// <summary>
/// One split of a prepared data directory, read through memory-mapped shards: random access to any sequence
/// without loading the corpus. Opening checks each shard's size against the manifest (a truncated or swapped
/// shard fails at once); <see cref="VerifyHashes"/> also checks contents.
/// </summary>
public sealed class ShardDataset : IDisposable
{
    private readonly List<(MemoryMappedFile? File, MemoryMappedViewAccessor? View)> shards = [];   // one per manifest shard
    private readonly long[] starts;
    private readonly int recordBytes;

    public ShardManifest Manifest { get; }
    public string Directory { get; }
    public string Split { get; }
    public long Count { get; }

    private ShardDataset(string directory, string split, ShardManifest manifest)
    {
        (Directory, Split, Manifest) = (directory, split, manifest);
        if (!manifest.Splits.TryGetValue(split, out var info))
            throw new InvalidDataException($"{directory}: no split '{split}' (has {string.Join(", ", manifest.Splits.Keys)})");
        recordBytes = manifest.RecordBytes;
        starts = new long[info.Shards.Count + 1];
        try
        {
            for (var i = 0; i < info.Shards.Count; i++)
            {
                var shard = info.Shards[i];
                var path = Path.Combine(directory, shard.File);
                if (!File.Exists(path)) throw new FileNotFoundException($"{directory}: shard {shard.File} is missing", path);
                var length = new FileInfo(path).Length;
                if (length != shard.Bytes || length != shard.Sequences * recordBytes)
                    throw new InvalidDataException($"{path}: {length} bytes, the manifest says {shard.Bytes} ({shard.Sequences} " +
                        $"sequences × {recordBytes}) — truncated or replaced");
                starts[i + 1] = starts[i] + shard.Sequences;
                if (shard.Sequences == 0) { shards.Add((null, null)); continue; }   // an empty file cannot be mapped
                var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
                shards.Add((file, file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read)));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        Count = starts[^1];
    }

    public static ShardDataset Open(string directory, string split = "train") =>
        new(directory, split, ShardManifest.Load(directory));

    public PackedSequence this[long index] => Read(index);

    public PackedSequence Read(long index)
    {
        if (index < 0 || index >= Count) throw new ArgumentOutOfRangeException(nameof(index), $"sequence {index} of {Count}");
        // The last shard starting at or before index holds it (empty shards start where the next one does).
        int lo = 0, hi = shards.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (starts[mid] <= index) lo = mid; else hi = mid - 1;
        }
        var record = new byte[recordBytes];
        shards[lo].View!.ReadArray((index - starts[lo]) * recordBytes, record, 0, recordBytes);
        return Decode(record, Manifest.SeqLen, Manifest.IdBytes);
    }

    public static PackedSequence Decode(ReadOnlySpan<byte> record, int seqLen, int idBytes)
    {
        var tail = record[(seqLen * (idBytes + 2))..];
        int length = BinaryPrimitives.ReadUInt16LittleEndian(tail), boundary = BinaryPrimitives.ReadUInt16LittleEndian(tail[2..]), label = tail[4];
        var ids = new int[length];
        var sentences = new int[length];
        for (var i = 0; i < length; i++)
        {
            ids[i] = idBytes == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(record[(i * 2)..]) :
                BinaryPrimitives.ReadInt32LittleEndian(record[(i * 4)..]);
            sentences[i] = BinaryPrimitives.ReadUInt16LittleEndian(record[(seqLen * idBytes + i * 2)..]);
        }
        return new PackedSequence(ids, sentences, length, boundary, label);
    }

    /// <summary>Re-hashes every shard of this split; throws naming the first that differs from the manifest.</summary>
    public void VerifyHashes()
    {
        foreach (var shard in Manifest.Splits[Split].Shards)
        {
            var actual = ShardManifest.Sha256(Path.Combine(Directory, shard.File));
            if (actual != shard.Sha256)
                throw new InvalidDataException($"{Path.Combine(Directory, shard.File)}: SHA-256 {actual[..12]}… differs from the " +
                    $"manifest's {shard.Sha256[..12]}… — the shard was modified");
        }
    }

    public void Dispose()
    {
        foreach (var (file, view) in shards)
        {
            view?.Dispose();
            file?.Dispose();
        }
        shards.Clear();
    }
}
