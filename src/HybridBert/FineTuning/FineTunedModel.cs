using System.Text.Json;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.FineTuning;

/// <summary>What a fine-tuned model folder says about its task (<c>task.json</c>).</summary>
public sealed record TaskHead(string Task, bool Regression, IReadOnlyList<string> Labels, IReadOnlyList<string> Metrics, Pooling Pooling,
    int MaxLength, bool Lowercase, ColumnSpec Columns);

/// <summary>
/// A fine-tuned model folder: <c>model.safetensors</c> (<c>bert.*</c>, <c>classifier.*</c>), <c>config.json</c>,
/// <c>vocab.txt</c>, <c>task.json</c>. Scored by <see cref="Inference.TextClassifier"/> over <see cref="Inference.InferenceModel.For"/>.
/// </summary>
public sealed class FineTunedModel : IDisposable
{
    public const string WeightsFile = ModelLayout.Weights, ConfigFile = ModelLayout.Config, VocabFile = ModelLayout.Vocab,
        TaskFile = ModelLayout.Task;

    public SequenceClassifier Classifier { get; }
    public BertTokenizer Tokenizer { get; }
    public TaskHead Head { get; }

    public FineTunedModel(SequenceClassifier classifier, BertTokenizer tokenizer, TaskHead head) =>
        (Classifier, Tokenizer, Head) = (classifier, tokenizer, head);

    /// <summary>
    /// A fine-tuned folder written by <c>hybridbert finetune</c>, or a Hugging Face <c>BertForSequenceClassification</c>
    /// folder (labels from its <c>id2label</c>; a text column named <c>text</c>, <c>text_pair</c> for pairs, unless the
    /// caller names others).
    /// </summary>
    /// <param name="device">cpu, cuda, cuda:N or auto (<see cref="Devices"/>).</param>
    public static FineTunedModel Load(string folder, string device = "cpu")
    {
        folder = Interop.Hub.HubModels.ResolvePath(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Model folder not found: {folder}");
        folder = ModelSource.FineTunedSeed(folder) ?? folder;
        if (TokenTagger.IsTokenModel(folder))
            throw new InvalidDataException($"{folder} is a token classifier (a tag per word), not a sequence classifier: use hybridbert tag");
        switch (ModelLayout.Detect(folder))
        {
            case ModelSourceKind.Checkpoint:
                throw new InvalidDataException($"{folder} is a pre-training run or checkpoint, a model without a classifier: fine-tune " +
                    $"it first (hybridbert finetune --checkpoint {folder} …) " +
                                               "and use one of the seed-N folders that writes");
            case ModelSourceKind.HuggingFace:
                return LoadHuggingFace(folder, device);
        }
        foreach (var f in new[] { WeightsFile, ConfigFile, VocabFile, TaskFile })
            if (!File.Exists(Path.Combine(folder, f)))
                throw new FileNotFoundException($"{folder} is not a fine-tuned model folder: {f} is missing (use a seed-N folder written " +
                    "by `hybridbert finetune`, or a Hugging Face BertForSequenceClassification folder)");
        var head = ReadHead(folder);
        var config = EncoderConfig.Load(Path.Combine(folder, ConfigFile));
        var vocabulary = Vocabulary.Load(Path.Combine(folder, VocabFile));
        if (vocabulary.Count != config.VocabSize)
            throw new InvalidDataException($"{folder}: vocab.txt has {vocabulary.Count} tokens but config.json says vocab_size={config.VocabSize}");
        var classifier = new SequenceClassifier(config, head.Regression ? 1 : head.Labels.Count, head.Pooling);
        WeightLoader.Load(classifier, Path.Combine(folder, WeightsFile));
        classifier.to(Devices.Resolve(device));
        classifier.eval();
        return new FineTunedModel(classifier, new BertTokenizer(vocabulary, head.Lowercase), head);
    }

    /// <summary>The task of a Hugging Face classifier folder: its labels, the usual metrics, up to 512 tokens.</summary>
    internal static TaskHead HuggingFaceHead(string folder, ClassifierLabels labels, EncoderConfig config, bool lowercase) =>
        new(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))), labels.Regression,
            labels.Regression ? [] : labels.Labels,
            labels.Regression ? ["pearson", "spearman"] : ["accuracy"], labels.MeanPooling ? Pooling.Mean : Pooling.Cls,
            Math.Min(512, config.MaxPositionEmbeddings), lowercase, new ColumnSpec("text", null, "label"));

    private static FineTunedModel LoadHuggingFace(string folder, string device)
    {
        var source = ModelSource.Open(folder);
        var labels = source.Labels ?? throw new InvalidDataException(
            $"{folder}: a Hugging Face model but not a sequence classifier (config.json's architectures lack " +
                $"BertForSequenceClassification) — fine-tune it first: hybridbert finetune --checkpoint {folder}");
        var head = HuggingFaceHead(folder, labels, source.Config, source.Lowercase ?? true);
        var classifier = new SequenceClassifier(source.Config, labels.Regression ? 1 : labels.Labels.Count, head.Pooling);
        source.LoadInto(classifier);
        classifier.to(Devices.Resolve(device));
        classifier.eval();
        return new FineTunedModel(classifier, new BertTokenizer(source.Vocabulary, head.Lowercase), head);
    }

    /// <summary>The folder's task.json.</summary>
    public static TaskHead ReadHead(string folder)
    {
        var path = Path.Combine(folder, TaskFile);
        try
        {
            return JsonSerializer.Deserialize<TaskHead>(File.ReadAllText(path), IO.JsonFiles.Options) ??
                throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid task description ({e.Message})", e);
        }
    }

    /// <summary>Writes the folder under a temporary name and puts it in place when complete (<see cref="IO.AtomicFile.PublishFolder"/>).</summary>
    public void Save(string folder) =>
        IO.AtomicFile.WriteFolder(folder, temp =>
        {
            WeightLoader.Save(Classifier, Path.Combine(temp, WeightsFile));
            File.WriteAllText(Path.Combine(temp, ConfigFile), Classifier.Config.ToJson());
            Tokenizer.Vocabulary.Save(Path.Combine(temp, VocabFile));
            File.WriteAllText(Path.Combine(temp, TaskFile), JsonSerializer.Serialize(Head, IO.JsonFiles.Options));
        });

    public void Dispose() => Classifier.Dispose();
}
