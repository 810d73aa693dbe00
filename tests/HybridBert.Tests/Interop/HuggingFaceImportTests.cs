using HybridBert.FineTuning;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Tests.Cli;
using HybridBert.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Interop;

/// <summary>
/// Hugging Face folders written by PyTorch (fixtures/hf, made by make_hf_fixtures.py with Debian's python3-torch):
/// every weight format and tokenizer form loads and gives PyTorch's outputs.
/// </summary>
[Collection("Console")]
public sealed class HuggingFaceImportTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-hf-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    internal static string Folder(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "hf", name);

    private static (Dictionary<string, Tensor> Expected, EncoderInputs Inputs, Tensor Real) Expected(string name)
    {
        var expected = SafetensorsFile.Read(Path.Combine(Folder(name), "expected.safetensors"));
        var inputs = new EncoderInputs(expected["input.input_ids"], expected["input.attention_mask"], expected["input.token_type_ids"]);
        return (expected, inputs, expected["input.attention_mask"].to_type(ScalarType.Bool));
    }

    private static float MaxError(Tensor actual, Tensor expected, Tensor? real = null)
    {
        var difference = (actual - expected).abs();
        return (real is null ? difference : difference[real]).max().item<float>();
    }

    /// <summary>Our model for a source, with its weights, in eval mode.</summary>
    internal static HybridBertModel Load(ModelSource source, int sentenceClasses = 0)
    {
        var model = new HybridBertModel(source.Config with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 }, sentenceClasses);
        source.LoadInto(model, sentenceClasses == 0 ? ["pooler.", "cls.seq_relationship."] : null);
        model.eval();
        return model;
    }

    [Theory]
    [InlineData("bert-mlm-safetensors", 0)]
    [InlineData("bert-mlm-fp16-bin", 0)]
    [InlineData("bert-pretraining-bf16-sharded", 2)]
    public void Masked_lm_folders_give_pytorchs_hidden_states_and_logits(string name, int sentenceClasses)
    {
        var source = ModelSource.Open(Folder(name));
        Assert.Equal(ModelSourceKind.HuggingFace, source.Kind);
        using var model = Load(source, sentenceClasses);
        var (expected, inputs, real) = Expected(name);

        var (hidden, logits) = model.Infer(inputs);

        Assert.True(MaxError(hidden, expected["expected.last_hidden_state"], real) < 1e-4, $"{name}: hidden states differ");
        Assert.True(MaxError(logits, expected["expected.mlm_logits"], real) < 1e-4, $"{name}: MLM logits differ");
        if (sentenceClasses > 0)
        {
            using var noGrad = torch.no_grad();
            Assert.True(MaxError(model.SentenceLogits(hidden), expected["expected.sentence_logits"]) < 1e-4, $"{name}: sentence logits differ");
        }
    }

    [Fact]
    public void A_config_without_layer_pattern_is_all_attention_of_its_own_depth()
    {
        var source = ModelSource.Open(Folder("bert-mlm-safetensors"));
        Assert.Equal(3, source.Config.NumHiddenLayers);
        Assert.Equal("AAA", source.Config.LayerPattern);
        // from the vocabulary, not bert-base's ids
        Assert.Equal((2, 3, 0), (source.Config.ClsTokenId, source.Config.SepTokenId, source.Config.PadTokenId));
    }

    [Fact]
    public void A_tokenizer_json_gives_the_same_vocabulary_as_vocab_txt()
    {
        var (fromJson, lowercase) = HuggingFaceFolder.ReadTokenizer(Folder("bert-mlm-fp16-bin"));
        var (fromText, _) = HuggingFaceFolder.ReadTokenizer(Folder("bert-mlm-safetensors"));
        Assert.True(lowercase);
        Assert.Equal(fromText.Tokens, fromJson.Tokens);
        // [CLS] the cat ##s [SEP], lower-cased as tokenizer.json's normalizer says
        Assert.Equal(new[] { 2, 5, 7, 34, 3 }, new BertTokenizer(fromJson, lowercase).Encode("The CATS", null, 8).InputIds);
    }

    [Fact]
    public void A_sequence_classifier_folder_predicts_with_pytorchs_logits_and_its_labels()
    {
        using var model = FineTunedModel.Load(Folder("bert-classifier"));
        var (expected, inputs, _) = Expected("bert-classifier");
        Assert.Equal(new[] { "negative", "neutral", "positive" }, model.Head.Labels);

        using var noGrad = torch.no_grad();
        var logits = model.Classifier.forward(inputs);
        Assert.True(MaxError(logits, expected["expected.logits"]) < 1e-4, "classifier logits differ");
    }

    [Fact]
    public void Import_writes_our_layout_which_loads_to_bit_identical_outputs()
    {
        var output = Path.Combine(temp, "imported");
        var (exit, stdout, stderr) = ModelCommandTests.Run("model", "import", "--from", Folder("bert-pretraining-bf16-sharded"), "--out", output);
        Assert.True(exit == 0, stderr);
        Assert.Contains("imported", stdout);

        var original = ModelSource.Open(Folder("bert-pretraining-bf16-sharded"));
        var imported = ModelSource.Open(output);
        Assert.Equal("AA", imported.Config.LayerPattern);
        Assert.Equal(original.Vocabulary.Tokens, imported.Vocabulary.Tokens);
        using var a = Load(original, 2);
        using var b = Load(imported, 2);
        var (_, inputs, _) = Expected("bert-pretraining-bf16-sharded");
        var (ha, la) = a.Infer(inputs);
        var (hb, lb) = b.Infer(inputs);
        Assert.True(ha.eq(hb).all().item<bool>() && la.eq(lb).all().item<bool>());
    }

    [Fact]
    public void Import_of_a_classifier_writes_a_fine_tuned_folder()
    {
        var output = Path.Combine(temp, "classifier");
        var (exit, _, stderr) = ModelCommandTests.Run("model", "import", "--from", Folder("bert-classifier"), "--out", output);
        Assert.True(exit == 0, stderr);
        Assert.True(File.Exists(Path.Combine(output, FineTunedModel.TaskFile)));
        using var model = FineTunedModel.Load(output);
        Assert.Equal(new[] { "negative", "neutral", "positive" }, model.Head.Labels);
    }

    [Fact]
    public void A_ponet_folder_without_layer_pattern_is_all_pooling_and_matches_the_ponet_reference()
    {
        var fixture = ReferenceFixture.Load(Path.Combine(ReferenceFixture.Folder, "ponet_2l.safetensors"));
        var folder = Path.Combine(temp, "ponet");
        Directory.CreateDirectory(folder);
        var c = fixture.Config;
        File.WriteAllText(Path.Combine(folder, "config.json"), $$"""
            {"architectures": ["PoNetForMaskedLM"], "model_type": "ponet", "vocab_size": {{c.VocabSize}}, "hidden_size": {{c.HiddenSize}},
             "num_hidden_layers": {{c.NumHiddenLayers}}, "num_attention_heads": {{c.NumAttentionHeads}}, "intermediate_size": {{c.IntermediateSize}},
             "max_position_embeddings": {{c.MaxPositionEmbeddings}}, "type_vocab_size": {{c.TypeVocabSize}}, "hidden_act": "gelu", "layer_norm_eps": 1e-12}
            """);
        // bert-base's layout of special tokens: [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103.
        var tokens = Enumerable.Range(0,
            c.VocabSize).Select(i => i switch { 0 => "[PAD]", 100 => "[UNK]", 101 => "[CLS]", 102 => "[SEP]", 103 => "[MASK]", _ => $"t{i}" });
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), tokens);
        SafetensorsFile.Write(Path.Combine(folder, "model.safetensors"), fixture.Tensors
            .Where(kv => !kv.Key.StartsWith("input.") && !kv.Key.StartsWith("expected."))
            .ToDictionary(kv => kv.Key.StartsWith("cls.") ? kv.Key : "ponet." + kv.Key, kv => kv.Value));

        var source = ModelSource.Open(folder);
        Assert.Equal("PP", source.Config.LayerPattern);
        using var model = Load(source);
        var (hidden, logits) = model.Infer(fixture.Inputs());
        var real = fixture["input.attention_mask"].to_type(ScalarType.Bool);
        Assert.True(MaxError(hidden, fixture["expected.last_hidden_state"], real) < 1e-4);
        Assert.True(MaxError(logits, fixture["expected.mlm_logits"], real) < 1e-4);
    }

    private string CopyOf(string name, string? copyName = null)
    {
        var copy = Path.Combine(temp, copyName ?? name);
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(Folder(name))) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        return copy;
    }

    [Fact]
    public void Bad_folders_are_one_clear_message_naming_what_is_wrong()
    {
        var noWeights = CopyOf("bert-mlm-safetensors");
        File.Delete(Path.Combine(noWeights, "model.safetensors"));
        var e1 = Assert.Throws<FileNotFoundException>(() => ModelSource.Open(noWeights));
        Assert.Contains("no weights", e1.Message);
        Assert.Contains("pytorch_model.bin", e1.Message);

        var unknownType = CopyOf("bert-classifier");
        var config = Path.Combine(unknownType, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"model_type\": \"bert\"", "\"model_type\": \"roberta\""));
        var e2 = Assert.Throws<InvalidDataException>(() => ModelSource.Open(unknownType));   // the file is wrong: exit 1, not 2
        Assert.Contains("model_type 'roberta' is not supported", e2.Message);

        var wrongVocabulary = CopyOf("bert-mlm-fp16-bin");
        var tokenizer = Path.Combine(wrongVocabulary, "tokenizer.json");
        File.WriteAllText(tokenizer, File.ReadAllText(tokenizer).Replace("\"w46\": 95", "\"w46\": 95, \"extra\": 96"));
        var e3 = Assert.Throws<InvalidDataException>(() => ModelSource.Open(wrongVocabulary));
        Assert.Contains("the tokenizer has 97 tokens but config.json says vocab_size=96", e3.Message);

        var missingTensor = CopyOf("bert-mlm-safetensors", "missing-tensor");
        var weights = Path.Combine(missingTensor, "model.safetensors");
        var tensors = SafetensorsFile.Read(weights);
        tensors.Remove("bert.encoder.layer.1.attention.self.key.weight");
        tensors.Remove("bert.embeddings.LayerNorm.bias");
        SafetensorsFile.Write(weights, tensors);
        var e4 = Assert.Throws<WeightMismatchException>(() => Load(ModelSource.Open(missingTensor)));
        Assert.Contains("missing 2", e4.Message);
        Assert.Contains("encoder.layer.1.attention.self.key.weight", e4.Message);
        Assert.Contains("embeddings.LayerNorm.bias", e4.Message);
    }

    [Fact]
    public void The_cli_reports_a_bad_folder_without_a_stack_trace()
    {
        var folder = CopyOf("bert-classifier");
        File.Delete(Path.Combine(folder, "model.safetensors"));
        var (exit, _, stderr) = ModelCommandTests.Run("predict", "--model", folder, "a text");
        Assert.Equal(1, exit);
        Assert.Contains("no weights", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
