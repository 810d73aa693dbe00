using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using HybridBert.FineTuning;
using HybridBert.Model;
using HybridBert.Serving;
using HybridBert.Text;
using TorchSharp;

namespace HybridBert.Tests.Serving;

/// <summary>A token classifier served: /predict answers with Hugging Face's token-classification output, texts of
/// several requests batched together, each aggregation strategy as the library gives it.</summary>
public sealed class TokenServingTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-tagserve-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    /// <summary>A random tagger over the embedded vocabulary with a biased O, so that some pieces are entities and some not.</summary>
    private string Tagger()
    {
        var folder = Path.Combine(temp, "tagger");
        var vocabulary = HybridBert.Data.EmbeddedData.Vocabulary();
        var config = Presets.Tiny.ForVocabulary(vocabulary) with { LayerPattern = "PA", NumHiddenLayers = 2 };
        torch.manual_seed(3);
        using var tagger = new TokenTagger(new TokenClassifier(config, 5), new BertTokenizer(vocabulary),
            new TokenHead("toy", ["B-PER", "I-PER", "B-LOC", "I-LOC", "O"], 24, true));
        tagger.Save(folder);
        return folder;
    }

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> Post(HttpClient client, string json)
    {
        var response = await client.PostAsync("/predict", new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null);
    }

    [Fact]
    public async Task Predict_tags_texts_as_the_pipeline_does_and_as_the_library_does()
    {
        var folder = Tagger();
        using var library = TokenTagger.Load(folder);
        await using var server = await InferenceServer.StartAsync(new ServeOptions { Model = folder, Port = 0, Threads = 1 });
        using var client = new HttpClient { BaseAddress = server.Address };
        string[] texts = ["George Washington went to Washington.", "The unbelievably quiet house", "a"];

        foreach (var aggregation in Enum.GetValues<Aggregation>())
        {
            var name = aggregation.ToString().ToLowerInvariant();
            var (status, body) = await Post(client, $$"""{"inputs": {{System.Text.Json.JsonSerializer.Serialize(texts.Select(t => new[] { t }))}}, "aggregation_strategy": "{{name}}"}""");
            Assert.Equal(HttpStatusCode.OK, status);
            var perText = body!.AsArray();
            Assert.Equal(texts.Length, perText.Count);
            for (var i = 0; i < texts.Length; i++)
            {
                var expected = library.Predict(texts[i], aggregation);
                var actual = perText[i]!.AsArray();
                Assert.Equal(expected.Count, actual.Count);
                for (var k = 0; k < expected.Count; k++)
                {
                    var e = expected[k];
                    var a = actual[k]!;
                    Assert.Equal(e.Entity, a["entity"]?.GetValue<string>());
                    Assert.Equal(e.EntityGroup, a["entity_group"]?.GetValue<string>());
                    Assert.Equal(e.Index, a["index"]?.GetValue<int>());
                    Assert.Equal(e.Word, a["word"]!.GetValue<string>());
                    Assert.Equal((e.Start, e.End), (a["start"]!.GetValue<int>(), a["end"]!.GetValue<int>()));
                    Assert.Equal(e.Score, a["score"]!.GetValue<float>(), 4);
                    Assert.Equal(texts[i][e.Start..e.End].ToLowerInvariant().Replace(" ", ""), e.Word.Replace("##", "").Replace(" ", ""));
                }
            }
        }

        // One text in, one list out; the default strategy is simple.
        var (single, one) = await Post(client, """{"inputs": "George Washington went to Washington."}""");
        Assert.Equal(HttpStatusCode.OK, single);
        Assert.Equal(library.Predict(texts[0], Aggregation.Simple).Count, one!.AsArray().Count);

        var (badStrategy, error) = await Post(client, """{"inputs": "a", "aggregation_strategy": "longest"}""");
        Assert.Equal(HttpStatusCode.BadRequest, badStrategy);
        Assert.Contains("aggregation_strategy", error!["error"]!.GetValue<string>());
        var (pair, pairError) = await Post(client, """{"inputs": [["a", "b"]]}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, pair);
        Assert.Contains("single texts", pairError!["error"]!.GetValue<string>());
        var (tooLong, _) = await Post(client, $$"""{"inputs": "{{string.Join(' ', Enumerable.Repeat("word", 40))}}"}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooLong);
        var (cut, _) = await Post(client, $$"""{"inputs": "{{string.Join(' ', Enumerable.Repeat("word", 40))}}", "truncate": true}""");
        Assert.Equal(HttpStatusCode.OK, cut);

        var info = JsonNode.Parse(await client.GetStringAsync("/info"))!;
        Assert.Equal("I-PER", info["model_type"]!["token_classifier"]!["id2label"]!["1"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_onnx_folder_of_a_token_classifier_is_served_tagging_as_its_source_does()
    {
        var folder = Tagger();
        var onnx = Path.Combine(temp, "onnx-tagger");
        HybridBert.Interop.OnnxExport.Run(folder, onnx);
        using var library = TokenTagger.Load(folder);
        await using var server = await InferenceServer.StartAsync(new ServeOptions
        {
            Model = onnx, Port = 0, Threads = 1, Runtime = HybridBert.Inference.InferenceRuntime.Onnx,
        });
        using var client = new HttpClient { BaseAddress = server.Address };
        string[] texts = ["George Washington went to Washington.", "The unbelievably quiet house", "a"];
        var (status, body) = await Post(client, $$"""{"inputs": {{System.Text.Json.JsonSerializer.Serialize(texts.Select(t => new[] { t }))}}, "aggregation_strategy": "none"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var compared = 0;
        for (var i = 0; i < texts.Length; i++)
        {
            var expected = library.Predict(texts[i], Aggregation.None);
            var actual = body!.AsArray()[i]!.AsArray();
            Assert.Equal(expected.Count, actual.Count);
            for (var k = 0; k < expected.Count; k++, compared++)
            {
                Assert.Equal(expected[k].Entity, actual[k]!["entity"]!.GetValue<string>());
                Assert.Equal((expected[k].Start, expected[k].End), (actual[k]!["start"]!.GetValue<int>(), actual[k]!["end"]!.GetValue<int>()));
                Assert.Equal(expected[k].Score, actual[k]!["score"]!.GetValue<float>(), 4);
            }
        }
        Assert.True(compared > 3, $"only {compared} entities compared");
        var info = JsonNode.Parse(await client.GetStringAsync("/info"))!;
        Assert.Equal("I-PER", info["model_type"]!["token_classifier"]!["id2label"]!["1"]!.GetValue<string>());
    }
}
