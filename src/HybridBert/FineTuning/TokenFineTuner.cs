using System.Diagnostics;
using System.Text.Json;
using HybridBert.Memory;
using HybridBert.Model;
using HybridBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.FineTuning;

/// <summary>
/// <c>hybridbert finetune --task-type token</c>: for each seed, a <see cref="TokenClassifier"/> on the pre-trained
/// encoder, trained on windows of whole words (the first piece of each word carries its tag), with the same optimizer,
/// schedule, training step, length-grouped batches, early stopping and outputs as sequence classification
/// (<see cref="FineTuner"/>): <c>seed-N/</c> model folders and <c>results.json</c>. Dev is scored each epoch by token
/// accuracy, and for entity tags by seqeval's F1, which then selects the model.
/// </summary>
public sealed class TokenFineTuner(FineTuneOptions options, IProgress<FineTuneProgress>? progress = null)
{
    public FineTuneSummary Run(CancellationToken cancel = default)
    {
        options.Validate();
        using var outLock = IO.PathLock.Acquire(options.OutDir);
        FineTuner.PrepareOutDir(options);
        torch.set_num_threads(options.Threads);
        var device = Devices.Resolve(options.Device);
        var task = TokenTaskData.Load(options.Task);
        if (task.Report.EmptySentences > 0)
            Console.Error.WriteLine($"warning: {task.Report.EmptySentences} empty sentence(s) skipped (tokens: [])");
        if (options.MaxTrainExamples is { } cap && cap < task.Train.Count) task.Train.RemoveRange(cap, task.Train.Count - cap);
        var (config, vocabulary, source, lowercase, encoderName) = FineTuner.ResolveEncoder(options);
        config = config with { HiddenDropoutProb = options.Dropout, AttentionProbsDropoutProb = options.Dropout };
        var tokenizer = new Text.BertTokenizer(vocabulary, lowercase);
        var labelIds = task.Labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
        var train =
            task.Train.SelectMany((s, i) => TokenWindow.Of(tokenizer, s.Words, s.Tags.Select(t => labelIds[t]).ToArray(), options.MaxLength, i))
            .ToList();
        Directory.CreateDirectory(options.OutDir);
        var head = new TokenHead(task.Name, task.Labels, options.MaxLength, lowercase);

        var results = new List<SeedResult>();
        foreach (var seed in options.Seeds)
        {
            var result = TrainSeed(seed, task, head, config, source, tokenizer, train, device, cancel);
            NativeMemory.Trim();
            results.Add(result with { RssMiB = MemoryUsage.CurrentMiB });
        }
        var summary = new FineTuneSummary(task.Name, encoderName, results, FineTuner.Aggregate(results.Select(r => r.Dev)),
            results.All(r => r.Test is not null) ? FineTuner.Aggregate(results.Select(r => r.Test!)) : null, MajorityBaseline(task));
        IO.AtomicFile.WriteAllText(Path.Combine(options.OutDir, FineTuneResults.FileName),
            JsonSerializer.Serialize(FineTuneResults.From(summary), IO.JsonFiles.Options));
        return summary;
    }

    private SeedResult TrainSeed(int seed, TokenTaskData task, TokenHead head, EncoderConfig config, Interop.ModelSource? source,
        Text.BertTokenizer tokenizer, List<TokenWindow> train, Device device, CancellationToken cancel)
    {
        cancel.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        torch.manual_seed(seed);
        using var classifier = new TokenClassifier(config, task.Labels.Count);
        source?.LoadInto(classifier.Encoder, ignorePrefixes: ["cls.", "classifier.", "pooler."]);
        classifier.to(device);
        var tagger = new TokenTagger(classifier, tokenizer, head);   // shares (does not own twice) the classifier above
        var rows = train.Select(w => w.Encoded).ToList();
        var metric = TokenTagger.ScoreMetric(task.Scheme);

        Dictionary<string, double> Score(string split, List<TaggedSentence> sentences, TrainingPosition at)
        {
            progress?.Report(new FineTuneProgress(seed, at.Epoch, at.Step, at.TotalSteps, double.NaN, null, split, 0, sentences.Count));
            classifier.eval();
            var metrics = tagger.Evaluate(sentences, cancel);
            progress?.Report(new FineTuneProgress(seed, at.Epoch, at.Step, at.TotalSteps, double.NaN, null, split, sentences.Count,
                sentences.Count));
            return metrics;
        }

        var (bestEpoch, bestStep, dev) = SeedTraining.Run(options, classifier, config.NumHiddenLayers, rows, seed, batch =>
        {
            var logits = classifier.forward(Data.Batches.Inputs(batch.Select(i => rows[i]).ToList(), tokenizer.Vocabulary.PadId, device));
            var width = (int)logits.shape[1];
            var targets = new long[batch.Length * width];
            Array.Fill(targets, TokenWindow.Ignore);
            for (var r = 0; r < batch.Length; r++)
                for (var p = 0; p < train[batch[r]].Labels.Length; p++) targets[r * width + p] = train[batch[r]].Labels[p];
            return nn.functional.cross_entropy(logits.reshape(-1, task.Labels.Count), torch.tensor(targets, device: device),
                ignore_index: TokenWindow.Ignore);
        }, at =>
        {
            var metrics = Score("dev", task.Dev, at);
            return (metrics[metric], metrics);
        }, progress, cancel);

        var folder = Path.Combine(options.OutDir, $"seed-{seed}");
        tagger.Save(folder);
        // dev is the best scoring's own metrics: those weights, in eval mode, score the same again.
        var test = task.Test is { Count: > 0 } t ? Score("test", t, new TrainingPosition(bestEpoch, bestStep, bestStep)) : null;
        return new SeedResult(seed, bestEpoch, bestStep, dev, test, null, clock.Elapsed.TotalSeconds, folder);
    }

    /// <summary>Token accuracy of always answering the most frequent training tag on dev.</summary>
    public static double MajorityBaseline(TokenTaskData task)
    {
        var majority = task.Train.SelectMany(s => s.Tags).GroupBy(t => t).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .First().Key;
        var words = task.Dev.Sum(s => s.Tags.Count);
        return words == 0 ? double.NaN : task.Dev.Sum(s => s.Tags.Count(t => t == majority)) / (double)words;
    }
}
