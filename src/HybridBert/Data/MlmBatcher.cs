using HybridBert.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Data;

/// <summary>
/// Builds <see cref="MlmBatch"/>es from packed sequences with masking drawn fresh on every call (dynamic masking,
/// as RoBERTa). The draw comes from this batcher's own seeded generator: a fixed seed gives the same masks, which
/// is how evaluation stays comparable across runs and models.
/// </summary>
public sealed class MlmBatcher
{
    private readonly MaskingOptions options;
    private Random random;
    private readonly bool[] special;
    private readonly bool[] wordStart;
    private readonly int[] replacements;   // non-special ids, for the "random token" share
    private readonly int padId, maskId;

    public MlmBatcher(Vocabulary vocabulary, MaskingOptions options, int seed)
    {
        this.options = options.Validate();
        random = new Random(seed);
        special = Enumerable.Range(0, vocabulary.Count).Select(vocabulary.IsSpecial).ToArray();
        wordStart = vocabulary.WordStarts();
        replacements = Enumerable.Range(0, vocabulary.Count).Where(i => !special[i]).ToArray();
        (padId, maskId) = (vocabulary.PadId, vocabulary.MaskId);
    }

    /// <summary>Restarts the masking generator: training reseeds it from (seed, step) every step, so a resumed
    /// run draws the same masks as an uninterrupted one without storing generator state.</summary>
    public void Reseed(int seed) => random = new Random(seed);

    /// <param name="device">Where the batch's tensors are made: the model's device (CPU when null).</param>
    public MlmBatch Build(IReadOnlyList<PackedSequence> sequences, Device? device = null)
    {
        var batch = sequences.Count;
        var seq = sequences.Max(s => s.Length);
        var ids = new PaddedRows(batch, seq, padId);
        var mask = new PaddedRows(batch, seq);
        var types = new PaddedRows(batch, seq);
        var segments = new PaddedRows(batch, seq);
        var drop = new PaddedRows(batch, seq);
        var labels = new long[batch];
        List<long> positions = [], targets = [];
        var realTokens = 0;

        for (var b = 0; b < batch; b++)
        {
            var s = sequences[b];
            var row = b * seq;
            for (var i = 0; i < s.Length; i++)
            {
                ids[b, i] = s.Ids[i];
                mask[b, i] = 1;
                types[b, i] = i >= s.TypeBoundary ? 1 : 0;
                segments[b, i] = s.SentenceIds[i];
            }
            // Padding gets its own segment id, after the last sentence: it never shares a real segment.
            for (var i = s.Length; i < seq; i++) segments[b, i] = Math.Min(seq - 1, s.Length > 0 ? s.SentenceIds[s.Length - 1] + 1 : 0);
            labels[b] = s.Label;
            realTokens += s.Length;

            foreach (var i in ChoosePositions(s))
            {
                positions.Add(row + i);
                targets.Add(s.Ids[i]);
                var roll = random.NextDouble();
                if (roll < options.MaskFraction)
                {
                    ids[b, i] = maskId;
                    drop[b, i] = 1;
                }
                else if (roll < options.MaskFraction + options.RandomFraction)
                {
                    ids[b, i] = replacements[random.Next(replacements.Length)];
                }
            }
        }
        return new MlmBatch
        {
            InputIds = ids.ToTensor(device),
            AttentionMask = mask.ToTensor(device),
            TokenTypeIds = types.ToTensor(device),
            SegmentIds = segments.ToTensor(device),
            MaskedPositions = torch.tensor(positions.ToArray(), device: device),
            MaskedLabels = torch.tensor(targets.ToArray(), device: device),
            SentenceLabels = torch.tensor(labels, device: device),
            DropPositions = drop.ToTensor(device, ScalarType.Bool),
            RealTokens = realTokens,
        };
    }

    /// <summary>round(rate × maskable) positions (at least one), sorted; whole words when asked.</summary>
    private List<int> ChoosePositions(PackedSequence s)
    {
        // Units: single tokens, or whole words (a word start and the ## pieces after it).
        var units = new List<(int Start, int Length)>();
        for (var i = 0; i < s.Length; i++)
        {
            if (special[s.Ids[i]]) continue;
            if (options.WholeWord && units.Count > 0 && !wordStart[s.Ids[i]] && units[^1].Start + units[^1].Length == i)
                units[^1] = (units[^1].Start, units[^1].Length + 1);
            else
                units.Add((i, 1));
        }
        var maskable = units.Sum(u => u.Length);
        if (maskable == 0) return [];
        var wanted = Math.Max(1, (int)Math.Round(options.Rate * maskable, MidpointRounding.AwayFromZero));

        // Partial Fisher–Yates: draw units in random order until the budget is met; a word that would overshoot
        // is passed over (as BERT's whole-word masking does), unless nothing has been chosen yet.
        var order = Enumerable.Range(0, units.Count).ToArray();
        var chosen = new List<int>();
        for (var k = 0; k < order.Length && chosen.Count < wanted; k++)
        {
            var j = random.Next(k, order.Length);
            (order[k], order[j]) = (order[j], order[k]);
            var unit = units[order[k]];
            if (chosen.Count + unit.Length > wanted && chosen.Count > 0) continue;
            for (var t = 0; t < unit.Length; t++) chosen.Add(unit.Start + t);
        }
        chosen.Sort();
        return chosen;
    }
}
