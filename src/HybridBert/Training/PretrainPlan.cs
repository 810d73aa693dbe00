using HybridBert.Data;
using HybridBert.Interop;
using HybridBert.Text;

namespace HybridBert.Training;

/// <summary>
/// A pre-training run settled before its first step, so the loop only reads it: the data and its vocabulary, the
/// model as it will be trained (from <c>--init-from</c> or the options, with the dropout and initialization overrides
/// applied and the vocabulary's size and special ids), the step budget and the warm-up.
/// </summary>
public sealed record PretrainPlan
{
    /// <summary>Steps when neither <see cref="PretrainOptions.MaxSteps"/> nor <see cref="PretrainOptions.MaxTokens"/> is set.</summary>
    public const long DefaultMaxSteps = 1000;
    /// <summary>Warm-up as a share of the steps when <see cref="PretrainOptions.WarmupSteps"/> is not set (BERT's recipes use 1–10%).</summary>
    public const double DefaultWarmupFraction = 0.06;

    /// <summary>The options with the model resolved and its overrides applied (<c>Dropout</c> and <c>InitializerRange</c>
    /// null): what the checkpoints record.</summary>
    public required PretrainOptions Options { get; init; }
    public required ShardManifest Manifest { get; init; }
    public required Vocabulary Vocabulary { get; init; }
    /// <summary>The model to start from (<c>--init-from</c>), or null for random initialization.</summary>
    public ModelSource? InitFrom { get; init; }
    /// <summary>The step budget, also the length of the learning-rate schedule.</summary>
    public required long MaxSteps { get; init; }
    public required long WarmupSteps { get; init; }

    public static PretrainPlan Resolve(PretrainOptions options)
    {
        var manifest = ShardManifest.Load(options.DataDir);
        var vocabulary = manifest.LoadVocabulary(options.DataDir);
        // --init-from: the model's architecture and (unless resuming, when the checkpoint's weights win) its weights.
        var init = options.InitFrom is { } from ? ModelSource.Open(from) : null;
        if (init is not null && init.Vocabulary.Hash != vocabulary.Hash)
            throw new InvalidDataException($"--init-from {init.Folder}: the model's vocabulary ({init.Vocabulary.Count} tokens) is not " +
                $"the one {options.DataDir} was prepared with " +
                                           $"({vocabulary.Count} tokens) — prepare the data with the model's: hybridbert data prepare " +
                                               $"--vocab {Path.Combine(init.Folder, ModelLayout.Vocab)} …");
        // On --resume the checkpoint's model is the run's (with any --dropout applied); --init-from only named where it began.
        var requested = init is null || options.Resume ? options : options with { Model = init.Config };
        manifest.CheckCompatible(options.DataDir, null, requested.Model.VocabSize, requested.Model.MaxPositionEmbeddings);
        // The pooling layers find [CLS]/[SEP] by id: take the data's.
        var config = requested.EffectiveModel.ForVocabulary(vocabulary);
        // applied: the checkpoint records the model as trained
        var opts = options with { Model = config.Validate(), Dropout = null, InitializerRange = null };

        var train = manifest.Splits["train"];
        var maxSteps = opts.MaxSteps ?? (opts.MaxTokens is { } t
            ? Math.Max(1, (long)Math.Ceiling(t / (double)(opts.BatchSize * Math.Max(1, train.Tokens / Math.Max(1, train.Sequences)))))
            : DefaultMaxSteps);
        return new PretrainPlan
        {
            Options = opts, Manifest = manifest, Vocabulary = vocabulary, InitFrom = init, MaxSteps = maxSteps,
            WarmupSteps = opts.WarmupSteps ?? (long)Math.Round(DefaultWarmupFraction * maxSteps),
        };
    }
}
