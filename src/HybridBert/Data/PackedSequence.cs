namespace HybridBert.Data;

/// <summary>Sentence-pair labels: PoNet's 3-way sentence structure objective; BERT's next-sentence prediction is
/// the in-order vs random subset.</summary>
public static class SentenceLabel
{
    public const int InOrder = 0, Swapped = 1, Random = 2, None = 255;
    public static readonly string[] Names = ["in_order", "swapped", "random"];
}

/// <summary>
/// One packed pre-training sequence <c>[CLS] A [SEP] B [SEP]</c>: token ids, per-token sentence ids (segments for
/// the pooling layers: [CLS] joins the first sentence, each [SEP] the sentence before it), the real length, the
/// index where B starts (token type 1 from there on), and the sentence-pair label.
/// </summary>
public sealed record PackedSequence(int[] Ids, int[] SentenceIds, int Length, int TypeBoundary, int Label);
