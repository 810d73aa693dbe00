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
/// <c>vocab.txt</c>, <c>task.json</c>. Predicts labels and probabilities (or scores) in length-sorted batches.
/// </summary>
public sealed class FineTunedModel : IDisposable
{
    public const string WeightsFile = ModelLayout.Weights, ConfigFile = ModelLayout.Config, VocabFile = ModelLayout.Vocab, TaskFile = ModelLayout.Task;

    public static readonly JsonSerializerOptions Json = Training.Checkpoint.Json;

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
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Model folder not found: {folder}");
        folder = ModelSource.FineTunedSeed(folder) ?? folder;
        switch (ModelLayout.Detect(folder))
        {
            case ModelSourceKind.Checkpoint:
                throw new InvalidDataException($"{folder} is a pre-training run or checkpoint, a model without a classifier: fine-tune it first (hybridbert finetune --checkpoint {folder} …) " +
                                               "and use one of the seed-N folders that writes");
            case ModelSourceKind.HuggingFace:
                return LoadHuggingFace(folder, device);
        }
        foreach (var f in new[] { WeightsFile, ConfigFile, VocabFile, TaskFile })
            if (!File.Exists(Path.Combine(folder, f)))
                throw new FileNotFoundException($"{folder} is not a fine-tuned model folder: {f} is missing (use a seed-N folder written by `hybridbert finetune`, or a Hugging Face BertForSequenceClassification folder)");
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

    private static FineTunedModel LoadHuggingFace(string folder, string device)
    {
        var source = ModelSource.Open(folder);
        var labels = source.Labels ?? throw new InvalidDataException(
            $"{folder}: a Hugging Face model but not a sequence classifier (config.json's architectures lack BertForSequenceClassification) — fine-tune it first: hybridbert finetune --checkpoint {folder}");
        var head = new TaskHead(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))), labels.Regression, labels.Regression ? [] : labels.Labels,
            labels.Regression ? ["pearson", "spearman"] : ["accuracy"], labels.MeanPooling ? Pooling.Mean : Pooling.Cls, Math.Min(512, source.Config.MaxPositionEmbeddings),
            source.Lowercase ?? true, new ColumnSpec("text", null, "label"));
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
            return JsonSerializer.Deserialize<TaskHead>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty");
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
            File.WriteAllText(Path.Combine(temp, TaskFile), JsonSerializer.Serialize(Head, Json));
        });

    /// <summary>Per example: the predicted class id (or regression score) and the class probabilities (empty for regression).</summary>
    /// <param name="progress">Examples scored so far (reported after each batch).</param>
    public List<(float Prediction, float[] Probabilities)> Predict(IReadOnlyList<LabeledExample> examples, int batchSize = 64, IProgress<int>? progress = null)
    {
        var encoded = examples.Select(e => Tokenizer.Encode(e.Text, e.Pair, Head.MaxLength)).ToList();
        var results = new (float, float[])[examples.Count];
        // Length-sorted batches waste little on padding; results go back in input order.
        var order = Enumerable.Range(0, examples.Count).OrderBy(i => encoded[i].Length).ToArray();
        Classifier.eval();
        using var noGrad = torch.no_grad();
        for (var start = 0; start < order.Length; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var rows = order.Skip(start).Take(batchSize).ToArray();
            var logits = Classifier.forward(Data.Batches.Inputs(rows.Select(i => encoded[i]).ToList(), Tokenizer.Vocabulary.PadId, Classifier.Encoder.Device));
            if (Head.Regression)
            {
                var scores = logits.squeeze(-1).cpu().data<float>().ToArray();
                for (var k = 0; k < rows.Length; k++) results[rows[k]] = (scores[k], []);
            }
            else
            {
                var probabilities = logits.softmax(-1).cpu();
                var width = (int)probabilities.shape[1];
                var flat = probabilities.data<float>().ToArray();
                for (var k = 0; k < rows.Length; k++)
                {
                    var p = flat.AsSpan(k * width, width).ToArray();
                    results[rows[k]] = (Array.IndexOf(p, p.Max()), p);
                }
            }
            progress?.Report(Math.Min(order.Length, start + batchSize));
        }
        return results.ToList();
    }

    public void Dispose() => Classifier.Dispose();
}
