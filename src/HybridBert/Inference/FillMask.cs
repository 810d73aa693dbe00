using HybridBert.Text;
using TorchSharp;

namespace HybridBert.Inference;

/// <summary>One candidate for one [MASK], as Hugging Face's fill-mask pipeline returns it.</summary>
public sealed record FillMaskCandidate(double Score, int Token, string TokenStr, string Sequence);

/// <summary>
/// Fill-mask: the top-k tokens for every <c>[MASK]</c> of each text (softmax over the MLM logits), with the text
/// re-decoded with each candidate in place — Hugging Face's pipeline: with one mask the sequence leaves special tokens
/// out, with several it keeps them (the other masks show as [MASK]).
/// </summary>
public sealed class FillMask(InferenceModel model)
{
    public const string MaskText = "[MASK]";

    /// <summary>Candidates per [MASK] when a caller does not say (Hugging Face's pipeline's default).</summary>
    public const int DefaultTopK = 5;

    /// <summary>Per text, per [MASK] in order, the top <paramref name="topK"/> candidates.</summary>
    public List<List<List<FillMaskCandidate>>> Predict(IReadOnlyList<string> texts, int topK = DefaultTopK, CancellationToken cancel = default)
    {
        model.Require(InferenceTask.FillMask);
        return Predict(texts.Select(Encode).ToList(), topK, cancel);
    }

    /// <summary>Texts encoded by <see cref="Encode"/>.</summary>
    public List<List<List<FillMaskCandidate>>> Predict(IReadOnlyList<EncodedText> rows, int topK, CancellationToken cancel = default)
    {
        model.Require(InferenceTask.FillMask);
        if (topK < 1) throw new InvalidInputException($"top_k must be >= 1 (got {topK})");
        var vocabulary = model.Tokenizer.Vocabulary;
        topK = Math.Min(topK, vocabulary.Count);
        var texts = rows;

        var results = new List<List<FillMaskCandidate>>[texts.Count];
        model.Run(rows, (hidden, inputs, indices) =>
        {
            var ids = inputs.InputIds;
            var masked = ids.eq(vocabulary.MaskId).nonzero();                                   // [m, 2]: row, position
            foreach (var k in indices) results[k] = [];
            if (masked.shape[0] == 0) return;   // rows given as ids may hold no [MASK]: nothing to fill
            var rowsOf = masked.select(1, 0).cpu().data<long>().ToArray();
            var positions = masked.select(1, 1).cpu().data<long>().ToArray();
            var flat = masked.select(1, 0) * ids.shape[1] + masked.select(1, 1);
            var logits = model.MlmLogitsAt(hidden, flat);                                       // [m, vocab]
            var (scores, tokens) = logits.softmax(-1).topk(topK, -1);
            var scoreRows = scores.cpu().data<float>().ToArray();
            var tokenRows = tokens.cpu().data<long>().ToArray();
            for (var m = 0; m < rowsOf.Length; m++)
            {
                var row = indices[rowsOf[m]];
                var original = rows[row].InputIds;
                var single = original.Count(id => id == vocabulary.MaskId) == 1;
                var candidates = new List<FillMaskCandidate>(topK);
                for (var j = 0; j < topK; j++)
                {
                    var token = (int)tokenRows[m * topK + j];
                    var filled = (int[])original.Clone();
                    filled[positions[m]] = token;
                    candidates.Add(new FillMaskCandidate(scoreRows[m * topK + j], token, model.Tokenizer.Decode([token], skipSpecialTokens: false),
                        model.Tokenizer.Decode(filled, skipSpecialTokens: single)));
                }
                results[row].Add(candidates);
            }
        }, cancel);
        return results.ToList();
    }

    /// <summary>[CLS] text with each literal "[MASK]" as the mask token [SEP]; errors when there is no mask or it would be cut off.</summary>
    public EncodedText Encode(string text, int index)
    {
        var vocabulary = model.Tokenizer.Vocabulary;
        var parts = text.Split(MaskText);
        if (parts.Length == 1) throw new InvalidInputException($"input {index} has no {MaskText} to fill", index);
        var ids = new List<int> { vocabulary.ClsId };
        for (var p = 0; p < parts.Length; p++)
        {
            if (p > 0) ids.Add(vocabulary.MaskId);
            model.Tokenizer.AppendIds(parts[p], ids);
        }
        ids.Add(vocabulary.SepId);
        if (ids.Count > model.MaxLength)
            throw new InvalidInputException($"input {index} is {ids.Count} tokens long, more than the model's maximum of {model.MaxLength}", index);
        var n = ids.Count;
        return new EncodedText(ids.ToArray(), Enumerable.Repeat(1, n).ToArray(), new int[n], Enumerable.Repeat(-1, n).ToArray());
    }
}
