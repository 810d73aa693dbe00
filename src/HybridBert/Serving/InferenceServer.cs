using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Globalization;
using HybridBert.Text;
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
using Microsoft.AspNetCore.Server.Kestrel.Core;
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
    internal InferenceModel Model => model;
    private readonly bool ownsModel;

    public Uri Address { get; private set; } = null!;
    /// <summary>The gRPC address (<see cref="ServeOptions.GrpcPort"/>), or null when gRPC is off.</summary>
    public Uri? GrpcAddress { get; private set; }
    public ServeOptions Options { get; }
    /// <summary>How embeddings pool: <see cref="ServeOptions.Pooling"/>, else the model's declared pooling, else mean.</summary>
    public FineTuning.Pooling Pooling { get; }

    private InferenceServer(WebApplication app, Batcher batcher, InferenceModel model, bool ownsModel, ServeOptions options) =>
        (this.app, this.batcher, this.model, this.ownsModel, Options, Pooling) = (app, batcher, model, ownsModel, options,
            model.PoolingFor(options.Pooling));

    /// <summary>Loads the model (unless given one), binds and starts serving; a port in use is an <see cref="IOException"/> naming it.</summary>
    public static async Task<InferenceServer> StartAsync(ServeOptions options, InferenceModel? loaded = null, CancellationToken cancel = default)
    {
        options.Validate();
        TorchSharp.torch.set_num_threads(options.Threads);
        var model = loaded ?? InferenceModel.Load(options.Model, options.Device, options.MaxBatchTokens, options.Runtime, options.Quantized);
        if (options.DefaultPromptName is { } name && !model.Prompts.ContainsKey(name))
        {
            if (loaded is null) model.Dispose();
            throw new InvalidDataException($"--default-prompt-name {name}: the model's prompts are " +
                (model.Prompts.Count == 0 ? $"none (no {InferenceModel.SentenceTransformersConfig} with prompts)" :
                    string.Join(", ", model.Prompts.Keys)));
        }
        var metrics = new ServerMetrics();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.ConfigureHttpJsonOptions(o => HttpJson.Configure(o.SerializerOptions));
        builder.Services.AddOpenApi();
        var holder = new GrpcServices.ServerHolder();
        if (options.GrpcPort is not null)
        {
            builder.Services.AddGrpc();
            builder.Services.AddSingleton(holder);
        }
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;   // enforced by ReadBody, which answers a JSON 413
            if (options.Host == "localhost") k.ListenLocalhost(options.Port);
            else k.Listen(IPAddress.Parse(options.Host), options.Port);
            // gRPC (text-embeddings-inference's tei.v1) on its own port, HTTP/2 without TLS as TEI serves it.
            if (options.GrpcPort is { } grpc)
            {
                if (options.Host == "localhost") k.ListenLocalhost(grpc, l => l.Protocols = HttpProtocols.Http2);
                else k.Listen(IPAddress.Parse(options.Host), grpc, l => l.Protocols = HttpProtocols.Http2);
            }
        });
        var app = builder.Build();
        var batcher = new Batcher(model, options, metrics);
        var server = new InferenceServer(app, batcher, model, loaded is null, options);
        holder.Server = server;
        server.Map(metrics);
        if (options.GrpcPort is not null) GrpcServices.Map(app);
        try
        {
            await app.StartAsync(cancel);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
                                    || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            await server.DisposeAsync();
            throw new IOException($"port {options.Port}{(options.GrpcPort is { } g ? $" or {g}" : "")} on {options.Host} is already in use: " +
                "stop what holds it or choose another --port");
        }
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a.Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1"))).ToList();
        server.Address = addresses.First(a => options.GrpcPort is not { } g || g == 0 ? true : a.Port != g);
        if (options.GrpcPort is { } grpcPort) server.GrpcAddress = grpcPort == 0 ? addresses.Last() : addresses.First(a => a.Port == grpcPort);
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

    /// <summary>The tokenizer of /tokenize and /decode (the batcher's is its own thread's); one request at a time.</summary>
    private BertTokenizer? requestTokenizer;

    /// <summary>The tokenization workers' engines (<see cref="ServeOptions.TokenizationWorkers"/>), each over its own
    /// tokenizer; null when the batcher tokenizes.</summary>
    private System.Threading.Channels.Channel<Engines>? tokenizers;

    private void Map(ServerMetrics metrics)
    {
        requestTokenizer = new BertTokenizer(model.Tokenizer.Vocabulary, model.Tokenizer.Basic.Lowercase);
        if (Options.TokenizationWorkers > 0)
        {
            tokenizers = System.Threading.Channels.Channel.CreateUnbounded<Engines>();
            for (var w = 0; w < Options.TokenizationWorkers; w++) tokenizers.Writer.TryWrite(new Engines(model.ForTokenizing()));
        }
        app.Use(async (context, next) =>
        {
            if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
            {
                await next(context);   // gRPC: its own errors and key check (GrpcServices)
                return;
            }
            var clock = Stopwatch.StartNew();
            var route = context.Request.Path.Value is { } path && routes.Contains(path) ? path : "other";
            try
            {
                // the page itself; its requests need the key
                var open = route is "/health" or "/ping" || context.Request.Path.StartsWithSegments("/docs");
                if (Options.ApiKey is { } key && !open
                    && context.Request.Headers.Authorization.ToString() != $"Bearer {key}")
                    throw new ApiError(401, ErrorTypes.Unauthorized, "missing or wrong API key: send Authorization: Bearer KEY");
                await next(context);
                // The framework's own answers (no such route, a method the route does not take, a body that is not
                // declared JSON) as JSON errors too.
                if (context.Response.StatusCode is 404 or 405 or 415 && !context.Response.HasStarted)
                    throw context.Response.StatusCode switch
                    {
                        404 => new ApiError(404, ErrorTypes.NotFound,
                            $"no route {context.Request.Path}: the routes are {string.Join(", ", routes.Order())}"),
                        405 => new ApiError(405, ErrorTypes.NotFound, $"{context.Request.Path} does not take {context.Request.Method}"),
                        _ => new ApiError(415, ErrorTypes.Validation, $"the body is sent as '{context.Request.ContentType}': send JSON " +
                            "with the header Content-Type: application/json (curl: -H 'Content-Type: application/json')"),
                    };
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

        foreach (var health in new[] { "/health", "/ping" }) Get(health, () => Results.Json(new HealthResponse("ok"))).Produces<HealthResponse>();
        Get("/", () => Results.Json(new HealthResponse("ok"))).ExcludeFromDescription();
        Get("/info", () => Results.Json(Info())).Produces<InfoResponse>();
        Get("/v1/models", () => Results.Json(new ModelList("list", [new ModelCard(ModelName, "model", Started.ToUnixTimeSeconds(), "hybridbert")])))
            .Produces<ModelList>();
        Get("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        routes.Add("/openapi.json");
        app.MapOpenApi("/openapi.json");
        // A page for people: Swagger UI over /openapi.json, its assets served from the package (no CDN), where every
        // route can be tried.
        routes.Add("/docs");
        routes.Add("/docs/index.html");
        app.UseSwaggerUI(ui =>
        {
            ui.RoutePrefix = "docs";
            ui.SwaggerEndpoint("/openapi.json", "HybridBert");
            ui.DocumentTitle = $"HybridBert: {ModelName}";
        });

        Post<EmbedRequest>("/embed", InferenceTask.Embed, Embed).Produces<float[][]>()
            .WithSummary("Embeddings, as text-embeddings-inference's /embed");
        foreach (var openAi in new[] { "/v1/embeddings", "/embeddings" })
            Post<OpenAiEmbeddingRequest>(openAi, InferenceTask.Embed, OpenAiEmbed).Produces<OpenAiEmbeddingResponse>()
                .WithSummary("Embeddings, as OpenAI's /v1/embeddings");
        Post<EmbedAllRequest>("/embed_all", InferenceTask.Embed, async (request, context) =>
            Results.Json(await Submit(new Work<float[][]>(new EmbedAllJob(), Inputs(request), context.RequestAborted))))
            .Produces<float[][][]>().WithSummary("Every token's vector, as text-embeddings-inference's /embed_all");
        Post<EmbedSparseRequest>("/embed_sparse", InferenceTask.EmbedSparse, async (request, context) =>
        {
            var sparse = await Submit(new Work<List<(int Index, float Value)>>(new EmbedSparseJob(), Inputs(request), context.RequestAborted));
            return Results.Json(sparse.Select(v => v.Select(e => new SparseValue(e.Index, e.Value)).ToList()).ToList());
        }).Produces<SparseValue[][]>().WithSummary("SPLADE-style sparse vectors from the MLM head, as text-embeddings-inference's /embed_sparse");
        Post<SimilarityRequest>("/similarity", InferenceTask.Embed, async (request, context) =>
        {
            var parameters = request.Parameters ?? new SimilarityParameters();
            var texts = WithPrompt(new[] { request.Inputs!.SourceSentence! }.Concat(request.Inputs.Sentences!).ToList(), parameters.PromptName);
            var inputs = new ModelInputs(texts, parameters.Truncate ?? Options.AutoTruncate,
                FromLeft: parameters.TruncationDirection == TruncationDirection.Left);
            var vectors = await Submit(new Work<float[]>(new EmbedJob(Pooling, Normalize: true), inputs, context.RequestAborted));
            return Results.Json(vectors.Skip(1).Select(v => v.Zip(vectors[0], (a, b) => a * b).Sum()).ToList());
        }).Produces<float[]>().WithSummary("Cosine similarity of source_sentence with each sentence, as text-embeddings-inference's /similarity");
        if (model.CanTag)
            Post<PredictRequest>("/predict", InferenceTask.Tag, PredictTags).Produces<TokenPrediction[]>()
                .WithSummary("Tags per word of a text or a batch of texts, as Hugging Face's token-classification pipeline answers " +
                             "(entity or entity_group, score, word, start, end), with its aggregation_strategy");
        else
            Post<PredictRequest>("/predict", InferenceTask.Classify, Predict).Produces<LabelScore[]>()
                .WithSummary("Labels with scores, as text-embeddings-inference's /predict: a text, a pair [text, text] or a batch [[text], " +
                    "[text, text], ...]");
        Post<RerankRequest>("/rerank", InferenceTask.Rerank, Rerank).Produces<Rank[]>()
            .WithSummary("Texts ranked by a one-output classifier's score for (query, text), as text-embeddings-inference's /rerank");
        Post<FillMaskRequest>("/fill-mask", InferenceTask.FillMask, async (request, context) =>
        {
            var inputs = new ModelInputs(request.Inputs!.Texts, Truncate: false);
            var perText = await Submit(new Work<List<List<FillMaskCandidate>>>(new FillMaskJob(request.TopK), inputs, context.RequestAborted));
            var shaped = perText.Select(masks => masks.Count == 1 ? (object)masks[0] : masks).ToList();
            return Results.Json(request.Inputs.Single ? shaped[0] : shaped);
        }).Produces<FillMaskCandidate[]>().WithSummary("The pipeline's fill-mask output for each [MASK]");
        Post<TokenizeRequest>("/tokenize", InferenceTask.Embed, (request, _) =>
            Task.FromResult(Results.Json(WithPrompt(request.Inputs!.Texts, request.PromptName)
                .Select(text => Tokenize(text, request.AddSpecialTokens)).ToList())))
            .Produces<SimpleToken[][]>().WithSummary("Tokens with their ids and places in the text, as text-embeddings-inference's /tokenize");
        Post<DecodeRequest>("/decode", InferenceTask.Embed, (request, _) =>
            Task.FromResult(Results.Json(request.Ids!.Sequences.Select(ids => Decode(ids, request.SkipSpecialTokens)).ToList())))
            .Produces<string[]>().WithSummary("Texts of token ids, as text-embeddings-inference's /decode");

        // POST /: what the model is for, as text-embeddings-inference routes it.
        var rootTask = model.Tasks.Contains(InferenceTask.Rerank) ? InferenceTask.Rerank : model.CanClassify ? InferenceTask.Classify
            : model.CanTag ? InferenceTask.Tag : InferenceTask.Embed;
        (rootTask switch
        {
            InferenceTask.Rerank => Post<RerankRequest>("/", rootTask, Rerank),
            InferenceTask.Classify => Post<PredictRequest>("/", rootTask, Predict),
            InferenceTask.Tag => Post<PredictRequest>("/", rootTask, PredictTags),
            _ => Post<EmbedRequest>("/", rootTask, Embed),
        }).ExcludeFromDescription();
    }

    private static readonly DateTimeOffset Started = DateTimeOffset.UtcNow;

    private async Task<IResult> Embed(EmbedRequest request, HttpContext context) =>
        Results.Json(await Submit(new Work<float[]>(new EmbedJob(Pooling, request.Normalize, request.Dimensions), Inputs(request),
            context.RequestAborted)));

    /// <summary>An embedding request's inputs as the model encodes them: the prompt before each text (not before token
    /// ids), truncation as asked or the server's <c>--auto-truncate</c>.</summary>
    private ModelInputs Inputs(EmbeddingRequest request) =>
        new(WithPrompt(request.Inputs!.Texts, request.PromptName, request.Inputs.Ids), request.Truncate ?? Options.AutoTruncate,
            Ids: request.Inputs.Ids,
            FromLeft: request.TruncationDirection == TruncationDirection.Left);

    /// <summary>
    /// The texts with the prompt put before each, as text-embeddings-inference does: the one a request names (which must
    /// be one of the model's, from its sentence-transformers configuration: 422 otherwise), else the server's
    /// <c>--default-prompt-name</c> or <c>--default-prompt</c>, else the configuration's own default, else none.
    /// Inputs given as token ids are used as sent.
    /// </summary>
    internal IReadOnlyList<string> WithPrompt(IReadOnlyList<string> texts, string? promptName, IReadOnlyList<int[]?>? ids = null)
    {
        string? prompt;
        var name = promptName ?? Options.DefaultPromptName ?? (Options.DefaultPrompt is null ? model.DefaultPromptName : null);
        if (name is not null)
        {
            var known = model.Prompts.Count == 0 ? $"it has none: no {InferenceModel.SentenceTransformersConfig}"
                : string.Join(", ", model.Prompts.Keys);
            prompt = model.Prompts.TryGetValue(name, out var text) ? text
                : throw new ApiError(422, ErrorTypes.Validation, $"prompt_name '{name}' is not one of the model's prompts ({known})");
        }
        else prompt = Options.DefaultPrompt;
        if (string.IsNullOrEmpty(prompt)) return texts;
        return texts.Select((t, i) => ids?[i] is not null ? t : prompt + t).ToList();
    }

    private async Task<IResult> OpenAiEmbed(OpenAiEmbeddingRequest request, HttpContext context)
    {
        var work = new Work<float[]>(new EmbedJob(Pooling, Normalize: true, request.Dimensions),
            new ModelInputs(WithPrompt(request.Input!.Texts, null, request.Input.Ids), Truncate: true, Ids: request.Input.Ids),
                context.RequestAborted);
        var vectors = await Submit(work);
        object Encoded(float[] v) => request.EncodingFormat == "base64" ? Convert.ToBase64String(MemoryMarshal.AsBytes(v.AsSpan())) : v;
        return Results.Json(new OpenAiEmbeddingResponse("list", vectors.Select((v, i) => new OpenAiEmbedding("embedding", i, Encoded(v))).ToList(),
            request.Model ?? ModelName, new OpenAiUsage(work.Tokens, work.Tokens)));
    }

    private async Task<IResult> Predict(PredictRequest request, HttpContext context)
    {
        var inputs = new ModelInputs(request.Inputs!.Texts, request.Truncate ?? Options.AutoTruncate, request.Inputs.Pairs,
            FromLeft: request.TruncationDirection == TruncationDirection.Left);
        var labels = await Submit(new Work<LabelScore[]>(new ClassifyJob(request.RawScores), inputs, context.RequestAborted));
        return request.Inputs.Single ? Results.Json(labels[0]) : Results.Json(labels);
    }

    /// <summary>/predict for a token classifier: per text, the pipeline's entities (one text in, one list out).</summary>
    private async Task<IResult> PredictTags(PredictRequest request, HttpContext context)
    {
        var aggregation = request.AggregationStrategy is { } a ? Enum.Parse<FineTuning.Aggregation>(a, ignoreCase: true)
            : FineTuning.Aggregation.Simple;
        var inputs = new ModelInputs(request.Inputs!.Texts, request.Truncate ?? Options.AutoTruncate, request.Inputs.Pairs);
        var tagged = await Submit(new Work<TokenPrediction[]>(new TagJob(aggregation), inputs, context.RequestAborted));
        return request.Inputs.Single ? Results.Json(tagged[0], TagJson) : Results.Json(tagged, TagJson);
    }

    /// <summary>The pipeline's fields without the ones an aggregation leaves out (entity vs entity_group, index).</summary>
    private static readonly System.Text.Json.JsonSerializerOptions TagJson = HttpJson.Configure(new System.Text.Json.JsonSerializerOptions
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    });

    private async Task<IResult> Rerank(RerankRequest request, HttpContext context)
    {
        var texts = request.Texts!;
        var inputs = new ModelInputs(texts.Select(_ => request.Query!).ToList(), request.Truncate ?? Options.AutoTruncate, texts,
            FromLeft: request.TruncationDirection == TruncationDirection.Left);
        var scores =
            (await Submit(new Work<LabelScore[]>(new ClassifyJob(RawScores: true), inputs, context.RequestAborted))).Select(l => l[0].Score).ToList();
        // As text-embeddings-inference: [CLS] query [SEP] text [SEP] each, the sigmoid of the one logit unless
        // raw_scores, highest first.
        var ranks = scores.Select((s, i) => new Rank(i, request.RawScores ? s : 1 / (1 + Math.Exp(-s)), request.ReturnText ? texts[i] : null))
            .OrderByDescending(r => r.Score).ThenBy(r => r.Index).ToList();
        return Results.Json(ranks);
    }

    /// <summary>/tokenize: each token with its text and its place in <paramref name="text"/> in characters (code points).</summary>
    internal List<SimpleToken> Tokenize(string text, bool addSpecialTokens)
    {
        List<TokenSpan> spans;
        lock (requestTokenizer!) spans = requestTokenizer.TokenizeWithSpans(text);
        var vocabulary = model.Tokenizer.Vocabulary;
        // Code-point positions of every UTF-16 position, counted once (a token's start and stop are looked up, not recounted).
        var characters = new int[text.Length + 1];
        for (var i = 0; i < text.Length; i++) characters[i + 1] = characters[i] + (char.IsLowSurrogate(text[i]) ? 0 : 1);
        int Characters(int utf16) => characters[utf16];
        var tokens = spans.Select(s => s.Start is { } start && s.End is { } end
            ? new SimpleToken(s.Id, s.Special ? vocabulary.Tokens[s.Id] : text[start..end], s.Special, Characters(start), Characters(end))
            : new SimpleToken(s.Id, vocabulary.Tokens[s.Id], s.Special, null, null)).ToList();
        if (!addSpecialTokens) return tokens;
        return [new SimpleToken(vocabulary.ClsId, Vocabulary.Cls, true, null, null), .. tokens,
            new SimpleToken(vocabulary.SepId, Vocabulary.Sep, true, null, null)];
    }

    internal string Decode(int[] ids, bool skipSpecialTokens)
    {
        var size = model.Tokenizer.Vocabulary.Count;
        var outside = Array.FindIndex(ids, id => id >= size);
        if (outside >= 0) throw new ApiError(422, ErrorTypes.Validation,
            $"token id {ids[outside]} at position {outside} is outside the vocabulary [0, {size})");
        lock (requestTokenizer!) return requestTokenizer.Decode(ids, skipSpecialTokens);
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

    /// <summary>The model's name: its Hub id (org/name, as text-embeddings-inference reports it), else its folder's name.</summary>
    internal string ModelName => model.Pulled?.Id.Repo ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(model.Source)));

    private static string TaskName(InferenceTask task) => task switch
    {
        InferenceTask.Classify => "predict",
        InferenceTask.FillMask => "fill-mask",
        InferenceTask.EmbedSparse => "embed_sparse",
        _ => task.ToString().ToLowerInvariant(),
    };

    private static readonly string Version =
        typeof(InferenceServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    internal InfoResponse Info()
    {
        object modelType;
        if (model.TokenTask is { } tags)
        {
            modelType = new Dictionary<string, object>
            {
                ["token_classifier"] = new Dictionary<string, object>
                {
                    ["id2label"] = tags.Labels.Select((l, i) => (l, i)).ToDictionary(p => p.i.ToString(CultureInfo.InvariantCulture), p => p.l),
                    ["label2id"] = tags.Labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i),
                },
            };
        }
        else if (model.Task is { } head)
        {
            var labels = head.Regression ? ["score"] : head.Labels;
            var classifier = new Dictionary<string, object>
            {
                ["id2label"] = labels.Select((l, i) => (l, i)).ToDictionary(p => p.i.ToString(CultureInfo.InvariantCulture), p => p.l),
                ["label2id"] = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i),
            };
            modelType = new Dictionary<string, object> { [head.Regression ? "reranker" : "classifier"] = classifier };
        }
        else
        {
            var pooling = new Dictionary<string, string> { ["pooling"] = Pooling.ToString().ToLowerInvariant() };
            modelType = new Dictionary<string, object> { ["embedding"] = pooling };
        }
        return new InfoResponse
        {
            ModelId = ModelName, ModelSha = model.Pulled?.Commit, ModelDtype = model.Quantized ? "int8" : "float32",
            ServedModelName = ModelName, ModelType = modelType,
            MaxConcurrentRequests = Options.MaxQueue, MaxInputLength = model.MaxLength, MaxBatchTokens = Options.MaxBatchTokens,
            MaxBatchRequests = Options.MaxBatchRequests, MaxClientBatchSize = Options.MaxInputs, AutoTruncate = Options.AutoTruncate,
                TokenizationWorkers = Math.Max(1, Options.TokenizationWorkers),
            Version = Version, ModelPath = model.Source, LayerPattern = model.Config.LayerPattern, HiddenSize = model.Config.HiddenSize,
            NumHiddenLayers = model.Config.NumHiddenLayers, VocabSize = model.Config.VocabSize, Tasks = model.Tasks.Select(TaskName).ToList(),
            Labels = model.Task?.Labels, Pooling = Pooling.ToString().ToLowerInvariant(), MaxWaitMs = Options.MaxWaitMs,
            MaxInputs = Options.MaxInputs, MaxBodyBytes = Options.MaxBodyBytes, MaxQueue = Options.MaxQueue,
        };
    }

    /// <summary>Queues the work (429 when the queue is full) and waits for its results or the client's going away.</summary>
    internal async Task<IReadOnlyList<T>> Submit<T>(Work<T> work)
    {
        if (tokenizers is not null)
        {
            // A tokenization worker (with its own tokenizer) encodes it now, while the model runs other batches.
            var engines = await tokenizers.Reader.ReadAsync(work.Aborted);
            try
            {
                await Task.Run(() => work.Encode(engines), work.Aborted);
            }
            finally
            {
                tokenizers.Writer.TryWrite(engines);
            }
        }
        if (!batcher.TryEnqueue(work))
            throw new ApiError(429, ErrorTypes.Overloaded, $"the queue is full ({Options.MaxQueue} requests waiting): retry later");
        return await work.Result.WaitAsync(work.Aborted);
    }

    /// <summary>The status and words for a failure a client caused or must know about; null for anything else (a bug: 500).</summary>
    internal static ApiError? AsApiError(Exception e) => e switch
    {
        ApiError api => api,
        UnsupportedTaskException unsupported => new ApiError(424, ErrorTypes.Backend, unsupported.Message),
        InputTooLongException tooLong => new ApiError(422, ErrorTypes.Validation, tooLong.Message + " (send truncate: true to cut it)"),
        InvalidInputException invalid => new ApiError(422, ErrorTypes.Validation, invalid.Message),
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
            throw new ApiError(413, ErrorTypes.Validation,
                $"the body is {context.Request.ContentLength} bytes, more than the limit of {Options.MaxBodyBytes}");
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > Options.MaxBodyBytes)
                throw new ApiError(413, ErrorTypes.Validation, $"the body is more than the limit of {Options.MaxBodyBytes} bytes");
            buffer.Write(chunk, 0, read);
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (DecoderFallbackException)
        {
            throw new ApiError(400, ErrorTypes.Validation, "the body is not UTF-8 text");
        }
        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new ApiError(400, ErrorTypes.Validation, "the body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new ApiError(400, ErrorTypes.Validation, $"the body is not valid JSON: {e.Message}");
        }
    }

    private static async Task WriteError(HttpContext context, ApiError error)
    {
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = error.Status;
        // The OpenAI routes answer in OpenAI's error shape, as text-embeddings-inference does there.
        if (context.Request.Path.Value is "/v1/embeddings" or "/embeddings")
            await context.Response.WriteAsJsonAsync(new OpenAiErrorResponse(error.Message, error.Status, error.Type, error.Type), HttpJson.Options);
        else await context.Response.WriteAsJsonAsync(new ErrorResponse(error.Message, error.Type), HttpJson.Options);
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
