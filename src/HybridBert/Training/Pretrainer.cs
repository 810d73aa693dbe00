using System.Diagnostics;
using HybridBert.Data;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Reproducibility;
using HybridBert.Text;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using HybridBert.Memory;

namespace HybridBert.Training;

public sealed record TrainingProgress(long Step, long MaxSteps, double Loss, double LearningRate, double TokensPerSecond, double RssMiB);

public sealed record EvalResult(double MlmLoss, double MlmAccuracy, double? SentenceAccuracy, long MaskedTokens)
{
    public double Perplexity => Math.Exp(Math.Min(MlmLoss, 50));
}

/// <summary>How a run ended. <c>TokensPerSecond</c> counts training steps only (not evaluation or checkpoints).
/// <c>BestEvalLoss</c> is null when no evaluation ran (summary.json writes <c>null</c>).</summary>
public sealed record PretrainSummary(long Steps, long Tokens, double FinalTrainLoss, EvalResult? FinalEval, double? BestEvalLoss,
    long BestStep, double TokensPerSecond, [property: System.Text.Json.Serialization.JsonPropertyName("peak_rss_mib")] double PeakRssMiB,
    double Seconds, bool Interrupted, string LastCheckpoint);

public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>
/// <c>hybridbert pretrain</c>: MLM (+ optional sentence objective) pre-training, resumable exactly.
/// One optimizer step: reseed, set the learning rate, draw the global batch and its masks, run its micro-batches
/// forward and backward (gradients accumulate), clip, step, log; every so often evaluate and checkpoint.
/// </summary>
public sealed class Pretrainer
{
    private readonly PretrainOptions options;
    private readonly IProgress<TrainingProgress>? progress;
    private readonly Action<string> log;

    /// <param name="log">Messages a user should see: what a resume continues from, leftovers removed, evaluation skipped.</param>
    public Pretrainer(PretrainOptions options, IProgress<TrainingProgress>? progress = null, Action<string>? log = null)
    {
        this.options = options.Validate();
        this.progress = progress;
        this.log = log ?? (_ => { });
    }

    public PretrainSummary Run(CancellationToken cancel = default)
    {
        using var runLock = LockRunDir(options.RunDir);
        if (options.TrimEvery > 0) NativeMemory.UseHugePages();   // before any tensor, or it changes nothing
        torch.set_num_threads(options.Threads);
        var plan = PretrainPlan.Resolve(options);
        var (opts, manifest, vocabulary, init) = (plan.Options, plan.Manifest, plan.Vocabulary, plan.InitFrom);
        PrepareRunDir(opts);

        using var train = ShardDataset.Open(opts.DataDir, "train");
        using var validation = ShardDataset.Open(opts.DataDir, "validation");
        // A shard changed on disk would train on garbage without a word: check contents, not only sizes (cheap next to training).
        train.VerifyHashes();
        validation.VerifyHashes();
        if (train.Count < opts.BatchSize)
            log($"warning: --batch {opts.BatchSize} is larger than the training split ({train.Count} sequences): every step sees some " +
                "sequences more than once");
        if (MemoryEstimate.Warning(MemoryEstimate.ActivationBytes(opts.Model, opts.MicroBatchSize, manifest.SeqLen, opts.Precision, training: true),
                $"a micro-batch of {opts.MicroBatchSize} × {manifest.SeqLen} tokens",
                    "lower --micro-batch (gradients accumulate to the same --batch) or the sequence length") is { } tight)
            log(tight);
        var canEvaluate = validation.Count > 0;
        if (!canEvaluate)
            log($"warning: {opts.DataDir} has no validation sequences (too few documents for --validation-fraction): evaluation is " +
                "skipped, no best checkpoint is chosen");
        var maxSteps = plan.MaxSteps;
        var schedule = new LearningRateSchedule(opts.LearningRate, plan.WarmupSteps, maxSteps, opts.Schedule);

        var device = Devices.Resolve(opts.Device);
        torch.manual_seed(opts.Seed);
        using var model = new HybridBertModel(opts.Model, opts.SentenceClasses);
        model.Bert.SaveMemory = opts.SaveMemory;
        if (init is not null && !opts.Resume)
        {
            // A classifier's head is not ours; a sentence head only when this run has that objective; heads the source
            // lacks (a bare BertModel has no cls.*) start as initialized.
            var ignore = opts.SentenceClasses > 0 ? new[] { "classifier." } : ["classifier.", "pooler.", "cls.seq_relationship."];
            var fresh = init.LoadInto(model, ignore, optionalPrefixes: ["cls.", "pooler."]);
            log($"initialized from {init.Description} ({init.Kind}){(fresh.Count > 0 ? $"; newly initialized: {string.Join(", ", fresh)}" : "")}");
        }
        model.to(device);   // before the fp32 masters are cloned: they live where the model does
        var precision = new MixedPrecision(model, opts.Precision);
        var optimizer = BuildOptimizer(precision.Masters, opts);
        var trainingStep = new TrainingStep(precision, optimizer, opts.MaxGradNorm, opts.TrimEvery);

        var state = new TrainerState();
        if (opts.Resume) state = Restore(opts, model, precision, optimizer, log);
        if (opts.Resume && Finished(opts, state, maxSteps, state.ElapsedSeconds))
        {
            // Nothing to train: say so and leave every file as it is (a summary written now would describe no work).
            log(state.Step >= maxSteps
                ? $"{opts.RunDir} is already complete at step {state.Step} of {maxSteps}: nothing to do. To train it further, start a " +
                    "new run from it: " +
                  $"--init-from {opts.RunDir} --out ANOTHER_DIR"
                : $"{opts.RunDir} has spent its budget ({Budgets(opts)}) at step {state.Step} of {maxSteps}: nothing to do. " +
                  "To go on, resume with a larger --max-tokens or --max-time");
            return ReadSummary(opts.RunDir) ?? new PretrainSummary(state.Step, state.Tokens, double.NaN, null,
                double.IsFinite(state.BestEvalLoss) ? state.BestEvalLoss : null, state.BestStep, 0, MemoryUsage.PeakMiB, 0, false,
                Checkpoint.List(opts.RunDir).FirstOrDefault().Folder ?? "");
        }
        var order = new DataOrder(train.Count, opts.Seed, state.Epoch, state.Position);
        var batcher = new MlmBatcher(vocabulary, opts.Masking, opts.Seed);
        using var metrics = new MetricsLog(opts.RunDir, state.Step);
        var vocabPath = Path.Combine(opts.DataDir, ShardManifest.VocabFileName);

        var clock = Stopwatch.StartNew();
        var elapsedBefore = state.ElapsedSeconds;
        var tokensAtStart = state.Tokens;
        var lastCheckpoint = Checkpoint.List(opts.RunDir).FirstOrDefault().Folder ?? "";
        double lastLoss = double.NaN;
        EvalResult? lastEval = null;
        var interrupted = false;
        var window = new Queue<(double Seconds, long Tokens)>();
        double trainingSeconds = 0;

        string SaveCheckpoint(TrainerState s)
        {
            var folder = Checkpoint.Save(opts.RunDir, s, opts, vocabPath, dir =>
            {
                SafetensorsFile.Write(Path.Combine(dir, Checkpoint.WeightsFile), precision.Fp32State(model));
                optimizer.save_state_dict(Path.Combine(dir, Checkpoint.OptimizerFile));
            });
            Checkpoint.Prune(opts.RunDir, opts.KeepLast, s.BestStep);
            return folder;
        }

        bool BudgetLeft(TrainerState s) => !Finished(opts, s, maxSteps, elapsedBefore + clock.Elapsed.TotalSeconds);

        while (BudgetLeft(state))
        {
            if (cancel.IsCancellationRequested) { interrupted = true; break; }
            var step = state.Step;
            var lr = schedule.At(step);
            double loss;
            long stepTokens;
            var stepStart = clock.Elapsed.TotalSeconds;
            using (var scope = torch.NewDisposeScope())
            {
                torch.manual_seed(Seeds.Derive(opts.Seed, SeedPurpose.Dropout, step));   // dropout: a function of the step
                batcher.Reseed(Seeds.Derive(opts.Seed, SeedPurpose.Masking, step));      // masks: likewise
                foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                model.train();

                var indices = order.Next(opts.BatchSize);
                var sequences = indices.Select(train.Read).ToList();
                using var batch = batcher.Build(sequences, device);
                if (opts.LogBatches)
                    metrics.WriteRecord("batch", step + 1, new Dictionary<string, object>
                    {
                        ["sequences"] = indices, ["masked_tokens"] = batch.MaskedCount, ["sha256"] = batch.Digest(),
                    });
                var sentences = opts.SentenceObjective == SentenceObjective.None ? 0
                    : PretrainingLoss.SentenceTargets(batch.SentenceLabels, opts.SentenceObjective).Count;
                // Micro-batches: each loss is normalized by the global batch's counts, so their sum is the step's loss.
                loss = trainingStep.Run(step, (opts.BatchSize + opts.MicroBatchSize - 1) / opts.MicroBatchSize, i =>
                {
                    var micro = batch.Slice(i * opts.MicroBatchSize, opts.MicroBatchSize);
                    return PretrainingLoss.Compute(model, micro, opts.SentenceObjective, opts.DropMask, batch.MaskedCount, sentences).Loss;
                }, value => $"The loss is {value} at step {step + 1}; stopping. " +
                            (lastCheckpoint.Length > 0 ? $"The last good checkpoint is {lastCheckpoint}." : "No checkpoint was written yet.") +
                            " Try a lower --lr, more warm-up, or --precision fp32.");
                stepTokens = batch.RealTokens;
            }
            trainingStep.Done(step);
            trainingSeconds += clock.Elapsed.TotalSeconds - stepStart;

            state = state with
            {
                Step = step + 1, Tokens = state.Tokens + stepTokens, Epoch = order.Epoch, Position = order.Position,
                ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
            };
            lastLoss = loss;
            window.Enqueue((clock.Elapsed.TotalSeconds, state.Tokens));
            while (window.Count > 20) window.Dequeue();
            var (firstSeconds, firstTokens) = window.Peek();
            var tokensPerSecond = window.Count > 1 ? (state.Tokens - firstTokens) / Math.Max(1e-9, clock.Elapsed.TotalSeconds - firstSeconds)
                : stepTokens / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
            progress?.Report(new TrainingProgress(state.Step, maxSteps, loss, lr, tokensPerSecond, MemoryUsage.CurrentMiB));

            if (state.Step % opts.LogEvery == 0 || state.Step == 1)
                metrics.Write("train", state.Step, new Dictionary<string, double>
                {
                    ["loss"] = loss, ["lr"] = lr, ["tokens"] = state.Tokens, ["tokens_per_s"] = tokensPerSecond,
                    ["elapsed_s"] = state.ElapsedSeconds, ["rss_mib"] = MemoryUsage.CurrentMiB,
                });
            var last = !BudgetLeft(state);
            var improved = false;
            if (canEvaluate && (state.Step % opts.EvalEvery == 0 || last))
            {
                lastEval = Evaluate(model, validation, vocabulary, opts);
                metrics.Write("eval", state.Step, EvalRecord(lastEval));
                if (lastEval.MlmLoss < state.BestEvalLoss)
                {
                    state = state with { BestEvalLoss = lastEval.MlmLoss, BestStep = state.Step };
                    improved = true;
                }
            }
            // A new best is checkpointed at once: the best step always has a folder (what fine-tuning takes from a run).
            if (state.Step % opts.CheckpointEvery == 0 || last || improved) lastCheckpoint = SaveCheckpoint(state);
        }

        if (interrupted && Checkpoint.List(opts.RunDir).FirstOrDefault().Step != state.Step)
            lastCheckpoint = SaveCheckpoint(state with { ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds });

        var runTokens = state.Tokens - tokensAtStart;
        var summary = new PretrainSummary(state.Step, state.Tokens, lastLoss, lastEval,
            double.IsFinite(state.BestEvalLoss) ? state.BestEvalLoss : null, state.BestStep,
            runTokens / Math.Max(1e-9, trainingSeconds), MemoryUsage.PeakMiB, clock.Elapsed.TotalSeconds, interrupted, lastCheckpoint);
        WriteReport(opts, summary);
        return summary;
    }

    /// <summary>One writer per run folder, for the whole run; a folder that cannot be written says so by name.</summary>
    private static IO.PathLock LockRunDir(string runDir)
    {
        try
        {
            return IO.PathLock.Acquire(runDir);
        }
        catch (Exception e) when (e is IOException and not IO.PathInUseException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot write to the run directory {runDir}: {e.Message}", e);
        }
    }

    /// <summary>Whether a run has no budget left after <paramref name="elapsedSeconds"/>: its steps, tokens or time are spent
    /// (what ends the loop, and what makes a resumed run already complete).</summary>
    private static bool Finished(PretrainOptions opts, TrainerState state, long maxSteps, double elapsedSeconds) =>
        state.Step >= maxSteps || (opts.MaxTokens is { } mt && state.Tokens >= mt)
        || (opts.MaxTime is { } time && elapsedSeconds >= time.TotalSeconds);

    private static string Budgets(PretrainOptions o) => string.Join(", ",
        new[] { o.MaxTokens is { } t ? $"--max-tokens {t}" : null, o.MaxTime is { } m ? $"--max-time {m}" : null }.OfType<string>());

    public const string SummaryFile = "summary.json";

    /// <summary>The run's summary.json, or null when it has none (or an unreadable one).</summary>
    public static PretrainSummary? ReadSummary(string runDir)
    {
        var path = Path.Combine(runDir, SummaryFile);
        try
        {
            return File.Exists(path)
                ? System.Text.Json.JsonSerializer.Deserialize<PretrainSummary>(File.ReadAllText(path), IO.JsonFiles.Options) : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static Dictionary<string, double> EvalRecord(EvalResult e)
    {
        var record = new Dictionary<string, double>
        {
            ["mlm_loss"] = e.MlmLoss, ["mlm_accuracy"] = e.MlmAccuracy, ["perplexity"] = e.Perplexity, ["masked_tokens"] = e.MaskedTokens,
        };
        if (e.SentenceAccuracy is { } s) record["sentence_accuracy"] = s;
        return record;
    }

    /// <summary>
    /// MLM loss, accuracy and perplexity (and sentence accuracy) on the validation split, with masks from a fixed
    /// seed: the same positions for every evaluation, run and model, so numbers compare. With DropMask the model
    /// sees its inputs as in training. Scores the first <see cref="PretrainOptions.EvalSequences"/> sequences,
    /// <c>--micro-batch</c> at a time: the masks are drawn sequence by sequence from one generator, so what is scored
    /// does not depend on the micro-batch.
    /// </summary>
    public static EvalResult Evaluate(HybridBertModel model, ShardDataset data, Vocabulary vocabulary, PretrainOptions options)
    {
        var batcher = new MlmBatcher(vocabulary, options.Masking, options.EvalSeed);
        double lossSum = 0, correct = 0, sentenceCorrect = 0;
        long masked = 0, sentences = 0;
        var toScore = options.EvalSequences(data.Count);
        var batches = (int)Math.Ceiling(toScore / (double)options.MicroBatchSize);
        model.eval();
        using var noGrad = torch.no_grad();
        for (var b = 0; b < batches; b++)
        {
            using (var scope = torch.NewDisposeScope())
            {
                var first = (long)b * options.MicroBatchSize;
                var sequences = Enumerable.Range(0,
                    (int)Math.Min(options.MicroBatchSize, toScore - first)).Select(i => data.Read(first + i)).ToList();
                using var batch = batcher.Build(sequences, model.Device);
                var sentenceCount = options.SentenceObjective == SentenceObjective.None ? 0 :
                    PretrainingLoss.SentenceTargets(batch.SentenceLabels, options.SentenceObjective).Count;
                var r = PretrainingLoss.Compute(model, batch, options.SentenceObjective, options.DropMask, batch.MaskedCount, sentenceCount);
                lossSum += r.MlmLossSum.item<float>();
                correct += r.MlmCorrect.item<long>();
                masked += batch.MaskedCount;
                if (r.SentenceCorrect is not null)
                {
                    sentenceCorrect += r.SentenceCorrect.item<long>();
                    sentences += r.SentenceCount;
                }
                if (b == 0) IO.PausePoints.Reach("eval");
            }
            NativeMemory.AfterInferenceBatch();
        }
        model.train();
        return new EvalResult(lossSum / Math.Max(1, masked), correct / Math.Max(1, masked),
            options.SentenceObjective == SentenceObjective.None ? null : sentenceCorrect / Math.Max(1, sentences), masked);
    }

    private static AdamW BuildOptimizer(IReadOnlyList<(string Name, Parameter Parameter)> parameters, PretrainOptions o)
    {
        var groups = new List<AdamW.ParamGroup>
        {
            new(parameters.Where(p => WeightDecay.AppliesTo(p.Name)).Select(p => p.Parameter), new AdamW.Options { weight_decay = o.WeightDecay }),
            new(parameters.Where(p => !WeightDecay.AppliesTo(p.Name)).Select(p => p.Parameter), new AdamW.Options { weight_decay = 0 }),
        };
        return torch.optim.AdamW(groups, o.LearningRate, o.AdamBeta1, o.AdamBeta2, o.AdamEpsilon);
    }

    private static TrainerState Restore(PretrainOptions opts, HybridBertModel model, MixedPrecision precision, AdamW optimizer, Action<string> log)
    {
        var (folder, saved) = Checkpoint.NewestValid(opts.RunDir, opts.ResumeStrict, log);
        Checkpoint.CheckSameModel(saved.Options.Model, opts.Model, folder);
        if (saved.Options.SentenceObjective != opts.SentenceObjective)
            throw new InvalidDataException($"Cannot resume from {folder}: it was trained with --sentence-objective " +
                $"{saved.Options.SentenceObjective}, now {opts.SentenceObjective}");
        var changed = PretrainOptions.ScheduleDifferences(saved.Options, opts);
        if (changed.Count > 0)
            throw new ArgumentException($"--resume would not continue the run in {opts.RunDir}: {string.Join("; ", changed)}. " +
                "These set the learning-rate schedule, the data or the masks; resume with the values in " +
                    $"{Path.Combine(folder, Checkpoint.TrainerFile)} " +
                "(--resume alone takes them), or start a new run in another --out" +
                (saved.Options.MaxSteps != opts.MaxSteps
                    ? $"; to train this model for more steps, start a new run from it: --init-from {opts.RunDir} --out ANOTHER_DIR" : ""));
        log($"resuming from {folder}: step {saved.State.Step}, {saved.State.Tokens:N0} tokens, epoch {saved.State.Epoch}");
        WeightLoader.Load(model, Path.Combine(folder, Checkpoint.WeightsFile));
        if (precision.Enabled)
            using (torch.no_grad())
            {
                var weights = SafetensorsFile.Read(Path.Combine(folder, Checkpoint.WeightsFile));
                foreach (var (name, master) in precision.Masters) master.copy_(weights[name]);
            }
        optimizer.load_state_dict(Path.Combine(folder, Checkpoint.OptimizerFile));
        return saved.State;
    }

    /// <summary>Outputs of a run; a folder holding any of them (or a complete checkpoint) is a run that <c>--resume</c>
    /// continues or <c>--overwrite</c> replaces.</summary>
    private static readonly string[] RunOutputs = ["checkpoints", "tensorboard", "metrics.jsonl", SummaryFile, "loss.png"];

    private void PrepareRunDir(PretrainOptions opts)
    {
        var runDir = opts.RunDir;
        IO.StaleTemporaries.Remove(Checkpoint.Folder(runDir), ".step-*.tmp-*", log);
        var leftovers = RunOutputs.Where(o => o != "checkpoints" && Path.Exists(Path.Combine(runDir, o))).ToList();
        if (Checkpoint.List(runDir).Count == 0 && leftovers.Count > 0)
        {
            // A run that failed before its first checkpoint (out of memory, a bad flag caught late, Ctrl-C in step 1) has
            // nothing to resume or to protect: its logs describe steps no checkpoint holds. Clear them so it can start again.
            if (opts.Resume)
                throw new InvalidDataException($"--resume: {runDir} holds no checkpoint to continue from (the earlier run stopped before " +
                    "its first one, " +
                                               $"leaving only {string.Join(", ", leftovers)}): start it again without --resume");
            RemoveOutputs(runDir);
            log($"removed {string.Join(", ", leftovers)} in {runDir}, left by a run that stopped before its first checkpoint");
        }
        var holdsRun = Checkpoint.List(runDir).Count > 0 || RunOutputs.Where(o => o != "checkpoints").Any(o => Path.Exists(Path.Combine(runDir, o)));
        if (!opts.Resume && holdsRun)
        {
            if (!opts.Overwrite)
                throw new IO.OutputExistsException(runDir, "a run", resumable: true);
            RemoveOutputs(runDir);
            log($"--overwrite: removed the earlier run's outputs in {runDir}");
        }
        try
        {
            Directory.CreateDirectory(runDir);
            var probe = Path.Combine(runDir, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot write to the run directory {runDir}: {e.Message}", e);
        }
    }

    private static void RemoveOutputs(string runDir)
    {
        foreach (var o in RunOutputs.Select(o => Path.Combine(runDir, o)))
            if (Directory.Exists(o)) Directory.Delete(o, recursive: true);
            else if (File.Exists(o)) File.Delete(o);
    }

    private static void WriteReport(PretrainOptions opts, PretrainSummary summary)
    {
        LossPlot.Save(Path.Combine(opts.RunDir, "loss.png"), $"{opts.Model.LayerPattern}: MLM loss", [
            (opts.SentenceObjective == SentenceObjective.None ? "train MLM" :
                $"train (MLM + {opts.SentenceObjective.ToString().ToLowerInvariant()})", MetricsLog.Read(opts.RunDir, "train", "loss")),
            ("validation MLM", MetricsLog.Read(opts.RunDir, "eval", "mlm_loss")),
        ]);
        IO.AtomicFile.WriteAllText(Path.Combine(opts.RunDir, SummaryFile), System.Text.Json.JsonSerializer.Serialize(summary, IO.JsonFiles.Options));
    }
}
