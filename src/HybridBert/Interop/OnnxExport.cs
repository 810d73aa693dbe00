using Google.Protobuf;
using HybridBert.FineTuning;
using HybridBert.Model;
using Onnx;
using static TorchSharp.torch;

namespace HybridBert.Interop;

/// <summary>What the exported graph computes after the encoder.</summary>
public enum OnnxHead { None, Mlm, Classifier, Token }

/// <summary>
/// <c>hybridbert export onnx</c>: the encoder (any layer pattern) and optionally a head as an ONNX graph with
/// dynamic batch and sequence axes; inputs <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c> (and
/// <c>segment_ids</c> on request, for pooling models given explicit sentence segments), outputs
/// <c>last_hidden_state</c> and <c>logits</c> (MLM [batch, seq, vocab], classifier [batch, labels] or token classifier
/// [batch, seq, labels]).
/// <para>TorchSharp has no ONNX exporter and no library here turns a model into a graph, so the graph is written by
/// hand in this one module, op by op beside the TorchSharp forward it mirrors; the ONNX protobuf classes are
/// OnnxSharp's. Opset 18: the pooling segment max is <c>ScatterND</c> with <c>reduction="max"</c> into a table
/// filled with float.MinValue, padding's candidates at -inf (PyTorch's <c>include_self=False</c> on real tokens), the
/// local max an elementwise <c>Max</c> of each token and its neighbours (<c>Pad</c>, two <c>Slice</c>s).</para>
/// </summary>
public static class OnnxExport
{
    public const int Opset = 18;

    /// <summary>The graph's name inside an ONNX model folder, where Hugging Face's ONNX consumers (transformers.js,
    /// Optimum) look for it.</summary>
    public const string FolderModel = "onnx/model.onnx";

    /// <summary>Whether <paramref name="outPath"/> names a single graph file (<c>*.onnx</c>) rather than a model folder.</summary>
    public static bool IsFile(string outPath) => outPath.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Exports the model at <paramref name="modelPath"/>; <paramref name="head"/> null = the model's own (classifier or
    /// MLM). An <paramref name="outPath"/> ending in <c>.onnx</c> is the graph alone; any other is a model folder as
    /// Hugging Face's ONNX consumers load it: <c>config.json</c>, the tokenizer files (<see cref="TokenizerFiles"/>) and
    /// <see cref="FolderModel"/>. Its config says <c>model_type: bert</c> whatever the layers: those consumers run the
    /// graph, which holds the architecture, and take from the config only BERT's inputs and outputs and, for a
    /// classifier, its labels (<c>layer_pattern</c> is kept for people).
    /// </summary>
    /// <returns>The head written.</returns>
    /// <param name="quantize">Also write <see cref="OnnxQuantization.FolderModel"/>, the graph with int8 weights
    /// (<see cref="OnnxQuantization.DynamicInt8"/>); a model folder only.</param>
    public static OnnxHead Run(string modelPath, string outPath, OnnxHead? head = null, bool segmentIds = false, bool overwrite = false,
        bool quantize = false)
    {
        var source = ModelSource.Open(modelPath);
        using var outLock = IO.PathLock.Acquire(outPath);
        var file = IsFile(outPath);
        if (file && File.Exists(outPath) && !overwrite) throw new IO.OutputExistsException(outPath, "a model (an existing file)", resumable: false);
        if (!file && Directory.Exists(outPath) && Directory.EnumerateFileSystemEntries(outPath).Any() && !overwrite)
            throw new IO.OutputExistsException(outPath, "files", resumable: false);
        if (!file &&
            File.Exists(outPath)) throw new IOException($"{outPath} is a file: give a folder for the ONNX model folder, or a name ending in .onnx");
        var (model, chosen, config, lowercase) = Graph(source, head, segmentIds, modelPath);
        if (file)
        {
            if (quantize)
                throw new ArgumentException($"--quantize writes {OnnxQuantization.FolderModel} beside {FolderModel}: give a folder, not {outPath}");
            IO.AtomicFile.Write(outPath, temp => File.WriteAllBytes(temp, model.ToByteArray()));
            return chosen;
        }
        config["layer_pattern"] = source.Config.LayerPattern;
        var architecture = chosen switch { OnnxHead.Mlm => "BertForMaskedLM", OnnxHead.Classifier => "BertForSequenceClassification",
            OnnxHead.Token => "BertForTokenClassification", _ => "BertModel" };
        var json = HuggingFaceExport.Config(source.Config, architecture, plainBert: true, config);
        IO.AtomicFile.WriteFolder(outPath, temp =>
        {
            File.WriteAllText(Path.Combine(temp, ModelLayout.Config), json.ToJsonString(HuggingFaceExport.Indented));
            TokenizerFiles.Write(temp, source.Vocabulary, lowercase, source.Config.MaxPositionEmbeddings);
            var graph = Path.Combine(temp, FolderModel);
            Directory.CreateDirectory(Path.GetDirectoryName(graph)!);
            File.WriteAllBytes(graph, model.ToByteArray());
            if (quantize)
                File.WriteAllBytes(Path.Combine(temp, OnnxQuantization.FolderModel), OnnxQuantization.DynamicInt8(model).ToByteArray());
        });
        return chosen;
    }

    /// <summary>The graph of <paramref name="source"/> with <paramref name="head"/> (null: the model's own), the
    /// config fields its head adds (labels) and the tokenizer's casing.</summary>
    internal static (ModelProto Model, OnnxHead Head, System.Text.Json.Nodes.JsonObject Config, bool Lowercase) Graph(ModelSource source,
        OnnxHead? head, bool segmentIds, string modelPath)
    {
        var tagger = FineTuning.TokenTagger.IsTokenModel(source.Folder);
        var classifier = !tagger && (source.Kind == ModelSourceKind.FineTuned || source.Labels is not null);
        var chosen = head ?? (tagger ? OnnxHead.Token : classifier ? OnnxHead.Classifier : OnnxHead.Mlm);
        if (chosen == OnnxHead.Token && !tagger)
            throw new ArgumentException($"{modelPath} is not a token classifier: --head token needs a finetune --task-type token model");
        if (tagger && chosen is OnnxHead.Classifier or OnnxHead.Mlm)
            throw new ArgumentException($"{modelPath} is a token classifier: use --head token or none");
        if (chosen == OnnxHead.Classifier && !classifier)
            throw new ArgumentException($"{modelPath} is not a classifier (a pre-trained model): use --head mlm or none, or export a " +
                "fine-tuned seed-N folder");
        if (chosen == OnnxHead.Mlm && classifier)
            throw new ArgumentException($"{modelPath} is a fine-tuned classifier, it has no MLM head: use --head classifier or none");
        ModelProto model;
        var config = new System.Text.Json.Nodes.JsonObject();
        bool lowercase;
        if (tagger)
        {
            using var tokens = FineTuning.TokenTagger.Load(source.Folder);
            var torchClassifier = tokens.Classifier!;
            model = Build(torchClassifier.Config, torchClassifier.state_dict(), "bert.", chosen, Pooling.Cls, segmentIds);
            if (chosen == OnnxHead.Token) config = HuggingFaceExport.TokenLabelFields(tokens.Head.Labels);
            lowercase = tokens.Head.Lowercase;
        }
        else if (classifier)
        {
            using var fine = FineTunedModel.Load(source.Folder);
            model = Build(fine.Classifier.Config, fine.Classifier.state_dict(), "bert.", chosen, fine.Head.Pooling, segmentIds);
            if (chosen == OnnxHead.Classifier) config = HuggingFaceExport.LabelFields(fine.Head);
            lowercase = fine.Head.Lowercase;
        }
        else
        {
            using var mlm = new HybridBertModel(source.Config);
            source.LoadInto(mlm, ["classifier.", "pooler.", "cls.seq_relationship."], optionalPrefixes: chosen == OnnxHead.Mlm ? null : ["cls."]);
            model = Build(source.Config, mlm.state_dict(), "", chosen, Pooling.Cls, segmentIds);
            lowercase = source.Lowercase ?? true;
        }
        return (model, chosen, config, lowercase);
    }

    /// <summary>
    /// The graph file the ONNX runtime runs for the model in <paramref name="source"/>: <see cref="FolderModel"/> (or,
    /// <paramref name="quantized"/>, <see cref="OnnxQuantization.FolderModel"/>) in its folder, exported there first when
    /// absent, as <c>export onnx</c> would (the model's own head). A folder that cannot be written to (or is being written
    /// by another process) gets the graph in memory only, said on stderr.
    /// </summary>
    /// <returns>The graph's bytes and where they are (null when in memory).</returns>
    public static (byte[] Graph, string? Path) ForFolder(ModelSource source, bool quantized)
    {
        var fingerprint = source.WeightsFingerprint();
        return ForFolder(System.IO.Path.Combine(source.Folder, FolderModel), System.IO.Path.Combine(source.Folder, OnnxQuantization.FolderModel),
            quantized, () => Stamped(Graph(source, null, false, source.Folder).Model, fingerprint),
            graph => graph.MetadataProps.FirstOrDefault(p => p.Key == WeightsProperty)?.Value is not { } made || made == fingerprint);
    }

    /// <summary>The fp32 graph of an ONNX model folder: <see cref="FolderModel"/> (transformers.js' layout) or
    /// <c>model.onnx</c> at its top (Optimum's), and where its int8 form goes beside it; null when it has neither.</summary>
    public static (string Plain, string Quantized)? FolderGraphs(string folder)
    {
        if (File.Exists(System.IO.Path.Combine(folder, FolderModel)))
            return (System.IO.Path.Combine(folder, FolderModel), System.IO.Path.Combine(folder, OnnxQuantization.FolderModel));
        if (File.Exists(System.IO.Path.Combine(folder, "model.onnx")))
            return (System.IO.Path.Combine(folder, "model.onnx"), System.IO.Path.Combine(folder, "model_quantized.onnx"));
        return null;
    }

    /// <summary>The graph's metadata entry naming the weights it was made from (<see cref="ModelSource.WeightsFingerprint"/>).</summary>
    public const string WeightsProperty = "hybridbert_weights_sha256";

    private static ModelProto Stamped(ModelProto model, string fingerprint)
    {
        model.MetadataProps.Add(new StringStringEntryProto { Key = WeightsProperty, Value = fingerprint });
        return model;
    }

    /// <summary>As <see cref="ForFolder(ModelSource, bool)"/> for any pair of graph files; <paramref name="export"/> makes the
    /// fp32 graph when there is none, or when <paramref name="current"/> says the one there was made from other weights.</summary>
    public static (byte[] Graph, string? Path) ForFolder(string plainPath, string quantizedPath, bool quantized, Func<ModelProto> export,
        Func<ModelProto, bool>? current = null)
    {
        var path = quantized ? quantizedPath : plainPath;
        (byte[] Bytes, ModelProto Graph)? Existing(string file)
        {
            if (!File.Exists(file)) return null;
            var bytes = File.ReadAllBytes(file);
            ModelProto graph;
            try
            {
                graph = ModelProto.Parser.ParseFrom(bytes);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new InvalidDataException($"{file}: not an ONNX model ({e.Message}); delete it to have it exported anew", e);
            }
            if (current is null || current(graph)) return (bytes, graph);
            Console.Error.WriteLine($"note: {file} was exported from other weights than the folder's: exporting it anew");
            return null;
        }
        if (Existing(path) is { } ready) return (ready.Bytes, path);   // the file's own bytes, not parsed and written again
        var model = (quantized ? Existing(plainPath)?.Graph : null) ?? export();
        if (quantized) model = OnnxQuantization.DynamicInt8(model);
        var bytes = model.ToByteArray();
        try
        {
            using var folderLock = IO.PathLock.Acquire(path);
            IO.AtomicFile.Write(path, temp => File.WriteAllBytes(temp, bytes));
            return (bytes, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"note: could not write {path} ({e.Message}); the ONNX graph is kept in memory for this run");
            return (bytes, null);
        }
    }

    /// <summary>The graph for <paramref name="c"/> with the given weights (our names after <paramref name="prefix"/>:
    /// <c>bert.</c> in a classifier).</summary>
    public static ModelProto Build(EncoderConfig c, IReadOnlyDictionary<string, Tensor> weights, string prefix, OnnxHead head,
        Pooling pooling, bool segmentIdsInput)
    {
        var g = new GraphBuilder(weights);
        string W(string name) => g.Weight(prefix + name);
        var ids = g.Input("input_ids");
        var mask = g.Input("attention_mask");
        var types = g.Input("token_type_ids");
        var explicitSegments = segmentIdsInput ? g.Input("segment_ids") : null;

        // Embeddings: word + position (0..seq-1) + token type, LayerNorm.
        var seqLen = g.Op("Gather", [g.Op("Shape", [ids]), g.Long(1)], ("axis", 0L));
        var positions = g.Op("Range", [g.Long(0), seqLen, g.Long(1)]);
        var embedded = g.Op("Add", [g.Op("Add", [g.Op("Gather", [W("embeddings.word_embeddings.weight"), ids]),
                                                 g.Op("Gather", [W("embeddings.position_embeddings.weight"), positions])]),
                                    g.Op("Gather", [W("embeddings.token_type_embeddings.weight"), types])]);
        var h = LayerNorm(g, embedded, W, "embeddings.LayerNorm", c.LayerNormEps);

        // The masks of MixerContext: real tokens (no DropMask at inference: eligible = real).
        var real = g.Op("Cast", [mask], ("to", (long)TensorProto.Types.DataType.Bool));            // [B,S]
        var realF = g.Op("Cast", [mask], ("to", (long)TensorProto.Types.DataType.Float));          // [B,S]
        var keyBias = g.Op("Where", [g.Op("Unsqueeze", [real, g.Longs(1, 2)]), g.Float(0), g.Float(float.MinValue)]);   // [B,1,1,S]
        Pooled? pool = c.LayerPattern.Any(l => Mixers.Get(l).Pools) ? PoolingMasks(g, c, ids, real, realF, seqLen, explicitSegments) : null;

        for (var i = 0; i < c.NumHiddenLayers; i++)
        {
            string L(string name) => $"encoder.layer.{i}.{name}";
            var kind = Mixers.Get(c.LayerPattern[i]);
            var attentionHeads = kind.AttentionHeads(c);
            var poolingHeads = kind.Pools ? c.NumAttentionHeads - attentionHeads : 0;
            var parts = new List<string>();
            if (attentionHeads > 0) parts.Add(AttentionHeads(g, h, keyBias, attentionHeads, c.HeadSize, n => W(L("attention.self." + n))));
            if (poolingHeads > 0) parts.Add(PoolingHeads(g, h, pool!, real, poolingHeads, c.HeadSize, n => W(L("attention.self." + n))));
            var mixed = parts.Count == 1 ? parts[0] : g.Op("Concat", parts.ToArray(), ("axis", 2L));
            var attended = LayerNorm(g, g.Op("Add", [Dense(g, mixed, W, L("attention.output.dense")), h]), W,
                L("attention.output.LayerNorm"), c.LayerNormEps);
            var inner = Activation(g, Dense(g, attended, W, L("intermediate.dense")), c.HiddenAct);
            h = LayerNorm(g, g.Op("Add", [Dense(g, inner, W, L("output.dense")), attended]), W, L("output.LayerNorm"), c.LayerNormEps);
        }
        g.Output(g.Op("Identity", [h]), "last_hidden_state", ["batch", "sequence", c.HiddenSize.ToString()]);

        if (head == OnnxHead.Mlm)
        {
            var t = LayerNorm(g, Activation(g, Dense(g, h, W, "cls.predictions.transform.dense"), c.HiddenAct), W,
                "cls.predictions.transform.LayerNorm", c.LayerNormEps);
            var decoder = g.Op("Transpose", [W("embeddings.word_embeddings.weight")], ("perm", new long[] { 1, 0 }));   // tied to the word embeddings
            g.Output(g.Op("Add", [g.Op("MatMul", [t, decoder]), W("cls.predictions.bias")]), "logits", ["batch", "sequence", c.VocabSize.ToString()]);
        }
        else if (head == OnnxHead.Classifier)
        {
            string sentence;
            if (pooling == FineTuning.Pooling.Cls)
                sentence = g.Op("Tanh", [Dense(g, g.Op("Gather", [h, g.Long(0)], ("axis", 1L)), W, "pooler.dense")]);
            else
            {
                var weightsOfReal = g.Op("Unsqueeze", [realF, g.Longs(2)]);
                var sum = g.Op("ReduceSum", [g.Op("Mul", [h, weightsOfReal]), g.Longs(1)], ("keepdims", 0L));
                var count = g.Op("Max", [g.Op("ReduceSum", [weightsOfReal, g.Longs(1)], ("keepdims", 0L)), g.Float(1)]);
                sentence = g.Op("Div", [sum, count]);
            }
            var labels = weights["classifier.weight"].shape[0];
            g.Output(g.Op("Add",
                [g.Op("MatMul", [sentence, g.Op("Transpose", [g.Weight("classifier.weight")], ("perm", new long[] { 1, 0 }))]),
                g.Weight("classifier.bias")]),
                "logits", ["batch", labels.ToString()]);
        }
        else if (head == OnnxHead.Token)
        {
            var labels = weights["classifier.weight"].shape[0];
            g.Output(g.Op("Add",
                [g.Op("MatMul", [h, g.Op("Transpose", [g.Weight("classifier.weight")], ("perm", new long[] { 1, 0 }))]),
                    g.Weight("classifier.bias")]),
                "logits", ["batch", "sequence", labels.ToString()]);
        }
        return g.Model($"HybridBERT {c.LayerPattern} ({c.NumHiddenLayers}×{c.HiddenSize}), head {head}");
    }

    private static string Dense(GraphBuilder g, string x, Func<string, string> w, string name) =>
        g.Op("Add", [g.Op("MatMul", [x, g.Op("Transpose", [w(name + ".weight")], ("perm", new long[] { 1, 0 }))]), w(name + ".bias")]);

    private static string LayerNorm(GraphBuilder g, string x, Func<string, string> w, string name, double eps) =>
        g.Op("LayerNormalization", [x, w(name + ".weight"), w(name + ".bias")], ("axis", -1L), ("epsilon", (float)eps));

    private static string Activation(GraphBuilder g, string x, string name) => name switch
    {
        "gelu" => g.Op("Mul", [g.Op("Mul", [x, g.Float(0.5f)]), g.Op("Add", [g.Float(1), g.Op("Erf", [g.Op("Div", [x, g.Float(MathF.Sqrt(2))])])])]),
        "gelu_new" =>
            g.Op("Mul", [g.Op("Mul", [x, g.Float(0.5f)]), g.Op("Add", [g.Float(1), g.Op("Tanh", [g.Op("Mul", [g.Float(MathF.Sqrt(2 / MathF.PI)),
            g.Op("Add", [x, g.Op("Mul", [g.Float(0.044715f), g.Op("Pow", [x, g.Float(3)])])])])])])]),
        "relu" => g.Op("Relu", [x]),
        _ => throw new ConfigException($"hidden_act '{name}' has no ONNX export"),
    };

    /// <summary>[B,S,heads*size] → [B,heads,S,size].</summary>
    private static string Heads(GraphBuilder g, string x, int heads, int size) =>
        g.Op("Transpose", [g.Op("Reshape", [x, g.Longs(0, 0, heads, size)])], ("perm", new long[] { 0, 2, 1, 3 }));

    /// <summary>[B,heads,S,size] → [B,S,heads*size].</summary>
    private static string Merge(GraphBuilder g, string x, int heads, int size) =>
        g.Op("Reshape", [g.Op("Transpose", [x], ("perm", new long[] { 0, 2, 1, 3 })), g.Longs(0, 0, heads * size)]);

    /// <summary>SelfAttention.Attend: softmax(QKᵀ/√d + key bias) V.</summary>
    private static string AttentionHeads(GraphBuilder g, string h, string keyBias, int heads, int size, Func<string, string> w)
    {
        var q = Heads(g, Dense(g, h, w, "query"), heads, size);
        var k = g.Op("Transpose", [g.Op("Reshape", [Dense(g, h, w, "key"), g.Longs(0, 0, heads, size)])], ("perm", new long[] { 0, 2, 3, 1 }));
        var v = Heads(g, Dense(g, h, w, "value"), heads, size);
        var scores = g.Op("Add", [g.Op("Mul", [g.Op("MatMul", [q, k]), g.Float(1 / MathF.Sqrt(size))]), keyBias]);
        return Merge(g, g.Op("MatMul", [g.Op("Softmax", [scores], ("axis", -1L)), v]), heads, size);
    }

    /// <summary>The pooling masks of MixerContext.Build, once per graph.</summary>
    /// <remarks>The masks are applied by adding a bias or multiplying by 0/1 on [B,S,1] or [B,1,S], not by <c>Where</c>
    /// over [B,S,W]: ONNX Runtime's broadcasting <c>Where</c> took a fifth of an int8 ponet forward (mini, 128 × 32).</remarks>
    /// <param name="FlatSegment">Each token's segment as a row of the flattened [B*S] table.</param>
    /// <param name="RealBias">[B,S,1]: 0 at real tokens, -inf at padding (segment max candidates).</param>
    /// <param name="Kept">[B,S,1]: 1 at real non-special tokens, else 0 ([CLS]/[SEP] get 0 from both maxima).</param>
    /// <param name="LocalBias">[B,S,1]: 0 at real non-special tokens, float.MinValue elsewhere (local max candidates).</param>
    /// <param name="RealF">[B,S,1]: 1 at real tokens, 0 at padding.</param>
    /// <param name="SeqLen">S, a scalar.</param>
    private sealed record Pooled(string FlatSegment, string RealBias, string Kept, string LocalBias, string RealF, string SeqLen);

    private static Pooled PoolingMasks(GraphBuilder g, EncoderConfig c, string ids, string real, string realF, string seqLen,
        string? explicitSegments)
    {
        var special = g.Op("Or", [g.Op("Equal", [ids, g.Long(c.ClsTokenId)]), g.Op("Equal", [ids, g.Long(c.SepTokenId)])]);   // [B,S]
        string segments;
        if (explicitSegments is not null) segments = explicitSegments;
        else
        {
            // SegmentsFromSpecialTokens: a segment starts at a special token and right after one, never at position 0.
            var specialI = g.Op("Cast", [special], ("to", (long)TensorProto.Types.DataType.Int64));
            var shifted = g.Op("Concat", [g.Op("Mul", [g.Op("Slice", [specialI, g.Longs(0), g.Longs(1), g.Longs(1)]), g.Long(0)]),
                                          g.Op("Slice", [specialI, g.Longs(0), g.Longs(-1), g.Longs(1)])], ("axis", 1L));
            var notFirst = g.Op("Cast", [g.Op("Greater", [g.Op("Range", [g.Long(0), seqLen, g.Long(1)]), g.Long(0)])],
                ("to", (long)TensorProto.Types.DataType.Int64));
            segments = g.Op("CumSum", [g.Op("Mul", [g.Op("Max", [specialI, shifted]), notFirst]), g.Long(1)]);
        }
        var batch = g.Op("Gather", [g.Op("Shape", [ids]), g.Long(0)], ("axis", 0L));
        var rowStart = g.Op("Mul", [g.Op("Unsqueeze", [g.Op("Range", [g.Long(0), batch, g.Long(1)]), g.Longs(1)]), seqLen]);   // [B,1]
        var flat = g.Op("Reshape", [g.Op("Add", [segments, rowStart]), g.Longs(-1)]);                                          // [B*S]
        var candidate = g.Op("And", [real, g.Op("Not", [special])]);                                                        // [B,S]
        var real3 = g.Op("Unsqueeze", [real, g.Longs(2)]);
        return new Pooled(flat,
            RealBias: g.Op("Where", [real3, g.Float(0), g.Float(float.NegativeInfinity)]),
            Kept: g.Op("Cast", [g.Op("Unsqueeze", [candidate, g.Longs(2)])], ("to", (long)TensorProto.Types.DataType.Float)),
            LocalBias: g.Op("Where", [g.Op("Unsqueeze", [candidate, g.Longs(2)]), g.Float(0), g.Float(float.MinValue)]),
            RealF: g.Op("Unsqueeze", [realF, g.Longs(2)]), SeqLen: seqLen);
    }

    /// <summary>PoolingMixer.Pool: (g + segment max) ⊙ O + local max per head; [CLS]/[SEP] get 0 from both maxima; padding outputs 0.</summary>
    private static string PoolingHeads(GraphBuilder g, string h, Pooled m, string real, int heads, int size, Func<string, string> w)
    {
        var width = heads * size;
        string Projection(string name) => Dense(g, h, w, name);

        // Global: one query per head, dense_q of the real tokens' mean (PoolingMixer.MeanQuery), attending over the keys
        // K = dense_k(h), which are also the values — taken over the hidden states, K never made (PoolingMixer.Global):
        // scores (Wₙᵀq̄ₙ)·hₜ, g = Wₙ(Σₜ wₜhₜ) + bₙΣₜ wₜ. The per-head weight products are 3-D, so the int8 quantizer
        // leaves them in float (they are batch × heads rows, not batch × seq).
        var count = g.Op("Max", [g.Op("ReduceSum", [m.RealF, g.Longs(1)], ("keepdims", 1L)), g.Float(1)]);             // [B,1,1]
        var mean = g.Op("Div", [g.Op("ReduceSum", [g.Op("Mul", [h, m.RealF]), g.Longs(1)], ("keepdims", 1L)), count]);  // [B,1,H]
        var meanQuery = Heads(g, Dense(g, mean, w, "dense_q"), heads, size);                                            // [B,h,1,d]
        var keyWeight = g.Op("Reshape", [w("dense_k.weight"), g.Longs(heads, size, -1)]);                               // [h,d,H]
        var u = g.Op("MatMul", [meanQuery, keyWeight]);                                                                   // [B,h,1,H]
        var h4 = g.Op("Unsqueeze", [h, g.Longs(1)]);                                                                     // [B,1,S,H]
        // hₜ·uₙ as [B,h,S,1] (h not transposed), which is [B,h,1,S] in memory
        var dots = g.Op("MatMul", [h4, g.Op("Transpose", [u], ("perm", new long[] { 0, 1, 3, 2 }))]);
        var scores = g.Op("Mul", [g.Op("Reshape", [dots, g.Longs(0, 0, 1, -1)]), g.Float(1 / MathF.Sqrt(size))]);    // [B,h,1,S]
        scores = g.Op("Where", [g.Op("Unsqueeze", [real, g.Longs(1, 2)]), scores, g.Float(float.NegativeInfinity)]);
        var softmax = g.Op("Softmax", [scores], ("axis", -1L));
        var weightsG = g.Op("Where", [g.Op("IsNaN", [softmax]), g.Float(0), softmax]);                                  // no real key: g = 0
        var summed = g.Op("MatMul", [weightsG, h4]);                                                                      // [B,h,1,H]
        var projected = g.Op("MatMul", [summed, g.Op("Transpose", [keyWeight], ("perm", new long[] { 0, 2, 1 }))]);   // [B,h,1,d]
        var keyBias = g.Op("Mul", [g.Op("Reshape", [w("dense_k.bias"), g.Longs(heads, 1, size)]),
            g.Op("ReduceSum", [weightsG, g.Longs(-1)], ("keepdims", 1L))]);                                              // bₙΣₜwₜ: [B,h,1,d]
        var global = g.Op("Add", [projected, keyBias]);                                                                   // [B,h,1,d]

        // Segment max: scatter the real tokens' values into a table by segment (max), gather back per token. The table
        // starts at float.MinValue, not -inf, so a segment of padding alone gives a finite value that Kept zeroes.
        var segment = Projection("dense_segment");                                                                        // [B,S,W]
        var rows = g.Op("Reshape", [g.Op("Add", [segment, m.RealBias]), g.Longs(-1, width)]);                            // [B*S,W]
        var table = g.Op("Expand", [g.Float(float.MinValue), g.Op("Shape", [rows])]);                                   // [B*S,W]
        var scattered = g.Op("ScatterND", [table, g.Op("Unsqueeze", [m.FlatSegment, g.Longs(1)]), rows], ("reduction", "max"));
        var perToken = g.Op("Reshape", [g.Op("Gather", [scattered, m.FlatSegment], ("axis", 0L)), g.Op("Shape", [segment])]);
        var segmentMax = g.Op("Mul", [perToken, m.Kept]);

        // Local max over {i-1, i, i+1} of real non-special tokens: a window with none only ever centres on a token Kept
        // zeroes (every kept token is its own candidate).
        var local = g.Op("Add", [Projection("dense_local"), m.LocalBias]);                                              // [B,S,W]
        var padded = g.Op("Pad", [local, g.Longs(0, 1, 0, 0, 1, 0), g.Float(float.MinValue)]);                          // [B,S+2,W]
        var before = g.Op("Slice", [padded, g.Longs(0), g.Op("Unsqueeze", [m.SeqLen, g.Longs(0)]), g.Longs(1)]);
        var after = g.Op("Slice", [padded, g.Longs(2), g.Longs(long.MaxValue), g.Longs(1)]);
        var localMax = g.Op("Mul", [g.Op("Max", [before, local, after]), m.Kept]);                                    // [B,S,W]

        // (g + segment max) ⊙ O + local max, per head, in [B,S,heads,size]: reshapes, no transposes of [B,S,W].
        string PerHead(string x) => g.Op("Reshape", [x, g.Longs(0, 0, heads, size)]);
        var globalPerHead = g.Op("Transpose", [global], ("perm", new long[] { 0, 2, 1, 3 }));                           // [B,1,h,d]
        var mixed = g.Op("Add", [g.Op("Mul", [g.Op("Add", [globalPerHead, PerHead(segmentMax)]), PerHead(Projection("dense_o"))]),
            PerHead(localMax)]);
        return g.Op("Mul", [g.Op("Reshape", [mixed, g.Longs(0, 0, width)]), m.RealF]);
    }
}

/// <summary>Appends nodes, constants and the model's weights (as initializers, under their own names) to one ONNX graph.</summary>
internal sealed class GraphBuilder(IReadOnlyDictionary<string, Tensor> weights)
{
    private readonly GraphProto graph = new() { Name = "hybridbert" };
    private readonly HashSet<string> initialized = [];
    private int counter;

    public string Input(string name)
    {
        graph.Input.Add(ValueInfo(name, TensorProto.Types.DataType.Int64, ["batch", "sequence"]));
        return name;
    }

    /// <summary>A float32 input of fixed shape (<c>bench gemm</c>'s one-product graphs).</summary>
    public string FloatInput(string name, params long[] dims)
    {
        graph.Input.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims.Select(d => d.ToString()).ToArray()));
        return name;
    }

    public void Output(string value, string name, string[] dims)
    {
        graph.Node.Add(Node("Identity", [value], name));
        graph.Output.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));
    }

    public string Op(string type, string[] inputs, params (string Name, object Value)[] attributes)
    {
        var output = $"{type}_{counter++}";
        var node = Node(type, inputs, output);
        foreach (var (name, value) in attributes)
            node.Attribute.Add(value switch
            {
                long i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
                float f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = f },
                string s => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(s) },
                long[] ints => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { ints } },
                _ => throw new ArgumentException($"attribute {name}: unsupported type {value.GetType()}"),
            });
        graph.Node.Add(node);
        return output;
    }

    /// <summary>A weight of the model, added once as a float32 initializer under its own name.</summary>
    public string Weight(string name)
    {
        if (initialized.Add(name))
        {
            var tensor = weights.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"the model has no weight '{name}' to export");
            var values = tensor.detach().cpu().to(ScalarType.Float32).contiguous().data<float>().ToArray();
            var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float,
                RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())) };
            proto.Dims.AddRange(tensor.shape);
            graph.Initializer.Add(proto);
        }
        return name;
    }

    public string Float(float value) => Constant(new TensorProto { DataType = (int)TensorProto.Types.DataType.Float, FloatData = { value } });

    /// <summary>An int64 scalar (a Gather index that drops its axis, a Range bound).</summary>
    public string Long(long value) => Constant(new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, Int64Data = { value } });

    public string Longs(params long[] values)
    {
        var proto = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, Int64Data = { values } };
        proto.Dims.Add(values.Length);
        return Constant(proto);
    }

    private string Constant(TensorProto value)
    {
        var name = $"const_{counter++}";
        value.Name = name;
        graph.Initializer.Add(value);
        return name;
    }

    public ModelProto Model(string description)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "hybridbert", DocString = description, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxExport.Opset });
        return model;
    }

    private static NodeProto Node(string type, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = type, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(long.TryParse(d, out var v) ? new TensorShapeProto.Types.Dimension { DimValue = v } :
                new TensorShapeProto.Types.Dimension { DimParam = d });
        return new ValueInfoProto { Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }
}
