using System.Text.Json;
using System.Text.Json.Serialization;

namespace HybridBert.Model;

/// <summary>
/// Hugging Face <c>BertConfig</c> fields plus the HybridBERT layer pattern. Serialized as snake_case JSON
/// (<c>hidden_size</c>, <c>layer_pattern</c>) so a <c>config.json</c> reads like Hugging Face's.
/// </summary>
public sealed record EncoderConfig
{
    public int VocabSize { get; init; } = 30522;
    public int HiddenSize { get; init; } = 256;
    public int NumHiddenLayers { get; init; } = 4;
    public int NumAttentionHeads { get; init; } = 4;
    public int IntermediateSize { get; init; } = 1024;
    public string HiddenAct { get; init; } = "gelu";          // erf GELU, as BERT
    public double HiddenDropoutProb { get; init; } = 0.1;
    public double AttentionProbsDropoutProb { get; init; } = 0.1;
    public int MaxPositionEmbeddings { get; init; } = 512;
    public int TypeVocabSize { get; init; } = 2;
    public double InitializerRange { get; init; } = 0.02;
    public double LayerNormEps { get; init; } = 1e-12;         // BERT's, not PyTorch's 1e-5
    public int PadTokenId { get; init; } = 0;

    /// <summary>One letter per layer, as <see cref="Mixers"/> defines them (A self-attention, P pooling network, H both within the layer).</summary>
    public string LayerPattern { get; init; } = "AAAA";

    /// <summary>In an H layer, how many heads do self-attention (the rest pool). Null: half, rounded down.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? HybridAttentionHeads { get; init; }

    // The pooling layers derive their segments from [CLS]/[SEP] when no explicit segment ids are given.
    // bert-base-uncased's ids by default; the data pipeline writes the ids of its own vocabulary here.
    public int ClsTokenId { get; init; } = 101;
    public int SepTokenId { get; init; } = 102;

    public static readonly IReadOnlyList<string> HiddenActs = ["gelu", "gelu_new", "relu"];

    [JsonIgnore] public int HeadSize => HiddenSize / NumAttentionHeads;
    [JsonIgnore] public int AttentionHeadsInHybridLayer => HybridAttentionHeads ?? NumAttentionHeads / 2;

    /// <summary>
    /// This config for <paramref name="vocabulary"/>: its size and the ids of [CLS], [SEP] and [PAD] (the pooling layers
    /// find sentence boundaries by id, and padding is the tokenizer's). The one place a config meets its vocabulary.
    /// </summary>
    public EncoderConfig ForVocabulary(Text.Vocabulary vocabulary) =>
        this with { VocabSize = vocabulary.Count, ClsTokenId = vocabulary.ClsId, SepTokenId = vocabulary.SepId, PadTokenId = vocabulary.PadId };

    /// <summary>Throws <see cref="ConfigException"/> naming every field that is out of range.</summary>
    public EncoderConfig Validate()
    {
        var errors = new Problems();
        void Positive(string field, double value)
        {
            if (value <= 0) errors.Add($"{field} must be > 0 (got {value})");
        }
        void Probability(string field, double value)
        {
            if (value is < 0 or >= 1 || double.IsNaN(value)) errors.Add($"{field} must be in [0, 1) (got {value})");
        }

        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("intermediate_size", IntermediateSize);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        Positive("type_vocab_size", TypeVocabSize);
        Positive("initializer_range", InitializerRange);
        Positive("layer_norm_eps", LayerNormEps);
        Probability("hidden_dropout_prob", HiddenDropoutProb);
        Probability("attention_probs_dropout_prob", AttentionProbsDropoutProb);
        if (!HiddenActs.Contains(HiddenAct))
            errors.Add($"hidden_act must be one of {string.Join(", ", HiddenActs)} (got '{HiddenAct}')");
        if (NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads != 0)
            errors.Add($"num_attention_heads ({NumAttentionHeads}) must divide hidden_size ({HiddenSize})");
        foreach (var (field, id) in new[] { ("pad_token_id", PadTokenId), ("cls_token_id", ClsTokenId), ("sep_token_id", SepTokenId) })
            if (id < 0 || id >= VocabSize) errors.Add($"{field} must be in [0, vocab_size={VocabSize}) (got {id})");

        var bad = LayerPattern.Where(c => !Mixers.IsKnown(c)).Distinct().ToArray();
        if (bad.Length > 0)
            errors.Add($"layer_pattern '{LayerPattern}' has unknown letter(s) {string.Join(", ", bad.Select(c => $"'{c}'"))}; allowed: " +
                $"{Mixers.Legend}");
        if (LayerPattern.Length != NumHiddenLayers)
            errors.Add($"layer_pattern '{LayerPattern}' has {LayerPattern.Length} letters but num_hidden_layers is {NumHiddenLayers}");
        if (LayerPattern.Contains('H') && (AttentionHeadsInHybridLayer < 1 || AttentionHeadsInHybridLayer >= NumAttentionHeads))
            errors.Add($"hybrid_attention_heads must be in [1, num_attention_heads-1 = {NumAttentionHeads - 1}] for H layers " +
                       $"(got {AttentionHeadsInHybridLayer}{(HybridAttentionHeads is null ? ", the default half" : "")})");

        errors.ThrowIfAny(message => new ConfigException($"Invalid encoder config: {message}."));
        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(this, IO.JsonFiles.Options);

    /// <summary>The Hugging Face <c>model_type</c>s whose config this record reads, and the layer letter a config
    /// without <c>layer_pattern</c> has in every layer (a BERT is all attention, a PoNet all pooling).</summary>
    public static readonly IReadOnlyDictionary<string, char> ModelTypes =
        new Dictionary<string, char> { ["bert"] = 'A', ["ponet"] = 'P', ["hybridbert"] = 'A' };

    /// <summary>
    /// Parses a config.json — ours or a Hugging Face <c>BertConfig</c>. Without <c>layer_pattern</c> every layer of
    /// the config's depth is of its <c>model_type</c>'s kind (<see cref="ModelTypes"/>); other Hugging Face fields
    /// (architectures, id2label …) are ignored here. An unsupported <c>model_type</c> or
    /// <c>position_embedding_type</c>, or a value out of range, is an <see cref="InvalidDataException"/> naming
    /// <paramref name="source"/>: the file is wrong, not the command line (<see cref="ConfigException"/> is for configs
    /// built from flags and presets).
    /// </summary>
    public static EncoderConfig FromJson(string json, string source = "config") => Parse(json, source).ValidateFrom(source);

    /// <summary><see cref="Validate"/> for a config read from <paramref name="source"/> (a file): problems are the
    /// file's, an <see cref="InvalidDataException"/>.</summary>
    public EncoderConfig ValidateFrom(string source)
    {
        try
        {
            return Validate();
        }
        catch (ConfigException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    /// <summary><see cref="FromJson"/> without <see cref="Validate"/>: for callers that complete the config first
    /// (a Hugging Face config takes its [CLS]/[SEP]/[PAD] ids from its tokenizer).</summary>
    public static EncoderConfig Parse(string json, string source = "config")
    {
        try
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(json) as System.Text.Json.Nodes.JsonObject
                       ?? throw new InvalidDataException($"{source}: a config must be a JSON object");
            var modelType = node["model_type"]?.GetValue<string>();
            if (modelType is not null && !ModelTypes.ContainsKey(modelType))
                throw new InvalidDataException($"{source}: model_type '{modelType}' is not supported (expected one of " +
                    $"{string.Join(", ", ModelTypes.Keys)})");
            if (node["position_embedding_type"]?.GetValue<string>() is { } positions && positions != "absolute")
                throw new InvalidDataException(
                    $"{source}: position_embedding_type '{positions}' is not supported (only absolute position embeddings)");
            var config = node.Deserialize<EncoderConfig>(IO.JsonFiles.Options) ?? throw new InvalidDataException($"{source}: empty config");
            if (node["layer_pattern"] is null)
                config = config with { LayerPattern = new string(ModelTypes[modelType ?? "bert"], Math.Max(0, config.NumHiddenLayers)) };
            return config;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            // The file is not a config at all (JsonException covers malformed JSON and wrong value types).
            throw new InvalidDataException($"{source}: not a valid encoder config JSON ({e.Message})", e);
        }
    }

    public static EncoderConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Config file not found: {path}", path);
        return FromJson(File.ReadAllText(path), path);
    }
}

public sealed class ConfigException(string message) : Exception(message);
