using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// One batch for the encoder. All tensors are [batch, seq].
/// <list type="bullet">
/// <item><c>AttentionMask</c>: 1 for real tokens, 0 for padding.</item>
/// <item><c>SegmentIds</c>: optional sentence ids for the pooling layers' segment max (values in [0, seq)); when
/// null, segments are derived from [CLS]/[SEP].</item>
/// <item><c>DropPositions</c>: optional DropMask positions (bool). They are hidden from every other token's
/// context in every layer but still get outputs of their own.</item>
/// </list>
/// </summary>
public sealed record EncoderInputs(
    Tensor InputIds,
    Tensor AttentionMask,
    Tensor? TokenTypeIds = null,
    Tensor? SegmentIds = null,
    Tensor? DropPositions = null);
