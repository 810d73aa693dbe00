using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using HybridBert.FineTuning;
using HybridBert.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace HybridBert.Serving;

/// <summary>An error answer: <c>{"error": ..., "error_type": ...}</c> with its status, as text-embeddings-inference sends.</summary>
internal sealed class ApiError(int status, string type, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
}

/// <summary>
/// <c>hybridbert serve</c>: ASP.NET Core (Kestrel, minimal APIs) in front of the <see cref="Batcher"/>. Routes follow
/// Hugging Face text-embeddings-inference (<c>/embed</c>, <c>/predict</c>, <c>/rerank</c>, <c>/fill-mask</c>, <c>/health</c>,
/// <c>/info</c>, <c>/metrics</c>) plus OpenAI's <c>/v1/embeddings</c> and the OpenAPI document at <c>/openapi.json</c>.
/// Every failure is a JSON error with the status TEI uses: 400 malformed, 401 no key, 413 too large, 422 input too long,
/// 424 a route the model cannot serve, 429 queue full (with Retry-After).
/// </summary>
public sealed class InferenceServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly Batcher batcher;
    private readonly InferenceModel model;
    private readonly bool ownsModel;

    public Uri Address { get; private set; } = null!;
    public ServeOptions Options { get; }

    private InferenceServer(WebApplication app, Batcher batcher, InferenceModel model, bool ownsModel, ServeOptions options) =>
        (this.app, this.batcher, this.model, this.ownsModel, Options) = (app, batcher, model, ownsModel, options);

    /// <summary>Loads the model (unless given one), binds and starts serving; a port in use is an <see cref="IOException"/> naming it.</summary>
    public static async Task<InferenceServer> StartAsync(ServeOptions options, InferenceModel? loaded = null, CancellationToken cancel = default)
    {
        options.Validate();
        TorchSharp.torch.set_num_threads(options.Threads);
        var model = loaded ?? InferenceModel.Load(options.Model, options.Device, options.MaxBatchTokens);
        var metrics = new ServerMetrics();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.AddOpenApi();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;   // enforced by ReadJson, which answers a JSON 413
            if (options.Host == "localhost") k.ListenLocalhost(options.Port);
            else k.Listen(IPAddress.Parse(options.Host), options.Port);
        });
        var app = builder.Build();
        var batcher = new Batcher(model, options, metrics);
        var server = new InferenceServer(app, batcher, model, loaded is null, options);
        server.Map(metrics);
        try
        {
            await app.StartAsync(cancel);
        }
        catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse } || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            await server.DisposeAsync();
            throw new IOException($"port {options.Port} on {options.Host} is already in use: stop what holds it or choose another --port");
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address.Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1"));
        return server;
    }

    /// <summary>Stops accepting, lets in-flight requests finish (up to <see cref="ServeOptions.ShutdownTimeout"/>), then stops the batcher.</summary>
    public async Task StopAsync()
    {
        using var timeout = new CancellationTokenSource(Options.ShutdownTimeout);
        await app.StopAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await app.DisposeAsync();
        batcher.Dispose();
        if (ownsModel) model.Dispose();
    }

    private void Map(ServerMetrics metrics)
    {
        app.Use(async (context, next) =>
        {
            var clock = Stopwatch.StartNew();
            var route = context.Request.Path.Value ?? "";
            if (route is not ("/embed" or "/predict" or "/rerank" or "/fill-mask" or "/v1/embeddings" or "/health" or "/info" or "/metrics" or "/openapi.json")) route = "other";
            try
            {
                if (Options.ApiKey is { } key && route != "/health"
                    && context.Request.Headers.Authorization.ToString() != $"Bearer {key}")
                    throw new ApiError(401, "unauthorized", "missing or wrong API key: send Authorization: Bearer KEY");
                await next(context);
            }
            catch (ApiError e)
            {
                await WriteError(context, e.Status, e.Type, e.Message);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                context.Response.StatusCode = 499;   // the client went away; nobody reads this
            }
            finally
            {
                metrics.Requests.WithLabels(route, context.Response.StatusCode.ToString()).Inc();
                metrics.Latency.WithLabels(route).Observe(clock.Elapsed.TotalSeconds);
            }
        });

        app.MapGet("/health", () => Results.Json(new { status = "ok" }));
        app.MapGet("/info", Info);
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        app.MapOpenApi("/openapi.json");

        app.MapPost("/embed", async (HttpContext context) =>
        {
            var body = await ReadJson(context);
            var (texts, ids, _) = Inputs(body, "inputs", acceptIds: true);
            var item = new WorkItem(Job.Embed, texts, context.RequestAborted)
            {
                Ids = ids, Pooling = Options.Pooling, Normalize = Bool(body, "normalize", true), Truncate = Bool(body, "truncate", false),
            };
            var vectors = (List<object>)await Submit(item, context);
            return Results.Json(vectors);
        }).Accepts<EmbedRequest>(Json).Produces<float[][]>().WithSummary("Embeddings, as text-embeddings-inference's /embed");

        app.MapPost("/v1/embeddings", async (HttpContext context) =>
        {
            var body = await ReadJson(context);
            var (texts, ids, _) = Inputs(body, "input", acceptIds: true);
            var item = new WorkItem(Job.Embed, texts, context.RequestAborted) { Ids = ids, Pooling = Options.Pooling, Normalize = true, Truncate = true };
            var vectors = (List<object>)await Submit(item, context);
            return Results.Json(new
            {
                @object = "list",
                data = vectors.Select((v, i) => new { @object = "embedding", index = i, embedding = v }),
                model = body["model"]?.GetValueKind() == JsonValueKind.String ? body["model"]!.GetValue<string>() : ModelName,
                usage = new { prompt_tokens = item.Tokens, total_tokens = item.Tokens },
            });
        }).Accepts<OpenAiEmbeddingRequest>(Json).WithSummary("Embeddings, as OpenAI's /v1/embeddings");

        app.MapPost("/predict", async (HttpContext context) =>
        {
            if (!model.CanClassify) throw new ApiError(424, "backend", $"the model is not a classifier, /predict needs a fine-tuned one ({model.Source})");
            var body = await ReadJson(context);
            var (texts, pairs, single) = PredictInputs(body);
            var item = new WorkItem(Job.Predict, texts, context.RequestAborted)
            {
                Pairs = pairs, RawScores = Bool(body, "raw_scores", false), Truncate = Bool(body, "truncate", false), TopK = int.MaxValue,
            };
            var labels = (List<object>)await Submit(item, context);
            var shaped = labels.Select(l => ((LabelScore[])l).Select(s => new { label = s.Label, score = s.Score }).ToList()).ToList();
            return Results.Json(single ? shaped[0] : shaped);
        }).Accepts<PredictRequest>(Json).WithSummary("Labels with scores, as text-embeddings-inference's /predict: a text, a pair [text, text] or a batch [[text], [text, text], ...]");

        app.MapPost("/rerank", async (HttpContext context) =>
        {
            if (model.Task is not { Regression: true })
                throw new ApiError(424, "backend", model.CanClassify
                    ? $"the model is not a re-ranker: /rerank needs a classifier with one output (a regression or cross-encoder head), this one has {model.Task!.Labels.Count} labels — use /predict ({model.Source})"
                    : $"the model is not a classifier, /rerank needs a fine-tuned one with one output ({model.Source})");
            var body = await ReadJson(context);
            var query = body["query"] is JsonValue q && q.GetValueKind() == JsonValueKind.String ? q.GetValue<string>()
                : throw new ApiError(400, "validation", body["query"] is null ? "the body needs 'query': a string" : "'query' must be a string");
            var (texts, _, _) = body["texts"] is JsonArray ? Inputs(body, "texts", acceptIds: false)
                : throw new ApiError(400, "validation", body["texts"] is null ? "the body needs 'texts': a list of strings" : "'texts' must be a list of strings");
            var rawScores = Bool(body, "raw_scores", false);
            var returnText = Bool(body, "return_text", false);
            var item = new WorkItem(Job.Predict, texts.Select(_ => query).ToList(), context.RequestAborted)
            {
                Pairs = texts, RawScores = true, Truncate = Bool(body, "truncate", false), TopK = int.MaxValue,
            };
            var scores = ((List<object>)await Submit(item, context)).Select(l => ((LabelScore[])l)[0].Score).ToList();
            // As text-embeddings-inference: [CLS] query [SEP] text [SEP] each, the sigmoid of the one logit unless
            // raw_scores, highest first.
            var ranks = scores.Select((s, i) => (Index: i, Score: rawScores ? s : 1 / (1 + Math.Exp(-s))))
                .OrderByDescending(r => r.Score).ThenBy(r => r.Index)
                .Select(r => returnText ? (object)new { index = r.Index, text = texts[r.Index], score = r.Score } : new { index = r.Index, score = r.Score });
            return Results.Json(ranks);
        }).Accepts<RerankRequest>(Json).WithSummary("Texts ranked by a one-output classifier's score for (query, text), as text-embeddings-inference's /rerank");

        app.MapPost("/fill-mask", async (HttpContext context) =>
        {
            if (!model.CanFillMask) throw new ApiError(424, "backend", $"the model has no MLM head, /fill-mask needs a pre-trained masked-language model ({model.Source})");
            var body = await ReadJson(context);
            var (texts, _, single) = Inputs(body, "inputs", acceptIds: false);
            var topK = body["top_k"] is { } k ? (k.GetValueKind() == JsonValueKind.Number && k.AsValue().TryGetValue<int>(out var t) && t >= 1 ? t
                : throw new ApiError(400, "validation", "top_k must be a whole number >= 1")) : 5;
            var item = new WorkItem(Job.FillMask, texts, context.RequestAborted) { TopK = topK };
            var perText = (List<object>)await Submit(item, context);
            var shaped = perText.Select(p =>
            {
                var masks = ((List<List<FillMaskCandidate>>)p).Select(m => m.Select(c => new { score = c.Score, token = c.Token, token_str = c.TokenStr, sequence = c.Sequence }).ToList()).ToList();
                return masks.Count == 1 ? (object)masks[0] : masks;
            }).ToList();
            return Results.Json(single ? shaped[0] : shaped);
        }).Accepts<FillMaskRequest>(Json).WithSummary("The pipeline's fill-mask output for each [MASK]");
    }

    private const string Json = "application/json";

    private string ModelName => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(model.Source)));

    private IResult Info() => Results.Json(new
    {
        model_id = ModelName,
        model_path = model.Source,
        layer_pattern = model.Config.LayerPattern,
        hidden_size = model.Config.HiddenSize,
        num_hidden_layers = model.Config.NumHiddenLayers,
        vocab_size = model.Config.VocabSize,
        max_input_length = model.MaxLength,
        tasks = new[] { "embed" }.Concat(model.CanClassify ? ["predict"] : []).Concat(model.Task is { Regression: true } ? ["rerank"] : []).Concat(model.CanFillMask ? ["fill-mask"] : []),
        labels = model.Task?.Labels,
        pooling = Options.Pooling.ToString().ToLowerInvariant(),
        max_batch_tokens = Options.MaxBatchTokens,
        max_batch_requests = Options.MaxBatchRequests,
        max_wait_ms = Options.MaxWaitMs,
        max_inputs = Options.MaxInputs,
        max_body_bytes = Options.MaxBodyBytes,
        max_queue = Options.MaxQueue,
    });

    private async Task<object> Submit(WorkItem item, HttpContext context)
    {
        if (!batcher.TryEnqueue(item))
        {
            context.Response.Headers.RetryAfter = "1";
            throw new ApiError(429, "overloaded", $"the queue is full ({Options.MaxQueue} requests waiting): retry later");
        }
        try
        {
            return await item.Result.Task.WaitAsync(context.RequestAborted);
        }
        catch (InputTooLongException e)
        {
            throw new ApiError(422, "validation", e.Message + " (send truncate: true to cut it)");
        }
        catch (InvalidInputException e)
        {
            throw new ApiError(422, "validation", e.Message);
        }
        catch (UnsupportedTaskException e)
        {
            throw new ApiError(424, "backend", e.Message);
        }
    }

    /// <summary>The body as a JSON object: at most MaxBodyBytes (413), strict UTF-8 (400), valid JSON (400).</summary>
    private async Task<JsonObject> ReadJson(HttpContext context)
    {
        if (context.Request.ContentLength > Options.MaxBodyBytes)
            throw new ApiError(413, "validation", $"the body is {context.Request.ContentLength} bytes, more than the limit of {Options.MaxBodyBytes}");
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > Options.MaxBodyBytes)
                throw new ApiError(413, "validation", $"the body is more than the limit of {Options.MaxBodyBytes} bytes");
            buffer.Write(chunk, 0, read);
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (DecoderFallbackException)
        {
            throw new ApiError(400, "validation", "the body is not UTF-8 text");
        }
        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new ApiError(400, "validation", "the body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new ApiError(400, "validation", $"the body is not valid JSON: {e.Message}");
        }
    }

    /// <summary>
    /// A string or a non-empty list of strings under <paramref name="field"/>; at most MaxInputs (413). With
    /// <paramref name="acceptIds"/> (the embedding routes, as text-embeddings-inference's and OpenAI's), an input may
    /// also be token ids: <c>[101, 2023, 102]</c> is one input, and a list may mix texts and id lists. Ids holds each
    /// input's ids (null for a text), or is null when no input has any.
    /// </summary>
    private (List<string> Texts, List<int[]?>? Ids, bool Single) Inputs(JsonObject body, string field, bool acceptIds)
    {
        var what = acceptIds ? "a string, token ids, or a list of strings and token-id lists" : "a string or a list of strings";
        static bool IsNumber(JsonNode? n) => n is JsonValue v && v.GetValueKind() == JsonValueKind.Number;
        static int[] Ids(JsonArray array, string where) => array.Select((n, j) =>
            IsNumber(n) && n!.AsValue().TryGetValue<int>(out var id) ? id
                : throw new ApiError(400, "validation", $"{where}[{j}] must be a whole number (a token id)")).ToArray();

        var node = body[field];
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return ([v.GetValue<string>()], null, true);
        if (node is JsonArray array)
        {
            if (array.Count == 0) throw new ApiError(400, "validation", $"'{field}' is an empty list");
            if (acceptIds && IsNumber(array[0])) return ([""], [Ids(array, $"'{field}'")], true);
            if (array.Count > Options.MaxInputs)
                throw new ApiError(413, "validation", $"'{field}' has {array.Count} inputs, more than the limit of {Options.MaxInputs}");
            var texts = new List<string>(array.Count);
            var ids = new List<int[]?>(array.Count);
            for (var i = 0; i < array.Count; i++)
            {
                var (text, own) = array[i] switch
                {
                    JsonValue s when s.GetValueKind() == JsonValueKind.String => (s.GetValue<string>(), null),
                    JsonArray list when acceptIds => ("", Ids(list, $"'{field}'[{i}]")),
                    _ => throw new ApiError(400, "validation", $"'{field}'[{i}] must be {(acceptIds ? "a string or a list of token ids" : "a string")}"),
                };
                texts.Add(text);
                ids.Add(own);
            }
            return (texts, ids.Any(i => i is not null) ? ids : null, false);
        }
        throw new ApiError(400, "validation", node is null ? $"the body needs '{field}': {what}" : $"'{field}' must be {what}");
    }

    /// <summary>
    /// /predict's <c>inputs</c> as text-embeddings-inference reads them: a string; an array of one or two strings (a
    /// text, or a pair classified together as [CLS] a [SEP] b [SEP]); or a batch, an array of such arrays. So
    /// <c>["a", "b"]</c> is one pair, and a batch of single texts is <c>[["a"], ["b"]]</c>.
    /// </summary>
    private (List<string> Texts, List<string?> Pairs, bool Single) PredictInputs(JsonObject body)
    {
        const string shapes = "a string, a pair [\"text\", \"text\"] or a batch [[\"text\"], [\"text\", \"text\"], ...]";
        static string? Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        static (string Text, string? Pair) Sequence(JsonArray array, string where) => array.Count is 1 or 2
            ? (Text(array[0]) ?? throw new ApiError(400, "validation", $"{where}[0] must be a string"),
               array.Count == 2 ? Text(array[1]) ?? throw new ApiError(400, "validation", $"{where}[1] must be a string") : null)
            : throw new ApiError(400, "validation", $"{where} has {array.Count} strings: a text is one, a pair two");

        var node = body["inputs"];
        if (Text(node) is { } single) return ([single], [null], true);
        if (node is not JsonArray array)
            throw new ApiError(400, "validation", node is null ? $"the body needs 'inputs': {shapes}" : $"'inputs' must be {shapes}");
        if (array.Count == 0) throw new ApiError(400, "validation", "'inputs' is an empty list");
        if (array[0] is not JsonArray)
        {
            if (array.Count > 2)
                throw new ApiError(400, "validation", $"'inputs' has {array.Count} strings: a pair has two; send a batch as [[\"text\"], [\"text\"], ...]");
            var (text, pair) = Sequence(array, "'inputs'");
            return ([text], [pair], true);
        }
        if (array.Count > Options.MaxInputs)
            throw new ApiError(413, "validation", $"'inputs' has {array.Count} inputs, more than the limit of {Options.MaxInputs}");
        var (texts, pairs) = (new List<string>(array.Count), new List<string?>(array.Count));
        for (var i = 0; i < array.Count; i++)
        {
            var (text, pair) = Sequence(array[i] as JsonArray ?? throw new ApiError(400, "validation", $"'inputs'[{i}] must be a list of one or two strings (a batch's items are [\"text\"] or [\"text\", \"text\"])"), $"'inputs'[{i}]");
            texts.Add(text);
            pairs.Add(pair);
        }
        return (texts, pairs, false);
    }

    private static bool Bool(JsonObject body, string field, bool fallback) => body[field] switch
    {
        null => fallback,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw new ApiError(400, "validation", $"'{field}' must be true or false"),
    };

    private static async Task WriteError(HttpContext context, int status, string type, string message)
    {
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new { error = message, error_type = type });
    }
}

// Request shapes, for the OpenAPI document only (the handlers read the JSON themselves, to answer every mistake
// precisely); field names as the clients send them.
internal sealed record EmbedRequest(
    [property: JsonPropertyName("inputs"), Description("A text, token ids [101, ...] used as sent, or a list of texts and token-id lists")] object Inputs,
    [property: JsonPropertyName("normalize")] bool Normalize = true,
    [property: JsonPropertyName("truncate")] bool Truncate = false);
internal sealed record PredictRequest(
    [property: JsonPropertyName("inputs"), Description("A text, a pair [text, text], or a batch [[text], [text, text], ...]")] object Inputs,
    [property: JsonPropertyName("raw_scores")] bool RawScores = false,
    [property: JsonPropertyName("truncate")] bool Truncate = false);
internal sealed record RerankRequest(
    [property: JsonPropertyName("query"), Description("Paired with each text as [CLS] query [SEP] text [SEP]")] string Query,
    [property: JsonPropertyName("texts"), Description("The texts to rank")] string[] Texts,
    [property: JsonPropertyName("raw_scores"), Description("The logit itself instead of its sigmoid")] bool RawScores = false,
    [property: JsonPropertyName("return_text")] bool ReturnText = false,
    [property: JsonPropertyName("truncate")] bool Truncate = false);
internal sealed record FillMaskRequest(
    [property: JsonPropertyName("inputs"), Description("A text with [MASK] or a list of them")] object Inputs,
    [property: JsonPropertyName("top_k")] int TopK = 5);
internal sealed record OpenAiEmbeddingRequest(
    [property: JsonPropertyName("input"), Description("A text, token ids [101, ...] used as sent, or a list of texts and token-id lists")] object Input,
    [property: JsonPropertyName("model")] string? Model = null);
