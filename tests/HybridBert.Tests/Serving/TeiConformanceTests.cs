using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridBert.FineTuning;
using HybridBert.Serving;
using HybridBert.Tests.Interop;
using Json.Schema;

namespace HybridBert.Tests.Serving;

/// <summary>
/// Our server, asked as a client of text-embeddings-inference asks, answers as TEI's own OpenAPI document
/// (<c>Tei/openapi.json</c>, TEI's <c>docs/openapi.json</c>) says: each answer, errors included, validates against
/// the schema that route declares for that status, and the status is one the route declares.
/// </summary>
public sealed class TeiConformanceTests
{
    private static readonly string Mlm = HuggingFaceImportTests.Folder("bert-mlm-safetensors");
    private static readonly string Classifier = HuggingFaceImportTests.Folder("bert-classifier");
    private static readonly Uri DocumentUri = new("https://tei.test/openapi.json");
    private static readonly Lazy<(JsonObject Document, BuildOptions Build)> Tei = new(Load);

    /// <summary>TEI's document read as a JSON Schema validator needs it: OpenAPI 3.0's <c>nullable: true</c> written as
    /// JSON Schema's <c>null</c> type, <c>$ref</c>s made absolute, and OpenAPI's <c>example</c> annotations left out.</summary>
    private static (JsonObject, BuildOptions) Load()
    {
        var document =
            JsonNode.Parse(File.ReadAllText(Path.Combine(Repo.Root, "tests", "HybridBert.Tests", "Serving", "Tei", "openapi.json")))!.AsObject();
        void Nullable(JsonNode? node)
        {
            if (node is JsonArray array) foreach (var item in array) Nullable(item);
            if (node is not JsonObject obj) return;
            foreach (var (_, child) in obj.ToList()) Nullable(child);
            obj.Remove("example");   // an OpenAPI annotation, not a JSON Schema keyword
            if (obj["$ref"] is JsonValue reference) obj["$ref"] = new Uri(DocumentUri, reference.GetValue<string>()).ToString();   // absolute
            if (obj["nullable"] is JsonValue v && v.GetValue<bool>())
            {
                if (obj["type"] is JsonValue type) obj["type"] = new JsonArray(type.GetValue<string>(), "null");
                else if (obj["allOf"] is JsonArray) obj["anyOf"] = new JsonArray(new JsonObject { ["allOf"] = obj["allOf"]!.DeepClone() },
                    new JsonObject { ["type"] = "null" });
                obj.Remove("allOf");
                obj.Remove("nullable");
            }
        }
        Nullable(document);
        var registry = new SchemaRegistry();
        registry.Register(new JsonElementBaseDocument(JsonSerializer.SerializeToElement(document), DocumentUri));
        return (document, new BuildOptions { SchemaRegistry = registry });
    }

    private static HttpClient Client(InferenceServer server) => new() { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Sends <paramref name="json"/> to <paramref name="route"/> and checks the answer against TEI's document.</summary>
    private static async Task<JsonNode?> Check(HttpClient client, string method, string route, string? json, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), route);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {route} {json}: {(int)response.StatusCode} {text}");
        var (document, build) = Tei.Value;
        var operation = document["paths"]![route]?[method.ToLowerInvariant()] ?? throw new Xunit.Sdk.XunitException($"TEI has no {method} {route}");
        var declared = operation["responses"]![((int)response.StatusCode).ToString()]
            ?? throw new Xunit.Sdk.XunitException($"{method} {route} answered {(int)response.StatusCode}, a status TEI does not declare for it");
        if (declared["content"]?["application/json"]?["schema"] is not { } schemaNode) return text.Length > 0 ? JsonNode.Parse(text) : null;
        var schema = JsonSchema.FromText(schemaNode.ToJsonString(), build, new Uri($"https://tei.test/check/{Guid.NewGuid():N}"));
        var body = JsonDocument.Parse(text).RootElement;
        var result = schema.Evaluate(body, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (!result.IsValid)
        {
            var errors = (result.Details ?? []).Where(d => d.Errors is not null)
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")).Take(6);
            Assert.Fail($"{method} {route} {(int)response.StatusCode} does not fit TEI's schema: " +
                $"{string.Join("; ", errors)}\n{text[..Math.Min(400, text.Length)]}");
        }
        return JsonNode.Parse(text);
    }

    [Fact]
    public async Task An_embedding_model_answers_every_route_and_error_as_tei_documents_them()
    {
        await using var server = await InferenceServer.StartAsync(new ServeOptions { Model = Mlm, Port = 0, Threads = 1, MaxInputs = 4 });
        using var client = Client(server);
        var longText = string.Join(' ', Enumerable.Repeat("cat", 60));

        await Check(client, "GET", "/health", null, HttpStatusCode.OK);
        var info = (await Check(client, "GET", "/info", null, HttpStatusCode.OK))!;
        Assert.Equal("mean", info["model_type"]!["embedding"]!["pooling"]!.GetValue<string>());
        Assert.Equal(4, info["max_client_batch_size"]!.GetValue<int>());

        await Check(client, "POST", "/embed", """{"inputs": "the cat sat"}""", HttpStatusCode.OK);
        await Check(client, "POST", "/embed",
            """{"inputs": ["the cat sat", [2, 5, 3]], "normalize": false, "truncate": true, "truncation_direction": "Left"}""",
            HttpStatusCode.OK);
        var cut = (await Check(client, "POST", "/embed", """{"inputs": "the cat sat", "dimensions": 16}""", HttpStatusCode.OK))!;
        Assert.Equal(16, cut[0]!.AsArray().Count);
        Assert.Equal(1.0, Math.Sqrt(cut[0]!.AsArray().Sum(v => Math.Pow(v!.GetValue<double>(), 2))), 5);
        await Check(client, "POST", "/embed", """{"inputs": []}""", HttpStatusCode.BadRequest);
        await Check(client, "POST", "/embed", """{"inputs": ["a", "b", "c", "d", "e"]}""", HttpStatusCode.RequestEntityTooLarge);
        await Check(client, "POST", "/embed", $$"""{"inputs": "{{longText}}"}""", HttpStatusCode.UnprocessableEntity);
        await Check(client, "POST", "/embed", """{"inputs": "x", "prompt_name": "query"}""", HttpStatusCode.UnprocessableEntity);

        var all = (await Check(client, "POST", "/embed_all", """{"inputs": ["the cat sat", "a dog"]}""", HttpStatusCode.OK))!;
        Assert.Equal(4, all[1]!.AsArray().Count);   // [CLS] a dog [SEP]
        var sparse = (await Check(client, "POST", "/embed_sparse", """{"inputs": "the cat sat"}""", HttpStatusCode.OK))!;
        Assert.All(sparse[0]!.AsArray(), v => Assert.True(v!["value"]!.GetValue<double>() > 0));
        var similarity = (await Check(client, "POST", "/similarity",
            """{"inputs": {"source_sentence": "the cat sat", "sentences": ["the cat sat", "a dog ran"]}}""", HttpStatusCode.OK))!;
        Assert.Equal(1.0, similarity[0]!.GetValue<double>(), 4);

        var tokens = (await Check(client, "POST", "/tokenize", """{"inputs": "The Cat sat"}""", HttpStatusCode.OK))![0]!.AsArray();
        Assert.Equal(["[CLS]", "The", "Cat", "sat", "[SEP]"], tokens.Select(t => t!["text"]!.GetValue<string>()));
        Assert.Equal([null, 0, 4, 8, null], tokens.Select(t => t!["start"]?.GetValue<int?>()));
        Assert.Equal([null, 3, 7, 11, null], tokens.Select(t => t!["stop"]?.GetValue<int?>()));
        await Check(client, "POST", "/tokenize", """{"inputs": ["a", "b"], "add_special_tokens": false}""", HttpStatusCode.OK);
        var ids = tokens.Select(t => t!["id"]!.GetValue<int>()).ToArray();
        var decoded = (await Check(client, "POST", "/decode", $$"""{"ids": [{{string.Join(',', ids)}}]}""", HttpStatusCode.OK))!;
        Assert.Equal("the cat sat", decoded[0]!.GetValue<string>());
        await Check(client, "POST", "/decode", """{"ids": [[2, 5], [2, 6]], "skip_special_tokens": false}""", HttpStatusCode.OK);
        await Check(client, "POST", "/decode", """{"ids": [99999]}""", HttpStatusCode.UnprocessableEntity);

        // Bad input on the new routes: TEI's statuses, and error bodies of its schema (error_type from its enum).
        await Check(client, "POST", "/embed_all", """{"inputs": []}""", HttpStatusCode.BadRequest);
        await Check(client, "POST", "/embed_sparse", $$"""{"inputs": "{{longText}}"}""", HttpStatusCode.UnprocessableEntity);
        await Check(client, "POST", "/embed_sparse", """{"inputs": ["a", "b", "c", "d", "e"]}""", HttpStatusCode.RequestEntityTooLarge);
        await Check(client, "POST", "/similarity", """{"inputs": {"source_sentence": "a", "sentences": []}}""", HttpStatusCode.BadRequest);
        await Check(client, "POST", "/similarity", """{"inputs": {"sentences": ["a"]}}""", HttpStatusCode.BadRequest);
        await Check(client, "POST", "/tokenize", """{"inputs": []}""", HttpStatusCode.BadRequest);
        await Check(client, "POST", "/tokenize", """{"inputs": 5}""", HttpStatusCode.BadRequest);
        await Check(client, "POST", "/decode", """{"ids": "x"}""", HttpStatusCode.BadRequest);

        var openAi =
            (await Check(client, "POST", "/v1/embeddings", """{"input": ["the cat sat", "a dog"], "model": "x", "encoding_format": "base64"}""",
            HttpStatusCode.OK))!;
        var bytes = Convert.FromBase64String(openAi["data"]![0]!["embedding"]!.GetValue<string>());
        var floats = (await Check(client, "POST", "/v1/embeddings", """{"input": ["the cat sat"]}""", HttpStatusCode.OK))!["data"]![0]!["embedding"]!
            .AsArray().Select(v => v!.GetValue<float>()).ToArray();
        Assert.Equal(floats, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray());   // little-endian float32
        await Check(client, "POST", "/v1/embeddings", """{"input": []}""", HttpStatusCode.BadRequest);

        await Check(client, "POST", "/predict", """{"inputs": "a"}""", HttpStatusCode.FailedDependency);
        await Check(client, "POST", "/rerank", """{"query": "q", "texts": ["a"]}""", HttpStatusCode.FailedDependency);

        // The framework's own answers are JSON errors too.
        using var missing = await client.GetAsync("/no-such-route");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("/embed", JsonNode.Parse(await missing.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
        using var wrongMethod = await client.GetAsync("/embed");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.NotNull(JsonNode.Parse(await wrongMethod.Content.ReadAsStringAsync())!["error_type"]);
        using var form = await client.PostAsync("/embed", new StringContent("""{"inputs": "x"}""", Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);   // curl -d without -H: told which header to send
        Assert.Contains("Content-Type: application/json", JsonNode.Parse(await form.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
        var models = JsonNode.Parse(await client.GetStringAsync("/v1/models"))!;
        Assert.Equal("bert-mlm-safetensors", models["data"]![0]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_classifier_predicts_as_tei_documents_it()
    {
        await using var server = await InferenceServer.StartAsync(new ServeOptions { Model = Classifier, Port = 0, Threads = 1 });
        using var client = Client(server);
        var info = (await Check(client, "GET", "/info", null, HttpStatusCode.OK))!;
        Assert.NotNull(info["model_type"]!["classifier"]!["id2label"]);
        await Check(client, "POST", "/predict", """{"inputs": "the movie"}""", HttpStatusCode.OK);
        await Check(client, "POST", "/predict", """{"inputs": ["the movie", "was good"]}""", HttpStatusCode.OK);
        await Check(client, "POST", "/predict", """{"inputs": [["the movie"], ["a", "b"]], "raw_scores": true}""", HttpStatusCode.OK);
        await Check(client, "POST", "/predict", """{"inputs": []}""", HttpStatusCode.BadRequest);
        await Check(client, "POST", "/embed_sparse", """{"inputs": "x"}""", HttpStatusCode.FailedDependency);
        await Check(client, "POST", "/rerank", """{"query": "q", "texts": ["a"]}""", HttpStatusCode.FailedDependency);
    }
}

/// <summary>Prompts from a sentence-transformers configuration, and truncation by default (<c>--auto-truncate</c>).</summary>
public sealed class ServePromptTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("hybridbert-prompts-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static async Task<(HttpStatusCode, JsonNode?)> Post(HttpClient client, string route, string json)
    {
        using var response = await client.PostAsync(route, new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task A_named_prompt_goes_before_each_text_and_auto_truncate_cuts_when_a_request_does_not_say()
    {
        var model = Path.Combine(folder, "model");
        Directory.CreateDirectory(model);
        foreach (var file in Directory.GetFiles(HuggingFaceImportTests.Folder("bert-mlm-safetensors"))) File.Copy(file,
            Path.Combine(model, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(model, "config_sentence_transformers.json"),
            """{"prompts": {"query": "the cat ", "passage": ""}, "default_prompt_name": null}""");

        await using var server = await InferenceServer.StartAsync(new ServeOptions { Model = model, Port = 0, Threads = 1, AutoTruncate = true });
        using var client = new HttpClient { BaseAddress = server.Address };
        var (_, prompted) = await Post(client, "/embed", """{"inputs": "sat on the mat", "prompt_name": "query"}""");
        var (_, written) = await Post(client, "/embed", """{"inputs": "the cat sat on the mat"}""");
        Assert.Equal(written!.ToJsonString(), prompted!.ToJsonString());
        var (status, error) = await Post(client, "/embed", """{"inputs": "x", "prompt_name": "nope"}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("query, passage", error!["error"]!.GetValue<string>());
        var tokens = (await Post(client, "/tokenize", """{"inputs": "sat", "prompt_name": "query", "add_special_tokens": false}""")).Item2!;
        Assert.Equal(["the", "cat", "sat"], tokens[0]!.AsArray().Select(t => t!["text"]!.GetValue<string>()));

        var longText = string.Join(' ', Enumerable.Repeat("cat", 60));
        Assert.Equal(HttpStatusCode.OK, (await Post(client, "/embed", $$"""{"inputs": "{{longText}}"}""")).Item1);   // cut: --auto-truncate
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await Post(client, "/embed", $$"""{"inputs": "{{longText}}", "truncate": false}""")).Item1);
        Assert.True(JsonNode.Parse(await client.GetStringAsync("/info"))!["auto_truncate"]!.GetValue<bool>());

        var refused = await Assert.ThrowsAsync<InvalidDataException>(() =>
            InferenceServer.StartAsync(new ServeOptions { Model = model, Port = 0, Threads = 1, DefaultPromptName = "missing" }));
        Assert.Contains("query, passage", refused.Message);
        await using var defaulted =
            await InferenceServer.StartAsync(new ServeOptions { Model = model, Port = 0, Threads = 1, DefaultPromptName = "query" });
        using var other = new HttpClient { BaseAddress = defaulted.Address };
        Assert.Equal(written.ToJsonString(), (await Post(other, "/embed", """{"inputs": "sat on the mat"}""")).Item2!.ToJsonString());
    }
}

/// <summary><c>--tokenization-workers</c>: requests tokenized on their own threads give the answers the batcher's tokenizing gives.</summary>
public sealed class TokenizationWorkerTests
{
    [Fact]
    public async Task Workers_tokenize_concurrent_requests_to_the_same_answers_and_errors()
    {
        var model = HuggingFaceImportTests.Folder("bert-mlm-safetensors");
        await using var plain = await InferenceServer.StartAsync(new ServeOptions { Model = model, Port = 0, Threads = 1 });
        await using var workers =
            await InferenceServer.StartAsync(new ServeOptions { Model = model, Port = 0, Threads = 1, TokenizationWorkers = 2 });
        using var a = new HttpClient { BaseAddress = plain.Address };
        using var b = new HttpClient { BaseAddress = workers.Address };
        var texts = Enumerable.Range(0,
            24).Select(i => i % 5 == 4 ? string.Join(' ', Enumerable.Repeat("cat", 60)) : $"the cat sat {i} times on the mat").ToList();
        async Task<(HttpStatusCode, string)> Embed(HttpClient client, string text)
        {
            using var response = await client.PostAsync("/embed",
                new StringContent($$"""{"inputs": "{{text}}"}""", Encoding.UTF8, "application/json"));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        var expected = await Task.WhenAll(texts.Select(t => Embed(a, t)));
        var actual = await Task.WhenAll(texts.Select(t => Embed(b, t)));   // all at once: the workers tokenize while the model runs
        Assert.Equal(expected, actual);
        Assert.Equal(texts.Count(t => t.Length > 100), actual.Count(r => r.Item1 == HttpStatusCode.UnprocessableEntity));
        Assert.Equal(2, JsonNode.Parse(await b.GetStringAsync("/info"))!["tokenization_workers"]!.GetValue<int>());
    }
}

/// <summary><c>GET /docs</c>: Swagger UI over our OpenAPI document, every asset served by the server itself.</summary>
public sealed class DocsPageTests
{
    [Fact]
    public async Task The_docs_page_and_its_assets_come_from_the_server_with_no_other_host()
    {
        await using var server = await InferenceServer.StartAsync(new ServeOptions
        {
            Model = HuggingFaceImportTests.Folder("bert-mlm-safetensors"), Port = 0, Threads = 1, ApiKey = "secret",
        });
        using var client = new HttpClient { BaseAddress = server.Address };
        var html = await client.GetStringAsync("/docs/index.html");   // no key needed for the page
        Assert.Contains("swagger-ui", html);
        var assets = System.Text.RegularExpressions.Regex.Matches(html, "(?:src|href)=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(assets);
        Assert.DoesNotContain(assets, a => a.StartsWith("http", StringComparison.Ordinal) || a.StartsWith("//", StringComparison.Ordinal));
        foreach (var asset in assets.Where(a => a.EndsWith(".js") || a.EndsWith(".css")))
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri(new Uri(server.Address, "/docs/"), asset))).StatusCode);
        var config = await client.GetStringAsync("/docs/index.js");
        Assert.Contains("/openapi.json", config);
        Assert.Equal(HttpStatusCode.Unauthorized,
            (await client.PostAsync("/embed", new StringContent("""{"inputs": "x"}""", Encoding.UTF8, "application/json"))).StatusCode);
    }
}

/// <summary>The /docs page in headless Chromium: a person's way through it, sending one /embed from the page.</summary>
public sealed class DocsPageBrowserTests
{
    [ChromiumFact]
    public async Task An_embed_sent_from_the_docs_page_shows_the_servers_answer()
    {
        await using var server = await InferenceServer.StartAsync(new ServeOptions
        {
            Model = HuggingFaceImportTests.Folder("bert-mlm-safetensors"), Port = 0, Threads = 1,
        });
        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser =
            await playwright.Chromium.LaunchAsync(new() { ExecutablePath = DebianChromium.Path, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync();
        var outside = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(server.Address.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal)) outside.Add(request.Url);
        };
        await page.GotoAsync(new Uri(server.Address, "/docs/index.html").ToString());
        var embed = page.Locator(".opblock-summary-path[data-path='/embed']").First;
        await embed.ClickAsync();
        var operation = page.Locator(".opblock.is-open");
        await operation.Locator("button.try-out__btn").ClickAsync();
        await operation.Locator("textarea.body-param__text").FillAsync("""{"inputs": "the cat sat"}""");
        await operation.Locator("button.execute").ClickAsync();
        var body = operation.Locator(".live-responses-table .response-col_description pre").First;
        await body.WaitForAsync(new() { Timeout = 30_000 });
        var shown = JsonNode.Parse(await body.InnerTextAsync())!.AsArray();

        using var client = new HttpClient { BaseAddress = server.Address };
        using var response = await client.PostAsync("/embed", new StringContent("""{"inputs": "the cat sat"}""", Encoding.UTF8, "application/json"));
        var expected = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(expected[0]!.AsArray().Select(v => v!.GetValue<double>()), shown[0]!.AsArray().Select(v => v!.GetValue<double>()));
        Assert.Contains("200", await operation.Locator(".live-responses-table tbody .response-col_status").First.InnerTextAsync());
        Assert.Empty(outside);   // nothing from another host: no CDN
    }
}
