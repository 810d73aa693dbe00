using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridBert.Model;
using HybridBert.Text;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace HybridBert.Interop;

/// <summary>What a Hugging Face <c>BertForSequenceClassification</c> config says about its labels.</summary>
public sealed record ClassifierLabels(IReadOnlyList<string> Labels, bool Regression, bool MeanPooling = false);

/// <summary>
/// A Hugging Face model folder (what <c>save_pretrained</c> writes): <c>config.json</c> (BertConfig fields,
/// <c>model_type</c> bert / ponet / hybridbert), weights as <c>model.safetensors</c>, sharded safetensors
/// (<c>model.safetensors.index.json</c>) or <c>pytorch_model.bin</c> (a PyTorch zip pickle, read by
/// TorchSharp.PyBridge) in any float dtype, and the tokenizer as <c>vocab.txt</c> (+ <c>tokenizer_config.json</c>'s
/// <c>do_lower_case</c>) or, without it, the WordPiece model inside <c>tokenizer.json</c>.
/// </summary>
public static class HuggingFaceFolder
{
    public const string ConfigFile = ModelLayout.Config, SafetensorsFile = ModelLayout.Weights, ShardIndexFile = ModelLayout.ShardIndex,
        PickleFile = ModelLayout.Pickle, VocabFile = ModelLayout.Vocab, TokenizerConfigFile = ModelLayout.TokenizerConfig,
            TokenizerFile = ModelLayout.TokenizerJson,
        SpecialTokensFile = ModelLayout.SpecialTokens;

    /// <summary>The weight files this folder could hold, in the order they are looked for.</summary>
    public static readonly string[] WeightFiles = [SafetensorsFile, ShardIndexFile, PickleFile];

    /// <summary>True when <paramref name="folder"/> has a config.json and one of <see cref="WeightFiles"/>.</summary>
    public static bool Is(string folder) =>
        File.Exists(Path.Combine(folder, ConfigFile)) && WeightFiles.Any(f => File.Exists(Path.Combine(folder, f)));

    /// <summary>The model config; throws one <see cref="InvalidDataException"/> listing what is wrong.</summary>
    public static EncoderConfig ReadConfig(string folder, Vocabulary vocabulary)
    {
        var path = Path.Combine(folder, ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{folder}: not a model folder, {ConfigFile} is missing", path);
        var config = EncoderConfig.Parse(File.ReadAllText(path), path);
        if (vocabulary.Count != config.VocabSize)
            throw new InvalidDataException($"{folder}: the tokenizer has {vocabulary.Count} tokens but {ConfigFile} says " +
                $"vocab_size={config.VocabSize} — they do not belong together");
        // The pooling layers find [CLS]/[SEP] by id, and padding is the tokenizer's.
        return config.ForVocabulary(vocabulary).ValidateFrom(path);
    }

    /// <summary>Labels of a sequence-classification config (<c>id2label</c>, <c>num_labels</c>, <c>problem_type</c>),
    /// or null for other architectures.</summary>
    public static ClassifierLabels? ReadLabels(string folder)
    {
        var node = ParseObject(Path.Combine(folder, ConfigFile));
        var architectures = node["architectures"] as JsonArray;
        if (architectures?.Any(a =>
            a?.GetValue<string>().EndsWith("ForSequenceClassification", StringComparison.Ordinal) == true) != true) return null;
        var regression = node["problem_type"]?.GetValue<string>() == "regression";
        var mean = node["classifier_pooling"]?.GetValue<string>() == "mean";   // our hybridbert exports
        var id2label = node["id2label"] as JsonObject;
        var count = id2label?.Count ?? node["num_labels"]?.GetValue<int>() ?? 2;
        if (regression || count == 1) return new ClassifierLabels(["score"], true, mean);
        var labels = Enumerable.Range(0, count)
            .Select(i => id2label?[i.ToString(System.Globalization.CultureInfo.InvariantCulture)]?.GetValue<string>() ?? $"LABEL_{i}")
            .ToList();
        return new ClassifierLabels(labels, false, mean);
    }

    /// <summary>The tokenizer: <c>vocab.txt</c> and <c>tokenizer_config.json</c>'s <c>do_lower_case</c>, else
    /// <c>tokenizer.json</c>'s WordPiece model.</summary>
    public static (Vocabulary Vocabulary, bool Lowercase) ReadTokenizer(string folder)
    {
        var vocabPath = Path.Combine(folder, VocabFile);
        var tokenizerJson = Path.Combine(folder, TokenizerFile);
        var configPath = Path.Combine(folder, TokenizerConfigFile);
        bool? lowercase = File.Exists(configPath) ? ParseObject(configPath)["do_lower_case"]?.GetValue<bool>() : null;
        if (File.Exists(vocabPath)) return (Vocabulary.Load(vocabPath), lowercase ?? true);   // BertTokenizer's default
        if (!File.Exists(tokenizerJson))
            throw new FileNotFoundException($"{folder}: no tokenizer — neither {VocabFile} nor {TokenizerFile} is there", vocabPath);

        var root = ParseObject(tokenizerJson);
        var model = root["model"] as JsonObject;
        if (model?["type"]?.GetValue<string>() != "WordPiece" || model["vocab"] is not JsonObject vocab)
            throw new InvalidDataException($"{tokenizerJson}: the tokenizer model is '{model?["type"]}', expected a WordPiece model with " +
                "a vocab (a BERT tokenizer)");
        var tokens = new string[vocab.Count];
        foreach (var (token, id) in vocab)
        {
            var i = id!.GetValue<int>();
            if (i < 0 || i >= tokens.Length || tokens[i] is not null)
                throw new InvalidDataException($"{tokenizerJson}: the WordPiece vocab's ids are not 0..{tokens.Length - 1}, each once " +
                    $"('{token}' has id {i})");
            tokens[i] = token;
        }
        lowercase ??= root["normalizer"]?["lowercase"]?.GetValue<bool>() ?? true;
        return (new Vocabulary(tokens, tokenizerJson), lowercase.Value);
    }

    /// <summary>Every tensor of the folder under its name in the file, on the CPU in the dtype on disk.</summary>
    public static Dictionary<string, Tensor> ReadWeights(string folder)
    {
        var single = Path.Combine(folder, SafetensorsFile);
        if (File.Exists(single)) return Interop.SafetensorsFile.Read(single);

        var index = Path.Combine(folder, ShardIndexFile);
        if (File.Exists(index))
        {
            if (ParseObject(index)["weight_map"] is not JsonObject map)
                throw new InvalidDataException($"{index}: no weight_map object");
            var tensors = new Dictionary<string, Tensor>();
            var shards =
                map.Select(kv => kv.Value?.GetValue<string>() ??
                throw new InvalidDataException($"{index}: '{kv.Key}' maps to no file")).Distinct().ToList();
            foreach (var shard in shards)
            {
                var shardPath = Path.Combine(folder, shard);
                if (!File.Exists(shardPath)) throw new FileNotFoundException($"{index} lists the shard {shard}, which is missing", shardPath);
                foreach (var (name, tensor) in Interop.SafetensorsFile.Read(shardPath)) tensors[name] = tensor;
            }
            var absent = map.Select(kv => kv.Key).Where(k => !tensors.ContainsKey(k)).ToList();
            if (absent.Count > 0) throw new InvalidDataException($"{index}: {absent.Count} tensor(s) listed but in no shard: " +
                $"{string.Join(", ", absent.Take(10))}");
            return tensors;
        }

        var pickle = Path.Combine(folder, PickleFile);
        if (File.Exists(pickle)) return ReadPickle(pickle);
        throw new FileNotFoundException($"{folder}: no weights — expected one of {string.Join(", ", WeightFiles)}", single);
    }

    /// <summary>A <c>torch.save(state_dict)</c> zip file, through TorchSharp.PyBridge's unpickler.</summary>
    private static Dictionary<string, Tensor> ReadPickle(string path)
    {
        Hashtable table;
        try
        {
            using var stream = File.OpenRead(path);
            table = PyTorchUnpickler.UnpickleStateDict(stream);
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new InvalidDataException($"{path}: not a readable PyTorch state_dict ({e.Message}; the zip format of torch.save since " +
                "PyTorch 1.6 is needed)", e);
        }
        var tensors = new Dictionary<string, Tensor>();
        foreach (DictionaryEntry entry in table)
            if (entry.Value is Tensor t) tensors[(string)entry.Key] = t;
        return tensors;
    }

    private static JsonObject ParseObject(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e);
        }
    }
}
