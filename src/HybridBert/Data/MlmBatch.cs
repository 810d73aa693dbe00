using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Data;

/// <summary>
/// One pre-training batch. Tensors are [batch, seq] unless noted; seq is the longest sequence in the batch.
/// <c>MaskedPositions</c> [n] are flat indices into batch*seq for the sparse MLM head, <c>MaskedLabels</c> [n]
/// their original ids; <c>SentenceLabels</c> [batch] (255 = none); <c>DropPositions</c> the positions that hold
/// [MASK] after replacement — DropMask's input. Whoever makes a batch disposes it.
/// </summary>
public sealed class MlmBatch : IDisposable
{
    public required Tensor InputIds { get; init; }
    public required Tensor AttentionMask { get; init; }
    public required Tensor TokenTypeIds { get; init; }
    public required Tensor SegmentIds { get; init; }
    public required Tensor MaskedPositions { get; init; }
    public required Tensor MaskedLabels { get; init; }
    public required Tensor SentenceLabels { get; init; }
    public required Tensor DropPositions { get; init; }
    public required int RealTokens { get; init; }

    /// <summary>The encoder's inputs; with <paramref name="dropMask"/> the [MASK] positions are hidden from context.</summary>
    public EncoderInputs ToEncoderInputs(bool dropMask, bool sentenceSegments = true) =>
        new(InputIds, AttentionMask, TokenTypeIds, sentenceSegments ? SegmentIds : null, dropMask ? DropPositions : null);

    public long MaskedCount => MaskedPositions.shape[0];

    /// <summary>SHA-256 (hex) of what the model is asked: the input ids after masking, the masked positions and their
    /// target ids, as little-endian int64. Two batches with one digest pose the same MLM problem.</summary>
    public string Digest()
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var t in new[] { InputIds, MaskedPositions, MaskedLabels })
        {
            var values = t.to_type(ScalarType.Int64).data<long>().ToArray();
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Rows [start, start+count) as a batch of their own (for gradient accumulation): the masks are the
    /// global batch's, so micro-batches of one global batch see exactly what the whole batch would.</summary>
    public MlmBatch Slice(int start, int count)
    {
        var seq = InputIds.shape[1];
        var rows = MaskedPositions.div(seq, rounding_mode: RoundingMode.floor);
        var inSlice = rows.ge(start) & rows.lt(start + count);
        return new MlmBatch
        {
            InputIds = InputIds.narrow(0, start, count),
            AttentionMask = AttentionMask.narrow(0, start, count),
            TokenTypeIds = TokenTypeIds.narrow(0, start, count),
            SegmentIds = SegmentIds.narrow(0, start, count),
            MaskedPositions = MaskedPositions[inSlice] - start * seq,
            MaskedLabels = MaskedLabels[inSlice],
            SentenceLabels = SentenceLabels.narrow(0, start, count),
            DropPositions = DropPositions.narrow(0, start, count),
            RealTokens = (int)AttentionMask.narrow(0, start, count).sum().item<long>(),
        };
    }

    public void Dispose()
    {
        foreach (var t in new[] { InputIds, AttentionMask, TokenTypeIds, SegmentIds, MaskedPositions, MaskedLabels, SentenceLabels, DropPositions })
            t.Dispose();
    }
}
