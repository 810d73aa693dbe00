using System.CommandLine;
using System.Text.RegularExpressions;
using HybridBert.Data;
using HybridBert.Model;
using HybridBert.Training;
using Spectre.Console;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert pretrain</c>: MLM (+ sentence objective) pre-training with optional DropMask.</summary>
internal static partial class PretrainCommand
{
    public static Command Build()
    {
        var data = new Option<DirectoryInfo?>("--data") { Description =
            "A directory made by `hybridbert data prepare` [default: the embedded corpus, prepared into RUN_DIR/data at seq 128]" };
        var output =
            new Option<DirectoryInfo>("--out") { Description =
            "Run directory: checkpoints, metrics.jsonl, tensorboard/, loss.png, summary.json (required)" };
        var preset = new Option<string>("--preset") { Description = $"Model size: {string.Join(", ", Presets.Sizes.Keys)}",
            DefaultValueFactory = _ => Presets.DefaultSize };
        var pattern = new Option<string>("--pattern") { Description = $"Layer pattern: {CommonOptions.PatternHelp}",
            DefaultValueFactory = _ => Presets.DefaultPattern };
        var config = new Option<FileInfo?>("--config") { Description = "A config.json instead of --preset/--pattern" };
        var initFrom =
            new Option<string?>("--init-from") { Description =
            "Continue pre-training a model: a run, checkpoint, fine-tuned or Hugging Face model folder or Hub id (its architecture replaces " +
            "--preset/--pattern/--config; prepare --data with its vocab.txt)" };
        var d = PretrainOptions.Defaults;
        var objective = CommonOptions.Choice("--sentence-objective", "none, nsp (BERT, 2-way) or sso (PoNet, 3-way)", d.SentenceObjective);
        var maskRate = new Option<double>("--mask-rate") { Description = "Share of tokens chosen for MLM",
            DefaultValueFactory = _ => d.Masking.Rate };
        var maskSplit = new Option<string>("--mask-split") { Description = "[MASK]/random/unchanged percentages",
            DefaultValueFactory = _ => d.Masking.SplitText };
        var wholeWord = new Option<bool>("--whole-word") { Description = "Mask whole words" };
        var dropMask = new Option<bool>("--dropmask") { Description = "DropMask: hide [MASK] positions from every other token's context" };
        var batch = new Option<int>("--batch") { Description = "Global batch (sequences per optimizer step)",
            DefaultValueFactory = _ => d.BatchSize };
        var microBatch = new Option<int?>("--micro-batch") { Description = "Sequences per forward/backward (gradient accumulation)" };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => d.LearningRate };
        var warmup =
            new Option<int?>("--warmup") { Description =
            $"Warm-up steps [default: {Training.PretrainPlan.DefaultWarmupFraction * 100:0}% of --max-steps]" };
        var schedule = CommonOptions.Choice("--schedule", "Decay after warm-up: linear or cosine", d.Schedule);
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay (not on biases and LayerNorm)",
            DefaultValueFactory = _ => d.WeightDecay };
        var beta2 =
            new Option<double>("--adam-beta2") { Description =
            "AdamW's second-moment decay (BERT 0.999; 0.98 as RoBERTa adapts faster in short runs)", DefaultValueFactory = _ => d.AdamBeta2 };
        var eps = new Option<double>("--adam-eps") { Description = "AdamW's epsilon", DefaultValueFactory = _ => d.AdamEpsilon };
        var clip = new Option<double>("--clip") { Description = "Gradient norm clipping", DefaultValueFactory = _ => d.MaxGradNorm };
        var precision = CommonOptions.Choice("--precision", "fp32, or bf16 (fp32 master weights)", d.Precision);
        var threads = new Option<int>("--threads") { Description = "libtorch threads", DefaultValueFactory = _ => d.Threads };
        var device = CommonOptions.Device(d.Device);
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => d.Seed,
            Description = "Seeds initialization, data order, masks and dropout: one seed, one run, in any process" };
        var trimEvery = new Option<int>("--trim-every") { DefaultValueFactory = _ => d.TrimEvery,
            Description = "Return freed memory to the OS every N steps (0 = never: ~20% faster steps, 1.2–1.5× the peak memory)" };
        var saveMemory =
            new Option<bool>("--save-memory") { Description =
            "Keep less for backward (the FFN activation is recomputed, hidden dropout masks are 1 byte as attention's always are): ~5–6% less peak memory, 3–9% slower " +
            "steps; same results" };
        var maxSteps =
            new Option<long?>("--max-steps") { Description =
            $"Step budget and length of the LR schedule [default: {Training.PretrainPlan.DefaultMaxSteps}]" };
        var maxTokens = new Option<long?>("--max-tokens") { Description = "Token budget" };
        var maxTime = new Option<string?>("--max-time") { Description = "Wall-clock budget, e.g. 10m, 1h30m, 90s" };
        var evalEvery = new Option<int>("--eval-every") { DefaultValueFactory = _ => d.EvalEvery,
            Description = "Evaluate on the validation split every N steps (and at the end)" };
        var evalBatches =
            new Option<int?>("--eval-batches") { Description =
            "Validation batches of --batch sequences per evaluation, whatever --micro-batch is (0 = the whole split)",
            DefaultValueFactory = _ => d.EvalBatches };
        var logEvery = new Option<int>("--log-every") { DefaultValueFactory = _ => d.LogEvery,
            Description = "Write the training loss to metrics.jsonl every N steps" };
        var logBatches =
            new Option<bool>("--log-batches") { Description =
            "Log each step's sequence indices and a SHA-256 of its masked inputs to metrics.jsonl (to check that two runs see the same data)" };
        var initRange =
            new Option<double?>("--initializer-range") { Description =
            "Std of the normal weight initialization [default: the model config's, BERT's 0.02]" };
        var dropout =
            new Option<double?>("--dropout") { Description =
            "Hidden and attention dropout during pre-training [default: the model config's, 0.1 in the presets; 0 = off]" };
        var checkpointEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => d.CheckpointEvery,
            Description = "Write a checkpoint every N steps (and at the end, at each new best evaluation, and on Ctrl-C or SIGTERM)" };
        var keep = new Option<int>("--keep") { Description = "Checkpoints to keep besides the best", DefaultValueFactory = _ => d.KeepLast };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --out (with the same schedule settings)" };
        var resumeStrict =
            new Option<bool>("--resume-strict") { Description =
            "With --resume: stop on a corrupt newest checkpoint, instead of warning, setting it aside and resuming from the newest valid one" };
        var overwrite =
            new Option<bool>("--overwrite") { Description =
            "Replace an earlier run's outputs in --out (without it, a folder holding a run is refused)" };
        var optionsFile = CommonOptions.OptionsFile();

        var command = new Command("pretrain", "Pre-train an encoder with MLM (+ sentence objective), optionally with DropMask")
        {
            data, output, preset, pattern, config, initFrom, objective, maskRate, maskSplit, wholeWord, dropMask, batch, microBatch, lr, warmup,
            schedule, weightDecay, clip, precision, threads, device, seed, trimEvery, saveMemory, maxSteps, maxTokens, maxTime, evalEvery,
                evalBatches, logEvery,
            checkpointEvery, keep, resume, resumeStrict, logBatches, dropout, initRange, beta2, eps, overwrite, optionsFile,
        };
        command.SetAction(parse => CliErrors.Run(cancel =>
        {
            var options = CommonOptions.ReadOptionsFile<PretrainOptions>(parse, optionsFile, command);
            // before data is prepared into it
            using var runLock = options is null && parse.GetValue(output) is { } o ? IO.PathLock.Acquire(o.FullName) : null;
            var saved = options is null && parse.GetValue(resume) && parse.GetValue(output) is { } r ? SavedOptions(r.FullName) : null;
            if (saved is not null)
            {
                // --resume alone continues the run as it was started; a flag given now replaces the saved value, and the
                // Pretrainer refuses those that would change the schedule, the data, the masks or the model.
                bool Given(Option x) => parse.GetResult(x) is { Implicit: false };
                T Pick<T>(Option<T> x, T before) => Given(x) ? parse.GetValue(x)! : before;
                var masking = saved.Masking;
                if (Given(maskSplit))
                {
                    var (maskFraction, randomFraction) = MaskingOptions.ParseSplit(parse.GetValue(maskSplit)!);
                    masking = masking with { MaskFraction = maskFraction, RandomFraction = randomFraction };
                }
                options = saved with
                {
                    RunDir = parse.GetValue(output)!.FullName, Resume = true, ResumeStrict = parse.GetValue(resumeStrict),
                        Overwrite = parse.GetValue(overwrite),
                    DataDir = Given(data) ? parse.GetValue(data)!.FullName : saved.DataDir,
                    SentenceObjective = Given(objective) ? CommonOptions.Parse<SentenceObjective>(parse.GetValue(objective)!) :
                        saved.SentenceObjective,
                    Masking = masking with { Rate = Pick(maskRate, masking.Rate), WholeWord = Pick(wholeWord, masking.WholeWord) },
                    DropMask = Pick(dropMask, saved.DropMask), BatchSize = Pick(batch, saved.BatchSize),
                        MicroBatch = Pick(microBatch, saved.MicroBatch),
                    LearningRate = Pick(lr, saved.LearningRate), WarmupSteps = Pick(warmup, saved.WarmupSteps),
                    Schedule = Given(schedule) ? CommonOptions.Parse<LrSchedule>(parse.GetValue(schedule)!) : saved.Schedule,
                    WeightDecay = Pick(weightDecay, saved.WeightDecay), AdamBeta2 = Pick(beta2, saved.AdamBeta2),
                        AdamEpsilon = Pick(eps, saved.AdamEpsilon),
                    MaxGradNorm = Pick(clip, saved.MaxGradNorm),
                        Precision = Given(precision) ? CommonOptions.Parse<Precision>(parse.GetValue(precision)!) : saved.Precision,
                    Threads = Pick(threads, saved.Threads), Device = Pick(device, saved.Device)!, Seed = Pick(seed, saved.Seed),
                        TrimEvery = Pick(trimEvery, saved.TrimEvery),
                    SaveMemory = Pick(saveMemory, saved.SaveMemory), MaxSteps = Pick(maxSteps, saved.MaxSteps),
                        MaxTokens = Pick(maxTokens, saved.MaxTokens),
                    MaxTime = Given(maxTime) && parse.GetValue(maxTime) is { } t ? ParseDuration(t) : saved.MaxTime,
                    EvalEvery = Pick(evalEvery, saved.EvalEvery),
                        EvalBatches = Given(evalBatches) ? (parse.GetValue(evalBatches) is { } eb and not 0 ? eb : null) : saved.EvalBatches,
                    LogEvery = Pick(logEvery, saved.LogEvery), LogBatches = Pick(logBatches, saved.LogBatches),
                        CheckpointEvery = Pick(checkpointEvery, saved.CheckpointEvery),
                    KeepLast = Pick(keep, saved.KeepLast), Dropout = Pick(dropout, saved.Dropout),
                        InitializerRange = Pick(initRange, saved.InitializerRange),
                };
                // The model asked for now, checked against the checkpoint's by the Pretrainer.
                if (Given(config) || Given(preset) || Given(pattern)) options =
                    options with { Model = RequestedModel(parse, config, preset, pattern)(options.DataDir) };
                options.ValidateSettings();
            }
            else if (options is null)
            {
                var runDir = parse.GetValue(output)?.FullName ?? throw new ArgumentException("--out is required");
                var (maskFraction, randomFraction) = MaskingOptions.ParseSplit(parse.GetValue(maskSplit)!);
                // Every setting is checked before any data is prepared; the model is settled once the data's vocabulary is known.
                options = new PretrainOptions
                {
                    DataDir = parse.GetValue(data)?.FullName ?? Path.Combine(runDir, "data"), RunDir = runDir, Model = Presets.Mini,
                    SentenceObjective = CommonOptions.Parse<SentenceObjective>(parse.GetValue(objective)!),
                    Masking = new MaskingOptions { Rate = parse.GetValue(maskRate), MaskFraction = maskFraction,
                        RandomFraction = randomFraction, WholeWord = parse.GetValue(wholeWord) },
                    DropMask = parse.GetValue(dropMask), BatchSize = parse.GetValue(batch), MicroBatch = parse.GetValue(microBatch),
                    LearningRate = parse.GetValue(lr), WarmupSteps = parse.GetValue(warmup),
                        Schedule = CommonOptions.Parse<LrSchedule>(parse.GetValue(schedule)!),
                    WeightDecay = parse.GetValue(weightDecay), AdamBeta2 = parse.GetValue(beta2), AdamEpsilon = parse.GetValue(eps),
                        MaxGradNorm = parse.GetValue(clip), Precision = CommonOptions.Parse<Precision>(parse.GetValue(precision)!),
                    Threads = parse.GetValue(threads), Device = CommonOptions.DeviceValue(parse, device), Seed = parse.GetValue(seed),
                        TrimEvery = parse.GetValue(trimEvery), SaveMemory = parse.GetValue(saveMemory), MaxSteps = parse.GetValue(maxSteps),
                        MaxTokens = parse.GetValue(maxTokens),
                    MaxTime = parse.GetValue(maxTime) is { } t ? ParseDuration(t) : null, EvalEvery = parse.GetValue(evalEvery),
                    EvalBatches = parse.GetValue(evalBatches) is { } eb and not 0 ? eb : null, LogEvery = parse.GetValue(logEvery),
                        LogBatches = parse.GetValue(logBatches),
                    CheckpointEvery = parse.GetValue(checkpointEvery), KeepLast = parse.GetValue(keep), Resume = parse.GetValue(resume),
                        ResumeStrict = parse.GetValue(resumeStrict), Overwrite = parse.GetValue(overwrite),
                    Dropout = parse.GetValue(dropout), InitializerRange = parse.GetValue(initRange), InitFrom = parse.GetValue(initFrom)?.ModelPath(),
                }.ValidateSettings();
                if (options.InitFrom is not null &&
                    parse.GetValue(config) is not null) throw new ArgumentException("--init-from takes the model's own config: drop --config");
                var model = RequestedModel(parse, config, preset, pattern);
                var dataDir = parse.GetValue(data)?.FullName ?? PrepareDefaultData(runDir, cancel);
                options = options with { DataDir = dataDir, Model = model(dataDir) };
                foreach (var w in ShardManifest.Load(dataDir).Warnings) Console.Error.WriteLine($"warning: {dataDir}: {w}");
            }
            Console.WriteLine(options.InitFrom is { } from
                ? $"pre-training {from} further on {options.DataDir} -> {options.RunDir}"
                : $"pre-training {options.Model.LayerPattern} ({options.Model.NumHiddenLayers}×{options.Model.HiddenSize}) on " +
                    $"{options.DataDir} -> {options.RunDir}");
            PretrainSummary summary = null!;
            AnsiConsole.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                    new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("starting", maxValue: 1);
                    summary = new Pretrainer(options, new SynchronousProgress<TrainingProgress>(p =>
                    {
                        task.MaxValue = p.MaxSteps;
                        task.Value = p.Step;
                        task.Description =
                            $"step {p.Step}/{p.MaxSteps}  loss {p.Loss:F3}  lr {CommonOptions.Lr(p.LearningRate)}  " +
                            $"{p.TokensPerSecond:N0} tok/s  {p.RssMiB:N0} MiB{CommonOptions.TimeLeft(task)}";
                    }), message => AnsiConsole.MarkupLine(Markup.Escape(message))).Run(cancel);
                });
            Print(summary, options.RunDir);
        }));
        return command;
    }

    /// <summary>The options saved with the newest checkpoint in <paramref name="runDir"/> whose trainer.json reads, or
    /// null when there is none. Not verified here: the Pretrainer checks every file before it resumes, and sets a
    /// corrupt checkpoint aside with a warning; one whose trainer.json does not even read is skipped here so that it can.</summary>
    private static PretrainOptions? SavedOptions(string runDir)
    {
        foreach (var (_, folder) in Checkpoint.List(runDir))
        {
            try
            {
                return Checkpoint.Read(folder, verify: false).Options;
            }
            catch (InvalidDataException)
            {
            }
        }
        return null;
    }

    /// <summary>
    /// The one place the command builds the model it was asked for: a <c>--config</c> file as written, or a
    /// <c>--preset</c>/<c>--pattern</c> over the prepared data's vocabulary. Read and checked now, before any data is
    /// prepared; the result, given the data folder, is the model. (The Pretrainer then sets the data's special ids,
    /// or takes <c>--init-from</c>'s model: <see cref="PretrainPlan"/>.)
    /// </summary>
    private static Func<string, EncoderConfig> RequestedModel(ParseResult parse, Option<FileInfo?> config, Option<string> preset,
        Option<string> pattern)
    {
        if (parse.GetValue(config) is { } file)
        {
            var fromFile = EncoderConfig.Load(file.FullName);
            return _ => fromFile;
        }
        var built = Presets.Build(parse.GetValue(preset)!, parse.GetValue(pattern)!);
        return dataDir => built with { VocabSize = ShardManifest.Load(dataDir).VocabSize };
    }

    /// <summary>The embedded corpus, prepared once into RUN_DIR/data and reused on later runs and resumes.</summary>
    private static string PrepareDefaultData(string runDir, CancellationToken cancel)
    {
        var dir = Path.Combine(runDir, "data");
        if (File.Exists(Path.Combine(dir, ShardManifest.FileName))) return dir;
        Console.WriteLine($"no --data: preparing the embedded corpus into {dir}");
        DataPreparation.Run(CorpusSource.Default(), EmbeddedData.Vocabulary(), dir, new PrepareOptions(), cancel: cancel, log: Console.WriteLine);
        return dir;
    }

    private static void Print(PretrainSummary s, string runDir)
    {
        if (s.Interrupted) Console.WriteLine($"interrupted at step {s.Steps}: checkpoint {s.LastCheckpoint}; continue with --resume");
        var sentence = s.FinalEval?.SentenceAccuracy is { } sa ? $", sentence acc {sa:P1}" : "";
        var eval = s.FinalEval is { } e
            ? $"validation MLM loss {e.MlmLoss:F4} (ppl {e.Perplexity:F1}, acc {e.MlmAccuracy:P1}{sentence}), " +
              $"best {s.BestEvalLoss:F4} at step {s.BestStep}"
            : "no evaluation";
        Console.WriteLine($"{s.Steps} steps, {s.Tokens:N0} tokens; train loss {s.FinalTrainLoss:F4}; {eval}");
        Console.WriteLine($"{s.TokensPerSecond:N0} tokens/s, peak RSS {s.PeakRssMiB:N0} MiB, {s.Seconds:F0} s; {runDir}/loss.png, " +
            "metrics.jsonl, summary.json");
    }

    [GeneratedRegex(@"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")]
    private static partial Regex DurationPattern();

    public static TimeSpan ParseDuration(string text)
    {
        var m = DurationPattern().Match(text.Trim());
        if (!m.Success || text.Trim().Length == 0 || !(m.Groups[1].Success || m.Groups[2].Success || m.Groups[3].Success))
            throw new ArgumentException($"--max-time must look like 90s, 10m or 1h30m (got '{text}')");
        int Part(int g) => m.Groups[g].Success ? int.Parse(m.Groups[g].Value) : 0;
        return new TimeSpan(Part(1), Part(2), Part(3));
    }
}
