using System.Text.Json;
using HybridBert.FineTuning;
using HybridBert.Model;

namespace HybridBert.Interop;

/// <summary>
/// <c>hybridbert model import</c>: any loadable model (usually a Hugging Face folder) written once in our layout.
/// A sequence classifier becomes a fine-tuned model folder (<c>task.json</c>, usable by evaluate/predict); any other
/// model a model folder — <c>config.json</c> with its <c>layer_pattern</c>, fp32 <c>model.safetensors</c> under our
/// names (the pre-training head when the source had one), <c>vocab.txt</c>, <c>tokenizer_config.json</c> — which
/// finetune <c>--checkpoint</c>, pretrain <c>--init-from</c> and the other commands load like the original.
/// </summary>
public static class ModelImport
{
    /// <returns>What was written ("fine-tuned classifier", "model").</returns>
    public static string Run(string from, string outDir, bool overwrite = false)
    {
        var source = ModelSource.Open(from);
        using var outLock = IO.PathLock.Acquire(outDir);
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !overwrite)
            throw new IO.OutputExistsException(outDir, "files", resumable: false);

        if (source.Labels is not null)
        {
            using var classifierModel = FineTunedModel.Load(source.Folder);
            classifierModel.Save(outDir);
            return $"fine-tuned classifier ({string.Join(", ", classifierModel.Head.Labels)})";
        }

        var tensors = source.ReadWeights();
        try
        {
            var sentence = tensors.FirstOrDefault(kv => WeightLoader.MapName(kv.Key) == "cls.seq_relationship.weight").Value;
            using var model = new HybridBertModel(source.Config, sentence is null ? 0 : (int)sentence.shape[0]);
            var ignore = sentence is null ? new[] { "classifier.", "pooler." } : ["classifier."];
            var fresh = WeightLoader.Load(model, tensors, source.Folder, ignore, optionalPrefixes: ["cls.predictions."]);
            ModelFolder.Write(outDir, model, source.Vocabulary, source.Lowercase ?? true);
            return fresh.Count > 0 ? "model (it had no MLM head: cls.predictions.* newly initialized)" : "model";
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}

/// <summary>
/// Our model folder: <c>config.json</c> (with <c>layer_pattern</c>), fp32 <c>model.safetensors</c> under our names,
/// and the tokenizer files (<see cref="TokenizerFiles"/>). Every command that takes a model loads it
/// (<see cref="ModelSource"/> reads it as a Hugging Face folder, which it also is).
/// </summary>
public static class ModelFolder
{
    public static void Write(string outDir, HybridBertModel model, Text.Vocabulary vocabulary, bool lowercase) =>
        IO.AtomicFile.WriteFolder(outDir, temp =>
        {
            WeightLoader.Save(model, Path.Combine(temp, HuggingFaceFolder.SafetensorsFile));
            File.WriteAllText(Path.Combine(temp, HuggingFaceFolder.ConfigFile), model.Config.ToJson());
            TokenizerFiles.Write(temp, vocabulary, lowercase, model.Config.MaxPositionEmbeddings);
        });
}
