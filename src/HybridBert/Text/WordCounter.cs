namespace HybridBert.Text;

/// <summary>
/// Counts BERT words (normalized and pre-tokenized as the tokenizer will see them) in a bounded dictionary, so a
/// corpus larger than memory can be counted. When the dictionary passes <c>maxWords</c> entries, the rarest are
/// pruned (count ≤ a threshold that rises until a quarter of the room is free): frequent words keep exact counts,
/// rare words may be under-counted — they would not become vocabulary entries anyway. Deterministic for a given
/// input order.
/// </summary>
public sealed class WordCounter(bool lowercase = true, int maxWords = 4_000_000)
{
    private readonly BasicTokenizer basic = new(lowercase);
    private readonly List<string> words = [];

    public Dictionary<string, long> Counts { get; } = new(StringComparer.Ordinal);
    public long Pruned { get; private set; }

    public void Add(string text)
    {
        words.Clear();
        basic.Split(text, words);
        foreach (var w in words)
        {
            System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(Counts, w, out _)++;
        }
        if (Counts.Count > maxWords) Prune();
    }

    private void Prune()
    {
        for (long threshold = 1; Counts.Count > maxWords * 3L / 4; threshold++)
        {
            foreach (var (word, count) in Counts.ToList())
                if (count <= threshold) { Counts.Remove(word); Pruned++; }
        }
    }
}
