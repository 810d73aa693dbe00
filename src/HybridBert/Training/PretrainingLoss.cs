using HybridBert.Data;
using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Training;

/// <summary>The pre-training objective on one (micro-)batch.</summary>
public static class PretrainingLoss
{
    public sealed record Result(Tensor Loss, Tensor MlmLossSum, Tensor MlmCorrect, Tensor? SentenceLossSum, Tensor? SentenceCorrect,
        long SentenceCount);

    /// <summary>
    /// MLM cross-entropy summed over the masked positions (the sparse head computes logits there only), plus the
    /// sentence-level cross-entropy summed over sequences. <c>Loss</c> divides the sums by the global batch's
    /// masked-token and sequence counts — not the micro-batch's — so accumulating micro-batches gives exactly the
    /// gradient of one big batch. Logits go to fp32 before the softmax.
    /// </summary>
    public static Result Compute(HybridBertModel model, MlmBatch batch, SentenceObjective objective, bool dropMask,
        long globalMasked, long globalSentences)
    {
        // Only the results leave this scope: the hidden states are not needed by backward (autograd keeps what it
        // saved), and holding their handles until the step's end kept them alive through backward — and, with
        // micro-batches, every micro-batch's at once. The MLM logits are never kept (VocabularyCrossEntropy).
        using var scope = torch.NewDisposeScope();
        var hidden = model.forward(batch.ToEncoderInputs(dropMask));
        var (mlmSum, mlmCorrect) = model.MlmLossSum(hidden, batch.MaskedPositions, batch.MaskedLabels);
        var loss = mlmSum / Math.Max(1, globalMasked);
        if (objective == SentenceObjective.None)
            return new Result(loss.MoveToOuterDisposeScope(), mlmSum.MoveToOuterDisposeScope(), mlmCorrect.MoveToOuterDisposeScope(), null, null, 0);

        var (labels, count) = SentenceTargets(batch.SentenceLabels, objective);
        var sentenceLogits = model.SentenceLogits(hidden).to(ScalarType.Float32);
        // ignore_index -100: sequences without a usable label (no B segment; "swapped" under NSP).
        var sentenceSum = nn.functional.cross_entropy(sentenceLogits, labels, ignore_index: -100, reduction: nn.Reduction.Sum);
        var sentenceCorrect = sentenceLogits.argmax(-1).eq(labels).sum();
        return new Result((loss + sentenceSum / Math.Max(1, globalSentences)).MoveToOuterDisposeScope(), mlmSum.MoveToOuterDisposeScope(),
            mlmCorrect.MoveToOuterDisposeScope(), sentenceSum.MoveToOuterDisposeScope(), sentenceCorrect.MoveToOuterDisposeScope(), count);
    }

    /// <summary>
    /// Labels for the objective, -100 where none applies. SSO (PoNet): in order 0, swapped 1, random 2. NSP (BERT):
    /// in order 0 ("is next"), random 1; swapped pairs are left out of NSP.
    /// </summary>
    public static (Tensor Labels, long Count) SentenceTargets(Tensor stored, SentenceObjective objective)
    {
        var labels = stored.clone();
        labels = labels.masked_fill(stored.eq(SentenceLabel.None), -100);
        if (objective == SentenceObjective.Nsp)
        {
            labels = labels.masked_fill(stored.eq(SentenceLabel.Swapped), -100);
            labels = labels.masked_fill(stored.eq(SentenceLabel.Random), 1);
        }
        return (labels, labels.ne(-100).sum().item<long>());
    }
}
