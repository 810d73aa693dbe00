using System.Text.Json.Nodes;
using HybridBert.FineTuning;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Tests.Cli;
using HybridBert.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Interop;

/// <summary>
/// <c>export hf</c> for every mixer and head: the folder imports back bit-exactly, and — where python3-torch is
/// installed — runs under PyTorch to our outputs within 1e-4 (a textbook BERT for model_type bert, the folder's own
/// modeling_hybridbert.py for model_type hybridbert).
/// </summary>
[Collection("Console")]
public sealed class HuggingFaceExportTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-export-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    /// <summary>A vocabulary with bert-base's special ids ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103).</summary>
    private static Vocabulary BertBaseLayout(int size) => new(Enumerable.Range(0, size)
        .Select(i => i switch { 0 => "[PAD]", 100 => "[UNK]", 101 => "[CLS]", 102 => "[SEP]", 103 => "[MASK]", _ => $"t{i}" }).ToList());

    public static TheoryData<string> Cases() =>
        new(["bert_2l", "ponet_2l_sentence_segments", "hybrid_4l_interleaved", "random_HAPH_sso", "classifier_AA_cls", "classifier_PH_mean",
            "tagger_AA", "tagger_PA"]);

    /// <summary>A source model folder in our layout and our outputs for one batch (inputs + expected.*).</summary>
    private (string Folder, Dictionary<string, Tensor> Expected, string Architecture) Source(string name) => Source(name, temp);

    internal static (string Folder, Dictionary<string, Tensor> Expected, string Architecture) Source(string name, string temp)
    {
        var folder = Path.Combine(temp, "source-" + name);
        if (name.StartsWith("classifier_"))
        {
            var pattern = name.Split('_')[1];
            var pooling = name.EndsWith("mean") ? Pooling.Mean : Pooling.Cls;
            var config = Presets.Tiny with { VocabSize = 120, LayerPattern = pattern, NumHiddenLayers = pattern.Length,
                MaxPositionEmbeddings = 32, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 };
            torch.manual_seed(5);
            var classifier = new SequenceClassifier(config, 3, pooling);
            RandomizeNorms(classifier);
            var vocabulary = BertBaseLayout(120);
            using var model = new FineTunedModel(classifier, new BertTokenizer(vocabulary),
                new TaskHead("toy", false, ["neg", "neu", "pos"], ["accuracy"], pooling, 32, true, new ColumnSpec("text")));
            model.Save(folder);
            var inputs = RandomInputs(config);
            classifier.eval();
            using var noGrad = torch.no_grad();
            var logits = classifier.forward(Inputs(inputs));
            inputs["expected.logits"] = logits;
            inputs["expected.last_hidden_state"] = classifier.Encoder.forward(Inputs(inputs));
            return (folder, inputs, (pooling == Pooling.Cls && pattern.All(c => c == 'A') ? "Bert" : "HybridBert") + "ForSequenceClassification");
        }

        if (name.StartsWith("tagger_"))
        {
            var pattern = name.Split('_')[1];
            var config = Presets.Tiny with { VocabSize = 120, LayerPattern = pattern, NumHiddenLayers = pattern.Length,
                MaxPositionEmbeddings = 32, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 };
            torch.manual_seed(7);
            var tagger = new TokenClassifier(config, 5);
            RandomizeNorms(tagger);
            using var model = new TokenTagger(tagger, new BertTokenizer(BertBaseLayout(120)),
                new TokenHead("toy", ["B-PER", "I-PER", "B-LOC", "I-LOC", "O"], 32, true));
            model.Save(folder);
            var inputs = RandomInputs(config);
            tagger.eval();
            using var noGrad = torch.no_grad();
            inputs["expected.logits"] = tagger.forward(Inputs(inputs));
            inputs["expected.last_hidden_state"] = tagger.Encoder.forward(Inputs(inputs));
            return (folder, inputs, (pattern.All(c => c == 'A') ? "Bert" : "HybridBert") + "ForTokenClassification");
        }

        HybridBertModel source;
        Dictionary<string, Tensor> expected;
        if (name.StartsWith("random_"))
        {
            var config = Presets.Tiny with { VocabSize = 120, LayerPattern = "HAPH", NumHiddenLayers = 4, MaxPositionEmbeddings = 32,
                HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 };
            torch.manual_seed(6);
            source = new HybridBertModel(config, sentenceClasses: 3);
            RandomizeNorms(source);
            expected = RandomInputs(config);
        }
        else
        {
            var fixture = ReferenceFixture.Load(Path.Combine(ReferenceFixture.Folder, name + ".safetensors"));
            source = fixture.Model();
            expected = fixture.Tensors.Where(kv => kv.Key.StartsWith("input.")).ToDictionary(kv => kv.Key, kv => kv.Value);
        }
        using (source)
        {
            source.eval();
            ModelFolder.Write(folder, source, BertBaseLayout(source.Config.VocabSize), lowercase: true);
            var (hidden, logits) = source.Infer(Inputs(expected));
            expected["expected.last_hidden_state"] = hidden;
            expected["expected.mlm_logits"] = logits;
            if (source.SentenceClasses > 0)
            {
                using var noGrad = torch.no_grad();
                expected["expected.sentence_logits"] = source.SentenceLogits(hidden);
            }
            var allA = source.Config.LayerPattern.All(c => c == 'A');
            var plain = allA && source.SentenceClasses is 0 or 2;
            return (folder, expected, (plain ? "Bert" : "HybridBert") + (source.SentenceClasses > 0 ? "ForPreTraining" : "ForMaskedLM"));
        }
    }

    private static void RandomizeNorms(nn.Module module)
    {
        // LayerNorms away from 1/0 so that a weight lost on the way shows.
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in module.named_parameters())
            if (name.Contains("LayerNorm") || name.EndsWith("bias")) p.add_(torch.randn_like(p) * 0.1);
    }

    internal static Dictionary<string, Tensor> RandomInputs(EncoderConfig c)
    {
        var generator = new Generator(11);
        var ids = torch.randint(104, c.VocabSize, [2, 12], generator: generator);
        ids[0, 0] = ids[1, 0] = 101;
        ids[0, 6] = ids[0, 11] = ids[1, 8] = 102;
        var mask = torch.ones_like(ids);
        mask[1, TensorIndex.Slice(9)] = 0;
        ids[1, TensorIndex.Slice(9)] = 0;
        var types = torch.zeros_like(ids);
        types[0, TensorIndex.Slice(7, 12)] = 1;
        return new Dictionary<string, Tensor> { ["input.input_ids"] = ids, ["input.attention_mask"] = mask, ["input.token_type_ids"] = types };
    }

    internal static EncoderInputs Inputs(Dictionary<string, Tensor> t) =>
        new(t["input.input_ids"], t["input.attention_mask"], t["input.token_type_ids"], t.GetValueOrDefault("input.segment_ids"));

    private string Export(string source, string name)
    {
        var output = Path.Combine(temp, "hf-" + name);
        var (exit, stdout, stderr) = ModelCommandTests.Run("export", "hf", "--model", source, "--out", output);
        Assert.True(exit == 0, stderr + stdout);
        return output;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_export_is_a_hugging_face_folder_that_imports_back_bit_exactly(string name)
    {
        var (source, expected, architecture) = Source(name);
        var exported = Export(source, name);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(exported, "config.json")))!;
        Assert.Equal(architecture, config["architectures"]![0]!.GetValue<string>());
        var plain = architecture.StartsWith("Bert");
        Assert.Equal(plain ? "bert" : "hybridbert", config["model_type"]!.GetValue<string>());
        foreach (var file in new[] { "model.safetensors", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json" })
            Assert.True(File.Exists(Path.Combine(exported, file)), file);
        Assert.Equal(!plain, File.Exists(Path.Combine(exported, HuggingFaceExport.ModelingFile)));
        Assert.Equal(!plain, config["auto_map"] is not null);
        var keys = SafetensorsFile.Read(Path.Combine(exported, "model.safetensors")).Keys.ToList();
        Assert.All(keys, k => Assert.True(k.StartsWith("bert.") || k.StartsWith("cls.") || k.StartsWith("classifier."), k));

        if (architecture.EndsWith("ForTokenClassification"))
        {
            Assert.Equal("I-PER", config["id2label"]!["1"]!.GetValue<string>());
            Assert.Equal(4, config["label2id"]!["O"]!.GetValue<int>());
            Assert.DoesNotContain(keys, k => k.StartsWith("bert.pooler.", StringComparison.Ordinal));
            using var original = TokenTagger.Load(source);
            using var back = TokenTagger.Load(exported);
            Assert.Equal(original.Head.Labels, back.Head.Labels);
            using var noGrad = torch.no_grad();
            Assert.True(original.Classifier!.forward(Inputs(expected)).eq(back.Classifier!.forward(Inputs(expected))).all().item<bool>());
        }
        else if (architecture.EndsWith("ForSequenceClassification"))
        {
            Assert.Equal("neg", config["id2label"]!["0"]!.GetValue<string>());
            Assert.Equal("single_label_classification", config["problem_type"]!.GetValue<string>());
            using var original = FineTunedModel.Load(source);
            using var back = FineTunedModel.Load(exported);
            Assert.Equal(original.Head.Labels, back.Head.Labels);
            Assert.Equal(original.Head.Pooling, back.Head.Pooling);
            using var noGrad = torch.no_grad();
            Assert.True(original.Classifier.forward(Inputs(expected)).eq(back.Classifier.forward(Inputs(expected))).all().item<bool>());
        }
        else
        {
            var sentence = expected.ContainsKey("expected.sentence_logits") ? 3 : 0;
            using var original = HuggingFaceImportTests.Load(ModelSource.Open(source), sentence);
            using var back = HuggingFaceImportTests.Load(ModelSource.Open(exported), sentence);
            Assert.Equal(original.Config with { HiddenDropoutProb = 0 }, back.Config with { HiddenDropoutProb = 0 });
            var (h1, l1) = original.Infer(Inputs(expected));
            var (h2, l2) = back.Infer(Inputs(expected));
            Assert.True(h1.eq(h2).all().item<bool>() && l1.eq(l2).all().item<bool>(), "the round trip changed the outputs");
        }
    }

    [PythonTorchTheory]
    [MemberData(nameof(Cases))]
    public void Pytorch_runs_the_export_to_our_outputs(string name)
    {
        var (source, expected, _) = Source(name);
        var exported = Export(source, name);
        var expectedFile = Path.Combine(temp, name + "-expected.safetensors");
        SafetensorsFile.Write(expectedFile, expected);
        var script = Path.Combine(AppContext.BaseDirectory, "fixtures", "hf", "check_hf_export.py");

        var (exit, output) = PythonTorch.Run(PythonTorch.Path!, [script, exported, expectedFile], TimeSpan.FromMinutes(3));

        Assert.True(exit == 0, output);
        Assert.Contains("max_abs_error", output);
        Console.Error.WriteLine($"{name}: {output.Trim()}");
    }
}
