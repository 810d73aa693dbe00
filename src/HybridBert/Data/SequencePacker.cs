using HybridBert.Text;

namespace HybridBert.Data;

/// <summary>
/// BERT-style packing of one document's sentences into <c>[CLS] A [SEP] B [SEP]</c> sequences (Devlin et al.'s
/// <c>create_instances_from_document</c>, with PoNet's 3-way label): consecutive sentences fill a chunk up to
/// seq_len−3 tokens, a random cut splits it into A and B, and then with equal odds B follows A (in order), B and A
/// swap places (swapped), or B is replaced by sentences from another document (random; the unused sentences go
/// back into the stream). "Another document" is drawn from the last <c>recentDocuments</c> documents, which keeps
/// packing streaming. Over-long pairs are trimmed from the longer side, front or back at random.
/// </summary>
public sealed class SequencePacker(int seqLen, Vocabulary vocabulary, Random random, int recentDocuments = 64)
{
    private readonly List<List<int[]>> recent = [];
    private int target => seqLen - 3;

    public List<PackedSequence> Pack(List<int[]> sentences)
    {
        var output = new List<PackedSequence>();
        var chunk = new List<int>();   // sentence indices
        var chunkTokens = 0;
        for (var i = 0; i < sentences.Count; i++)
        {
            chunk.Add(i);
            chunkTokens += sentences[i].Length;
            if (i != sentences.Count - 1 && chunkTokens < target) continue;

            var aEnd = chunk.Count >= 2 ? random.Next(1, chunk.Count) : 1;
            var a = chunk.Take(aEnd).Select(k => sentences[k]).ToList();
            List<int[]> b;
            int label;
            var roll = random.Next(3);
            if ((chunk.Count == 1 || roll == SentenceLabel.Random) && recent.Count > 0)
            {
                label = SentenceLabel.Random;
                var other = recent[random.Next(recent.Count)];
                b = [];
                var room = target - a.Sum(s => s.Length);
                for (var k = random.Next(other.Count); k < other.Count && room > 0; k++)
                {
                    b.Add(other[k]);
                    room -= other[k].Length;
                }
                i -= chunk.Count - aEnd;   // the sentences B would have used go back into the stream
            }
            else if (chunk.Count == 1)
            {
                (b, label) = ([], SentenceLabel.None);   // a one-sentence first document: nothing to pair with
            }
            else
            {
                b = chunk.Skip(aEnd).Select(k => sentences[k]).ToList();
                label = roll == SentenceLabel.Swapped ? SentenceLabel.Swapped : SentenceLabel.InOrder;
                if (label == SentenceLabel.Swapped) (a, b) = (b, a);
            }
            output.Add(Build(a, b, label));
            chunk.Clear();
            chunkTokens = 0;
        }
        if (sentences.Count > 0)
        {
            recent.Add(sentences);
            if (recent.Count > recentDocuments) recent.RemoveAt(0);
        }
        return output;
    }

    private PackedSequence Build(List<int[]> aSentences, List<int[]> bSentences, int label)
    {
        // Flatten with per-token sentence numbers; B's numbers continue after A's.
        static (List<int> Ids, List<int> Sent) Flatten(List<int[]> sentences, int first)
        {
            List<int> ids = [], sent = [];
            for (var k = 0; k < sentences.Count; k++)
                foreach (var id in sentences[k]) { ids.Add(id); sent.Add(first + k); }
            return (ids, sent);
        }
        var (a, aSent) = Flatten(aSentences, 0);
        var (b, bSent) = Flatten(bSentences, aSentences.Count);
        var budget = bSentences.Count > 0 ? seqLen - 3 : seqLen - 2;
        while (a.Count + b.Count > budget)
        {
            var (ids, sent) = a.Count > b.Count ? (a, aSent) : (b, bSent);
            var at = random.Next(2) == 0 ? 0 : ids.Count - 1;
            ids.RemoveAt(at);
            sent.RemoveAt(at);
        }
        if (a.Count == 0) { a = b; aSent = bSent; b = []; bSent = []; }   // trimming can empty a one-token side

        var length = a.Count + b.Count + (b.Count > 0 ? 3 : 2);
        var tokens = new int[length];
        var sentenceOf = new int[length];
        var n = 0;
        tokens[n] = vocabulary.ClsId; sentenceOf[n++] = aSent.Count > 0 ? aSent[0] : 0;
        for (var k = 0; k < a.Count; k++) { tokens[n] = a[k]; sentenceOf[n++] = aSent[k]; }
        tokens[n] = vocabulary.SepId; sentenceOf[n] = sentenceOf[n - 1]; n++;
        var boundary = n;
        if (b.Count > 0)
        {
            for (var k = 0; k < b.Count; k++) { tokens[n] = b[k]; sentenceOf[n++] = bSent[k]; }
            tokens[n] = vocabulary.SepId; sentenceOf[n] = sentenceOf[n - 1]; n++;
        }
        // Renumber sentences 0, 1, 2 … in order of appearance (trimming may have removed some).
        var renumber = new Dictionary<int, int>();
        for (var k = 0; k < length; k++)
        {
            if (!renumber.TryGetValue(sentenceOf[k], out var id)) renumber[sentenceOf[k]] = id = renumber.Count;
            sentenceOf[k] = id;
        }
        return new PackedSequence(tokens, sentenceOf, length, b.Count > 0 ? boundary : length, b.Count > 0 ? label : SentenceLabel.None);
    }
}
