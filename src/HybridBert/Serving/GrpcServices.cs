using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using HybridBert.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using G = HybridBert.Serving.Grpc;

namespace HybridBert.Serving;

/// <summary>
/// text-embeddings-inference's gRPC service (<c>tei.v1</c>, Protos/tei.proto) on <see cref="ServeOptions.GrpcPort"/>:
/// the same model, batcher, limits, prompts and errors as the HTTP routes (through <see cref="InferenceServer"/>), each
/// failure a gRPC status as TEI maps its error types (Validation and Empty: InvalidArgument; Backend: FailedPrecondition;
/// Overloaded: ResourceExhausted), a missing or wrong API key Unauthenticated. A streaming call submits each message as
/// it arrives (so they batch with each other and with other requests) and answers in order.
/// </summary>
internal static class GrpcServices
{
    /// <summary>The running server, for the services ASP.NET Core creates per call.</summary>
    public sealed class ServerHolder
    {
        public InferenceServer Server { get; set; } = null!;
    }

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGrpcService<InfoService>();
        app.MapGrpcService<EmbedService>();
        app.MapGrpcService<PredictService>();
        app.MapGrpcService<RerankService>();
        app.MapGrpcService<TokenizeService>();
    }

    /// <summary>Runs one call: the key check, then <paramref name="call"/>, its failures as TEI's gRPC statuses.</summary>
    private static async Task<T> Call<T>(InferenceServer server, ServerCallContext context, Func<Task<T>> call)
    {
        if (server.Options.ApiKey is { } key && context.RequestHeaders.GetValue("authorization") != $"Bearer {key}")
            throw new RpcException(new Status(StatusCode.Unauthenticated, "missing or wrong API key: send the metadata authorization: Bearer KEY"));
        try
        {
            return await call();
        }
        catch (Exception e) when (InferenceServer.AsApiError(e) is { } error)
        {
            var code = error.Type switch
            {
                ErrorTypes.Backend or ErrorTypes.Tokenizer => StatusCode.FailedPrecondition,
                ErrorTypes.Overloaded => StatusCode.ResourceExhausted,
                ErrorTypes.Unhealthy => StatusCode.Unavailable,
                _ => StatusCode.InvalidArgument,
            };
            throw new RpcException(new Status(code, error.Message));
        }
    }

    /// <summary>Each request of <paramref name="requests"/> handled as it arrives, the answers written in order.</summary>
    private static async Task Stream<TRequest, TResponse>(InferenceServer server, ServerCallContext context, IAsyncStreamReader<TRequest> requests,
        IServerStreamWriter<TResponse> responses, Func<TRequest, Task<TResponse>> handle)
    {
        var pending = Channel.CreateUnbounded<Task<TResponse>>();
        var reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var request in requests.ReadAllAsync(context.CancellationToken))
                    await pending.Writer.WriteAsync(Call(server, context, () => handle(request)));
            }
            finally
            {
                pending.Writer.Complete();
            }
        });
        await foreach (var answer in pending.Reader.ReadAllAsync(context.CancellationToken)) await responses.WriteAsync(await answer);
        await reading;
    }

    private static G.TruncationDirection Left => G.TruncationDirection.Left;

    private static G.Metadata Metadata(Work work, long started, int chars)
    {
        static ulong Ns(long from, long to) => from == 0 || to < from ? 0 : (ulong)Stopwatch.GetElapsedTime(from, to).Ticks * 100;
        return new G.Metadata
        {
            ComputeChars = (uint)chars, ComputeTokens = (uint)work.Tokens, TotalTimeNs = Ns(started, Stopwatch.GetTimestamp()),
            QueueTimeNs = Ns(work.Queued, work.EncodeStarted), TokenizationTimeNs = Ns(work.EncodeStarted, work.RunStarted),
            InferenceTimeNs = Ns(work.RunStarted, work.Finished),
        };
    }

    private sealed class InfoService(ServerHolder holder) : G.Info.InfoBase
    {
        public override Task<G.InfoResponse> Info(G.InfoRequest request, ServerCallContext context) => Call(holder.Server, context, () =>
        {
            var server = holder.Server;
            var info = server.Info();
            var type = server.Model.Task is { Regression: true } ? G.ModelType.Reranker
                : server.Model.CanClassify ? G.ModelType.Classifier : G.ModelType.Embedding;
            var reply = new G.InfoResponse
            {
                Version = info.Version, ModelId = info.ModelId, ModelDtype = info.ModelDtype, ModelType = type,
                MaxConcurrentRequests = (uint)info.MaxConcurrentRequests, MaxInputLength = (uint)info.MaxInputLength,
                MaxBatchTokens = (uint)info.MaxBatchTokens, MaxBatchRequests = (uint)(info.MaxBatchRequests ?? 0),
                MaxClientBatchSize = (uint)info.MaxClientBatchSize, TokenizationWorkers = (uint)info.TokenizationWorkers,
            };
            if (info.ModelSha is { } sha) reply.ModelSha = sha;
            return Task.FromResult(reply);
        });
    }

    private sealed class EmbedService(ServerHolder holder) : G.Embed.EmbedBase
    {
        private InferenceServer Server => holder.Server;

        private ModelInputs Inputs(string text, bool truncate, G.TruncationDirection direction, string? prompt) =>
            new(Server.WithPrompt([text], prompt), truncate || Server.Options.AutoTruncate, FromLeft: direction == Left);

        private async Task<G.EmbedResponse> Embed(G.EmbedRequest request)
        {
            Server.Model.Require(InferenceTask.Embed);
            var started = Stopwatch.GetTimestamp();
            int? dimensions = request.HasDimensions ? (int)request.Dimensions : null;
            RequestChecks.Dimensions(dimensions);
            var work = new Work<float[]>(new EmbedJob(Server.Pooling,
                request.HasNormalize ? request.Normalize : Embedder.NormalizeByDefault, dimensions),
                Inputs(request.Inputs, request.Truncate, request.TruncationDirection, request.HasPromptName ? request.PromptName : null), default);
            var vector = (await Server.Submit(work))[0];
            return new G.EmbedResponse { Embeddings = { vector }, Metadata = Metadata(work, started, request.Inputs.Length) };
        }

        private async Task<G.EmbedSparseResponse> EmbedSparse(G.EmbedSparseRequest request)
        {
            Server.Model.Require(InferenceTask.EmbedSparse);
            var started = Stopwatch.GetTimestamp();
            var work = new Work<List<(int Index, float Value)>>(new EmbedSparseJob(),
                Inputs(request.Inputs, request.Truncate, request.TruncationDirection, request.HasPromptName ? request.PromptName : null), default);
            var sparse = (await Server.Submit(work))[0];
            return new G.EmbedSparseResponse
            {
                SparseEmbeddings = { sparse.Select(v => new G.SparseValue { Index = (uint)v.Index, Value = v.Value }) },
                Metadata = Metadata(work, started, request.Inputs.Length),
            };
        }

        private async Task<G.EmbedAllResponse> EmbedAll(G.EmbedAllRequest request)
        {
            Server.Model.Require(InferenceTask.Embed);
            var started = Stopwatch.GetTimestamp();
            var work = new Work<float[][]>(new EmbedAllJob(),
                Inputs(request.Inputs, request.Truncate, request.TruncationDirection, request.HasPromptName ? request.PromptName : null), default);
            var tokens = (await Server.Submit(work))[0];
            return new G.EmbedAllResponse
            {
                TokenEmbeddings = { tokens.Select(t => new G.TokenEmbedding { Embeddings = { t } }) },
                Metadata = Metadata(work, started, request.Inputs.Length),
            };
        }

        public override Task<G.EmbedResponse> Embed(G.EmbedRequest request, ServerCallContext context) => Call(Server, context, () => Embed(request));

        public override Task EmbedStream(IAsyncStreamReader<G.EmbedRequest> requests, IServerStreamWriter<G.EmbedResponse> responses,
            ServerCallContext context) => Stream(Server, context, requests, responses, Embed);

        public override Task<G.EmbedSparseResponse> EmbedSparse(G.EmbedSparseRequest request, ServerCallContext context) =>
            Call(Server, context, () => EmbedSparse(request));

        public override Task EmbedSparseStream(IAsyncStreamReader<G.EmbedSparseRequest> requests,
            IServerStreamWriter<G.EmbedSparseResponse> responses,
            ServerCallContext context) => Stream(Server, context, requests, responses, EmbedSparse);

        public override Task<G.EmbedAllResponse> EmbedAll(G.EmbedAllRequest request, ServerCallContext context) =>
            Call(Server, context, () => EmbedAll(request));

        public override Task EmbedAllStream(IAsyncStreamReader<G.EmbedAllRequest> requests, IServerStreamWriter<G.EmbedAllResponse> responses,
            ServerCallContext context) => Stream(Server, context, requests, responses, EmbedAll);
    }

    private sealed class PredictService(ServerHolder holder) : G.Predict.PredictBase
    {
        private InferenceServer Server => holder.Server;

        private async Task<G.PredictResponse> Classify(string text, string? pair, bool truncate, bool rawScores, G.TruncationDirection direction)
        {
            Server.Model.Require(InferenceTask.Classify);
            var started = Stopwatch.GetTimestamp();
            var work = new Work<LabelScore[]>(new ClassifyJob(rawScores),
                new ModelInputs([text], truncate || Server.Options.AutoTruncate, [pair], FromLeft: direction == Left), default);
            var labels = (await Server.Submit(work))[0];
            return new G.PredictResponse
            {
                Predictions = { labels.Select(l => new G.Prediction { Label = l.Label, Score = (float)l.Score }) },
                Metadata = Metadata(work, started, text.Length + (pair?.Length ?? 0)),
            };
        }

        private Task<G.PredictResponse> Pair(G.PredictPairRequest request) => request.Inputs.Count == 2
            ? Classify(request.Inputs[0], request.Inputs[1], request.Truncate, request.RawScores, request.TruncationDirection)
            : throw RequestChecks.Invalid($"a pair is two texts; 'inputs' has {request.Inputs.Count}");

        public override Task<G.PredictResponse> Predict(G.PredictRequest request, ServerCallContext context) => Call(Server, context, () =>
            Classify(request.Inputs, null, request.Truncate, request.RawScores, request.TruncationDirection));

        public override Task<G.PredictResponse> PredictPair(G.PredictPairRequest request, ServerCallContext context) =>
            Call(Server, context, () => Pair(request));

        public override Task PredictStream(IAsyncStreamReader<G.PredictRequest> requests, IServerStreamWriter<G.PredictResponse> responses,
            ServerCallContext context) => Stream(Server, context, requests, responses,
            r => Classify(r.Inputs, null, r.Truncate, r.RawScores, r.TruncationDirection));

        public override Task PredictPairStream(IAsyncStreamReader<G.PredictPairRequest> requests, IServerStreamWriter<G.PredictResponse> responses,
            ServerCallContext context) => Stream(Server, context, requests, responses, Pair);
    }

    private sealed class RerankService(ServerHolder holder) : G.Rerank.RerankBase
    {
        private InferenceServer Server => holder.Server;

        private async Task<G.RerankResponse> Rank(string query, IReadOnlyList<string> texts, bool truncate, bool rawScores, bool returnText,
            G.TruncationDirection direction)
        {
            Server.Model.Require(InferenceTask.Rerank);
            RequestChecks.Inputs("texts", texts.Count, "a list of strings", Server.Options);
            var started = Stopwatch.GetTimestamp();
            var work = new Work<LabelScore[]>(new ClassifyJob(RawScores: true),
                new ModelInputs(texts.Select(_ => query).ToList(), truncate || Server.Options.AutoTruncate, texts.ToList(),
                    FromLeft: direction == Left), default);
            var scores = (await Server.Submit(work)).Select(l => l[0].Score).ToList();
            var ranks = scores.Select((s, i) => (Index: i, Score: rawScores ? s : 1 / (1 + Math.Exp(-s))))
                .OrderByDescending(r => r.Score).ThenBy(r => r.Index)
                .Select(r =>
                {
                    var rank = new G.Rank { Index = (uint)r.Index, Score = (float)r.Score };
                    if (returnText) rank.Text = texts[r.Index];
                    return rank;
                });
            return new G.RerankResponse { Ranks = { ranks }, Metadata = Metadata(work, started, texts.Sum(t => t.Length + query.Length)) };
        }

        public override Task<G.RerankResponse> Rerank(G.RerankRequest request, ServerCallContext context) => Call(Server, context, () =>
            Rank(request.Query, request.Texts, request.Truncate, request.RawScores, request.ReturnText, request.TruncationDirection));

        public override Task<G.RerankResponse> RerankStream(IAsyncStreamReader<G.RerankStreamRequest> requests, ServerCallContext context) =>
            Call(Server, context, async () =>
            {
                var all = new List<G.RerankStreamRequest>();
                await foreach (var request in requests.ReadAllAsync(context.CancellationToken)) all.Add(request);
                if (all.Count == 0) throw new ApiError(400, ErrorTypes.Empty, "no texts to rank: the stream was empty");
                var first = all[0];   // as TEI: the first message's query, raw_scores and return_text apply to all
                return await Rank(first.Query, all.Select(r => r.Text).ToList(), first.Truncate, first.RawScores, first.ReturnText,
                    first.TruncationDirection);
            });
    }

    private sealed class TokenizeService(ServerHolder holder) : G.Tokenize.TokenizeBase
    {
        private InferenceServer Server => holder.Server;

        private Task<G.EncodeResponse> Encode(G.EncodeRequest request)
        {
            var text = Server.WithPrompt([request.Inputs], request.HasPromptName ? request.PromptName : null)[0];
            var tokens = Server.Tokenize(text, request.AddSpecialTokens).Select(t =>
            {
                var token = new G.SimpleToken { Id = (uint)t.Id, Text = t.Text, Special = t.Special };
                if (t.Start is { } start) token.Start = (uint)start;
                if (t.Stop is { } stop) token.Stop = (uint)stop;
                return token;
            });
            return Task.FromResult(new G.EncodeResponse { Tokens = { tokens } });
        }

        private Task<G.DecodeResponse> Decode(G.DecodeRequest request) =>
            Task.FromResult(new G.DecodeResponse { Text = Server.Decode(request.Ids.Select(i => (int)Math.Min(i, int.MaxValue)).ToArray(),
                request.SkipSpecialTokens) });

        public override Task<G.EncodeResponse> Tokenize(G.EncodeRequest request, ServerCallContext context) =>
            Call(Server, context, () => Encode(request));

        public override Task TokenizeStream(IAsyncStreamReader<G.EncodeRequest> requests, IServerStreamWriter<G.EncodeResponse> responses,
            ServerCallContext context) => Stream(Server, context, requests, responses, Encode);

        public override Task<G.DecodeResponse> Decode(G.DecodeRequest request, ServerCallContext context) =>
            Call(Server, context, () => Decode(request));

        public override Task DecodeStream(IAsyncStreamReader<G.DecodeRequest> requests, IServerStreamWriter<G.DecodeResponse> responses,
            ServerCallContext context) => Stream(Server, context, requests, responses, Decode);
    }
}
