using System.Net.Http.Json;
using Grpc.Core;
using Grpc.Net.Client;
using HybridBert.FineTuning;
using HybridBert.Serving;
using HybridBert.Tests.Interop;
using G = HybridBert.Serving.Grpc;

namespace HybridBert.Tests.Serving;

/// <summary>The tei.v1 gRPC service, called with a real gRPC client (Grpc.Net.Client, generated from Protos/tei.proto)
/// over HTTP/2 on the server's gRPC port, against the HTTP routes of the same server.</summary>
public sealed class GrpcTests
{
    private static readonly string Mlm = HuggingFaceImportTests.Folder("bert-mlm-safetensors");
    private static readonly string Classifier = HuggingFaceImportTests.Folder("bert-classifier");

    private static Task<InferenceServer> Start(string model, string? apiKey = null) =>
        InferenceServer.StartAsync(new ServeOptions { Model = model, Port = 0, GrpcPort = 0, Threads = 1, ApiKey = apiKey });

    [Fact]
    public async Task Embeddings_tokens_and_info_over_grpc_equal_the_http_answers()
    {
        await using var server = await Start(Mlm);
        using var channel = GrpcChannel.ForAddress(server.GrpcAddress!);
        using var http = new HttpClient { BaseAddress = server.Address };

        var info = await new G.Info.InfoClient(channel).InfoAsync(new G.InfoRequest());
        Assert.Equal(G.ModelType.Embedding, info.ModelType);
        Assert.Equal(40u, info.MaxInputLength);

        var embed = new G.Embed.EmbedClient(channel);
        var viaHttp = (await (await http.PostAsJsonAsync("/embed", new { inputs = "the cat sat" })).Content.ReadFromJsonAsync<float[][]>())![0];
        var viaGrpc = await embed.EmbedAsync(new G.EmbedRequest { Inputs = "the cat sat" });
        Assert.Equal(viaHttp, viaGrpc.Embeddings.ToArray());
        Assert.Equal(5u, viaGrpc.Metadata.ComputeTokens);   // [CLS] the cat sat [SEP]
        Assert.True(viaGrpc.Metadata.TotalTimeNs >= viaGrpc.Metadata.InferenceTimeNs);
        Assert.Equal(8, (await embed.EmbedAsync(new G.EmbedRequest { Inputs = "the cat sat", Dimensions = 8 })).Embeddings.Count);

        // A stream answers every message, in order.
        using (var stream = embed.EmbedStream())
        {
            string[] texts = ["a dog", "the cat sat", "a dog"];
            foreach (var text in texts) await stream.RequestStream.WriteAsync(new G.EmbedRequest { Inputs = text });
            await stream.RequestStream.CompleteAsync();
            var answers = new List<float[]>();
            await foreach (var answer in stream.ResponseStream.ReadAllAsync()) answers.Add(answer.Embeddings.ToArray());
            Assert.Equal(3, answers.Count);
            Assert.Equal(viaHttp, answers[1]);
            Assert.Equal(answers[0], answers[2]);
        }

        var sparse = await embed.EmbedSparseAsync(new G.EmbedSparseRequest { Inputs = "the cat sat" });
        Assert.NotEmpty(sparse.SparseEmbeddings);
        Assert.Equal(5, (await embed.EmbedAllAsync(new G.EmbedAllRequest { Inputs = "the cat sat" })).TokenEmbeddings.Count);

        var tokenizer = new G.Tokenize.TokenizeClient(channel);
        var tokens = await tokenizer.TokenizeAsync(new G.EncodeRequest { Inputs = "The Cat", AddSpecialTokens = true });
        Assert.Equal(["[CLS]", "The", "Cat", "[SEP]"], tokens.Tokens.Select(t => t.Text));
        Assert.Equal(4u, tokens.Tokens[2].Start);
        Assert.False(tokens.Tokens[0].HasStart);
        var decoded = await tokenizer.DecodeAsync(new G.DecodeRequest { Ids = { tokens.Tokens.Select(t => t.Id) }, SkipSpecialTokens = true });
        Assert.Equal("the cat", decoded.Text);

        // Errors as text-embeddings-inference maps them.
        var tooLong =
            await Assert.ThrowsAsync<RpcException>(() =>
            embed.EmbedAsync(new G.EmbedRequest { Inputs = string.Join(' ', Enumerable.Repeat("cat", 60)) }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, tooLong.StatusCode);
        Assert.Contains("62 tokens long", tooLong.Status.Detail);
        var notClassifier =
            await Assert.ThrowsAsync<RpcException>(() =>
            new G.Predict.PredictClient(channel).PredictAsync(new G.PredictRequest { Inputs = "x" }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, notClassifier.StatusCode);
    }

    [Fact]
    public async Task A_classifier_predicts_texts_and_pairs_over_grpc_and_the_key_is_checked()
    {
        await using var server = await Start(Classifier, apiKey: "secret");
        using var channel = GrpcChannel.ForAddress(server.GrpcAddress!);
        var predict = new G.Predict.PredictClient(channel);
        var denied = await Assert.ThrowsAsync<RpcException>(() => predict.PredictAsync(new G.PredictRequest { Inputs = "the movie" }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, denied.StatusCode);

        var key = new Metadata { { "authorization", "Bearer secret" } };
        using var http = new HttpClient { BaseAddress = server.Address };
        http.DefaultRequestHeaders.Authorization = new("Bearer", "secret");
        var single = await predict.PredictAsync(new G.PredictRequest { Inputs = "the movie" }, key);
        var viaHttp =
            (await (await http.PostAsJsonAsync("/predict", new { inputs = "the movie" })).Content.ReadFromJsonAsync<List<Dictionary<string,
            object>>>())!;
        Assert.Equal(viaHttp.Select(l => l["label"].ToString()), single.Predictions.Select(p => p.Label));
        var pair = await predict.PredictPairAsync(new G.PredictPairRequest { Inputs = { "the movie", "was good" } }, key);
        Assert.Equal(single.Predictions.Count, pair.Predictions.Count);
        Assert.NotEqual(single.Predictions.Select(p => p.Score), pair.Predictions.Select(p => p.Score));
        var three =
            await Assert.ThrowsAsync<RpcException>(() =>
            predict.PredictPairAsync(new G.PredictPairRequest { Inputs = { "a", "b", "c" } }, key).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, three.StatusCode);
        var info = await new G.Info.InfoClient(channel).InfoAsync(new G.InfoRequest(), key);
        Assert.Equal(G.ModelType.Classifier, info.ModelType);
    }
}

/// <summary>Our tei.proto against text-embeddings-inference's own (<c>Tei/tei.proto</c>, test data): the same package,
/// services, RPCs (with their streaming), messages, fields (name, number, type, repeated or optional) and enum values,
/// so that TEI's generated clients talk to our server unchanged.</summary>
public sealed class TeiProtoTests
{
    [Fact]
    public void Our_proto_declares_everything_teis_proto_declares()
    {
        var tei = File.ReadAllLines(Path.Combine(Repo.Root, "tests", "HybridBert.Tests", "Serving", "Tei", "tei.proto"))
            .Select(l => l.Split("//")[0].Trim()).Where(l => l.Length > 0).ToList();
        var ours = G.TeiReflection.Descriptor;
        Assert.Equal(tei.Single(l => l.StartsWith("package ")), $"package {ours.Package};");

        string? block = null, kind = null;
        var checkedItems = 0;
        foreach (var line in tei)
        {
            var open = System.Text.RegularExpressions.Regex.Match(line, @"^(message|service|enum)\s+(\w+)\s*\{(\})?");
            if (open.Success)
            {
                (kind, block) = (open.Groups[1].Value, open.Groups[2].Value);
                Assert.True(kind switch
                {
                    "message" => ours.MessageTypes.Any(m => m.Name == block),
                    "service" => ours.Services.Any(s => s.Name == block),
                    _ => ours.EnumTypes.Any(e => e.Name == block),
                }, $"our proto has no {kind} {block}");
                if (open.Groups[3].Success) block = null;
                continue;
            }
            if (line.StartsWith('}')) { block = null; continue; }
            if (block is null) continue;
            if (kind == "message" &&
                System.Text.RegularExpressions.Regex.Match(line, @"^(optional |repeated )?(\w+) (\w+) = (\d+);$") is { Success: true } f)
            {
                var field = ours.MessageTypes.Single(m => m.Name == block).FindFieldByNumber(int.Parse(f.Groups[4].Value));
                Assert.True(field is not null, $"{block} has no field {f.Groups[4].Value} ({f.Groups[3].Value})");
                Assert.Equal(f.Groups[3].Value, field!.Name);
                var type = field.FieldType switch
                {
                    Google.Protobuf.Reflection.FieldType.Message => field.MessageType.Name,
                    Google.Protobuf.Reflection.FieldType.Enum => field.EnumType.Name,
                    var t => t.ToString().ToLowerInvariant(),
                };
                // proto3 "optional" is a synthetic one-field oneof in the descriptor.
                var label = field.IsRepeated ? "repeated " : field.ContainingOneof is { IsSynthetic: true } ? "optional " : "";
                Assert.Equal($"{block}.{f.Groups[3].Value}: {f.Groups[1].Value}{f.Groups[2].Value}", $"{block}.{field.Name}: {label}{type}");
                checkedItems++;
            }
            else if (kind == "service" &&
                System.Text.RegularExpressions.Regex.Match(line,
                @"^rpc (\w+) \((stream )?(\w+)\) returns \((stream )?(\w+)\)") is { Success: true } r)
            {
                var method = ours.Services.Single(s => s.Name == block).FindMethodByName(r.Groups[1].Value);
                Assert.True(method is not null, $"service {block} has no rpc {r.Groups[1].Value}");
                Assert.Equal((r.Groups[3].Value, r.Groups[5].Value, r.Groups[2].Success, r.Groups[4].Success),
                    (method!.InputType.Name, method.OutputType.Name, method.IsClientStreaming, method.IsServerStreaming));
                checkedItems++;
            }
            else if (kind == "enum" && System.Text.RegularExpressions.Regex.Match(line, @"^(\w+) = (\d+);$") is { Success: true } v)
            {
                Assert.Equal(v.Groups[1].Value, ours.EnumTypes.Single(e => e.Name == block).FindValueByNumber(int.Parse(v.Groups[2].Value))?.Name);
                checkedItems++;
            }
        }
        Assert.True(checkedItems > 80, $"only {checkedItems} declarations read from TEI's proto");
    }
}
