using System.Text.Json;
using System.Text.Json.Nodes;
using HybridBert.Data;
using HybridBert.FineTuning;
using HybridBert.Inference;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Text;

namespace HybridBert.Tests.Interop;

/// <summary>
/// Our ONNX model folders loaded by transformers.js (the npm package, offline, with its own ONNX Runtime) as a
/// JavaScript user would, against the library on the same texts: the tokenizer (singles and pairs, with token types),
/// <c>feature-extraction</c> (mean + normalize, and cls), <c>fill-mask</c> and <c>text-classification</c> (pairs too),
/// for bert, hybrid (PPAA and an H layer) and ponet models.
/// </summary>
public sealed class TransformersJsTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-transformersjs-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static readonly string[] Texts =
    [
        "The whale swam past the ship at dawn.",
        "Mr. President, the state of the union is strong!",
        "Café naïve résumé — \"quoted\" text, 3.14 and 1990s.",
        "a b c",
    ];

    private static readonly string[] Pairs = ["Call me Ishmael.", "Yes.", "Some years ago, never mind how long.", "d"];

    private static readonly string[] Masked =
    [
        "The whale swam past the [MASK] at dawn.",
        "[MASK] President, the state of the union is strong!",
    ];

    /// <summary>A random pre-trained model over the embedded vocabulary, with weights spread wide enough that the
    /// fill-mask candidates' scores differ clearly (so the top-k order is not decided by float noise).</summary>
    private string Pretrained(string pattern, int seed)
    {
        var vocabulary = EmbeddedData.Vocabulary();
        var config =
            (Presets.Tiny with { LayerPattern = pattern, NumHiddenLayers = pattern.Length, InitializerRange = 0.3 }).ForVocabulary(vocabulary);
        TorchSharp.torch.manual_seed(seed);
        using var model = new HybridBertModel(config);
        var folder = Path.Combine(root, $"model-{pattern}");
        ModelFolder.Write(folder, model, vocabulary, lowercase: true);
        return folder;
    }

    private string Classifier(string pretrained)
    {
        var source = ModelSource.Open(pretrained);
        TorchSharp.torch.manual_seed(11);
        var classifier = new SequenceClassifier(source.Config with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 }, 3, Pooling.Cls);
        source.LoadInto(classifier.Encoder, ignorePrefixes: ["cls."], optionalPrefixes: ["pooler."]);
        var head = new TaskHead("toy", false, ["negative", "neutral", "positive"], ["accuracy"], Pooling.Cls, 128, true,
            new ColumnSpec("text", "text_pair", "label"));
        var folder = Path.Combine(root, "classifier");
        using (var model = new FineTunedModel(classifier, new BertTokenizer(source.Vocabulary), head)) model.Save(folder);
        return folder;
    }

    private string Onnx(string model, string name)
    {
        var folder = Path.Combine(root, "onnx", name);
        OnnxExport.Run(model, folder);
        return folder;
    }

    [NpmFact]
    public void Transformers_js_loads_our_onnx_folders_and_gives_our_tokens_vectors_masks_and_labels()
    {
        var models = new Dictionary<string, string>
        {
            ["bert"] = Pretrained("AA", 1), ["hybrid"] = Pretrained("PPAA", 2), ["in-layer"] = Pretrained("HA", 3), ["ponet"] = Pretrained("PP", 4),
        };
        var classifierFolder = Classifier(models["hybrid"]);
        var onnx = models.ToDictionary(m => m.Key, m => Onnx(m.Value, m.Key));
        var onnxClassifier = Onnx(classifierFolder, "classifier");

        // Pairs for the tokenizer: corpus paragraphs with the next one, and the tricky strings with paragraphs.
        var paragraphs = new CorpusReader().Read(CorpusSource.Default()).SelectMany(d => d.Paragraphs).Take(401).ToList();
        var tricky =
            ((IEnumerable<object[]>)HybridBert.Tests.Text.BertTokenizerTests.TrickyStrings()).Select(r => (string)r[0]).Where(t =>
            t.Length > 0).ToList();
        var firsts = Texts.Concat(paragraphs.Take(400)).Concat(tricky).ToList();
        var seconds = Pairs.Concat(paragraphs.Skip(1).Take(400)).Concat(tricky.Select((_, i) => paragraphs[i])).ToList();
        var jobs = new JsonArray
        {
            new JsonObject { ["task"] = "tokenize", ["model"] = onnx["bert"], ["texts"] = Json(firsts), ["pairs"] = null },
            new JsonObject { ["task"] = "tokenize", ["model"] = onnx["bert"], ["texts"] = Json(firsts), ["pairs"] = Json(seconds) },
        };
        foreach (var name in models.Keys)
        {
            jobs.Add(new JsonObject { ["task"] = "feature-extraction", ["model"] = onnx[name], ["texts"] = Json(Texts),
                ["pooling"] = "mean", ["normalize"] = true });
            jobs.Add(new JsonObject { ["task"] = "feature-extraction", ["model"] = onnx[name], ["texts"] = Json(Texts), ["pooling"] = "cls",
                ["normalize"] = false });
            jobs.Add(new JsonObject { ["task"] = "fill-mask", ["model"] = onnx[name], ["texts"] = Json(Masked), ["top_k"] = 5 });
        }
        jobs.Add(new JsonObject { ["task"] = "text-classification", ["model"] = onnxClassifier, ["texts"] = Json(Texts), ["pairs"] = null });
        jobs.Add(new JsonObject { ["task"] = "text-classification", ["model"] = onnxClassifier, ["texts"] = Json(Texts), ["pairs"] = Json(Pairs) });
        var results = JsonNode.Parse(TransformersJs.RunJobs(new JsonObject { ["jobs"] = jobs }.ToJsonString()))!.AsArray();
        var next = 0;

        // The tokenizer (tokenizer.json through transformers.js): ids and token types, singles and pairs.
        var tokenizer = new BertTokenizer(EmbeddedData.Vocabulary());
        foreach (var pairs in new[] { null, seconds })
        {
            var encoded = results[next++]!.AsArray();
            for (var i = 0; i < firsts.Count; i++)
            {
                var ours = tokenizer.Encode(firsts[i], pairs?[i], maxLength: int.MaxValue / 2);
                var ids = encoded[i]!["input_ids"]!.AsArray().Select(v => v!.GetValue<int>()).ToArray();
                var types = encoded[i]!["token_type_ids"]!.AsArray().Select(v => v!.GetValue<int>()).ToArray();
                Assert.True(ours.InputIds.SequenceEqual(ids) && ours.TokenTypeIds.SequenceEqual(types),
                    $"\"{firsts[i][..Math.Min(40, firsts[i].Length)]}\"{(pairs is null ? "" : " + its pair")}: ours " +
                        $"{string.Join(' ', ours.InputIds.Take(16))} …, " +
                    $"transformers.js {string.Join(' ', ids.Take(16))} …");
            }
        }

        foreach (var (name, folder) in models)
        {
            using var model = InferenceModel.Load(folder);
            var embedder = new Embedder(model);
            foreach (var (pooling, normalize) in new[] { (Pooling.Mean, true), (Pooling.Cls, false) })
            {
                var expected = embedder.Embed(Texts, pooling, normalize);
                var actual = results[next++]!.AsArray();
                for (var i = 0; i < Texts.Length; i++)
                {
                    var vector = actual[i]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
                    Assert.Equal(expected[i].Length, vector.Length);
                    var worst = expected[i].Zip(vector, (a, b) => Math.Abs(a - b)).Max();
                    Assert.True(worst < 1e-4, $"{name} {pooling}: text {i} differs by {worst}");
                }
            }
            var candidates = new FillMask(model).Predict(Masked, 5);
            var filled = results[next++]!.AsArray();
            for (var i = 0; i < Masked.Length; i++)
            {
                var theirs = filled[i]!.AsArray();
                Assert.Equal(candidates[i][0].Select(c => c.Token), theirs.Select(c => c!["token"]!.GetValue<int>()));
                for (var k = 0; k < theirs.Count; k++)
                {
                    Assert.Equal(candidates[i][0][k].Score, theirs[k]!["score"]!.GetValue<double>(), 1e-4);
                    Assert.Equal(candidates[i][0][k].TokenStr, theirs[k]!["token_str"]!.GetValue<string>());
                }
            }
        }

        using (var classifier = InferenceModel.Load(classifierFolder))
            foreach (var pairs in new[] { null, Pairs })
            {
                var expected = new TextClassifier(classifier).Classify(Texts, pairs: pairs);
                var actual = results[next++]!.AsArray();
                for (var i = 0; i < Texts.Length; i++)
                {
                    var theirs = actual[i]!.AsArray().ToDictionary(l => l!["label"]!.GetValue<string>(), l => l!["score"]!.GetValue<double>());
                    Assert.Equal(3, theirs.Count);
                    foreach (var label in expected[i])
                        Assert.True(Math.Abs(label.Score - theirs[label.Label]) < 1e-4,
                            $"text {i}{(pairs is null ? "" : " with its pair")}: ours " +
                                $"{string.Join(", ", expected[i].Select(l => $"{l.Label} {l.Score:F6}"))}; " +
                            $"transformers.js {string.Join(", ", theirs.Select(l => $"{l.Key} {l.Value:F6}"))}");
                    Assert.Equal(expected[i][0].Label, theirs.MaxBy(l => l.Value).Key);
                }
            }
        Assert.Equal(results.Count, next);
    }

    [NpmFact]
    public void Transformers_js_tags_with_our_onnx_token_classifier_as_our_tag_command_does()
    {
        // A random tagger (PA layers) over the embedded vocabulary: pieces fall on every tag, O among them.
        var vocabulary = EmbeddedData.Vocabulary();
        var config = Presets.Tiny.ForVocabulary(vocabulary) with { LayerPattern = "PA", NumHiddenLayers = 2 };
        TorchSharp.torch.manual_seed(3);
        var source = Path.Combine(root, "tagger");
        using (var tagger = new TokenTagger(new TokenClassifier(config, 5), new BertTokenizer(vocabulary),
                   new TokenHead("toy", ["B-PER", "I-PER", "B-LOC", "I-LOC", "O"], 64, true)))
            tagger.Save(source);
        var onnx = Path.Combine(root, "onnx-tagger");
        Assert.Equal(OnnxHead.Token, OnnxExport.Run(source, onnx));

        var job = new JsonObject { ["task"] = "token-classification", ["model"] = onnx, ["texts"] = Json(Texts) };
        var answers = JsonNode.Parse(TransformersJs.RunJobs(new JsonObject { ["jobs"] = new JsonArray(job) }.ToJsonString()))![0]!.AsArray();

        using var ours = TokenTagger.Load(source);
        var compared = 0;
        for (var i = 0; i < Texts.Length; i++)
        {
            // transformers.js 4.3.1 implements aggregation "none" as Hugging Face's pipeline does (and "simple" after
            // dropping O, unlike it): compare "none", every field it gives.
            var expected = ours.Predict(Texts[i], Aggregation.None);
            var actual = answers[i]!.AsArray();
            Assert.True(expected.Count == actual.Count, $"text {i}: ours {expected.Count} entities, transformers.js {actual.Count}");
            for (var k = 0; k < expected.Count; k++)
            {
                Assert.Equal(expected[k].Entity, actual[k]!["entity"]!.GetValue<string>());
                Assert.Equal(expected[k].Index, actual[k]!["index"]!.GetValue<int>());
                Assert.Equal(expected[k].Score, actual[k]!["score"]!.GetValue<float>(), 4);
                Assert.Equal(expected[k].Word.Replace("##", ""), actual[k]!["word"]!.GetValue<string>().Replace("##", ""));
                compared++;
            }
        }
        Assert.True(compared > 10, $"only {compared} entities compared");
    }

    [NpmFact]
    public void Transformers_js_runs_our_int8_graph_as_our_quantized_runtime_does()
    {
        var source = Pretrained("PPAA", 5);
        var folder = Path.Combine(root, "onnx", "int8");
        OnnxExport.Run(source, folder, quantize: true);
        var job = new JsonObject { ["task"] = "feature-extraction", ["model"] = folder, ["texts"] = Json(Texts), ["pooling"] = "mean",
            ["normalize"] = true, ["dtype"] = "q8" };
        var answers = JsonNode.Parse(TransformersJs.RunJobs(new JsonObject { ["jobs"] = new JsonArray(job) }.ToJsonString()))![0]!.AsArray();

        // Our quantized runtime on the same graph (copied beside the source model), and the fp32 torch runtime.
        Directory.CreateDirectory(Path.Combine(source, "onnx"));
        File.Copy(Path.Combine(folder, OnnxQuantization.FolderModel), Path.Combine(source, OnnxQuantization.FolderModel));
        using var int8 = InferenceModel.Load(source, runtime: InferenceRuntime.Onnx, quantized: true);
        using var fp32 = InferenceModel.Load(source);
        var ours = new Embedder(int8).Embed(Texts, Pooling.Mean, true);
        var exact = new Embedder(fp32).Embed(Texts, Pooling.Mean, true);
        for (var i = 0; i < Texts.Length; i++)
        {
            var theirs = answers[i]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
            var worst = ours[i].Zip(theirs, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst < 1e-3, $"text {i}: transformers.js's int8 vector differs from ours by {worst}");
            var cosine = exact[i].Zip(theirs, (a, b) => a * b).Sum();
            Assert.True(cosine is > 0.99f and < 1 - 1e-7f, $"text {i}: cosine to fp32 {cosine} (int8 should be near, not equal)");
        }
    }

    private static JsonArray Json(IEnumerable<string> texts) => new(texts.Select(t => (JsonNode)t).ToArray());
}
