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
    public const string WeightsFile = "model.safetensors", ConfigFile = "config.json", VocabFile = "vocab.txt", TaskFile = "task.json";

    public static readonly JsonSerializerOptions Json = Training.Checkpoint.Json;

    public SequenceClassifier Classifier { get; }
    public BertTokenizer Tokenizer { get; }
    public TaskHead Head { get; }

    public FineTunedModel(SequenceClassifier classifier, BertTokenizer tokenizer, TaskHead head) =>
        (Classifier, Tokenizer, Head) = (classifier, tokenizer, head);

    public static FineTunedModel Load(string folder)
    {
        foreach (var f in new[] { WeightsFile, ConfigFile, VocabFile, TaskFile })
            if (!File.Exists(Path.Combine(folder, f)))
                throw new FileNotFoundException($"{folder} is not a fine-tuned model folder: {f} is missing (use a seed-N folder written by `hybridbert finetune`)");
        var head = JsonSerializer.Deserialize<TaskHead>(File.ReadAllText(Path.Combine(folder, TaskFile)), Json)!;
        var config = EncoderConfig.Load(Path.Combine(folder, ConfigFile));
        var vocabulary = Vocabulary.Load(Path.Combine(folder, VocabFile));
        if (vocabulary.Count != config.VocabSize)
            throw new InvalidDataException($"{folder}: vocab.txt has {vocabulary.Count} tokens but config.json says vocab_size={config.VocabSize}");
        var classifier = new SequenceClassifier(config, head.Regression ? 1 : head.Labels.Count, head.Pooling);
        WeightLoader.Load(classifier, Path.Combine(folder, WeightsFile));
        classifier.eval();
        return new FineTunedModel(classifier, new BertTokenizer(vocabulary, head.Lowercase), head);
    }

    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        WeightLoader.Save(Classifier, Path.Combine(folder, WeightsFile));
        File.WriteAllText(Path.Combine(folder, ConfigFile), Classifier.Config.ToJson());
        Tokenizer.Vocabulary.Save(Path.Combine(folder, VocabFile));
        File.WriteAllText(Path.Combine(folder, TaskFile), JsonSerializer.Serialize(Head, Json));
    }

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
            var logits = Classifier.forward(Batches.Inputs(rows.Select(i => encoded[i]).ToList(), Tokenizer.Vocabulary.PadId));
            if (Head.Regression)
            {
                var scores = logits.squeeze(-1).data<float>().ToArray();
                for (var k = 0; k < rows.Length; k++) results[rows[k]] = (scores[k], []);
            }
            else
            {
                var probabilities = logits.softmax(-1);
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

/// <summary>Padding encoded texts into one batch.</summary>
public static class Batches
{
    public static EncoderInputs Inputs(IReadOnlyList<EncodedText> rows, int padId)
    {
        var length = rows.Max(r => r.Length);
        var ids = new long[rows.Count * length];
        var mask = new long[rows.Count * length];
        var types = new long[rows.Count * length];
        Array.Fill(ids, padId);
        for (var b = 0; b < rows.Count; b++)
            for (var i = 0; i < rows[b].Length; i++)
            {
                ids[b * length + i] = rows[b].InputIds[i];
                mask[b * length + i] = rows[b].AttentionMask[i];
                types[b * length + i] = rows[b].TokenTypeIds[i];
            }
        return new EncoderInputs(torch.tensor(ids, [rows.Count, length]), torch.tensor(mask, [rows.Count, length]), torch.tensor(types, [rows.Count, length]));
    }
}
