using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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
        builder.Services.ConfigureHttpJsonOptions(o => HttpJson.Configure(o.SerializerOptions));
        builder.Services.AddOpenApi();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;   // enforced by ReadBody, which answers a JSON 413
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
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
                                    || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
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

    /// <summary>Every route the server answers, for the request metrics' route label (anything else counts as "other").</summary>
    private readonly HashSet<string> routes = [];

    private void Map(ServerMetrics metrics)
    {
        app.Use(async (context, next) =>
        {
            var clock = Stopwatch.StartNew();
            var route = context.Request.Path.Value is { } path && routes.Contains(path) ? path : "other";
            try
            {
                if (Options.ApiKey is { } key && route != "/health"
                    && context.Request.Headers.Authorization.ToString() != $"Bearer {key}")
                    throw new ApiError(401, "unauthorized", "missing or wrong API key: send Authorization: Bearer KEY");
                await next(context);
            }
            catch (Exception e) when (AsApiError(e) is { } error)
            {
                if (error.Status == 429) context.Response.Headers.RetryAfter = "1";
                await WriteError(context, error);
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

        Get("/health", () => Results.Json(new HealthResponse("ok"))).Produces<HealthResponse>();
        Get("/info", () => Results.Json(Info())).Produces<InfoResponse>();
        Get("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        routes.Add("/openapi.json");
        app.MapOpenApi("/openapi.json");

        Post<EmbedRequest>("/embed", InferenceTask.Embed, async (request, context) =>
        {
            var inputs = new ModelInputs(request.Inputs!.Texts, request.Truncate, Ids: request.Inputs.Ids);
            return Results.Json(await Submit(new Work<float[]>(new EmbedJob(Options.Pooling, request.Normalize), inputs, context.RequestAborted)));
        }).Produces<float[][]>().WithSummary("Embeddings, as text-embeddings-inference's /embed");

        Post<OpenAiEmbeddingRequest>("/v1/embeddings", InferenceTask.Embed, async (request, context) =>
        {
            var work = new Work<float[]>(new EmbedJob(Options.Pooling, Normalize: true),
                new ModelInputs(request.Input!.Texts, Truncate: true, Ids: request.Input.Ids),
                context.RequestAborted);
            var vectors = await Submit(work);
            return Results.Json(new OpenAiEmbeddingResponse("list", vectors.Select((v, i) => new OpenAiEmbedding("embedding", i, v)).ToList(),
                request.Model ?? ModelName, new OpenAiUsage(work.Tokens, work.Tokens)));
        }).Produces<OpenAiEmbeddingResponse>().WithSummary("Embeddings, as OpenAI's /v1/embeddings");

        Post<PredictRequest>("/predict", InferenceTask.Classify, async (request, context) =>
        {
            var inputs = new ModelInputs(request.Inputs!.Texts, request.Truncate, request.Inputs.Pairs);
            var labels = await Submit(new Work<LabelScore[]>(new ClassifyJob(request.RawScores), inputs, context.RequestAborted));
            return request.Inputs.Single ? Results.Json(labels[0]) : Results.Json(labels);
        }).Produces<LabelScore[]>().WithSummary("Labels with scores, as text-embeddings-inference's /predict: a text, a pair [text, " +
            "text] or a batch [[text], [text, text], ...]");

        Post<RerankRequest>("/rerank", InferenceTask.Rerank, async (request, context) =>
        {
            var texts = request.Texts!;
            var inputs = new ModelInputs(texts.Select(_ => request.Query!).ToList(), request.Truncate, texts);
            var scores =
                (await Submit(new Work<LabelScore[]>(new ClassifyJob(RawScores: true), inputs, context.RequestAborted))).Select(l =>
                l[0].Score).ToList();
            // As text-embeddings-inference: [CLS] query [SEP] text [SEP] each, the sigmoid of the one logit unless
            // raw_scores, highest first.
            var ranks = scores.Select((s, i) => new Rank(i, request.RawScores ? s : 1 / (1 + Math.Exp(-s)), request.ReturnText ? texts[i] : null))
                .OrderByDescending(r => r.Score).ThenBy(r => r.Index).ToList();
            return Results.Json(ranks);
        }).Produces<Rank[]>()
            .WithSummary("Texts ranked by a one-output classifier's score for (query, text), as text-embeddings-inference's /rerank");

        Post<FillMaskRequest>("/fill-mask", InferenceTask.FillMask, async (request, context) =>
        {
            var inputs = new ModelInputs(request.Inputs!.Texts, Truncate: false);
            var perText = await Submit(new Work<List<List<FillMaskCandidate>>>(new FillMaskJob(request.TopK), inputs, context.RequestAborted));
            var shaped = perText.Select(masks => masks.Count == 1 ? (object)masks[0] : masks).ToList();
            return Results.Json(request.Inputs.Single ? shaped[0] : shaped);
        }).Produces<FillMaskCandidate[]>().WithSummary("The pipeline's fill-mask output for each [MASK]");
    }

    private RouteHandlerBuilder Get(string route, Delegate handler)
    {
        routes.Add(route);
        return app.MapGet(route, handler);
    }

    /// <summary>A POST route: the model must do <paramref name="task"/> (else 424, before the body is read), and the
    /// body is parsed and validated as <typeparamref name="TRequest"/> before <paramref name="handle"/> sees it.</summary>
    private RouteHandlerBuilder Post<TRequest>(string route, InferenceTask task, Func<TRequest, HttpContext, Task<IResult>> handle)
        where TRequest : IServeRequest
    {
        routes.Add(route);
        return app.MapPost(route, async (HttpContext context) =>
        {
            model.Require(task);
            return await handle(await Read<TRequest>(context), context);
        }).Accepts<TRequest>(Json).Produces<ErrorResponse>(400);
    }

    private const string Json = "application/json";

    private string ModelName => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(model.Source)));

    private static string TaskName(InferenceTask task) => task switch
    {
        InferenceTask.Classify => "predict",
        InferenceTask.FillMask => "fill-mask",
        _ => task.ToString().ToLowerInvariant(),
    };

    private InfoResponse Info() => new(ModelName, model.Source, model.Config.LayerPattern, model.Config.HiddenSize, model.Config.NumHiddenLayers,
        model.Config.VocabSize, model.MaxLength, model.Tasks.Select(TaskName).ToList(), model.Task?.Labels,
            Options.Pooling.ToString().ToLowerInvariant(),
        Options.MaxBatchTokens, Options.MaxBatchRequests, Options.MaxWaitMs, Options.MaxInputs, Options.MaxBodyBytes, Options.MaxQueue);

    /// <summary>Queues the work (429 when the queue is full) and waits for its results or the client's going away.</summary>
    private async Task<IReadOnlyList<T>> Submit<T>(Work<T> work)
    {
        if (!batcher.TryEnqueue(work))
            throw new ApiError(429, "overloaded", $"the queue is full ({Options.MaxQueue} requests waiting): retry later");
        return await work.Result.WaitAsync(work.Aborted);
    }

    /// <summary>The status and words for a failure a client caused or must know about; null for anything else (a bug: 500).</summary>
    private static ApiError? AsApiError(Exception e) => e switch
    {
        ApiError api => api,
        UnsupportedTaskException unsupported => new ApiError(424, "backend", unsupported.Message),
        InputTooLongException tooLong => new ApiError(422, "validation", tooLong.Message + " (send truncate: true to cut it)"),
        InvalidInputException invalid => new ApiError(422, "validation", invalid.Message),
        _ => null,
    };

    /// <summary>The body as <typeparamref name="TRequest"/>: valid JSON (400), each field of its type (400 naming it),
    /// then <see cref="IServeRequest.Validate"/>.</summary>
    private async Task<TRequest> Read<TRequest>(HttpContext context) where TRequest : IServeRequest
    {
        var body = await ReadBody(context);
        TRequest request;
        try
        {
            request = body.Deserialize<TRequest>(HttpJson.Options)!;
        }
        catch (JsonException e)
        {
            throw RequestChecks.Invalid(RequestChecks.Describe(typeof(TRequest), e, HttpJson.Options.PropertyNamingPolicy!));
        }
        request.Validate(Options);
        return request;
    }

    /// <summary>The body as a JSON object: at most MaxBodyBytes (413), strict UTF-8 (400), valid JSON (400).</summary>
    private async Task<JsonObject> ReadBody(HttpContext context)
    {
        if (context.Request.ContentLength > Options.MaxBodyBytes)
            throw new ApiError(413, "validation",
                $"the body is {context.Request.ContentLength} bytes, more than the limit of {Options.MaxBodyBytes}");
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

    private static async Task WriteError(HttpContext context, ApiError error)
    {
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = error.Status;
        await context.Response.WriteAsJsonAsync(new ErrorResponse(error.Message, error.Type), HttpJson.Options);
    }
}

/// <summary>
/// The server's JSON: the project's snake_case policy (<see cref="IO.JsonFiles"/>), compact, numbers only as numbers
/// (what the OpenAPI document types them as), and text unescaped beyond what JSON needs (a client reads
/// <c>'inputs'</c>, not <c>\u0027inputs\u0027</c>; these bodies are never embedded in HTML).
/// </summary>
internal static class HttpJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions());

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        IO.JsonFiles.ApplyPolicy(options);
        options.WriteIndented = false;
        options.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        options.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        return options;
    }
}
