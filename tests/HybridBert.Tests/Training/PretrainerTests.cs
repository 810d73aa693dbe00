using HybridBert.Data;
using HybridBert.Model;
using HybridBert.Training;
using TorchSharp;

namespace HybridBert.Tests.Training;

/// <summary>Prepared once for the class: a small slice of the embedded corpus as 32-token sequences.</summary>
public sealed class TinyData : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("hybridbert-pretrain-").FullName;
    public string DataDir => Path.Combine(Root, "data");

    public TinyData()
    {
        var corpus = Path.Combine(Root, "corpus.txt");
        var documents = new CorpusReader().Read(CorpusSource.Default()).Where(d => d.Source.Contains("moby")).Take(12);
        File.WriteAllLines(corpus, documents.SelectMany(d => d.Paragraphs.Append("")));
        DataPreparation.Run(CorpusSource.Resolve([corpus]), EmbeddedData.Vocabulary(), DataDir,
            new PrepareOptions { SeqLen = 32, ValidationFraction = 0.25 });
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class PretrainerTests(TinyData data) : IClassFixture<TinyData>
{
    private PretrainOptions Options(string run, string pattern = "PA", long steps = 6) => new()
    {
        DataDir = data.DataDir,
        RunDir = Path.Combine(data.Root, run),
        Model = Presets.Build("tiny", pattern, 8192) with { MaxPositionEmbeddings = 64, HiddenDropoutProb = 0.1, AttentionProbsDropoutProb = 0.1 },
        BatchSize = 8,
        MaxSteps = steps,
        LearningRate = 3e-3,
        WarmupSteps = 1,
        EvalEvery = 1000,
        EvalBatches = 4,
        LogEvery = 1,
        CheckpointEvery = 1000,
        Threads = 2,
    };

    private static List<(long Step, double Value)> Losses(PretrainOptions o) => MetricsLog.Read(o.RunDir, "train", "loss");

    [Fact]
    public void Loss_falls_on_a_small_corpus()
    {
        var options = Options("falls", steps: 40) with { EvalEvery = 40, SentenceObjective = SentenceObjective.Sso };
        var summary = new Pretrainer(options).Run();
        var losses = Losses(options);
        Assert.Equal(40, summary.Steps);
        Assert.True(losses.TakeLast(5).Average(l => l.Value) < losses.Take(5).Average(l => l.Value) - 1.0,
            $"loss went from {losses.Take(5).Average(l => l.Value):F3} to {losses.TakeLast(5).Average(l => l.Value):F3}");
        Assert.NotNull(summary.FinalEval);
        Assert.NotNull(summary.FinalEval!.SentenceAccuracy);
        Assert.True(File.Exists(Path.Combine(options.RunDir, "loss.png")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(options.RunDir, "tensorboard")));
    }

    [Fact]
    public void A_resumed_run_reproduces_the_uninterrupted_losses()
    {
        var straight = Options("straight", steps: 6) with { CheckpointEvery = 3 };
        new Pretrainer(straight).Run();

        var broken = Options("broken", steps: 6) with { CheckpointEvery = 3 };
        using (var stopAfterThree = new CancellationTokenSource())
        {
            var progress = new SynchronousProgress<TrainingProgress>(p => { if (p.Step == 3) stopAfterThree.Cancel(); });
            var first = new Pretrainer(broken, progress).Run(stopAfterThree.Token);
            Assert.True(first.Interrupted);
            Assert.Equal(3, first.Steps);
        }
        var resumed = new Pretrainer(broken with { Resume = true }).Run();

        Assert.Equal(6, resumed.Steps);
        var expected = Losses(straight);
        var actual = Losses(broken);
        Assert.Equal(expected.Select(l => l.Step), actual.Select(l => l.Step));
        foreach (var ((step, e), (_, a)) in expected.Zip(actual))
            Assert.True(Math.Abs(e - a) < 1e-5, $"step {step}: uninterrupted {e}, resumed {a}");
    }

    [Fact]
    public void Saving_memory_trains_to_exactly_the_same_losses()
    {
        // Dropout on (0.1), so the 1-byte dropout masks and the recomputed FFN activation are both exercised.
        var plain = Options("plain-memory", steps: 4);
        var lean = plain with { RunDir = Path.Combine(data.Root, "save-memory"), SaveMemory = true };
        new Pretrainer(plain).Run();
        new Pretrainer(lean).Run();
        var expected = Losses(plain);
        Assert.Equal(4, expected.Count);
        Assert.Equal(expected, Losses(lean));   // bitwise: same draws, same arithmetic
    }

    [Fact]
    public void Gradient_accumulation_over_four_micro_batches_equals_one_big_batch()
    {
        var whole = Options("whole", steps: 3) with { BatchSize = 16,
            Model = Options("x").Model with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 } };
        var accumulated = whole with { RunDir = Path.Combine(data.Root, "accumulated"), MicroBatch = 4 };
        new Pretrainer(whole).Run();
        new Pretrainer(accumulated).Run();
        foreach (var ((step, e), (_, a)) in Losses(whole).Zip(Losses(accumulated)))
            Assert.True(Math.Abs(e - a) < 1e-4, $"step {step}: batch 16 gave {e}, 4×4 gave {a}");
    }

    [Theory]
    [InlineData(Precision.Fp32)]
    [InlineData(Precision.Bf16)]
    public void Both_precisions_train(Precision precision)
    {
        var options = Options($"precision-{precision}", steps: 25) with { Precision = precision };
        new Pretrainer(options).Run();
        var losses = Losses(options);
        Assert.True(losses.TakeLast(3).Average(l => l.Value) < losses.Take(3).Average(l => l.Value) - 0.5, $"{precision} did not learn");
    }

    [Fact]
    public void Dropmask_changes_training_only_when_mask_tokens_exist()
    {
        PretrainOptions Run(string name, bool dropMask, string split)
        {
            var (mask, random) = MaskingOptions.ParseSplit(split);
            var o = Options(name, steps: 3) with { DropMask = dropMask,
                Masking = new MaskingOptions { MaskFraction = mask, RandomFraction = random } };
            new Pretrainer(o).Run();
            return o;
        }
        // No [MASK] is ever inserted with a 0/50/50 split: DropMask has nothing to drop and changes nothing.
        Assert.Equal(Losses(Run("plain-nomask", false, "0/50/50")), Losses(Run("drop-nomask", true, "0/50/50")));
        Assert.NotEqual(Losses(Run("plain", false, "80/10/10")), Losses(Run("drop", true, "80/10/10")));
    }

    [Fact]
    public void A_diverging_loss_stops_the_run_naming_the_step_and_keeps_the_last_good_checkpoint()
    {
        var options = Options("nan", steps: 50) with { LearningRate = 1e12, WarmupSteps = 0, MaxGradNorm = 1e30, CheckpointEvery = 1,
            Precision = Precision.Fp32 };
        var error = Assert.Throws<TrainingDivergedException>(() => new Pretrainer(options).Run());
        Assert.Matches(@"at step \d+", error.Message);
        var checkpoints = Checkpoint.List(options.RunDir);
        Assert.NotEmpty(checkpoints);
        Checkpoint.Read(checkpoints[0].Folder);   // the kept checkpoint is complete and intact
        Assert.Contains(checkpoints[0].Folder, error.Message);
    }

    [Fact]
    public void A_corrupt_newest_checkpoint_is_set_aside_and_the_run_resumes_from_the_newest_valid_one_unless_strict()
    {
        var straight = Options("straight-4", steps: 4) with { CheckpointEvery = 2 };
        new Pretrainer(straight).Run();
        var options = Options("corrupt", steps: 4) with { CheckpointEvery = 2 };
        new Pretrainer(options).Run();
        var newest = Checkpoint.List(options.RunDir)[0];
        Assert.Equal(4, newest.Step);
        var weights = Path.Combine(newest.Folder, Checkpoint.WeightsFile);
        var bytes = File.ReadAllBytes(weights);
        bytes[^5] ^= 0x55;
        File.WriteAllBytes(weights, bytes);

        var strict = Assert.Throws<InvalidDataException>(() => new Pretrainer(options with { Resume = true, ResumeStrict = true }).Run());
        Assert.Contains($"step-4: corrupted checkpoint, {Checkpoint.WeightsFile} does not match its recorded SHA-256", strict.Message);
        Assert.True(Directory.Exists(newest.Folder), "--resume-strict leaves the corrupt checkpoint where it was");

        var messages = new List<string>();
        var summary = new Pretrainer(options with { Resume = true }, log: messages.Add).Run();
        Assert.Contains(messages, m => m.StartsWith("warning: ") && m.Contains(Checkpoint.WeightsFile) && m.Contains("corrupt-step-4"));
        Assert.Contains(messages, m => m.Contains("resuming from") && m.Contains("step 2"));
        Assert.True(Directory.Exists(Path.Combine(Checkpoint.Folder(options.RunDir), "corrupt-step-4")));
        Assert.Equal(4, summary.Steps);
        Assert.Equal(Losses(straight), Losses(options));   // steps 3 and 4 run again, as in the uninterrupted run
        Checkpoint.Read(Checkpoint.List(options.RunDir)[0].Folder);
    }

    [Fact]
    public void Every_evaluation_that_improves_the_best_score_is_checkpointed()
    {
        var options = Options("best", steps: 6) with { EvalEvery = 2, CheckpointEvery = 1000, KeepLast = 1 };
        var summary = new Pretrainer(options).Run();
        var evals = MetricsLog.Read(options.RunDir, "eval", "mlm_loss");
        Assert.Equal([2, 4, 6], evals.Select(e => e.Step));
        var bestStep = evals.MinBy(e => e.Value).Step;
        Assert.Equal(bestStep, summary.BestStep);
        var folders = Checkpoint.List(options.RunDir);
        Assert.Contains(folders, c => c.Step == bestStep);
        Assert.Equal(Path.Combine(Checkpoint.Folder(options.RunDir), $"step-{bestStep}"),
            HybridBert.Interop.ModelSource.CheckpointFolder(options.RunDir));
    }

    [Fact]
    public void Evaluation_scores_the_same_sequences_and_masks_whatever_the_micro_batch()
    {
        var options = Options("eval-micro") with { EvalBatches = 2 };
        var manifest = ShardManifest.Load(data.DataDir);
        var vocabulary = manifest.LoadVocabulary(data.DataDir);
        using var validation = ShardDataset.Open(data.DataDir, "validation");
        torch.manual_seed(3);
        using var model =
            new HybridBertModel(options.Model with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0, ClsTokenId = vocabulary.ClsId,
            SepTokenId = vocabulary.SepId });
        var whole = Pretrainer.Evaluate(model, validation, vocabulary, options);
        var micro = Pretrainer.Evaluate(model, validation, vocabulary, options with { MicroBatch = 2 });
        var odd = Pretrainer.Evaluate(model, validation, vocabulary, options with { BatchSize = 16, MicroBatch = 16, EvalBatches = 1 });

        Assert.True(validation.Count >= 16, $"the validation split has {validation.Count} sequences; the test needs 16");
        Assert.Equal(whole.MaskedTokens, micro.MaskedTokens);
        Assert.Equal(whole.MaskedTokens, odd.MaskedTokens);   // 2 batches of 8 = 1 batch of 16
        Assert.Equal(whole.MlmLoss, micro.MlmLoss, 4);
        Assert.Equal(whole.MlmAccuracy, micro.MlmAccuracy, 6);
        Assert.Equal(whole.MlmLoss, odd.MlmLoss, 4);
    }

    [Fact]
    public void Resuming_with_another_model_or_data_from_another_vocabulary_is_refused()
    {
        var options = Options("mismatch", steps: 2) with { CheckpointEvery = 2 };
        new Pretrainer(options).Run();
        var error =
            Assert.Throws<InvalidDataException>(() =>
            new Pretrainer(options with { Resume = true, MaxSteps = 4, Model = options.Model with { LayerPattern = "AA" } }).Run());
        Assert.Contains("layer_pattern: checkpoint PA, now AA", error.Message);

        var wrongVocab =
            Assert.Throws<InvalidDataException>(() =>
            new Pretrainer(Options("vocab") with { Model = options.Model with { VocabSize = 30522 } }).Run());
        Assert.Contains("vocab_size=30522", wrongVocab.Message);
    }

    [Fact]
    public void An_unwritable_run_directory_is_a_clear_error()
    {
        var file = Path.Combine(data.Root, "a-file");
        File.WriteAllText(file, "");
        var error = Assert.Throws<IOException>(() => new Pretrainer(Options("x") with { RunDir = Path.Combine(file, "run") }).Run());
        Assert.Contains("Cannot write to the run directory", error.Message);
    }
}
