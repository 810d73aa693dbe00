using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using HybridBert.Inference;

namespace HybridBert.Serving;

// The request bodies, as text-embeddings-inference's types.rs has them: each record is both what a route's body is
// parsed into (System.Text.Json with the server's snake_case policy; a field's default is its initializer, written
// once, from the engine's own default) and that route's OpenAPI schema. Shapes JSON cannot type by itself (a text or a
// list, a pair or a batch) are the *Input records with their converters; Validate checks what the types cannot (empty
// lists, the server's limits). RequestErrors turns every parse failure into one message naming the field.

/// <summary>A request body: parsed by System.Text.Json, then checked against the server's limits.</summary>
internal interface IServeRequest
{
    /// <summary>Throws <see cref="ApiError"/> (400, or 413 beyond a limit) for what the JSON types do not rule out.</summary>
    void Validate(ServeOptions limits);
}

/// <summary>Which end of an over-long input is cut (text-embeddings-inference's names).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TruncationDirection>))]
internal enum TruncationDirection { Left, Right }

/// <summary>What every embedding route shares: the inputs, truncation and a prompt name.</summary>
internal abstract record EmbeddingRequest : IServeRequest
{
    [Description("A text, token ids [101, ...] used as sent, or a list of texts and token-id lists")]
    public EmbedInput? Inputs { get; init; }
    [Description("Cut an over-long input instead of refusing it; when not given, the server's --auto-truncate (off unless set)")]
    public bool? Truncate { get; init; }
    [Description("Which end of an over-long input truncation cuts")]
    public TruncationDirection TruncationDirection { get; init; } = TruncationDirection.Right;
    [Description("A prompt of the model's sentence-transformers configuration to put before each text")]
    public string? PromptName { get; init; }

    public virtual void Validate(ServeOptions limits)
    {
        RequestChecks.Inputs("inputs", Inputs?.Texts.Count, EmbedInput.Shape, limits);
    }
}

/// <summary><c>POST /embed</c>.</summary>
internal sealed record EmbedRequest : EmbeddingRequest
{
    public bool Normalize { get; init; } = Embedder.NormalizeByDefault;
    [Description("Keep only the first N dimensions (Matryoshka), normalised after the cut when normalize is set")]
    public int? Dimensions { get; init; }

    public override void Validate(ServeOptions limits)
    {
        base.Validate(limits);
        RequestChecks.Dimensions(Dimensions);
    }
}

/// <summary><c>POST /embed_all</c>: every token's vector.</summary>
internal sealed record EmbedAllRequest : EmbeddingRequest;

/// <summary><c>POST /embed_sparse</c>: SPLADE-style vectors from the MLM head.</summary>
internal sealed record EmbedSparseRequest : EmbeddingRequest;

/// <summary><c>POST /v1/embeddings</c> (and <c>/embeddings</c>), OpenAI's: vectors always normalised, over-long inputs cut.</summary>
internal sealed record OpenAiEmbeddingRequest : IServeRequest
{
    [Description("A text, token ids [101, ...] used as sent, or a list of texts and token-id lists")]
    public EmbedInput? Input { get; init; }
    [Description("Echoed in the answer; the server has one model")]
    public string? Model { get; init; }
    [Description("float (lists of numbers) or base64 (each vector's little-endian float32 bytes)")]
    public string EncodingFormat { get; init; } = "float";
    [Description("Keep only the first N dimensions, normalised after the cut")]
    public int? Dimensions { get; init; }
    [Description("Accepted as OpenAI's clients send it; not used")]
    public string? User { get; init; }

    public void Validate(ServeOptions limits)
    {
        RequestChecks.Inputs("input", Input?.Texts.Count, EmbedInput.Shape, limits);
        if (EncodingFormat is not ("float" or "base64")) throw RequestChecks.Invalid("'encoding_format' must be float or base64 (got " +
            $"'{EncodingFormat}')");
        RequestChecks.Dimensions(Dimensions);
    }
}

/// <summary><c>POST /similarity</c>: the cosine of the source sentence's embedding with each sentence's.</summary>
internal sealed record SimilarityRequest : IServeRequest
{
    public SimilarityInput? Inputs { get; init; }
    public SimilarityParameters? Parameters { get; init; }

    public void Validate(ServeOptions limits)
    {
        if (Inputs?.SourceSentence is null)
            throw RequestChecks.Invalid("the body needs 'inputs': {\"source_sentence\": a string, \"sentences\": a list of strings}");
        RequestChecks.Inputs("sentences", Inputs.Sentences?.Length, "a list of strings", limits);
    }
}

internal sealed record SimilarityInput
{
    [Description("The text the others are compared with")]
    public string? SourceSentence { get; init; }
    [Description("The texts compared with source_sentence")]
    public string[]? Sentences { get; init; }
}

internal sealed record SimilarityParameters
{
    [Description("Cut an over-long input instead of refusing it; when not given, the server's --auto-truncate (off unless set)")]
    public bool? Truncate { get; init; }
    public TruncationDirection TruncationDirection { get; init; } = TruncationDirection.Right;
    public string? PromptName { get; init; }
}

/// <summary><c>POST /tokenize</c>.</summary>
internal sealed record TokenizeRequest : IServeRequest
{
    [Description("A text or a list of texts")]
    public TextInput? Inputs { get; init; }
    [Description("Add [CLS] and [SEP] as the model's inputs have them")]
    public bool AddSpecialTokens { get; init; } = true;
    public string? PromptName { get; init; }

    public void Validate(ServeOptions limits)
    {
        RequestChecks.Inputs("inputs", Inputs?.Texts.Count, TextInput.Shape, limits);
    }
}

/// <summary><c>POST /decode</c>.</summary>
internal sealed record DecodeRequest : IServeRequest
{
    [Description("Token ids [101, ...], or a list of them")]
    public IdsInput? Ids { get; init; }
    public bool SkipSpecialTokens { get; init; } = true;

    public void Validate(ServeOptions limits) => RequestChecks.Inputs("ids", Ids?.Sequences.Count, IdsInput.Shape, limits);
}

/// <summary>/decode's ids: one sequence or a list of sequences.</summary>
[JsonConverter(typeof(IdsInputConverter))]
internal sealed record IdsInput(IReadOnlyList<int[]> Sequences)
{
    public const string Shape = "token ids [101, ...] or a list of them";
}

internal sealed class IdsInputConverter : JsonConverter<IdsInput>
{
    public override IdsInput Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var node = JsonNode.Parse(ref reader);
        if (node is not JsonArray array) throw new FieldException($" must be {IdsInput.Shape}");
        if (array.Count == 0) return new IdsInput([]);
        if (array[0] is JsonArray)
            return new IdsInput(array.Select((n, i) => n is JsonArray list ? Ids(list, $"[{i}]")
                : throw new FieldException($"[{i}] must be a list of token ids")).ToList());
        return new IdsInput([Ids(array, "")]);
    }

    private static int[] Ids(JsonArray array, string where) => array.Select((n, j) =>
        RequestChecks.IsNumber(n) && n!.AsValue().TryGetValue<int>(out var id) && id >= 0 ? id
            : throw new FieldException($"{where}[{j}] must be a whole number >= 0 (a token id)")).ToArray();

    public override void Write(Utf8JsonWriter writer, IdsInput value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.Sequences, options);
}

/// <summary><c>POST /predict</c>.</summary>
internal sealed record PredictRequest : IServeRequest
{
    [Description("A text, a pair [text, text], or a batch [[text], [text, text], ...]")]
    public PredictInput? Inputs { get; init; }
    [Description("The logits themselves instead of softmax probabilities")]
    public bool RawScores { get; init; }
    [Description("Cut an over-long input instead of refusing it; when not given, the server's --auto-truncate (off unless set)")]
    public bool? Truncate { get; init; }
    [Description("Which end of an over-long input truncation cuts")]
    public TruncationDirection TruncationDirection { get; init; } = TruncationDirection.Right;
    [Description("A token classifier only: Hugging Face's aggregation_strategy, none, simple (default), first, average or max")]
    public string? AggregationStrategy { get; init; }

    public void Validate(ServeOptions limits)
    {
        RequestChecks.Inputs("inputs", Inputs?.Texts.Count, PredictInput.Shape, limits);
        if (AggregationStrategy is { } a && !Enum.TryParse<FineTuning.Aggregation>(a, ignoreCase: true, out _))
            throw RequestChecks.Invalid($"'aggregation_strategy': '{a}' is not one of none, simple, first, average, max");
    }
}

/// <summary><c>POST /rerank</c>.</summary>
internal sealed record RerankRequest : IServeRequest
{
    [Description("Paired with each text as [CLS] query [SEP] text [SEP]")]
    public string? Query { get; init; }
    [Description("The texts to rank")]
    public string[]? Texts { get; init; }
    [Description("The logit itself instead of its sigmoid")]
    public bool RawScores { get; init; }
    public bool ReturnText { get; init; }
    [Description("Cut an over-long input instead of refusing it; when not given, the server's --auto-truncate (off unless set)")]
    public bool? Truncate { get; init; }
    [Description("Which end of an over-long input truncation cuts")]
    public TruncationDirection TruncationDirection { get; init; } = TruncationDirection.Right;

    public void Validate(ServeOptions limits)
    {
        if (Query is null) throw RequestChecks.Invalid("the body needs 'query': a string");
        RequestChecks.Inputs("texts", Texts?.Length, "a list of strings", limits);
    }
}

/// <summary><c>POST /fill-mask</c>.</summary>
internal sealed record FillMaskRequest : IServeRequest
{
    [Description("A text with [MASK] or a list of them")]
    public TextInput? Inputs { get; init; }
    [Description("Candidates per [MASK]")]
    public int TopK { get; init; } = FillMask.DefaultTopK;

    public void Validate(ServeOptions limits)
    {
        RequestChecks.Inputs("inputs", Inputs?.Texts.Count, TextInput.Shape, limits);
        if (TopK < 1) throw RequestChecks.Invalid("top_k must be a whole number >= 1");
    }
}

/// <summary>The embedding routes' inputs: a text, one input's token ids, or a list mixing texts and token-id lists.
/// <see cref="Ids"/> holds each input's ids (null for a text), or is null when no input has any.</summary>
[JsonConverter(typeof(EmbedInputConverter))]
internal sealed record EmbedInput(IReadOnlyList<string> Texts, IReadOnlyList<int[]?>? Ids)
{
    public const string Shape = "a string, token ids, or a list of strings and token-id lists";
}

/// <summary>Fill-mask's inputs: a text or a list of texts; <see cref="Single"/> when a text was sent alone (its answer
/// is not wrapped in a list).</summary>
[JsonConverter(typeof(TextInputConverter))]
internal sealed record TextInput(IReadOnlyList<string> Texts, bool Single)
{
    public const string Shape = "a string or a list of strings";
}

/// <summary>
/// /predict's inputs as text-embeddings-inference reads them: a string; an array of one or two strings (a text, or a
/// pair classified together as [CLS] a [SEP] b [SEP]); or a batch, an array of such arrays. So <c>["a", "b"]</c> is
/// one pair, and a batch of single texts is <c>[["a"], ["b"]]</c>.
/// </summary>
[JsonConverter(typeof(PredictInputConverter))]
internal sealed record PredictInput(IReadOnlyList<string> Texts, IReadOnlyList<string?> Pairs, bool Single)
{
    public const string Shape = "a string, a pair [\"text\", \"text\"] or a batch [[\"text\"], [\"text\", \"text\"], ...]";
}

/// <summary>A field's value the converters refuse; <see cref="Relative"/> continues the field's quoted name
/// (<c>[1] must be a string</c>), which <see cref="RequestChecks.Describe"/> puts in front.</summary>
internal sealed class FieldException(string relative) : JsonException(relative)
{
    public string Relative { get; } = relative;
}

internal sealed class EmbedInputConverter : JsonConverter<EmbedInput>
{
    public override EmbedInput Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var node = JsonNode.Parse(ref reader);
        if (RequestChecks.Text(node) is { } text) return new EmbedInput([text], null);
        if (node is not JsonArray array) throw new FieldException($" must be {EmbedInput.Shape}");
        if (array.Count == 0) return new EmbedInput([], null);   // refused by Validate as TEI does: an empty batch
        if (RequestChecks.IsNumber(array[0])) return new EmbedInput([""], [Ids(array, "")]);
        var texts = new List<string>(array.Count);
        var ids = new List<int[]?>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            var (item, own) = array[i] switch
            {
                JsonValue v when RequestChecks.Text(v) is { } s => (s, null),
                JsonArray list => ("", Ids(list, $"[{i}]")),
                _ => throw new FieldException($"[{i}] must be a string or a list of token ids"),
            };
            texts.Add(item);
            ids.Add(own);
        }
        return new EmbedInput(texts, ids.Any(i => i is not null) ? ids : null);
    }

    private static int[] Ids(JsonArray array, string where) => array.Select((n, j) =>
        RequestChecks.IsNumber(n) && n!.AsValue().TryGetValue<int>(out var id) ? id
            : throw new FieldException($"{where}[{j}] must be a whole number (a token id)")).ToArray();

    public override void Write(Utf8JsonWriter writer, EmbedInput value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.Texts.Select((t, i) => value.Ids?[i] is { } ids ? (object)ids : t), options);
}

internal sealed class TextInputConverter : JsonConverter<TextInput>
{
    public override TextInput Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var node = JsonNode.Parse(ref reader);
        if (RequestChecks.Text(node) is { } text) return new TextInput([text], true);
        if (node is not JsonArray array) throw new FieldException($" must be {TextInput.Shape}");
        if (array.Count == 0) return new TextInput([], false);
        return new TextInput(array.Select((n, i) => RequestChecks.Text(n) ?? throw new FieldException($"[{i}] must be a string")).ToList(), false);
    }

    public override void Write(Utf8JsonWriter writer, TextInput value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.Single ? value.Texts[0] : (object)value.Texts, options);
}

internal sealed class PredictInputConverter : JsonConverter<PredictInput>
{
    public override PredictInput Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var node = JsonNode.Parse(ref reader);
        if (RequestChecks.Text(node) is { } single) return new PredictInput([single], [null], true);
        if (node is not JsonArray array) throw new FieldException($" must be {PredictInput.Shape}");
        if (array.Count == 0) return new PredictInput([], [], false);
        if (array[0] is not JsonArray)
        {
            if (array.Count > 2)
                throw new FieldException($" has {array.Count} strings: a pair has two; send a batch as [[\"text\"], [\"text\"], ...]");
            var (text, pair) = Sequence(array, "");
            return new PredictInput([text], [pair], true);
        }
        var (texts, pairs) = (new List<string>(array.Count), new List<string?>(array.Count));
        for (var i = 0; i < array.Count; i++)
        {
            var (text, pair) = Sequence(array[i] as JsonArray
                ?? throw new FieldException($"[{i}] must be a list of one or two strings (a batch's items are [\"text\"] or " +
                    "[\"text\", \"text\"])"), $"[{i}]");
            texts.Add(text);
            pairs.Add(pair);
        }
        return new PredictInput(texts, pairs, false);
    }

    private static (string Text, string? Pair) Sequence(JsonArray array, string where) => array.Count is 1 or 2
        ? (RequestChecks.Text(array[0]) ?? throw new FieldException($"{where}[0] must be a string"),
           array.Count == 2 ? RequestChecks.Text(array[1]) ?? throw new FieldException($"{where}[1] must be a string") : null)
        : throw new FieldException($"{where} has {array.Count} strings: a text is one, a pair two");

    public override void Write(Utf8JsonWriter writer, PredictInput value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.Texts.Select((t, i) => value.Pairs[i] is { } p ? new[] { t, p } : [t]), options);
}

/// <summary>The one validation layer under the request records: limits, and a parse failure told as the field it is in.</summary>
internal static class RequestChecks
{
    public static ApiError Invalid(string message) => new(400, ErrorTypes.Validation, message);

    /// <summary>A list field: present (else "the body needs"), not empty (400 Empty, as text-embeddings-inference), and
    /// at most the server's inputs per request (413, with text-embeddings-inference's words).</summary>
    public static void Inputs(string field, int? count, string shape, ServeOptions limits)
    {
        if (count is null) throw Invalid($"the body needs '{field}': {shape}");
        if (count == 0) throw new ApiError(400, ErrorTypes.Empty, $"'{field}' is an empty list: batch is empty");
        if (count > limits.MaxInputs)
            throw new ApiError(413, ErrorTypes.Validation, $"batch size {count} > maximum allowed batch size {limits.MaxInputs} " +
                $"('{field}' has {count} inputs, more than the limit of {limits.MaxInputs})");
    }

    public static void Dimensions(int? dimensions)
    {
        if (dimensions is < 1) throw Invalid($"'dimensions' must be >= 1 (got {dimensions})");
    }

    public static string? Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    public static bool IsNumber(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number;

    /// <summary>
    /// What was wrong, named by field: a converter's own words, or for a plain field what its type takes
    /// (<c>'normalize' must be true or false</c>, <c>'texts'[1] must be a string</c>).
    /// </summary>
    public static string Describe(Type request, JsonException error, JsonNamingPolicy naming)
    {
        var path = error.Path ?? "$";
        var match = System.Text.RegularExpressions.Regex.Match(path, @"^\$\.(?<field>\w+)(?<index>(\[\d+\])*)");
        if (!match.Success) return $"the body does not fit the route: {error.Message}";
        var (field, index) = (match.Groups["field"].Value, match.Groups["index"].Value);
        if (error is FieldException own) return $"'{field}'{own.Relative}";
        var type = request.GetProperties().FirstOrDefault(p => naming.ConvertName(p.Name) == field)?.PropertyType;
        if (type is not null && index.Length > 0) type = type.GetElementType() ?? type;
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        var expected = type switch
        {
            null => "something else",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(int) => "a whole number",
            _ when type == typeof(string) => "a string",
            _ when type == typeof(string[]) => "a list of strings",
            _ => type.Name,
        };
        return $"'{field}'{index} must be {expected}";
    }
}
