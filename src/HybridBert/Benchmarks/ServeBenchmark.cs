using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using HybridBert.Model;

namespace HybridBert.Benchmarks;

/// <summary><c>hybridbert bench serve</c>'s settings.</summary>
public sealed record ServeBenchSpec
{
    /// <summary>The model to serve; null = a randomly initialised <see cref="Preset"/> model over the embedded vocabulary.</summary>
    public string? Model { get; init; }
    public string Preset { get; init; } = "mini";
    public string Pattern { get; init; } = "bert";
    public int Requests { get; init; } = 10_000;
    public IReadOnlyList<int> Concurrency { get; init; } = [1, 8, 32];
    /// <summary>Tokens per input, [CLS] and [SEP] included.</summary>
    public int InputTokens { get; init; } = 16;
    /// <summary>Also run each concurrency with one request per forward (<c>--max-batch-requests 1</c>) for comparison.</summary>
    public bool CompareUnbatched { get; init; } = true;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>The server's --max-wait-ms (its own default unless set).</summary>
    public int MaxWaitMs { get; init; } = Serving.ServeOptions.Defaults.MaxWaitMs;
    /// <summary>What each request asks: <c>embed</c> (POST /embed), <c>embed_sparse</c>, <c>tokenize</c>, or
    /// <c>grpc-embed</c> (tei.v1 Embed over gRPC on the server's --grpc-port).</summary>
    public string Route { get; init; } = "embed";
    public static readonly IReadOnlyList<string> Routes = ["embed", "embed_sparse", "tokenize", "grpc-embed"];
    /// <summary>The server's --tokenization-workers (its own default unless set).</summary>
    public int TokenizationWorkers { get; init; } = Serving.ServeOptions.Defaults.TokenizationWorkers;
    /// <summary>The server's --runtime and --quantized.</summary>
    public Inference.InferenceRuntime Runtime { get; init; } = Serving.ServeOptions.Defaults.Runtime;
    public bool Quantized { get; init; }
    /// <summary>Seconds of load at the run's concurrency before the timed requests, not counted: the server's and the
    /// client's code is compiled again at full optimization in its first seconds (.NET's tiered JIT took a fifth of the
    /// CPU 3 s into a run), which a short run would otherwise time.</summary>
    public double WarmupSeconds { get; init; } = 5;

    public ServeBenchSpec Validate()
    {
        var errors = new Problems();
        if (Requests < 1000) errors.Add($"--requests must be >= 1000 (the memory check compares the first and last thousand; got {Requests})");
        if (Concurrency.Count == 0 || Concurrency.Any(c => c < 1)) errors.Add("--concurrency needs one or more values >= 1");
        if (InputTokens < 3) errors.Add($"--input-tokens must be >= 3 (got {InputTokens})");
        if (Threads < 1) errors.Add($"--threads must be >= 1 (got {Threads})");
        if (!(WarmupSeconds >= 0)) errors.Add($"--warmup-seconds must be >= 0 (got {WarmupSeconds})");
        if (!Routes.Contains(Route)) errors.Add($"--route must be one of {string.Join(", ", Routes)} (got '{Route}')");
        if (Inference.InferenceModel.RuntimeProblem(Runtime, Quantized, "cpu") is { } runtime) errors.Add(runtime);
        errors.ThrowIfAny();
        return this;
    }
}

/// <summary>One load run. Field names are the JSON interface: add, never rename.</summary>
public sealed record ServeBenchResult
{
    public required string Batching { get; init; }
    /// <summary>What the requests asked (<see cref="ServeBenchSpec.Route"/>).</summary>
    public string Route { get; init; } = "embed";
    /// <summary>What ran the encoder: torch, onnx or onnx-int8.</summary>
    public string Runtime { get; init; } = "torch";
    public required int Concurrency { get; init; }
    public required int Requests { get; init; }
    public required int Ok { get; init; }
    public required int Errors { get; init; }
    public required int Lost { get; init; }
    [JsonPropertyName("requests_per_s")] public required double RequestsPerSecond { get; init; }
    public required double P50Ms { get; init; }
    public required double P95Ms { get; init; }
    public required double P99Ms { get; init; }
    public required double MeanBatchRequests { get; init; }
    [JsonPropertyName("rss_first_1000_mib")] public required double RssFirstMiB { get; init; }
    [JsonPropertyName("rss_last_1000_mib")] public required double RssLastMiB { get; init; }
    [JsonPropertyName("peak_rss_mib")] public required double PeakRssMiB { get; init; }
    /// <summary>Seconds of untimed load before the timed requests (<see cref="ServeBenchSpec.WarmupSeconds"/>).</summary>
    [JsonPropertyName("warmup_s")] public double WarmupSeconds { get; init; }
}

/// <summary>
/// Drives <c>hybridbert serve</c>, started as a child process (so that its memory is its own), over loopback with a
/// bounded number of requests in flight: /embed with one input of <c>InputTokens</c> tokens per request, counting
/// every answer, error and lost request, latency percentiles, the server's mean batch (from /metrics) and its RSS
/// over the first and the last thousand requests.
/// </summary>
public static class ServeBenchmark
{
    public static List<ServeBenchResult> Run(ServeBenchSpec spec, string workDir, Action<string>? log = null, CancellationToken cancel = default)
    {
        spec.Validate();
        var model = spec.Model ?? RandomModel(spec, workDir);
        var vocabulary = Data.EmbeddedData.Vocabulary();
        var words = vocabulary.Tokens.Where(t => t.All(char.IsAsciiLetterLower) && t.Length > 2).Take(500).ToArray();
        var random = new Random(1);
        // Whole-word tokens of the embedded vocabulary: each input is exactly InputTokens tokens with [CLS]/[SEP].
        var texts = Enumerable.Range(0,
            512).Select(_ => string.Join(' ', Enumerable.Range(0, spec.InputTokens - 2).Select(_ => words[random.Next(words.Length)]))).ToArray();
        var results = new List<ServeBenchResult>();
        foreach (var batched in spec.CompareUnbatched ? new[] { true, false } : [true])
            foreach (var concurrency in spec.Concurrency)
            {
                cancel.ThrowIfCancellationRequested();
                var mode = batched ? "dynamic batching" : "one request per forward";
                log?.Invoke($"{mode}, concurrency {concurrency}: {spec.Requests:N0} requests" +
                    (spec.WarmupSeconds > 0 ? $" after {spec.WarmupSeconds:0.#} s of warm-up…" : "…"));
                results.Add(RunOne(spec, model, texts, batched, concurrency, cancel));
            }
        return results;
    }

    private static string RandomModel(ServeBenchSpec spec, string workDir)
    {
        var folder = Path.Combine(workDir, $"random-{spec.Preset}-{spec.Pattern}");
        if (File.Exists(Path.Combine(folder, Interop.ModelLayout.Config))) return folder;
        var vocabulary = Data.EmbeddedData.Vocabulary();
        var config = Presets.Build(spec.Preset, spec.Pattern, vocabulary.Count).ForVocabulary(vocabulary);
        TorchSharp.torch.manual_seed(1);
        using var model = new HybridBertModel(config);
        Interop.ModelFolder.Write(folder, model, vocabulary, lowercase: true);
        return folder;
    }

    private static ServeBenchResult RunOne(ServeBenchSpec spec, string model, string[] texts, bool batched, int concurrency, CancellationToken cancel)
    {
        var (file, prefix) = SelfProcess.Command();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in prefix.Concat(["serve", "--model", model, "--port", "0", "--threads", spec.Threads.ToString(CultureInfo.InvariantCulture),
                     "--max-wait-ms", spec.MaxWaitMs.ToString(CultureInfo.InvariantCulture), "--max-queue", "100000",
                     "--tokenization-workers", spec.TokenizationWorkers.ToString(CultureInfo.InvariantCulture),
                     "--max-batch-requests", batched ? "256" : "1"]))
            start.ArgumentList.Add(a);
        if (spec.Route == "grpc-embed") foreach (var a in new[] { "--grpc-port", "0" }) start.ArgumentList.Add(a);
        foreach (var a in new[] { "--runtime", EnumNames.Kebab(spec.Runtime) }.Concat(spec.Quantized ? ["--quantized"] : []))
            start.ArgumentList.Add(a);
        using var server = Process.Start(start) ?? throw new InvalidOperationException("could not start the server");
        try
        {
            var (address, grpcAddress) = WaitForAddress(server);
            using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(5) };
            using var channel = grpcAddress is null ? null : global::Grpc.Net.Client.GrpcChannel.ForAddress(grpcAddress);
            var grpc = channel is null ? null : new Serving.Grpc.Embed.EmbedClient(channel);
            // One request of the chosen route: true when it was answered as the route promises (one result for one input).
            async Task<bool> Send(string text)
            {
                if (grpc is not null) return (await grpc.EmbedAsync(new Serving.Grpc.EmbedRequest { Inputs = text },
                    cancellationToken: cancel)).Embeddings.Count > 0;
                var route = "/" + spec.Route;
                using var response = await client.PostAsJsonAsync(route, new { inputs = text }, cancel);
                if (!response.IsSuccessStatusCode) return false;
                var answer = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync(cancel));
                return answer is System.Text.Json.Nodes.JsonArray { Count: 1 };
            }
            for (var i = 0; i < 20; i++)
                if (!Send(texts[i]).GetAwaiter().GetResult()) throw new InvalidOperationException("the server did not answer " +
                    $"{spec.Route} while warming up");

            // Requests [0, count) or until the deadline, at most `concurrency` in flight; each one's latency, and the
            // server's RSS once the first thousand are done.
            var latencies = new double[spec.Requests];
            int ok = 0, errors = 0, done = 0;
            double rssFirst = 0;
            void Load(int count, DateTime? deadline, bool timed)
            {
                var gate = new SemaphoreSlim(concurrency);
                var tasks = new List<Task>();
                for (var i = 0; i < count && (deadline is null || DateTime.UtcNow < deadline); i++)
                {
                    gate.Wait(cancel);
                    var index = i;
                    tasks.Add(Task.Run(async () =>
                    {
                        var watch = Stopwatch.StartNew();
                        try
                        {
                            var answered = await Send(texts[index % texts.Length]);
                            if (timed && answered) Interlocked.Increment(ref ok);
                            else if (timed) Interlocked.Increment(ref errors);
                        }
                        catch (Exception) when (!cancel.IsCancellationRequested)
                        {
                            if (timed) Interlocked.Increment(ref errors);
                        }
                        finally
                        {
                            if (timed)
                            {
                                latencies[index] = watch.Elapsed.TotalMilliseconds;
                                if (Interlocked.Increment(ref done) == 1000) rssFirst = Rss(server.Id, "VmRSS");
                            }
                            gate.Release();
                        }
                    }, cancel));
                }
                Task.WaitAll(tasks.ToArray(), cancel);
            }
            double Metric(string metrics, string name) =>
                double.Parse(metrics.Split('\n').First(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1],
                CultureInfo.InvariantCulture);
            (double Sum, double Count) Batches()
            {
                var metrics = client.GetStringAsync("/metrics", cancel).GetAwaiter().GetResult();
                return (Metric(metrics, "hybridbert_batch_requests_sum"), Metric(metrics, "hybridbert_batch_requests_count"));
            }

            if (spec.WarmupSeconds > 0) Load(int.MaxValue, DateTime.UtcNow.AddSeconds(spec.WarmupSeconds), timed: false);
            var batchesBefore = Batches();
            var clock = Stopwatch.StartNew();
            Load(spec.Requests, null, timed: true);
            var seconds = clock.Elapsed.TotalSeconds;
            var rssLast = Rss(server.Id, "VmRSS");
            var peak = Rss(server.Id, "VmHWM");
            var batchesAfter = Batches();
            var sorted = latencies.Order().ToArray();
            double Percentile(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
            return new ServeBenchResult
            {
                Batching = batched ? "dynamic" : "none", Route = spec.Route, Concurrency = concurrency, Requests = spec.Requests, Ok = ok,
                Errors = errors, Runtime = EnumNames.Kebab(spec.Runtime) + (spec.Quantized ? "-int8" : ""),
                Lost = spec.Requests - ok - errors, RequestsPerSecond = spec.Requests / seconds,
                P50Ms = Percentile(0.50), P95Ms = Percentile(0.95), P99Ms = Percentile(0.99),
                MeanBatchRequests = (batchesAfter.Sum - batchesBefore.Sum) / Math.Max(1, batchesAfter.Count - batchesBefore.Count),
                RssFirstMiB = rssFirst, RssLastMiB = rssLast, PeakRssMiB = peak, WarmupSeconds = spec.WarmupSeconds,
            };
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                server.WaitForExit();
            }
        }
    }

    /// <summary>The server's HTTP address and, when it serves gRPC, its gRPC address, from its first line.</summary>
    private static (Uri Http, Uri? Grpc) WaitForAddress(Process server)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < deadline)
        {
            var line = server.StandardOutput.ReadLine() ??
                throw new InvalidOperationException($"the server exited: {server.StandardError.ReadToEnd()}");
            var at = line.IndexOf(" on http://", StringComparison.Ordinal);
            if (!line.StartsWith("serving ", StringComparison.Ordinal) || at < 0) continue;
            var grpcAt = line.IndexOf("gRPC (tei.v1) on ", StringComparison.Ordinal);
            return (new Uri(line[(at + 4)..].Split(' ')[0].TrimEnd(',')),
                grpcAt < 0 ? null : new Uri(line[(grpcAt + "gRPC (tei.v1) on ".Length)..].Split(' ')[0]));
        }
        throw new TimeoutException("the server did not start within 2 minutes");
    }

    /// <summary>A /proc/PID/status field in MiB (Linux).</summary>
    private static double Rss(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return line is null ? double.NaN :
            double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }
}
