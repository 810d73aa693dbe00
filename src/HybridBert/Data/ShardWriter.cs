using System.Buffers.Binary;
using System.Security.Cryptography;

namespace HybridBert.Data;

/// <summary>Appends packed sequences to numbered shard files of one split, hashing as it writes.</summary>
public sealed class ShardWriter : IDisposable
{
    private readonly string directory;
    private readonly string split;
    private readonly int seqLen;
    private readonly int idBytes;
    private readonly long sequencesPerShard;
    private readonly byte[] record;
    private readonly List<ShardFile> shards = [];
    private FileStream? current;
    private IncrementalHash? hash;
    private long inCurrent;

    public long Sequences { get; private set; }
    public long Tokens { get; private set; }
    public IReadOnlyList<ShardFile> Shards => shards;

    public ShardWriter(string directory, string split, int seqLen, int idBytes, long sequencesPerShard = 100_000)
    {
        (this.directory, this.split, this.seqLen, this.idBytes, this.sequencesPerShard) = (directory, split, seqLen, idBytes, sequencesPerShard);
        record = new byte[ShardManifest.RecordSize(seqLen, idBytes)];
    }

    public void Write(PackedSequence s)
    {
        if (current is null || inCurrent == sequencesPerShard) Roll();
        Encode(s, record, seqLen, idBytes);
        current!.Write(record);
        hash!.AppendData(record);
        inCurrent++;
        Sequences++;
        Tokens += s.Length;
    }

    public static void Encode(PackedSequence s, Span<byte> record, int seqLen, int idBytes)
    {
        record.Clear();
        for (var i = 0; i < s.Length; i++)
        {
            if (idBytes == 2) BinaryPrimitives.WriteUInt16LittleEndian(record[(i * 2)..], (ushort)s.Ids[i]);
            else BinaryPrimitives.WriteInt32LittleEndian(record[(i * 4)..], s.Ids[i]);
            BinaryPrimitives.WriteUInt16LittleEndian(record[(seqLen * idBytes + i * 2)..], (ushort)s.SentenceIds[i]);
        }
        var tail = record[(seqLen * (idBytes + 2))..];
        BinaryPrimitives.WriteUInt16LittleEndian(tail, (ushort)s.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(tail[2..], (ushort)s.TypeBoundary);
        tail[4] = (byte)s.Label;
    }

    private void Roll()
    {
        Close();
        var name = $"{split}-{shards.Count:D5}.bin";
        current = new FileStream(Path.Combine(directory, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        inCurrent = 0;
        shards.Add(new ShardFile(name, 0, 0, ""));
    }

    private void Close()
    {
        if (current is null) return;
        current.Flush(flushToDisk: true);
        var bytes = current.Length;
        current.Dispose();
        current = null;
        shards[^1] = shards[^1] with { Sequences = inCurrent, Bytes = bytes, Sha256 = Convert.ToHexStringLower(hash!.GetHashAndReset()) };
        hash.Dispose();
    }

    public void Complete() => Close();

    public void Dispose()
    {
        current?.Dispose();
        hash?.Dispose();
    }
}
