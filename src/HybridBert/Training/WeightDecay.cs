namespace HybridBert.Training;

/// <summary>BERT's weight-decay rule, for pre-training and fine-tuning alike: AdamW decays every weight except biases
/// and LayerNorm parameters (Hugging Face's <c>no_decay = ["bias", "LayerNorm.weight"]</c>).</summary>
public static class WeightDecay
{
    public static bool AppliesTo(string parameterName) =>
        !parameterName.EndsWith(".bias", StringComparison.Ordinal) && !parameterName.Contains("LayerNorm.", StringComparison.Ordinal);
}
