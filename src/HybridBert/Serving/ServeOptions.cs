namespace HybridBert.Serving;

/// <summary><c>hybridbert serve</c>'s contract: every default and every check lives here.</summary>
public sealed record ServeOptions
{
    public static ServeOptions Defaults { get; } = new() { Model = "" };

    /// <summary>Any model the project loads (run, checkpoint, fine-tuned, Hugging Face folder).</summary>
    public required string Model { get; init; }
    /// <summary>A second port for text-embeddings-inference's gRPC service (tei.v1, HTTP/2); null = no gRPC; 0 = any free one.</summary>
    public int? GrpcPort { get; init; }
    /// <summary>Address to bind: loopback unless told otherwise.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 = any free port (the server reports the one it got).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Tokens one model forward may hold (the batches are equal-length rows, so this is rows × length).</summary>
    public int MaxBatchTokens { get; init; } = 16_384;
    /// <summary>Requests one forward may serve; 1 = no dynamic batching (for comparison).</summary>
    public int MaxBatchRequests { get; init; } = 256;
    /// <summary>How long the first request of a batch waits for others to join. 0: a batch is whatever is queued when
    /// the model is free — under load requests queue during each forward and are batched anyway, and a lone request
    /// does not wait (docs/results/design-measurements.md#serve-max-wait).</summary>
    public int MaxWaitMs { get; init; }
    /// <summary>Inputs one request may send.</summary>
    public int MaxInputs { get; init; } = 128;
    public long MaxBodyBytes { get; init; } = 2 * 1024 * 1024;
    /// <summary>Requests waiting for the model; beyond this a request is answered 429 with Retry-After.</summary>
    public int MaxQueue { get; init; } = 1024;
    /// <summary>When set, every route but /health needs <c>Authorization: Bearer KEY</c>.</summary>
    public string? ApiKey { get; init; }
    /// <summary>On SIGTERM/Ctrl-C, how long in-flight requests may take to finish.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Embedding pooling: mean or cls; null = the model's own (a sentence-transformers modules.json), else mean.</summary>
    public FineTuning.Pooling? Pooling { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Threads that tokenize requests as they arrive, each with its own tokenizer, while the model runs
    /// (text-embeddings-inference's <c>--tokenization-workers</c>); 0 = the batcher's thread tokenizes each batch
    /// before its forward.</summary>
    public int TokenizationWorkers { get; init; }
    /// <summary>Cut over-long inputs when a request does not say (text-embeddings-inference's <c>--auto-truncate</c>).</summary>
    public bool AutoTruncate { get; init; } = Inference.InferenceModel.TruncateByDefault;
    /// <summary>A prompt of the model's sentence-transformers configuration for requests that name none.</summary>
    public string? DefaultPromptName { get; init; }
    /// <summary>A prompt text for requests that name none (instead of <see cref="DefaultPromptName"/>).</summary>
    public string? DefaultPrompt { get; init; }
    public string Device { get; init; } = "cpu";
    /// <summary>What runs the encoder (<see cref="Inference.InferenceModel.Load"/>).</summary>
    public Inference.InferenceRuntime Runtime { get; init; } = Inference.InferenceRuntime.Torch;
    /// <summary>With the ONNX runtime, the int8 graph.</summary>
    public bool Quantized { get; init; }

    /// <summary>A warning when the server listens beyond this machine with no key: anyone who can reach it may use the model.</summary>
    public string? ExposureWarning =>
        ApiKey is null && Host != "localhost" && !(System.Net.IPAddress.TryParse(Host, out var address) && System.Net.IPAddress.IsLoopback(address))
            ? $"warning: serving on {Host} without --api-key: anyone who can reach this machine can use the model; give --api-key KEY " +
                "(or keep the default 127.0.0.1)"
            : null;

    public ServeOptions Validate()
    {
        var errors = new Problems();
        if (string.IsNullOrWhiteSpace(Model)) errors.Add("--model is required");
        if (Port is < 0 or > 65535) errors.Add($"--port must be in [0, 65535] (got {Port})");
        if (GrpcPort is < 0 or > 65535) errors.Add($"--grpc-port must be in [0, 65535] (got {GrpcPort})");
        if (GrpcPort is > 0 && GrpcPort == Port) errors.Add($"--grpc-port must differ from --port (both {Port})");
        if (MaxBatchTokens < 1) errors.Add($"--max-batch-tokens must be >= 1 (got {MaxBatchTokens})");
        if (MaxBatchRequests < 1) errors.Add($"--max-batch-requests must be >= 1 (got {MaxBatchRequests})");
        if (MaxWaitMs < 0) errors.Add($"--max-wait-ms must be >= 0 (got {MaxWaitMs})");
        if (MaxInputs < 1) errors.Add($"--max-inputs must be >= 1 (got {MaxInputs})");
        if (MaxBodyBytes < 64) errors.Add($"--max-body-bytes must be >= 64 (got {MaxBodyBytes})");
        if (MaxQueue < 1) errors.Add($"--max-queue must be >= 1 (got {MaxQueue})");
        if (ApiKey is { Length: 0 }) errors.Add("--api-key must not be empty");
        if (ShutdownTimeout < TimeSpan.Zero) errors.Add($"--shutdown-timeout must be >= 0 (got {ShutdownTimeout.TotalSeconds} s)");
        if (Threads < 1) errors.Add($"--threads must be >= 1 (got {Threads})");
        if (TokenizationWorkers < 0) errors.Add($"--tokenization-workers must be >= 0 (got {TokenizationWorkers})");
        if (DefaultPromptName is not null && DefaultPrompt is not null) errors.Add("give --default-prompt-name or --default-prompt, not both");
        if (HybridBert.Model.Devices.Problem(Device) is { } device) errors.Add(device);
        if (Inference.InferenceModel.RuntimeProblem(Runtime, Quantized, Device) is { } runtime) errors.Add(runtime);
        if (System.Net.IPAddress.TryParse(Host, out _) is false && Host != "localhost")
            errors.Add($"--host must be an IP address or localhost (got '{Host}')");
        errors.ThrowIfAny();
        return this;
    }
}
