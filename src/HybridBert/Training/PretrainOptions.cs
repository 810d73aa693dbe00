using HybridBert.Data;
using HybridBert.Model;
using HybridBert.Memory;

namespace HybridBert.Training;

public enum SentenceObjective { None, Nsp, Sso }

public enum Precision { Fp32, Bf16 }

public enum LrSchedule { Linear, Cosine }

/// <summary>Everything a pre-training run is made of. Recorded in every checkpoint.</summary>
public sealed record PretrainOptions
{
    /// <summary>Every default in one instance: the CLI shows and uses these (it declares none of its own).</summary>
    public static PretrainOptions Defaults { get; } = new() { DataDir = "", RunDir = "", Model = Presets.Mini };

    public required string DataDir { get; init; }
    public required string RunDir { get; init; }
    public required EncoderConfig Model { get; init; }

    /// <summary>Start from this model's weights and take its architecture (<see cref="Model"/> is replaced by its config):
    /// a pre-training run or checkpoint, a fine-tuned folder or a Hugging Face model folder
    /// (<see cref="Interop.ModelSource"/>). The data must be prepared with the model's vocabulary. Null = random initialization.</summary>
    public string? InitFrom { get; init; }

    /// <summary>Hidden and attention dropout for this run, overriding the model config's (0 = off, as the Cramming recipe pre-trains).</summary>
    public double? Dropout { get; init; }
    /// <summary>Std of the normal weight initialization, overriding the model config's <c>initializer_range</c>.</summary>
    public double? InitializerRange { get; init; }

    public SentenceObjective SentenceObjective { get; init; } = SentenceObjective.None;
    public MaskingOptions Masking { get; init; } = new();
    /// <summary>Hide [MASK] positions from every other token's context (DropMask).</summary>
    public bool DropMask { get; init; }

    /// <summary>Global batch (sequences per optimizer step).</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Sequences per forward/backward; gradients accumulate over BatchSize / MicroBatch of them.</summary>
    public int? MicroBatch { get; init; }
    public double LearningRate { get; init; } = 5e-4;
    public double WeightDecay { get; init; } = 0.01;
    public double AdamBeta1 { get; init; } = 0.9;
    public double AdamBeta2 { get; init; } = 0.999;
    public double AdamEpsilon { get; init; } = 1e-6;
    /// <summary>Warm-up steps; null: <see cref="PretrainPlan.DefaultWarmupFraction"/> of the step budget.</summary>
    public int? WarmupSteps { get; init; }
    public LrSchedule Schedule { get; init; } = LrSchedule.Linear;
    public double MaxGradNorm { get; init; } = 1.0;
    public Precision Precision { get; init; } = Precision.Fp32;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>cpu, cuda, cuda:N or auto (<see cref="Devices"/>).</summary>
    public string Device { get; init; } = "cpu";
    public int Seed { get; init; } = 42;
    /// <summary>Return freed native memory to the OS every this many steps (0 = never): memory vs speed, see NativeMemory.</summary>
    public int TrimEvery { get; init; } = 1;
    /// <summary>Keep less for backward at some compute (<see cref="Model.HybridBertEncoder.SaveMemory"/>); results unchanged.</summary>
    public bool SaveMemory { get; init; }

    /// <summary>The step budget, which is also the length of the learning-rate schedule.</summary>
    public long? MaxSteps { get; init; }
    public long? MaxTokens { get; init; }
    public TimeSpan? MaxTime { get; init; }

    public int LogEvery { get; init; } = 10;
    /// <summary>Also log every step's data to metrics.jsonl (type "batch"): the sequence indices drawn and a SHA-256
    /// of the masked input ids, masked positions and their targets — what two runs must share to be comparable.</summary>
    public bool LogBatches { get; init; }
    public int EvalEvery { get; init; } = 200;
    /// <summary>Validation batches of <see cref="BatchSize"/> sequences per evaluation (null: the whole split); see
    /// <see cref="EvalSequences"/>.</summary>
    public int? EvalBatches { get; init; } = 50;
    public int EvalSeed { get; init; } = 20231;
    public int CheckpointEvery { get; init; } = 500;
    public int KeepLast { get; init; } = 2;
    public bool Resume { get; init; }
    /// <summary>With <see cref="Resume"/>: stop on a corrupt newest checkpoint instead of falling back to an older valid one.</summary>
    public bool ResumeStrict { get; init; }
    /// <summary>Replace an earlier run's outputs in <see cref="RunDir"/> (without it, a folder holding a run is refused
    /// unless <see cref="Resume"/>).</summary>
    public bool Overwrite { get; init; }

    public int MicroBatchSize => Math.Min(MicroBatch ?? BatchSize, BatchSize);
    /// <summary>How many validation sequences an evaluation scores (of <paramref name="available"/>): EvalBatches global
    /// batches, whatever the micro-batch, so that changing --micro-batch changes only the memory, not the numbers.</summary>
    public long EvalSequences(long available) => EvalBatches is { } b ? Math.Min(available, (long)b * BatchSize) : available;
    public int SentenceClasses => SentenceObjective switch { SentenceObjective.Nsp => 2, SentenceObjective.Sso => 3, _ => 0 };

    /// <summary>The model this run trains: <see cref="Model"/> with the <see cref="Dropout"/> and <see cref="InitializerRange"/> overrides.</summary>
    public EncoderConfig EffectiveModel => Model with
    {
        HiddenDropoutProb = Dropout ?? Model.HiddenDropoutProb, AttentionProbsDropoutProb = Dropout ?? Model.AttentionProbsDropoutProb,
        InitializerRange = InitializerRange ?? Model.InitializerRange,
    };

    /// <summary>Every setting and the model; throws one ArgumentException listing all that is wrong.</summary>
    public PretrainOptions Validate()
    {
        ValidateSettings();
        Model.Validate();
        return this;
    }

    /// <summary>Every setting but the model (which may depend on the data): callers check this before preparing data.</summary>
    public PretrainOptions ValidateSettings()
    {
        var errors = new Problems();
        if (BatchSize < 1) errors.Add($"--batch must be >= 1 (got {BatchSize})");
        if (MicroBatch is < 1) errors.Add($"--micro-batch must be >= 1 (got {MicroBatch})");
        if (MicroBatch is { } m && BatchSize % m != 0) errors.Add($"--batch ({BatchSize}) must be a multiple of --micro-batch ({m})");
        if (LearningRate <= 0) errors.Add($"--lr must be > 0 (got {LearningRate})");
        if (AdamBeta1 is < 0 or >= 1 ||
            AdamBeta2 is < 0 or >= 1) errors.Add($"--adam-beta2 (and beta1) must be in [0, 1) (got {AdamBeta1}, {AdamBeta2})");
        if (MaxSteps is < 1) errors.Add($"--max-steps must be >= 1 (got {MaxSteps})");
        if (MaxTokens is < 1) errors.Add($"--max-tokens must be >= 1 (got {MaxTokens})");
        if (MaxTime is { } t && t <= TimeSpan.Zero) errors.Add($"--max-time must be positive (got {t})");
        if (Threads < 1) errors.Add($"--threads must be >= 1 (got {Threads})");
        if (Devices.Problem(Device) is { } device) errors.Add(device);
        if (TrimEvery < 0) errors.Add($"--trim-every must be >= 0 (0 = never; got {TrimEvery})");
        if (LogEvery < 1 || EvalEvery < 1 || CheckpointEvery < 1) errors.Add("--log-every, --eval-every and --checkpoint-every must be >= 1");
        if (KeepLast < 1) errors.Add($"--keep must be >= 1 (got {KeepLast})");
        if (EvalBatches is < 1) errors.Add($"--eval-batches must be >= 0 (0 = the whole split; got {EvalBatches})");
        if (!(MaxGradNorm > 0)) errors.Add($"--clip must be > 0 (got {MaxGradNorm})");
        if (!(WeightDecay >= 0)) errors.Add($"--weight-decay must be >= 0 (got {WeightDecay})");
        if (!(AdamEpsilon > 0)) errors.Add($"--adam-eps must be > 0 (got {AdamEpsilon})");
        if (WarmupSteps is < 0) errors.Add($"--warmup must be >= 0 (got {WarmupSteps})");
        if (WarmupSteps is { } w && MaxSteps is { } ms && w >= ms)
            errors.Add($"--warmup ({w}) must be smaller than --max-steps ({ms}): the learning rate would never reach its peak");
        if (Dropout is { } dropout && (dropout is < 0 or >= 1 || double.IsNaN(dropout))) errors.Add($"--dropout must be in [0, 1) (got {dropout})");
        if (InitializerRange is { } range && !(range > 0)) errors.Add($"--initializer-range must be > 0 (got {range})");
        if (Resume && Overwrite) errors.Add("--resume and --overwrite contradict each other: give one");
        if (ResumeStrict && !Resume) errors.Add("--resume-strict goes with --resume");
        if (string.IsNullOrWhiteSpace(RunDir)) errors.Add("--out is required");
        try
        {
            Masking.Validate();
        }
        catch (ArgumentException e)
        {
            errors.Add(e.Message);
        }
        errors.ThrowIfAny();
        return this;
    }

    /// <summary>
    /// What a resumed run may not change: the settings that shape the learning-rate schedule, the data order, the
    /// masks and the optimizer. Returns one line per difference ("--lr 0.0005 (now 0.001)"); --max-tokens and
    /// --max-time are budgets and may change, --max-tokens only when --max-steps sets the schedule.
    /// </summary>
    public static List<string> ScheduleDifferences(PretrainOptions saved, PretrainOptions now)
    {
        var changes = new List<string>();
        void Check<T>(string flag, T before, T after)
        {
            if (!EqualityComparer<T>.Default.Equals(before, after))
                changes.Add($"{flag} {Show(before)} (now {Show(after)})");
        }
        static string Show(object? v) => v switch
        {
            null => "unset",
            double d => d.ToString("G6", System.Globalization.CultureInfo.InvariantCulture),
            Enum e => e.ToString().ToLowerInvariant(),
            _ => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "",
        };
        Check("--max-steps", saved.MaxSteps, now.MaxSteps);
        if (saved.MaxSteps is null && now.MaxSteps is null) Check("--max-tokens (which sets the schedule without --max-steps)",
            saved.MaxTokens, now.MaxTokens);
        Check("--warmup", saved.WarmupSteps, now.WarmupSteps);
        Check("--lr", saved.LearningRate, now.LearningRate);
        Check("--schedule", saved.Schedule, now.Schedule);
        Check("--batch", saved.BatchSize, now.BatchSize);
        Check("--seed", saved.Seed, now.Seed);
        Check("--mask-rate", saved.Masking.Rate, now.Masking.Rate);
        Check("--mask-split [MASK] share", saved.Masking.MaskFraction, now.Masking.MaskFraction);
        Check("--mask-split random share", saved.Masking.RandomFraction, now.Masking.RandomFraction);
        Check("--whole-word", saved.Masking.WholeWord, now.Masking.WholeWord);
        Check("--dropmask", saved.DropMask, now.DropMask);
        Check("--weight-decay", saved.WeightDecay, now.WeightDecay);
        Check("--adam-beta2", saved.AdamBeta2, now.AdamBeta2);
        Check("--adam-eps", saved.AdamEpsilon, now.AdamEpsilon);
        Check("--clip", saved.MaxGradNorm, now.MaxGradNorm);
        Check("--precision", saved.Precision, now.Precision);
        return changes;
    }
}
