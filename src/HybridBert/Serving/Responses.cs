using System.Text.Json.Serialization;

namespace HybridBert.Serving;

// The answers' shapes, written in the server's snake_case policy; as records they are also the OpenAPI document's
// response schemas. /embed answers float[][], /predict the engine's LabelScore lists, /fill-mask its FillMaskCandidate lists.

/// <summary>Every failure: <c>{"error": ..., "error_type": ...}</c>, as text-embeddings-inference sends it.</summary>
internal sealed record ErrorResponse(string Error, string ErrorType);

/// <summary>A failure on the OpenAI routes: <c>{"message": ..., "code": ..., "type": ...}</c>, as text-embeddings-inference
/// sends it there; also <c>error_type</c>, the name its OpenAPI document gives the same field (it requires it).</summary>
internal sealed record OpenAiErrorResponse(string Message, int Code, [property: JsonPropertyName("type")] string Type, string ErrorType);

/// <summary>text-embeddings-inference's <c>ErrorType</c> values, spelled as it sends them.</summary>
internal static class ErrorTypes
{
    public const string Unhealthy = "Unhealthy", Backend = "Backend", Overloaded = "Overloaded", Validation = "Validation", Tokenizer = "Tokenizer",
        Empty = "Empty";
    /// <summary>Ours: a missing or wrong API key (text-embeddings-inference answers a bare 401).</summary>
    public const string Unauthorized = "Unauthorized";
    /// <summary>Ours: no such route, or a method the route does not take.</summary>
    public const string NotFound = "NotFound";
}

/// <summary>One token of a <c>/tokenize</c> answer: its id, its text (the input's characters it came from, or the special
/// token), and for tokens of the input where they are, in characters (code points), end exclusive.</summary>
internal sealed record SimpleToken(int Id, string Text, bool Special, int? Start, int? Stop);

/// <summary>One non-zero entry of a sparse vector.</summary>
internal sealed record SparseValue(int Index, float Value);

/// <summary>OpenAI's <c>GET /v1/models</c>.</summary>
internal sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

internal sealed record ModelCard(string Id, string Object, long Created, string OwnedBy);

/// <summary>One text of a <c>/rerank</c> answer; <c>text</c> only when the request asked for it.</summary>
internal sealed record Rank(int Index, double Score, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text = null);

/// <summary>OpenAI's <c>/v1/embeddings</c> answer.</summary>
internal sealed record OpenAiEmbeddingResponse(string Object, IReadOnlyList<OpenAiEmbedding> Data, string Model, OpenAiUsage Usage);

/// <summary>One vector: numbers, or with <c>encoding_format: base64</c> its float32 bytes as base64.</summary>
internal sealed record OpenAiEmbedding(string Object, int Index, object Embedding);

internal sealed record OpenAiUsage(int PromptTokens, int TotalTokens);

/// <summary><c>GET /info</c>: text-embeddings-inference's fields (the model, its type, the router's limits), then ours.</summary>
internal sealed record InfoResponse
{
    public required string ModelId { get; init; }
    public string? ModelSha { get; init; }
    public required string ModelDtype { get; init; }
    public required string ServedModelName { get; init; }
    /// <summary><c>{"embedding": {"pooling": ...}}</c>, <c>{"classifier": {"id2label", "label2id"}}</c> or <c>{"reranker": ...}</c>.</summary>
    public required object ModelType { get; init; }
    public required int MaxConcurrentRequests { get; init; }
    public required int MaxInputLength { get; init; }
    public required int MaxBatchTokens { get; init; }
    public int? MaxBatchRequests { get; init; }
    public required int MaxClientBatchSize { get; init; }
    public required bool AutoTruncate { get; init; }
    public required int TokenizationWorkers { get; init; }
    public required string Version { get; init; }
    public string? Sha { get; init; }
    public string? DockerLabel { get; init; }
    public required string ModelPath { get; init; }
    public required string LayerPattern { get; init; }
    public required int HiddenSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int VocabSize { get; init; }
    public required IReadOnlyList<string> Tasks { get; init; }
    public IReadOnlyList<string>? Labels { get; init; }
    public required string Pooling { get; init; }
    public required int MaxWaitMs { get; init; }
    public required int MaxInputs { get; init; }
    public required long MaxBodyBytes { get; init; }
    public required int MaxQueue { get; init; }
}

/// <summary><c>GET /health</c>.</summary>
internal sealed record HealthResponse(string Status);
