using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace HybridBert.Text;

/// <summary>
/// The tokenizer's memory of words it has split: normalized word → its word-piece ids, looked up by span. An
/// open-addressing table over flat arrays (the words' characters in one <c>char[]</c>, the ids in one <c>int[]</c>),
/// hashed eight bytes at a time.
/// </summary>
/// <remarks>
/// Written by hand because the lookup is most of tokenization's time: on the embedded corpus (2.0 M words, 32 k distinct)
/// lowercasing and splitting run at ~360 MB/s, adding a <c>Dictionary&lt;string, int[]&gt;</c> looked up through its
/// span-keyed alternate lookup brings that to ~106 MB/s, and this table to ~143 MB/s (the same loop, one process).
/// The hash is only for this process's table: never persisted, no seed.
/// </remarks>
internal sealed class WordCache
{
    private struct Entry
    {
        public int Hash, KeyStart, KeyLength, IdsStart, IdsLength;
    }

    private int[] buckets = new int[1 << 12];   // entry index + 1; 0 is empty. At most half full.
    private Entry[] entries = new Entry[1 << 11];
    private char[] keys = new char[1 << 14];
    private int[] ids = new int[1 << 12];
    private int keysEnd, idsEnd;

    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(ReadOnlySpan<char> word)
    {
        var h = (ulong)word.Length * 0x9E3779B97F4A7C15UL;
        var blocks = MemoryMarshal.Cast<char, ulong>(word);
        foreach (var block in blocks) h = (h ^ block) * 0xBF58476D1CE4E5B9UL;
        for (var i = blocks.Length * 4; i < word.Length; i++) h = (h ^ word[i]) * 0x94D049BB133111EBUL;
        return (int)(h ^ (h >> 31));
    }

    public bool TryGet(ReadOnlySpan<char> word, out ReadOnlySpan<int> pieces)
    {
        var hash = Hash(word);
        var mask = buckets.Length - 1;
        for (var b = hash & mask; ; b = (b + 1) & mask)
        {
            var e = buckets[b];
            if (e == 0) break;
            ref var entry = ref entries[e - 1];
            if (entry.Hash == hash && word.SequenceEqual(keys.AsSpan(entry.KeyStart, entry.KeyLength)))
            {
                pieces = ids.AsSpan(entry.IdsStart, entry.IdsLength);
                return true;
            }
        }
        pieces = default;
        return false;
    }

    /// <summary>Remembers a word not in the table yet.</summary>
    public void Add(ReadOnlySpan<char> word, ReadOnlySpan<int> pieces)
    {
        if (2 * (Count + 1) > buckets.Length) Rehash(2 * buckets.Length);
        if (Count == entries.Length) Array.Resize(ref entries, 2 * entries.Length);
        if (keysEnd + word.Length > keys.Length) Array.Resize(ref keys, Math.Max(2 * keys.Length, keysEnd + word.Length));
        if (idsEnd + pieces.Length > ids.Length) Array.Resize(ref ids, Math.Max(2 * ids.Length, idsEnd + pieces.Length));
        word.CopyTo(keys.AsSpan(keysEnd));
        pieces.CopyTo(ids.AsSpan(idsEnd));
        entries[Count] = new Entry { Hash = Hash(word), KeyStart = keysEnd, KeyLength = word.Length, IdsStart = idsEnd, IdsLength = pieces.Length };
        keysEnd += word.Length;
        idsEnd += pieces.Length;
        Place(Count++);
    }

    /// <summary>Forgets every word (the arrays are kept for the next ones).</summary>
    public void Clear()
    {
        Array.Clear(buckets);
        Count = keysEnd = idsEnd = 0;
    }

    private void Place(int index)
    {
        var mask = buckets.Length - 1;
        var b = entries[index].Hash & mask;
        while (buckets[b] != 0) b = (b + 1) & mask;
        buckets[b] = index + 1;
    }

    private void Rehash(int size)
    {
        buckets = new int[size];
        for (var i = 0; i < Count; i++) Place(i);
    }
}
