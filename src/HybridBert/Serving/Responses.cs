using System.Text.Json.Serialization;

namespace HybridBert.Serving;

// The answers' shapes, written in the server's snake_case policy; as records they are also the OpenAPI document's
// response schemas. /embed answers float[][], /predict the engine's LabelScore lists, /fill-mask its FillMaskCandidate lists.

/// <summary>Every failure: <c>{"error": ..., "error_type": ...}</c>, as text-embeddings-inference sends it.</summary>
internal sealed record ErrorResponse(string Error, string ErrorType);

/// <summary>One text of a <c>/rerank</c> answer; <c>text</c> only when the request asked for it.</summary>
internal sealed record Rank(int Index, double Score, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text = null);

/// <summary>OpenAI's <c>/v1/embeddings</c> answer.</summary>
internal sealed record OpenAiEmbeddingResponse(string Object, IReadOnlyList<OpenAiEmbedding> Data, string Model, OpenAiUsage Usage);

internal sealed record OpenAiEmbedding(string Object, int Index, float[] Embedding);

internal sealed record OpenAiUsage(int PromptTokens, int TotalTokens);

/// <summary><c>GET /info</c>: the model and the server's limits.</summary>
internal sealed record InfoResponse(
    string ModelId, string ModelPath, string LayerPattern, int HiddenSize, int NumHiddenLayers, int VocabSize, int MaxInputLength,
    IReadOnlyList<string> Tasks, IReadOnlyList<string>? Labels, string Pooling, int MaxBatchTokens, int MaxBatchRequests, int MaxWaitMs,
    int MaxInputs, long MaxBodyBytes, int MaxQueue);

/// <summary><c>GET /health</c>.</summary>
internal sealed record HealthResponse(string Status);
