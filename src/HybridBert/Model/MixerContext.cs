using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// The masks every token mixer of one forward pass needs, computed once per batch by the encoder instead of once
/// per layer. "Eligible" tokens are real (not padding) and not dropped by DropMask: only they may be seen by
/// others. Dropped tokens still receive outputs, so the MLM head can predict them.
/// </summary>
public sealed class MixerContext
{
    /// <summary>[batch, seq] bool: not padding.</summary>
    public required Tensor Real { get; init; }
    /// <summary>[batch, seq] bool: real and not dropped — may be a key, a pooling candidate, part of the mean query.</summary>
    public required Tensor Eligible { get; init; }
    /// <summary>[batch, 1, 1, seq] bool, for scaled_dot_product_attention: which keys every query may see.</summary>
    public required Tensor KeyVisible { get; init; }

    private bool? allReal;
    /// <summary>The batch has no padding (asked once per batch, by pooling).</summary>
    public bool AllReal => allReal ??= Real.all().item<bool>();

    private bool? everyQuerySeesAKey;
    /// <summary>Every row of the batch has an eligible token (asked once per batch, by training attention).</summary>
    public bool EveryQuerySeesAKey => everyQuerySeesAKey ??= Eligible.any(1).all().item<bool>();

    // Pooling only (null when the model has no pooling heads).
    // [CLS]/[SEP] get 0 from the local and the segment max and never enter a local window.
    /// <summary>[batch, seq, 1] bool: may not enter a local window max (not eligible, or [CLS]/[SEP]).</summary>
    public Tensor? LocalExcluded { get; init; }
    /// <summary>[batch, seq, 1] bool: gets 0 from the local max ([CLS]/[SEP], or no candidate in its window).</summary>
    public Tensor? LocalZero { get; init; }
    /// <summary>The segments and their candidates, and which tokens get 0 from the segment max ([CLS]/[SEP], or no
    /// candidate in its segment).</summary>
    public SegmentLayout? Segments { get; init; }

    public static MixerContext Build(EncoderInputs inputs, EncoderConfig config, bool needsPooling)
    {
        var ids = inputs.InputIds;
        var (batch, seq) = (ids.shape[0], ids.shape[1]);
        var real = inputs.AttentionMask.to_type(ScalarType.Bool);
        var eligible = inputs.DropPositions is null ? real : real & inputs.DropPositions.to_type(ScalarType.Bool).logical_not();
        var context = new MixerContext { Real = real, Eligible = eligible, KeyVisible = eligible.view(batch, 1, 1, seq) };
        if (!needsPooling) return context;

        var special = ids.eq(config.ClsTokenId) | ids.eq(config.SepTokenId);
        var localCandidate = eligible & special.logical_not();
        var segments = inputs.SegmentIds is null ? SegmentMax.SegmentsFromSpecialTokens(special) : SegmentMax.CheckSegmentIds(inputs.SegmentIds);
        var layout = SegmentLayout.Build((segments + torch.arange(batch, device: ids.device).unsqueeze(1) * seq).reshape(-1), eligible,
            alsoZero: special.unsqueeze(-1));
        return new MixerContext
        {
            Real = real,
            Eligible = eligible,
            KeyVisible = context.KeyVisible,
            LocalExcluded = localCandidate.logical_not().unsqueeze(-1),
            LocalZero = special.unsqueeze(-1) | SegmentMax.EmptyWindows(localCandidate),
            // The PoNet reference masks only padding before its segment max: with explicit sentence ids a [CLS] or
            // [SEP] that shares a segment with words takes part in that segment's max (the parity fixture
            // `ponet_2l_sentence_segments` fixes this). With derived segments they are alone in their segment.
            Segments = layout,
        };
    }
}
