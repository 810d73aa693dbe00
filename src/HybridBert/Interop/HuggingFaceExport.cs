using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridBert.FineTuning;
using HybridBert.Model;
using static TorchSharp.torch;

namespace HybridBert.Interop;

/// <summary>
/// <c>hybridbert export hf</c>: any loadable model as a Hugging Face folder — <c>config.json</c>,
/// <c>model.safetensors</c> (fp32, Hugging Face names: <c>bert.*</c>, <c>cls.*</c> / <c>classifier.*</c>; the tied
/// decoder is not stored, as <c>save_pretrained</c> does) and the tokenizer files (<see cref="TokenizerFiles"/>:
/// <c>vocab.txt</c>, <c>tokenizer.json</c>, <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c>). An
/// all-attention model with BERT's heads is a plain <c>model_type: bert</c>
/// folder; any other (pooling or hybrid layers, the 3-class sentence structure head, mean-pooled classifiers) is
/// <c>model_type: hybridbert</c> with <c>configuration_hybridbert.py</c> + <c>modeling_hybridbert.py</c> and an
/// <c>auto_map</c>, for <c>trust_remote_code=True</c>.
/// </summary>
public static class HuggingFaceExport
{
    public const string ConfigurationFile = "configuration_hybridbert.py", ModelingFile = "modeling_hybridbert.py";

    /// <returns>The architecture written (e.g. BertForMaskedLM, HybridBertForSequenceClassification).</returns>
    public static string Run(string modelPath, string outDir, bool overwrite = false)
    {
        var source = ModelSource.Open(modelPath);
        using var outLock = IO.PathLock.Acquire(outDir);
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !overwrite)
            throw new IO.OutputExistsException(outDir, "files", resumable: false);
        var config = source.Config;
        var allAttention = config.LayerPattern.All(c => c == 'A');
        Dictionary<string, Tensor> tensors;
        string architecture;
        bool plainBert, lowercase;
        var extra = new JsonObject();

        if (TokenTagger.IsTokenModel(source.Folder))
        {
            using var tagger = TokenTagger.Load(source.Folder);
            plainBert = allAttention;
            architecture = (plainBert ? "Bert" : "HybridBert") + "ForTokenClassification";
            tensors = tagger.Classifier!.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());   // bert.*, classifier.*
            extra = TokenLabelFields(tagger.Head.Labels);
            lowercase = tagger.Head.Lowercase;
        }
        else if (source.Kind == ModelSourceKind.FineTuned || source.Labels is not null)
        {
            using var model = FineTunedModel.Load(source.Folder);
            var head = model.Head;
            plainBert = allAttention && head.Pooling == Pooling.Cls;
            architecture = (plainBert ? "Bert" : "HybridBert") + "ForSequenceClassification";
            // bert.*, classifier.*: Hugging Face's names
            tensors = model.Classifier.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
            extra = LabelFields(head);
            if (!plainBert) extra["classifier_pooling"] = head.Pooling == Pooling.Mean ? "mean" : "cls";
            lowercase = head.Lowercase;
        }
        else
        {
            var weights = source.ReadWeights();
            try
            {
                var sentence = weights.FirstOrDefault(kv => WeightLoader.MapName(kv.Key) == "cls.seq_relationship.weight").Value;
                var sentenceClasses = sentence is null ? 0 : (int)sentence.shape[0];
                using var model = new HybridBertModel(config, sentenceClasses);
                WeightLoader.Load(model, weights, source.Folder, sentenceClasses == 0 ? ["classifier.", "pooler."] : ["classifier."],
                    optionalPrefixes: ["cls.predictions."]);
                plainBert = allAttention && sentenceClasses is 0 or 2;
                architecture = (plainBert ? "Bert" : "HybridBert") + (sentenceClasses > 0 ? "ForPreTraining" : "ForMaskedLM");
                tensors = model.state_dict().ToDictionary(kv => kv.Key.StartsWith("cls.", StringComparison.Ordinal) ? kv.Key : "bert." +
                    kv.Key, kv => kv.Value.detach().clone());
                if (!plainBert && sentenceClasses > 0) extra["num_sentence_classes"] = sentenceClasses;
            }
            finally
            {
                foreach (var t in weights.Values) t.Dispose();
            }
            lowercase = source.Lowercase ?? true;
        }

        try
        {
            var json = Config(config, architecture, plainBert, extra);
            IO.AtomicFile.WriteFolder(outDir, temp =>
            {
                SafetensorsFile.Write(Path.Combine(temp, HuggingFaceFolder.SafetensorsFile), tensors);
                File.WriteAllText(Path.Combine(temp, HuggingFaceFolder.ConfigFile), json.ToJsonString(Indented));
                TokenizerFiles.Write(temp, source.Vocabulary, lowercase, config.MaxPositionEmbeddings);
                if (!plainBert)
                    foreach (var file in new[] { ConfigurationFile, ModelingFile })
                        File.WriteAllText(Path.Combine(temp, file), RemoteCode(file));
            });
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
        return architecture;
    }

    internal static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>A classifier's <c>num_labels</c>, <c>id2label</c>, <c>label2id</c> and <c>problem_type</c>, as transformers writes them.</summary>
    internal static JsonObject LabelFields(TaskHead head)
    {
        var labels = head.Regression ? ["score"] : head.Labels;
        return new JsonObject
        {
            ["num_labels"] = labels.Count,
            ["id2label"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(i.ToString(CultureInfo.InvariantCulture), (JsonNode?)l))),
            ["label2id"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(l, (JsonNode?)i))),
            ["problem_type"] = head.Regression ? "regression" : "single_label_classification",
        };
    }

    /// <summary>A token classifier's <c>num_labels</c>, <c>id2label</c> and <c>label2id</c>, as transformers writes them.</summary>
    internal static JsonObject TokenLabelFields(IReadOnlyList<string> labels) => new()
    {
        ["num_labels"] = labels.Count,
        ["id2label"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(i.ToString(CultureInfo.InvariantCulture), (JsonNode?)l))),
        ["label2id"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(l, (JsonNode?)i))),
    };

    /// <summary>BertConfig's fields; for <c>hybridbert</c> also the layer pattern, the segmenting ids and the auto_map.</summary>
    internal static JsonObject Config(EncoderConfig c, string architecture, bool plainBert, JsonObject extra)
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(architecture),
            ["model_type"] = plainBert ? "bert" : "hybridbert",
            ["vocab_size"] = c.VocabSize, ["hidden_size"] = c.HiddenSize, ["num_hidden_layers"] = c.NumHiddenLayers,
            ["num_attention_heads"] = c.NumAttentionHeads, ["intermediate_size"] = c.IntermediateSize, ["hidden_act"] = c.HiddenAct,
            ["hidden_dropout_prob"] = c.HiddenDropoutProb, ["attention_probs_dropout_prob"] = c.AttentionProbsDropoutProb,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings, ["type_vocab_size"] = c.TypeVocabSize,
            ["initializer_range"] = c.InitializerRange, ["layer_norm_eps"] = c.LayerNormEps, ["pad_token_id"] = c.PadTokenId,
            ["position_embedding_type"] = "absolute", ["torch_dtype"] = "float32",
        };
        if (!plainBert)
        {
            json["layer_pattern"] = c.LayerPattern;
            if (c.HybridAttentionHeads is { } heads) json["hybrid_attention_heads"] = heads;
            json["cls_token_id"] = c.ClsTokenId;
            json["sep_token_id"] = c.SepTokenId;
            json["auto_map"] = new JsonObject
            {
                ["AutoConfig"] = "configuration_hybridbert.HybridBertConfig",
                ["AutoModel"] = "modeling_hybridbert.HybridBertModel",
                ["AutoModelForMaskedLM"] = "modeling_hybridbert.HybridBertForMaskedLM",
                ["AutoModelForPreTraining"] = "modeling_hybridbert.HybridBertForPreTraining",
                ["AutoModelForSequenceClassification"] = "modeling_hybridbert.HybridBertForSequenceClassification",
                ["AutoModelForTokenClassification"] = "modeling_hybridbert.HybridBertForTokenClassification",
            };
        }
        foreach (var (key, value) in extra) json[key] = value?.DeepClone();
        return json;
    }

    /// <summary>The Python files shipped inside the library (Interop/HuggingFace/*.py).</summary>
    public static string RemoteCode(string file)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"HybridBert.Interop.HuggingFace.{file}")
                           ?? throw new InvalidOperationException($"{file} is not embedded in the library (a build problem)");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
