using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using HybridBert.FineTuning;
using HybridBert.Inference;
using HybridBert.Serving;
using HybridBert.Tests.Cli;
using HybridBert.Tests.Interop;

namespace HybridBert.Tests.Serving;

/// <summary>The real server on a loopback port (port 0: any free one) with real HTTP clients.</summary>
public sealed class InferenceServerTests
{
    private static readonly string Mlm = HuggingFaceImportTests.Folder("bert-mlm-safetensors");
    private static readonly string Classifier = HuggingFaceImportTests.Folder("bert-classifier");

    private static Task<InferenceServer> Start(string model, Func<ServeOptions, ServeOptions>? configure = null)
    {
        var options = new ServeOptions { Model = model, Port = 0, Threads = 1 };
        return InferenceServer.StartAsync(configure?.Invoke(options) ?? options);
    }

    private static HttpClient Client(InferenceServer server) => new() { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };

    private static async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> Post(HttpClient client, string route,
        string json, CancellationToken cancel = default)
    {
        var response = await client.PostAsync(route, new StringContent(json, Encoding.UTF8, "application/json"), cancel);
        var text = await response.Content.ReadAsStringAsync(cancel);
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null, response);
    }

    private static float[] Floats(JsonNode node) => node.AsArray().Select(v => v!.GetValue<float>()).ToArray();

    [Fact]
    public async Task Every_route_answers_as_text_embeddings_inference_does_and_equals_the_library()
    {
        await using var server = await Start(Mlm);
        using var client = Client(server);
        using var model = InferenceModel.Load(Mlm);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        var info = JsonNode.Parse(await client.GetStringAsync("/info"))!;
        Assert.Equal(40, info["max_input_length"]!.GetValue<int>());
        Assert.Equal(["embed", "fill-mask", "embed_sparse"], info["tasks"]!.AsArray().Select(t => t!.GetValue<string>()));

        var (status, body, _) = await Post(client, "/embed", """{"inputs": ["the cat sat on the mat.", "a dog"]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var expected = new Embedder(model).Embed(["the cat sat on the mat.", "a dog"]);
        Assert.Equal(expected[0], Floats(body![0]!));
        Assert.Equal(expected[1], Floats(body[1]!));
        Assert.Equal(1.0, Math.Sqrt(expected[0].Sum(x => x * (double)x)), 5);
        var raw = (await Post(client, "/embed", """{"inputs": "a dog", "normalize": false}""")).Body!;
        Assert.Equal(new Embedder(model).Embed(["a dog"], normalize: false)[0], Floats(raw[0]!));

        // Token ids, as TEI and OpenAI take them: used as sent (here with [CLS] and [SEP]), alone or among texts.
        var ids = model.Tokenizer.Encode("the cat sat on the mat.").InputIds;
        var idList = string.Join(", ", ids);
        Assert.Equal(expected[0], Floats((await Post(client, "/embed", $$"""{"inputs": [{{idList}}]}""")).Body![0]!));
        var mixedIds = (await Post(client, "/embed", $$"""{"inputs": ["a dog", [{{idList}}]]}""")).Body!;
        Assert.Equal(expected[1], Floats(mixedIds[0]!));
        Assert.Equal(expected[0], Floats(mixedIds[1]!));
        var withoutSpecials = (await Post(client, "/embed", $$"""{"inputs": [{{string.Join(", ", ids[1..^1])}}]}""")).Body!;
        Assert.NotEqual(expected[0], Floats(withoutSpecials[0]!));   // nothing is added to ids
        var openaiIds = (await Post(client, "/v1/embeddings", $$"""{"input": [[{{idList}}]]}""")).Body!;
        Assert.Equal(expected[0], Floats(openaiIds["data"]![0]!["embedding"]!));
        Assert.Equal(ids.Length, openaiIds["usage"]!["prompt_tokens"]!.GetValue<int>());

        var openai = (await Post(client, "/v1/embeddings", """{"input": ["a dog", "the cat"], "model": "m"}""")).Body!;
        Assert.Equal("list", openai["object"]!.GetValue<string>());
        Assert.Equal(1, openai["data"]![1]!["index"]!.GetValue<int>());
        Assert.Equal(expected[1], Floats(openai["data"]![0]!["embedding"]!));
        Assert.Equal(4 + 4, openai["usage"]!["prompt_tokens"]!.GetValue<int>());   // [CLS] a dog [SEP], [CLS] the cat [SEP]

        var fill = (await Post(client, "/fill-mask", """{"inputs": "the cat [MASK] on the mat.", "top_k": 3}""")).Body!.AsArray();
        var library = new FillMask(model).Predict(["the cat [MASK] on the mat."], 3)[0][0];
        Assert.Equal(3, fill.Count);
        Assert.Equal(library.Select(c => c.TokenStr), fill.Select(c => c!["token_str"]!.GetValue<string>()));
        Assert.Equal(library[0].Sequence, fill[0]!["sequence"]!.GetValue<string>());
        var twoMasks = (await Post(client, "/fill-mask", """{"inputs": "the [MASK] sat on the [MASK].", "top_k": 2}""")).Body!.AsArray();
        Assert.Equal(2, twoMasks.Count);   // one list per [MASK]
        Assert.Equal(2, twoMasks[1]!.AsArray().Count);

        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("hybridbert_requests_total{route=\"/embed\",status=\"200\"} 5", metrics);
        Assert.Contains("hybridbert_batch_requests_count", metrics);
        Assert.Contains("hybridbert_queue_depth", metrics);
        var openapi = JsonNode.Parse(await client.GetStringAsync("/openapi.json"))!;
        Assert.NotNull(openapi["paths"]!["/embed"]);
        Assert.NotNull(openapi["paths"]!["/fill-mask"]);
        var schemas = openapi["components"]!["schemas"]!;   // request bodies with the fields clients send
        Assert.Equal(["inputs", "raw_scores", "truncate", "truncation_direction", "aggregation_strategy"],
            schemas["PredictRequest"]!["properties"]!.AsObject().Select(p => p.Key));
        Assert.Equal(["inputs", "top_k"], schemas["FillMaskRequest"]!["properties"]!.AsObject().Select(p => p.Key));
        Assert.NotNull(openapi["paths"]!["/embed"]!["post"]!["requestBody"]);
    }

    [Fact]
    public async Task A_classifier_predicts_labels_and_a_route_a_model_cannot_serve_is_424()
    {
        await using var server = await Start(Classifier);
        using var client = Client(server);
        var (status, body, _) = await Post(client, "/predict", """{"inputs": "the movie was good"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var labels = body!.AsArray();
        Assert.Equal(3, labels.Count);
        Assert.Equal(1.0, labels.Sum(l => l!["score"]!.GetValue<double>()), 5);
        Assert.True(labels[0]!["score"]!.GetValue<double>() >= labels[1]!["score"]!.GetValue<double>());
        var list = (await Post(client, "/predict", """{"inputs": [["a"], ["b"]], "raw_scores": true}""")).Body!.AsArray();
        Assert.Equal(2, list.Count);

        // As text-embeddings-inference: ["a", "b"] is one pair; a batch mixes [text] and [text, pair].
        using var model = InferenceModel.Load(Classifier);
        var library = new TextClassifier(model).Classify(["the movie", "the movie", "a cat"], pairs: ["was good", null, "sat"], truncate: false);
        static double[] Scores(JsonNode labels, IEnumerable<string> order) =>
            order.Select(l => labels.AsArray().Single(x => x!["label"]!.GetValue<string>() == l)!["score"]!.GetValue<double>()).ToArray();
        var names = library[0].Select(l => l.Label).ToArray();
        static void Close(LabelScore[] expected, double[] actual)
        {
            Assert.Equal(expected.Length, actual.Length);
            for (var j = 0; j < actual.Length; j++) Assert.Equal(expected[j].Score, actual[j], 1e-6);
        }
        var pair = (await Post(client, "/predict", """{"inputs": ["the movie", "was good"]}""")).Body!;
        Close(library[0], Scores(pair, names));
        var mixed = (await Post(client, "/predict", """{"inputs": [["the movie", "was good"], ["the movie"], ["a cat", "sat"]]}""")).Body!.AsArray();
        for (var i = 0; i < 3; i++) Close(library[i].OrderBy(l => Array.IndexOf(names, l.Label)).ToArray(), Scores(mixed[i]!, names));
        Assert.NotEqual(Scores(mixed[0]!, names), Scores(mixed[1]!, names));   // the pair's second text counts

        foreach (var (json, named) in new[]
        {
            ("""{"inputs": ["a", "b", "c"]}""", "a pair has two; send a batch as [[\"text\"]"),
            ("""{"inputs": [["a"], "b"]}""", "'inputs'[1] must be a list of one or two strings"),
            ("""{"inputs": [["a", "b", "c"]]}""", "'inputs'[0] has 3 strings"),
            ("""{"inputs": [["a", 2]]}""", "'inputs'[0][1] must be a string"),
            ("""{"inputs": 5}""", "a pair [\"text\", \"text\"]"),
            ("""{"inputs": []}""", "empty list"),
        })
        {
            var (bad, answer, _) = await Post(client, "/predict", json);
            Assert.True(bad == HttpStatusCode.BadRequest, $"{json}: {bad}");
            Assert.Contains(named, answer!["error"]!.GetValue<string>());
        }

        var (fillStatus, error, _) = await Post(client, "/fill-mask", """{"inputs": "a [MASK]"}""");
        Assert.Equal(HttpStatusCode.FailedDependency, fillStatus);
        Assert.Equal("Backend", error!["error_type"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_one_output_classifier_reranks_texts_for_a_query_as_text_embeddings_inference_does()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"hb-reranker-{Guid.NewGuid():N}");
        try
        {
            using (var source = FineTunedModel.Load(Classifier))
            {
                TorchSharp.torch.manual_seed(5);
                using var head = new SequenceClassifier(source.Classifier.Config, 1, source.Head.Pooling);
                new FineTunedModel(head, source.Tokenizer,
                    source.Head with { Regression = true, Labels = [], Metrics = ["pearson", "spearman"] }).Save(folder);
            }
            await using var server = await Start(folder);
            using var client = Client(server);
            using var model = InferenceModel.Load(folder);
            string[] texts = ["the cat sat", "a film about a dog", "the movie was good", "cats"];
            var logits = new TextClassifier(model).Classify(texts.Select(_ => "a good film").ToList(), pairs: texts, rawScores: true, truncate: false)
                .Select(l => l[0].Score).ToArray();
            var order = Enumerable.Range(0, texts.Length).OrderByDescending(i => logits[i]).ToArray();
            Assert.Contains("rerank", JsonNode.Parse(await client.GetStringAsync("/info"))!["tasks"]!.AsArray().Select(t => t!.GetValue<string>()));

            var (status, body, _) = await Post(client, "/rerank",
                """{"query": "a good film", "texts": ["the cat sat", "a film about a dog", "the movie was good", "cats"]}""");
            Assert.Equal(HttpStatusCode.OK, status);
            var ranks = body!.AsArray();
            Assert.Equal(order, ranks.Select(r => r!["index"]!.GetValue<int>()));
            for (var k = 0; k < order.Length; k++)
                Assert.Equal(1 / (1 + Math.Exp(-logits[order[k]])), ranks[k]!["score"]!.GetValue<double>(), 1e-6);
            Assert.Null(ranks[0]!["text"]);
            var raw = (await Post(client, "/rerank",
                """{"query": "a good film", "texts": ["cats", "the movie was good"], "raw_scores": true, "return_text": true}""")).Body!.AsArray();
            var best = logits[3] >= logits[2] ? (0, "cats", logits[3]) : (1, "the movie was good", logits[2]);
            Assert.Equal(best.Item1, raw[0]!["index"]!.GetValue<int>());
            Assert.Equal(best.Item2, raw[0]!["text"]!.GetValue<string>());
            Assert.Equal(best.Item3, raw[0]!["score"]!.GetValue<double>(), 1e-6);

            foreach (var (json, named) in new[]
            {
                ("""{"texts": ["a"]}""", "needs 'query'"),
                ("""{"query": "q", "texts": "a"}""", "'texts' must be a list of strings"),
                ("""{"query": "q", "texts": ["a", 3]}""", "'texts'[1] must be a string"),
                ("""{"query": "q", "texts": []}""", "'texts' is an empty list"),
            })
            {
                var (bad, answer, _) = await Post(client, "/rerank", json);
                Assert.True(bad == HttpStatusCode.BadRequest, $"{json}: {bad}");
                Assert.Contains(named, answer!["error"]!.GetValue<string>());
            }
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }

        await using var labelled = await Start(Classifier);   // three labels: a classifier, not a re-ranker
        using var other = Client(labelled);
        var (notRanker, error, _) = await Post(other, "/rerank", """{"query": "q", "texts": ["a"]}""");
        Assert.Equal(HttpStatusCode.FailedDependency, notRanker);
        Assert.Contains("not a re-ranker", error!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bad_requests_are_json_errors_with_the_right_status()
    {
        await using var server = await Start(Mlm, o => o with { MaxInputs = 3, MaxBodyBytes = 4096, ApiKey = "secret" });
        using var client = Client(server);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post(client, "/embed", """{"inputs": "x"}""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);   // health needs no key
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "secret");

        async Task Expect(HttpStatusCode status, string route, string json, string named)
        {
            var (actual, body, _) = await Post(client, route, json);
            Assert.True(actual == status, $"{route} {json[..Math.Min(60, json.Length)]}: {actual}");
            Assert.Contains(named, body!["error"]!.GetValue<string>());
            Assert.NotNull(body["error_type"]);
        }
        await Expect(HttpStatusCode.BadRequest, "/embed", "{\"inputs\": [", "not valid JSON");
        await Expect(HttpStatusCode.BadRequest, "/embed", """{"inputs": 5}""",
            "must be a string, token ids, or a list of strings and token-id lists");
        await Expect(HttpStatusCode.BadRequest, "/fill-mask", """{"inputs": 5}""", "must be a string or a list of strings");
        await Expect(HttpStatusCode.BadRequest, "/fill-mask", """{"inputs": [101, 102]}""", "'inputs'[0] must be a string");
        await Expect(HttpStatusCode.BadRequest, "/embed", """{"inputs": [2, "a"]}""", "'inputs'[1] must be a whole number (a token id)");
        await Expect(HttpStatusCode.BadRequest, "/embed", """{"inputs": ["a", [2, 1.5]]}""", "'inputs'[1][1] must be a whole number");
        await Expect(HttpStatusCode.UnprocessableEntity, "/embed", """{"inputs": ["a", [2, 99999]]}""",
            "input 1 has token id 99999 at position 1, outside the vocabulary");
        await Expect(HttpStatusCode.UnprocessableEntity, "/embed", """{"inputs": ["a", []]}""", "input 1 has no token ids");
        await Expect(HttpStatusCode.UnprocessableEntity, "/embed", $$"""{"inputs": [{{string.Join(", ", Enumerable.Repeat(7, 41))}}]}""",
            "input 0 is 41 tokens long");
        await Expect(HttpStatusCode.BadRequest, "/embed", """{"inputs": ["a", 2]}""", "'inputs'[1] must be a string");
        await Expect(HttpStatusCode.BadRequest, "/embed", """{"text": "a"}""", "needs 'inputs'");
        await Expect(HttpStatusCode.BadRequest, "/embed", """{"inputs": "a", "normalize": "yes"}""", "'normalize' must be true or false");
        await Expect(HttpStatusCode.BadRequest, "/fill-mask", """{"inputs": "a [MASK]", "top_k": 0}""", "top_k");
        await Expect(HttpStatusCode.RequestEntityTooLarge, "/embed", """{"inputs": ["a", "b", "c", "d"]}""", "more than the limit of 3");
        await Expect(HttpStatusCode.RequestEntityTooLarge, "/embed", $$"""{"inputs": "{{new string('a', 5000)}}"}""", "limit of 4096");
        await Expect(HttpStatusCode.UnprocessableEntity, "/embed",
            $$"""{"inputs": ["a", "{{string.Join(' ', Enumerable.Repeat("cat", 60))}}"]}""", "input 1 is 62 tokens long");
        await Expect(HttpStatusCode.UnprocessableEntity, "/fill-mask", """{"inputs": "no mask here"}""", "has no [MASK]");
        await Expect(HttpStatusCode.FailedDependency, "/predict", """{"inputs": "a"}""", "not a classifier");
        Assert.Equal(HttpStatusCode.OK,
            (await Post(client, "/embed", $$"""{"inputs": "{{string.Join(' ', Enumerable.Repeat("cat", 60))}}", "truncate": true}""")).Status);

        var latin1 = new ByteArrayContent([.. "{\"inputs\": \""u8, 0xE9, .. "\"}"u8]);
        latin1.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await client.PostAsync("/embed", latin1);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not UTF-8", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Concurrent_requests_are_batched_and_each_gets_its_single_request_result()
    {
        await using var server = await Start(Mlm, o => o with { MaxWaitMs = 50 });
        using var client = Client(server);
        var words = new[] { "the", "cat", "dog", "sat", "on", "mat", "red", "blue", "city", "night" };
        var texts = Enumerable.Range(0,
            40).Select(i => string.Join(' ', Enumerable.Range(0, 1 + i % 7).Select(k => words[(i + 3 * k) % words.Length]))).ToList();
        var single = new List<float[]>();
        foreach (var t in texts) single.Add(Floats((await Post(client, "/embed", $$"""{"inputs": "{{t}}"}""")).Body![0]!));

        var concurrent = await Task.WhenAll(texts.Select(t => Post(client, "/embed", $$"""{"inputs": "{{t}}"}""")));

        // Each caller gets its own text's vector. Not bit for bit: a forward over several rows multiplies matrices of
        // another shape, and libtorch's kernels then sum in another order (measured: at most a few 1e-7 apart).
        for (var i = 0; i < texts.Count; i++)
        {
            var vector = Floats(concurrent[i].Body![0]!);
            Assert.True(vector.Zip(single[i]).Max(p => Math.Abs(p.First - p.Second)) < 1e-6, $"request {i} differs from its single-request result");
        }
        var metrics = await client.GetStringAsync("/metrics");
        double Value(string name) =>
            double.Parse(metrics.Split('\n').First(l => l.StartsWith(name + " ")).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Value("hybridbert_batch_requests_sum") > Value("hybridbert_batch_requests_count"), "no forward served more than one request");
    }

    [Fact]
    public async Task A_client_that_goes_away_has_its_work_dropped_and_nothing_else_is_affected()
    {
        await using var server = await Start(Mlm, o => o with { MaxWaitMs = 1500 });
        using var client = Client(server);
        var kept = Post(client, "/embed", """{"inputs": "the cat"}""");   // waits up to 1.5 s for company
        await Task.Delay(200);
        using var gone = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Post(client, "/embed", """{"inputs": "the dog"}""", gone.Token));

        Assert.Equal(HttpStatusCode.OK, (await kept).Status);
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("hybridbert_dropped_total 1", metrics);
        Assert.Equal(HttpStatusCode.OK, (await Post(client, "/embed", """{"inputs": "again"}""")).Status);
    }

    [Fact]
    public async Task A_full_queue_answers_429_with_retry_after()
    {
        await using var server = await Start(Mlm, o => o with { MaxWaitMs = 2000, MaxQueue = 1 });
        using var client = Client(server);
        var collecting = Post(client, "/embed", """{"inputs": "a"}""");   // the batcher holds it, waiting for company
        await Task.Delay(300);
        var queued = Post(client, "/fill-mask", """{"inputs": "a [MASK]"}""");   // another task: waits in the queue
        await Task.Delay(300);
        var (status, body, response) = await Post(client, "/fill-mask", """{"inputs": "b [MASK]"}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("Overloaded", body!["error_type"]!.GetValue<string>());   // text-embeddings-inference's ErrorType, as it spells it
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter!.Delta);
        Assert.Equal(HttpStatusCode.OK, (await collecting).Status);
        Assert.Equal(HttpStatusCode.OK, (await queued).Status);
    }

    [Fact]
    public async Task Shutdown_lets_requests_in_flight_finish()
    {
        var server = await Start(Mlm, o => o with { MaxWaitMs = 400, ShutdownTimeout = TimeSpan.FromSeconds(20) });
        using var client = Client(server);
        var inFlight = Enumerable.Range(0, 6).Select(i => Post(client, "/embed", $$"""{"inputs": "text {{i}}"}""")).ToList();
        await Task.Delay(100);
        await server.StopAsync();
        foreach (var request in inFlight) Assert.Equal(HttpStatusCode.OK, (await request).Status);
        await server.DisposeAsync();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync("/health"));
    }
}

/// <summary><c>serve</c> from the command line (in this process, with the other tests that swap Console.Out).</summary>
[Collection("Console")]
public sealed class ServeCommandTests
{
    [Fact]
    public async Task A_port_in_use_is_a_clear_error_in_the_library_and_the_cli()
    {
        var model = HuggingFaceImportTests.Folder("bert-mlm-safetensors");
        await using var first = await InferenceServer.StartAsync(new ServeOptions { Model = model, Port = 0, Threads = 1 });
        var port = first.Address.Port;
        var error =
            await Assert.ThrowsAsync<IOException>(() => InferenceServer.StartAsync(new ServeOptions { Model = model, Port = port, Threads = 1 }));
        Assert.Contains($"port {port} on 127.0.0.1 is already in use", error.Message);

        var (exit, _, stderr) = ModelCommandTests.Run("serve", "--model", model, "--port", port.ToString());
        Assert.Equal(1, exit);
        Assert.Contains("already in use", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
