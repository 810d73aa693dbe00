using HybridBert.FineTuning;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Text;
using HybridBert.Training;
using TorchSharp;
using static TorchSharp.torch;
using HybridBert.Memory;

namespace HybridBert.Inference;

/// <summary>What a loaded model can do; <see cref="InferenceModel.Tasks"/> decides it once for the CLI, the library and the server.</summary>
public enum InferenceTask
{
    /// <summary>Sentence vectors: every model.</summary>
    Embed,
    /// <summary>Labels with scores: a fine-tuned classifier (or regression head).</summary>
    Classify,
    /// <summary>Texts ranked for a query: a classifier with one output (regression or cross-encoder).</summary>
    Rerank,
    /// <summary>A tag per word, as Hugging Face's token-classification pipeline answers: a token classifier.</summary>
    Tag,
    /// <summary>Tokens for each [MASK]: a pre-trained model whose MLM head was in the weights.</summary>
    FillMask,
    /// <summary>Sparse (SPLADE-style) vectors from the MLM head: the same models as <see cref="FillMask"/>.</summary>
    EmbedSparse,
}

/// <summary>A task the model cannot do (fill-mask without an MLM head, classify without a classifier).</summary>
public sealed class UnsupportedTaskException(InferenceTask task, string message) : Exception(message)
{
    public InferenceTask Task { get; } = task;
}

/// <summary>An input that cannot be run as given (no [MASK], longer than the model's maximum without truncation).</summary>
public class InvalidInputException(string message, int? index = null) : Exception(message)
{
    public int? Index { get; } = index;
}

/// <summary>An input longer than the model's maximum, refused because truncation was not asked for. The message states
/// the fact; each caller says how to ask for truncation in its own terms (a flag, a request field).</summary>
public sealed class InputTooLongException(int index, int length, int maximum)
    : InvalidInputException($"input {index} is {length} tokens long, more than the model's maximum of {maximum}", index)
{
    public int Length { get; } = length;
    public int Maximum { get; } = maximum;
}

/// <summary>
/// The one inference core behind <see cref="FillMask"/>, <see cref="Embedder"/>, <see cref="TextClassifier"/>, the CLI
/// and the server: any model the project loads (<see cref="ModelSource"/>: runs, checkpoints, fine-tuned folders,
/// Hugging Face folders), in eval mode on its device; rows are run in batches of equal length (no padding, so a
/// text's result does not depend on what it is batched with), at most <see cref="MaxBatchTokens"/> tokens a forward,
/// without autograd. Not thread-safe: one caller at a time (the server's batcher is that caller).
/// </summary>
public sealed class InferenceModel : IDisposable
{
    private readonly HybridBertModel? pretrained;   // owns the encoder of a pre-trained model
    private readonly HybridBertModel? mlm;          // the same, when its MLM head was in the weights
    private readonly FineTunedModel? classifier;
    private TokenTagger? tagger;                     // a token classifier (finetune --task-type token)

    public BertTokenizer Tokenizer { get; }
    public EncoderConfig Config { get; }
    public string Source { get; }
    /// <summary>The classifier's task (labels, pooling), or null for pre-trained models.</summary>
    public TaskHead? Task => classifier?.Head ?? graphTask;
    public bool CanFillMask => mlm is not null || GraphHead == Interop.OnnxHead.Mlm;
    public bool CanClassify => classifier is not null || graphTask is not null;
    public bool CanTag => tagger is not null;
    /// <summary>The token classifier's task (its tags), or null for other models.</summary>
    public TokenHead? TokenTask => tagger?.Head;
    internal TokenTagger? Tagger => tagger;

    /// <summary>Everything this model can do, in <see cref="InferenceTask"/> order: the one place that decides it.</summary>
    public IReadOnlyList<InferenceTask> Tasks =>
        Enum.GetValues<InferenceTask>().Where(task => WhyNot(task) is null).ToList();

    /// <summary>Throws <see cref="UnsupportedTaskException"/>, saying what the task needs, when the model cannot do it.</summary>
    public void Require(InferenceTask task)
    {
        if (WhyNot(task) is { } why) throw new UnsupportedTaskException(task, $"{why} ({Source})");
    }

    private string? WhyNot(InferenceTask task) => task switch
    {
        InferenceTask.Embed => null,
        InferenceTask.Tag when !CanTag =>
            "the model is not a token classifier: tagging needs a seed-N folder written by `hybridbert finetune --task-type token`",
        InferenceTask.Classify when !CanClassify && CanTag =>
            "the model is a token classifier (a tag per word), not a sequence classifier: POST /predict tags with it",
        InferenceTask.Classify when !CanClassify && kind == ModelSourceKind.Checkpoint =>
            "the model is not a classifier, not a fine-tuned model folder: it is a pre-training run or checkpoint, a model without a " +
                "classifier: fine-tune it first " +
            $"(hybridbert finetune --checkpoint {Source} …) and use one of the seed-N folders that writes",
        InferenceTask.Classify when !CanClassify =>
            "the model is not a classifier, not a fine-tuned model folder: classification needs a seed-N folder written by `hybridbert finetune` " +
            $"or a Hugging Face *ForSequenceClassification folder — fine-tune it first: hybridbert finetune --checkpoint {Source}",
        InferenceTask.Rerank when !CanClassify =>
            "the model is not a classifier: re-ranking needs a fine-tuned one with one output (a regression or cross-encoder head)",
        InferenceTask.Rerank when Task is not { Regression: true } =>
            "the model is not a re-ranker: re-ranking needs a classifier with one output (a regression or cross-encoder head), this one " +
                $"has {Task!.Labels.Count} " +
            "labels — classify with it instead",
        InferenceTask.EmbedSparse when !CanFillMask =>
            "the model has no MLM head (cls.predictions): sparse embeddings are its vocabulary logits, so they need a pre-trained " +
                "masked-language model",
        InferenceTask.FillMask when !CanFillMask =>
            "the model has no MLM head (cls.predictions): fill-mask needs a pre-trained masked-language model, not a classifier or a bare encoder",
        _ => null,
    };

    /// <summary>Whether an input longer than <see cref="MaxLength"/> is cut when a caller does not say (text-embeddings-inference's
    /// default: no, it is refused).</summary>
    public const bool TruncateByDefault = false;
    /// <summary>The longest input in tokens, [CLS]/[SEP] included: the position table's size, or for a classifier the
    /// length it was fine-tuned at.</summary>
    public int MaxLength => Math.Min(Config.MaxPositionEmbeddings, classifier?.Head.MaxLength ?? int.MaxValue);
    public int MaxBatchTokens { get; private init; } = 16_384;

    /// <summary>The prompts of the model's sentence-transformers configuration (<c>config_sentence_transformers.json</c>'s
    /// <c>prompts</c>: a name and the text put before an input), and its <c>default_prompt_name</c>; empty and null without one.</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; private init; } = new Dictionary<string, string>();
    public string? DefaultPromptName { get; private init; }

    /// <summary>
    /// The pooling a sentence-transformers model declares (its <c>modules.json</c> names a Pooling module whose
    /// <c>config.json</c> sets <c>pooling_mode_cls_token</c>, <c>pooling_mode_mean_tokens</c>, …): the mode's name, or null
    /// when the folder declares none.
    /// </summary>
    public string? DeclaredPooling { get; private init; }

    /// <summary>The Hub model and commit this was loaded from, when named by id (null for a folder).</summary>
    public Interop.Hub.PulledModel? Pulled { get; private init; }

    /// <summary>The pooling to embed with: <paramref name="requested"/> when given, else the model's declared one (cls or
    /// mean), else <see cref="Embedder.DefaultPooling"/>. A declared mode we do not implement is an error naming it.</summary>
    public Pooling PoolingFor(Pooling? requested) => requested ?? DeclaredPooling switch
    {
        null => Embedder.DefaultPooling,
        "cls" => Pooling.Cls,
        "mean" => Pooling.Mean,
        var other => throw new InvalidDataException($"{Source}: the model pools by '{other}' (sentence-transformers modules.json); " +
                                                    "we embed by cls or mean: choose one with --pooling"),
    };

    private static string? ReadPooling(string folder)
    {
        var modules = Path.Combine(folder, Interop.Hub.HubModels.Modules);
        if (!File.Exists(modules)) return null;
        try
        {
            if (Interop.Hub.HubModels.PoolingFolder(modules) is not { } sub) return null;
            var path = Path.Combine(folder, sub, "config.json");
            if (!File.Exists(path)) return null;
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)) as System.Text.Json.Nodes.JsonObject;
            var modes = config?.Where(p => p.Key.StartsWith("pooling_mode_", StringComparison.Ordinal) && p.Value?.GetValue<bool>() == true)
                .Select(p => p.Key["pooling_mode_".Length..]).ToList() ?? [];
            return modes.Count switch
            {
                0 => null,
                1 => modes[0] switch { "cls_token" => "cls", "mean_tokens" => "mean", var m => m },
                _ => string.Join("+", modes),
            };
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{modules}: not a sentence-transformers module list ({e.Message})", e);
        }
    }

    /// <summary>The sentence-transformers configuration's file name.</summary>
    public const string SentenceTransformersConfig = "config_sentence_transformers.json";

    private static (IReadOnlyDictionary<string, string> Prompts, string? Default) ReadPrompts(string folder)
    {
        var path = Path.Combine(folder, SentenceTransformersConfig);
        if (!File.Exists(path)) return (new Dictionary<string, string>(), null);
        try
        {
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path));
            var prompts = json?["prompts"] is System.Text.Json.Nodes.JsonObject obj
                ? obj.ToDictionary(p => p.Key, p => p.Value?.GetValue<string>() ?? "") : new Dictionary<string, string>();
            return (prompts, json?["default_prompt_name"]?.GetValue<string>());
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a sentence-transformers configuration ({e.Message})", e);
        }
    }
    internal HybridBertEncoder Encoder => classifier?.Classifier.Encoder ?? tagger?.Classifier?.Encoder ?? pretrained!.Bert;

    private bool ownsClassifier = true;
    private bool ownsPretrained = true;
    private ModelSourceKind kind = ModelSourceKind.FineTuned;

    private InferenceModel(string source, BertTokenizer tokenizer, EncoderConfig config, HybridBertModel? pretrained, bool mlmHead,
        FineTunedModel? classifier) =>
        (Source, Tokenizer, Config, this.pretrained, mlm, this.classifier) = (source, tokenizer, config, pretrained,
            mlmHead ? pretrained : null, classifier);

    /// <summary>
    /// A classifier in memory (fine-tuning scores its dev set with it), put in eval mode; the caller keeps owning it,
    /// so disposing the result leaves it alive.
    /// </summary>
    public static InferenceModel For(FineTunedModel model, string source = "the model being fine-tuned")
    {
        model.Classifier.eval();
        return new InferenceModel(source, model.Tokenizer, model.Classifier.Config, null, false, model) { ownsClassifier = false };
    }

    /// <param name="device">cpu, cuda, cuda:N or auto.</param>
    /// <param name="maxBatchTokens">Tokens one forward may hold.</param>
    /// <param name="runtime">What runs the encoder: TorchSharp, or ONNX Runtime on the model folder's exported graph
    /// (<see cref="OnnxEncoder.ForModel"/>; CPU only).</param>
    /// <param name="quantized">With the ONNX runtime, the int8 graph (<see cref="Interop.OnnxQuantization.FolderModel"/>).</param>
    public static InferenceModel Load(string path, string device = "cpu", int maxBatchTokens = 16_384,
        InferenceRuntime runtime = InferenceRuntime.Torch, bool quantized = false)
    {
        if (RuntimeProblem(runtime, quantized, device) is { } problem) throw new ArgumentException(problem);
        if (IsOnnxFolder(path))
        {
            if (runtime != InferenceRuntime.Onnx)
                throw new ArgumentException($"{path} is an ONNX model folder (an ONNX graph, no weights for TorchSharp): " +
                                            "run it with --runtime onnx");
            return LoadOnnxFolder(path, quantized, maxBatchTokens);
        }
        var source = ModelSource.Open(path);
        var model = LoadTorch(path, source, device, maxBatchTokens);
        if (runtime == InferenceRuntime.Onnx)
        {
            try
            {
                model.onnx = OnnxEncoder.ForModel(source, quantized, model.Config.HiddenSize);
                if (model.tagger is not null) model.tagger.Hidden = model.onnx.Forward;
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        model.Runtime = runtime;
        model.Quantized = quantized;
        return model;
    }

    /// <summary>Why <paramref name="runtime"/> cannot run as asked (int8 without ONNX, ONNX off the CPU), or null.</summary>
    public static string? RuntimeProblem(InferenceRuntime runtime, bool quantized, string device) =>
        quantized && runtime != InferenceRuntime.Onnx ? "--quantized runs the int8 ONNX graph: add --runtime onnx"
        : runtime == InferenceRuntime.Onnx && device != "cpu" ? $"--runtime onnx runs ONNX Runtime's CPU provider (got --device {device})"
        : null;

    /// <summary>Whether <paramref name="path"/> is an ONNX model folder as <c>export onnx</c>, Optimum and transformers.js
    /// write it: <c>config.json</c>, a tokenizer and <c>onnx/model.onnx</c> (or Optimum's <c>model.onnx</c> at the top), and
    /// no weights of its own.</summary>
    public static bool IsOnnxFolder(string path) =>
        Directory.Exists(path) && Interop.OnnxExport.FolderGraphs(path) is not null && !HuggingFaceFolder.Is(path)
        && ModelLayout.Detect(path) == ModelSourceKind.HuggingFace;

    /// <summary>
    /// An ONNX model folder: everything runs in ONNX Runtime, the head too (the graph's <c>logits</c>: a classifier's labels
    /// or a token classifier's tags from <c>config.json</c>'s <c>id2label</c>, an MLM head's vocabulary); the tokenizer is the folder's.
    /// </summary>
    private static InferenceModel LoadOnnxFolder(string folder, bool quantized, int maxBatchTokens)
    {
        var (vocabulary, lowercase) = HuggingFaceFolder.ReadTokenizer(folder);
        var config = HuggingFaceFolder.ReadConfig(folder, vocabulary);
        var (plain, int8) = Interop.OnnxExport.FolderGraphs(folder)!.Value;
        var (graph, path) = Interop.OnnxExport.ForFolder(plain, int8, quantized, () => throw new FileNotFoundException($"{folder}: no {plain}"));
        var encoder = OnnxEncoder.FromGraph(graph, 0, path, keepLogits: true, vocabSize: config.VocabSize);
        TaskHead? task = null;
        if (encoder.Head == Interop.OnnxHead.Classifier)
        {
            var labels = HuggingFaceFolder.ReadLabels(folder) ?? new ClassifierLabels(
                Enumerable.Range(0, (int)encoder.LogitsWidth).Select(i => $"LABEL_{i}").ToList(), encoder.LogitsWidth == 1);
            task = FineTunedModel.HuggingFaceHead(folder, labels, config, lowercase);
        }
        var tokenizer = new BertTokenizer(vocabulary, lowercase);
        var tagger = encoder.Head == Interop.OnnxHead.Token
            ? TokenTagger.ForGraph(inputs => encoder.ForwardWithLogits(inputs).Logits!, tokenizer,
                TokenTagger.HuggingFaceHead(folder, config.MaxPositionEmbeddings, lowercase))
            : null;
        var (prompts, defaultPrompt) = ReadPrompts(folder);
        return new InferenceModel(folder, tokenizer, config, null, false, null)
        {
            tagger = tagger,
            MaxBatchTokens = maxBatchTokens, kind = ModelSourceKind.HuggingFace, Prompts = prompts, DefaultPromptName = defaultPrompt,
            DeclaredPooling = ReadPooling(folder), onnx = encoder, graphTask = task, Runtime = InferenceRuntime.Onnx, Quantized = quantized,
        };
    }

    /// <summary>The head the ONNX graph runs itself (an ONNX model folder), or None when TorchSharp runs the heads.</summary>
    private Interop.OnnxHead GraphHead => graphTask is not null ? Interop.OnnxHead.Classifier
        : pretrained is null && classifier is null && tagger is null && onnx is not null ? onnx.Head : Interop.OnnxHead.None;
    private TaskHead? graphTask;
    private Tensor? graphLogits;   // the current batch's logits from the graph (GraphHead), inside Run

    /// <summary>What runs the encoder.</summary>
    public InferenceRuntime Runtime { get; private set; }
    /// <summary>Whether the ONNX runtime runs the int8 graph.</summary>
    public bool Quantized { get; private set; }
    private OnnxEncoder? onnx;
    private bool ownsOnnx = true;

    private static InferenceModel LoadTorch(string path, ModelSource source, string device, int maxBatchTokens)
    {
        if (TokenTagger.IsTokenModel(source.Folder))
        {
            var tagging = TokenTagger.Load(source.Folder, device);
            return new InferenceModel(path, tagging.Tokenizer, tagging.Classifier!.Config, null, false, null)
            {
                MaxBatchTokens = maxBatchTokens, kind = source.Kind, tagger = tagging, Pulled = source.Pulled,
            };
        }
        if (source.Kind == ModelSourceKind.FineTuned || source.Labels is not null)
        {
            var fine = FineTunedModel.Load(source.Folder, device);
            var (fineTunedPrompts, fineTunedDefault) = ReadPrompts(source.Folder);
            return new InferenceModel(path, fine.Tokenizer, fine.Classifier.Config, null, false, fine)
            {
                MaxBatchTokens = maxBatchTokens, kind = source.Kind, Prompts = fineTunedPrompts, DefaultPromptName = fineTunedDefault,
                DeclaredPooling = ReadPooling(source.Folder), Pulled = source.Pulled,
            };
        }
        var (prompts, defaultPrompt) = ReadPrompts(source.Folder);
        var config = source.Config with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 };
        var model = new HybridBertModel(config);
        var fresh = source.LoadInto(model, ["classifier.", "pooler.", "cls.seq_relationship."], optionalPrefixes: ["cls.predictions."]);
        model.to(Devices.Resolve(device));
        model.eval();
        // A bare encoder (Hugging Face BertModel) has no MLM head: it embeds but cannot fill masks.
        return new InferenceModel(path, new BertTokenizer(source.Vocabulary, source.Lowercase ?? true), config, model,
            mlmHead: fresh.Count == 0, null)
        {
            MaxBatchTokens = maxBatchTokens, kind = source.Kind, Prompts = prompts, DefaultPromptName = defaultPrompt,
            DeclaredPooling = ReadPooling(source.Folder), Pulled = source.Pulled,
        };
    }

    /// <summary>Encodes texts for the encoder; over-long ones are cut to <see cref="MaxLength"/> or, without <paramref
    /// name="truncate"/>, refused naming their index and length.</summary>
    /// <param name="ids">Where an input's entry is not null, it is token ids the client made itself and used as they
    /// are (<see cref="EncodeIds"/>); its text is ignored.</param>
    /// <param name="truncated">Called with the index of each input that was cut (with <paramref name="truncate"/>), so a caller can say so.</param>
    /// <param name="fromLeft">Cut an over-long input's beginning instead of its end (text-embeddings-inference's
    /// <c>truncation_direction: Left</c>).</param>
    public List<EncodedText> Encode(IReadOnlyList<string> texts, bool truncate, IReadOnlyList<string?>? pairs = null,
        IReadOnlyList<int[]?>? ids = null, Action<int>? truncated = null, bool fromLeft = false)
    {
        var rows = new List<EncodedText>(texts.Count);
        for (var i = 0; i < texts.Count; i++)
        {
            if (ids?[i] is { } own)
            {
                rows.Add(EncodeIds(own, truncate, i, truncated, fromLeft));
                continue;
            }
            var pair = pairs?[i];
            var full = Tokenizer.Encode(texts[i], pair, int.MaxValue / 2);   // the tokenizer reads the whole text either way
            if (full.Length <= MaxLength) rows.Add(full);
            else if (!truncate) throw TooLong(i, full.Length);
            else
            {
                rows.Add(Tokenizer.Encode(texts[i], pair, MaxLength, fromLeft: fromLeft));   // again: BERT cuts a pair from its longer side
                truncated?.Invoke(i);
            }
        }
        return rows;
    }

    /// <summary>
    /// Token ids of input <paramref name="index"/>, taken as the whole sequence: nothing is added (a client that wants
    /// [CLS] and [SEP] sends them), as text-embeddings-inference does with ids. Ids outside the vocabulary are refused;
    /// a sequence over <see cref="MaxLength"/> is cut or, without <paramref name="truncate"/>, refused.
    /// </summary>
    public EncodedText EncodeIds(int[] ids, bool truncate, int index, Action<int>? truncated = null, bool fromLeft = false)
    {
        if (ids.Length == 0) throw new InvalidInputException($"input {index} has no token ids", index);
        var outside = Array.FindIndex(ids, id => id < 0 || id >= Config.VocabSize);
        if (outside >= 0)
            throw new InvalidInputException($"input {index} has token id {ids[outside]} at position {outside}, outside the vocabulary " +
                $"[0, {Config.VocabSize})", index);
        if (ids.Length > MaxLength && !truncate) throw TooLong(index, ids.Length);
        if (ids.Length > MaxLength) truncated?.Invoke(index);
        var kept = ids.Length <= MaxLength ? ids : fromLeft ? ids[^MaxLength..] : ids[..MaxLength];
        var wordIds = new int[kept.Length];
        Array.Fill(wordIds, -1);   // words are unknown for ids
        return new EncodedText(kept, Enumerable.Repeat(1, kept.Length).ToArray(), new int[kept.Length], wordIds);
    }

    private InputTooLongException TooLong(int index, int length) => new(index, length, MaxLength);

    /// <summary>Runs <paramref name="rows"/> in equal-length batches; <paramref name="consume"/> gets each batch's last
    /// hidden state [n, seq, hidden] and the row indices it holds.</summary>
    internal void Run(IReadOnlyList<EncodedText> rows, Action<Tensor, EncoderInputs, int[]> consume, CancellationToken cancel = default)
    {
        using var noGrad = torch.no_grad();
        var device = onnx is not null ? torch.CPU : Encoder.Device;
        foreach (var group in Enumerable.Range(0, rows.Count).GroupBy(i => rows[i].Length).OrderBy(g => g.Key))
        {
            var perBatch = Math.Max(1, MaxBatchTokens / group.Key);
            foreach (var chunk in group.Chunk(perBatch))
            {
                cancel.ThrowIfCancellationRequested();
                using (var scope = torch.NewDisposeScope())
                {
                    var inputs = Data.Batches.Inputs(chunk.Select(i => rows[i]).ToList(), Tokenizer.Vocabulary.PadId, device);
                    Tensor hidden;
                    if (onnx is null) hidden = Encoder.forward(inputs);
                    else (hidden, graphLogits) = onnx.ForwardWithLogits(inputs);
                    consume(hidden, inputs, chunk);
                    graphLogits = null;
                }
                NativeMemory.AfterInferenceBatch();
            }
        }
    }

    /// <summary>The MLM logits [n, vocab] of the batch's tokens at <paramref name="flatPositions"/> (indices into its flattened
    /// batch*seq tokens), inside <see cref="Run"/>.</summary>
    internal Tensor MlmLogitsAt(Tensor hidden, Tensor flatPositions) => GraphHead == Interop.OnnxHead.Mlm
        ? graphLogits!.reshape(-1, graphLogits.shape[^1]).index_select(0, flatPositions)
        : mlm!.MlmLogits(hidden, flatPositions);

    /// <summary>The MLM logits [seq, vocab] of every token of the batch's row <paramref name="row"/>, inside <see cref="Run"/>.</summary>
    internal Tensor MlmLogitsOfRow(Tensor hidden, int row) =>
        GraphHead == Interop.OnnxHead.Mlm ? graphLogits![row] : mlm!.MlmLogits(hidden[row]);

    /// <summary>The classifier's logits [n, labels] of the batch, inside <see cref="Run"/>.</summary>
    internal Tensor ClassifierLogits(Tensor hidden, EncoderInputs inputs) =>
        GraphHead == Interop.OnnxHead.Classifier ? graphLogits! : classifier!.Classifier.Logits(hidden, inputs);

    /// <summary>
    /// A view of this model with a tokenizer of its own (the same vocabulary and casing), for a thread that tokenizes
    /// beside the one running the model (the server's tokenization workers). It shares the weights and owns nothing:
    /// disposing it leaves this model alive. Encode on it; run forwards on one model at a time.
    /// </summary>
    public InferenceModel ForTokenizing() =>
        new(Source, new BertTokenizer(Tokenizer.Vocabulary, Tokenizer.Basic.Lowercase), Config, pretrained, mlm is not null, classifier)
        {
            MaxBatchTokens = MaxBatchTokens, kind = kind, Prompts = Prompts, DefaultPromptName = DefaultPromptName, ownsClassifier = false,
            ownsPretrained = false, onnx = onnx, ownsOnnx = false, Runtime = Runtime, Quantized = Quantized, graphTask = graphTask,
        };

    public void Dispose()
    {
        if (ownsPretrained) pretrained?.Dispose();
        if (ownsClassifier) classifier?.Dispose();
        tagger?.Dispose();
        if (ownsOnnx) onnx?.Dispose();
    }
}
