using System.CommandLine;
using HybridBert.Serving;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert serve</c>: the HTTP server (text-embeddings-inference routes) until Ctrl-C or SIGTERM.</summary>
internal static class ServeCommand
{
    public static Command Build()
    {
        var d = ServeOptions.Defaults;
        var model = new Option<string>("--model") { Required = true,
            Description = "The model: " + CommonOptions.ModelHelp };
        var host = new Option<string>("--host", "--hostname") { DefaultValueFactory = _ => d.Host,
            Description = "Address to bind (loopback by default; use --api-key when exposing it)" };
        var grpcPort = new Option<int?>("--grpc-port") { Description = "Also serve text-embeddings-inference's gRPC service (tei.v1) on this port" };
        var port = new Option<int>("--port") { DefaultValueFactory = _ => d.Port, Description = "Port (0: any free one, printed at start)" };
        var maxBatchTokens = new Option<int>("--max-batch-tokens") { DefaultValueFactory = _ => d.MaxBatchTokens,
            Description = "Tokens one model forward may hold" };
        var maxBatchRequests = new Option<int>("--max-batch-requests") { DefaultValueFactory = _ => d.MaxBatchRequests,
            Description = "Requests one batch may serve (1: no dynamic batching)" };
        var maxWait = new Option<int>("--max-wait-ms") { DefaultValueFactory = _ => d.MaxWaitMs,
            Description = "How long a request waits for others to batch with" };
        var maxInputs = new Option<int>("--max-inputs", "--max-client-batch-size") { DefaultValueFactory = _ => d.MaxInputs,
            Description = "Inputs per request (more: 413)" };
        var maxBody = new Option<long>("--max-body-bytes") { DefaultValueFactory = _ => d.MaxBodyBytes,
            Description = "Request body size (more: 413)" };
        var maxQueue = new Option<int>("--max-queue", "--max-concurrent-requests") { DefaultValueFactory = _ => d.MaxQueue,
            Description = "Requests waiting for the model (more: 429 with Retry-After); --max-concurrent-requests as TEI names it" };
        var apiKey = new Option<string?>("--api-key") { Description = "Require Authorization: Bearer KEY on every route but /health" };
        var shutdown = new Option<double>("--shutdown-timeout") { DefaultValueFactory = _ => d.ShutdownTimeout.TotalSeconds,
            Description = "Seconds in-flight requests get to finish on SIGTERM/Ctrl-C" };
        var pooling = new Option<string?>("--pooling")
        {
            Description = "Embedding pooling: mean or cls [default: the model's own (a sentence-transformers modules.json), else mean]",
        };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => d.Threads, Description = "libtorch threads" };
        var tokenizationWorkers = new Option<int>("--tokenization-workers") { DefaultValueFactory = _ => d.TokenizationWorkers,
            Description = "Threads that tokenize requests as they arrive, while the model runs (0: the batcher tokenizes each batch)" };
        var autoTruncate = new Option<bool>("--auto-truncate") { Description = "Cut over-long inputs when a request does not say (else: 422)" };
        var defaultPromptName = new Option<string?>("--default-prompt-name") {
            Description = "A prompt of the model's config_sentence_transformers.json for requests that name none" };
        var defaultPrompt = new Option<string?>("--default-prompt") { Description = "A prompt text for requests that name none" };
        var device = CommonOptions.Device(d.Device);
        var command = new Command("serve",
            "An HTTP server for the model: text-embeddings-inference's routes (/embed, /embed_all, /embed_sparse, /predict, /rerank, " +
            "/similarity, /tokenize, /decode, /health, /info, /metrics), /fill-mask, OpenAI's /v1/embeddings, /openapi.json")
        {
            model, host, port, maxBatchTokens, maxBatchRequests, maxWait, maxInputs, maxBody, maxQueue, apiKey, shutdown, pooling, threads, device,
            autoTruncate, defaultPromptName, defaultPrompt, grpcPort, tokenizationWorkers,
        };
        var runtime = new RuntimeOptions();
        runtime.AddTo(command);
        command.SetAction(p => CliErrors.Run(cancel =>
        {
            var options = new ServeOptions
            {
                Model = p.GetValue(model)!.ModelPath(), Host = p.GetValue(host)!, Port = p.GetValue(port),
                MaxBatchTokens = p.GetValue(maxBatchTokens),
                MaxBatchRequests = p.GetValue(maxBatchRequests), MaxWaitMs = p.GetValue(maxWait), MaxInputs = p.GetValue(maxInputs),
                MaxBodyBytes = p.GetValue(maxBody), MaxQueue = p.GetValue(maxQueue), ApiKey = p.GetValue(apiKey),
                ShutdownTimeout = TimeSpan.FromSeconds(p.GetValue(shutdown)),
                    Pooling = p.GetValue(pooling) is { } pool ? CommonOptions.Parse<FineTuning.Pooling>(pool) : null,
                Threads = p.GetValue(threads), Device = CommonOptions.DeviceValue(p, device), AutoTruncate = p.GetValue(autoTruncate),
                DefaultPromptName = p.GetValue(defaultPromptName), DefaultPrompt = p.GetValue(defaultPrompt), GrpcPort = p.GetValue(grpcPort),
                TokenizationWorkers = p.GetValue(tokenizationWorkers), Runtime = runtime.RuntimeValue(p), Quantized = p.GetValue(runtime.Quantized),
            }.Validate();
            if (options.ExposureWarning is { } warning) Console.Error.WriteLine(warning);
            Run(options, cancel).GetAwaiter().GetResult();
        }));
        return command;
    }

    private static async Task Run(ServeOptions options, CancellationToken cancel)
    {
        await using var server = await InferenceServer.StartAsync(options, cancel: cancel);
        Console.WriteLine($"serving {options.Model} on {server.Address}{(server.GrpcAddress is { } grpc ? $", gRPC (tei.v1) on {grpc}" : "")} " +
            "(Ctrl-C or SIGTERM stops, letting requests in flight finish)");
        try
        {
            await Task.Delay(Timeout.Infinite, cancel);
        }
        catch (OperationCanceledException)
        {
        }
        Console.WriteLine("stopping: finishing requests in flight…");
        await server.StopAsync();
        Console.WriteLine("stopped");
    }
}
