namespace HybridBert.Interop;

/// <summary>
/// The files of every model folder this project reads or writes, spelled once, and what kind of folder a path is,
/// decided once (<see cref="Detect"/>, which <see cref="ModelSource.Open"/> and <c>FineTunedModel.Load</c> both ask).
/// <list type="bullet">
/// <item>A pre-training run: <c>checkpoints/step-N/</c>, each a checkpoint.</item>
/// <item>A checkpoint: <c>config.json</c>, <c>model.safetensors</c>, <c>vocab.txt</c>, <c>optimizer.bin</c>, <c>trainer.json</c>.</item>
/// <item>A fine-tuned model (<c>seed-N/</c>): <c>config.json</c>, <c>model.safetensors</c>, <c>vocab.txt</c>, <c>task.json</c>;
/// its fine-tuning's folder holds <c>results.json</c> beside the <c>seed-N/</c> folders.</item>
/// <item>A Hugging Face folder: <c>config.json</c>; weights as <c>model.safetensors</c>, a shard index or
/// <c>pytorch_model.bin</c>; the tokenizer as <c>vocab.txt</c> (+ <c>tokenizer_config.json</c>) or <c>tokenizer.json</c>.</item>
/// </list>
/// </summary>
public static class ModelLayout
{
    public const string Config = "config.json", Weights = "model.safetensors", Vocab = "vocab.txt", Optimizer = "optimizer.bin",
        Trainer = "trainer.json", Task = "task.json", FineTuneResults = "results.json", Checkpoints = "checkpoints",
        ShardIndex = "model.safetensors.index.json", Pickle = "pytorch_model.bin", TokenizerJson = "tokenizer.json",
        TokenizerConfig = "tokenizer_config.json", SpecialTokens = "special_tokens_map.json";

    /// <summary>The kind of model folder <paramref name="folder"/> is, by the files it holds; null when it is none.</summary>
    public static ModelSourceKind? Detect(string folder) =>
        File.Exists(Path.Combine(folder, Task)) ? ModelSourceKind.FineTuned
        : File.Exists(Path.Combine(folder, Trainer)) || Directory.Exists(Path.Combine(folder, Checkpoints)) ? ModelSourceKind.Checkpoint
        : File.Exists(Path.Combine(folder, Config)) ? ModelSourceKind.HuggingFace
        : null;
}
