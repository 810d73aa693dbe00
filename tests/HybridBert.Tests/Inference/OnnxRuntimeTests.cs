using HybridBert.FineTuning;
using HybridBert.Inference;
using HybridBert.Interop;
using HybridBert.Tests.Cli;
using HybridBert.Tests.Interop;
using HybridBert.Text;
using TorchSharp;

namespace HybridBert.Tests.Inference;

/// <summary><c>--runtime onnx</c>: the same model's exported graph in ONNX Runtime gives every task's outputs within 1e-4
/// of TorchSharp's; its int8 graph keeps them close.</summary>
[Collection("Console")]
public sealed class OnnxRuntimeTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-ort-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    /// <summary>Rows of several lengths (so batches of several shapes): [CLS] random ids, a [SEP] in the middle, [MASK]s, [SEP].</summary>
    private static List<EncodedText> Rows(InferenceModel model)
    {
        var vocabulary = model.Tokenizer.Vocabulary;
        var random = new Random(7);
        var rows = new List<EncodedText>();
        foreach (var length in new[] { 6, 11, 11, 23, 30 })
        {
            var ids = Enumerable.Range(0, length).Select(_ => random.Next(104, model.Config.VocabSize)).ToArray();
            ids[0] = vocabulary.ClsId;
            ids[length / 2] = vocabulary.SepId;
            ids[length / 3] = vocabulary.MaskId;
            ids[^1] = vocabulary.SepId;
            rows.Add(model.EncodeIds(ids, truncate: false, rows.Count));
        }
        return rows;
    }

    /// <summary>The entity, word and span of every entry of <c>tag</c>'s JSON lines (scores left out: runtimes differ in the last digits).</summary>
    private static List<string> Entities(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).SelectMany(line => System.Text.Json.Nodes.JsonNode.Parse(line)!.AsArray())
            .Select(e => $"{e!["entity"]} {e["word"]} {e["start"]}-{e["end"]}").ToList();

    private static float MaxDifference(IEnumerable<float> a, IEnumerable<float> b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    [Theory]
    [InlineData("bert_2l")]
    [InlineData("hybrid_4l_interleaved")]
    [InlineData("ponet_2l")]
    [InlineData("classifier_PH_mean")]
    [InlineData("tagger_PA")]
    public void Every_task_gives_the_torch_runtimes_outputs_within_1e4(string name)
    {
        var (folder, _, _) = HuggingFaceExportTests.Source(name, temp);
        using var torchModel = InferenceModel.Load(folder);
        using var onnxModel = InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx);
        Assert.Equal(InferenceRuntime.Onnx, onnxModel.Runtime);
        var rows = Rows(torchModel);

        var tokens = (new Embedder(torchModel).EmbedAll(rows), new Embedder(onnxModel).EmbedAll(rows));
        for (var r = 0; r < rows.Count; r++)
            Assert.True(MaxDifference(tokens.Item1[r].SelectMany(v => v), tokens.Item2[r].SelectMany(v => v)) < 1e-4, $"row {r}: hidden states differ");
        var mean = (new Embedder(torchModel).Embed(rows, Pooling.Mean, true), new Embedder(onnxModel).Embed(rows, Pooling.Mean, true));
        Assert.True(MaxDifference(mean.Item1.SelectMany(v => v), mean.Item2.SelectMany(v => v)) < 1e-4);

        if (torchModel.CanClassify)
        {
            var (a, b) = (new TextClassifier(torchModel).Predict(rows), new TextClassifier(onnxModel).Predict(rows));
            Assert.Equal(a.Select(p => p.Prediction), b.Select(p => p.Prediction));
            Assert.True(MaxDifference(a.SelectMany(p => p.Probabilities), b.SelectMany(p => p.Probabilities)) < 1e-4);
        }
        if (torchModel.CanTag)
        {
            var (a, b) = (torchModel.Tagger!.Run(rows), onnxModel.Tagger!.Run(rows));
            Assert.True(MaxDifference(a.SelectMany(r => r.SelectMany(v => v)), b.SelectMany(r => r.SelectMany(v => v))) < 1e-4);
        }
        if (torchModel.CanFillMask)
        {
            var (a, b) = (new FillMask(torchModel).Predict(rows, 3), new FillMask(onnxModel).Predict(rows, 3));
            var scores = (a.SelectMany(t => t.SelectMany(m => m)).ToList(), b.SelectMany(t => t.SelectMany(m => m)).ToList());
            Assert.Equal(scores.Item1.Count, scores.Item2.Count);
            Assert.True(MaxDifference(scores.Item1.Select(c => (float)c.Score), scores.Item2.Select(c => (float)c.Score)) < 1e-4);
        }
        Assert.True(File.Exists(Path.Combine(folder, OnnxExport.FolderModel)), "the graph was not written into the model folder");
    }

    [Fact]
    public void The_folder_graph_is_exported_once_and_then_reused()
    {
        var (folder, _, _) = HuggingFaceExportTests.Source("hybrid_4l_interleaved", temp);
        var graph = Path.Combine(folder, OnnxExport.FolderModel);
        using (InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx)) { }
        var written = File.GetLastWriteTimeUtc(graph);
        var bytes = File.ReadAllBytes(graph);
        using (var again = InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx)) Assert.NotNull(again);
        Assert.Equal(written, File.GetLastWriteTimeUtc(graph));
        Assert.Equal(bytes, File.ReadAllBytes(graph));

        // New weights in the folder: the graph left by the old ones is noticed and exported anew.
        var weightsPath = Path.Combine(folder, ModelLayout.Weights);
        var weights = SafetensorsFile.Read(weightsPath);
        foreach (var (_, tensor) in weights) tensor.mul_(1.5);
        SafetensorsFile.Write(weightsPath, weights);
        using var torchModel = InferenceModel.Load(folder);
        using var onnxModel = InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx);
        Assert.NotEqual(bytes, File.ReadAllBytes(graph));
        var rows = Rows(torchModel);
        var (a, b) = (new Embedder(torchModel).EmbedAll(rows), new Embedder(onnxModel).EmbedAll(rows));
        Assert.True(MaxDifference(a.SelectMany(r => r.SelectMany(v => v)), b.SelectMany(r => r.SelectMany(v => v))) < 1e-4);
    }

    [Fact]
    public void A_graph_whose_output_widths_are_not_fixed_gives_the_same_outputs()
    {
        // Our graphs fix last_hidden_state's and the logits' widths, so ONNX Runtime writes them into tensors made for
        // them; another exporter's may leave them symbolic, and then the outputs ONNX Runtime made are copied.
        var (folder, _, _) = HuggingFaceExportTests.Source("hybrid_4l_interleaved", temp);
        using (InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx)) { }
        var bytes = File.ReadAllBytes(Path.Combine(folder, OnnxExport.FolderModel));
        var loose = Onnx.ModelProto.Parser.ParseFrom(bytes);
        var vocabulary = (int)loose.Graph.Output.Single(o => o.Name == OnnxEncoder.LogitsOutput).Type.TensorType.Shape.Dim[2].DimValue;
        foreach (var output in loose.Graph.Output)
            output.Type.TensorType.Shape.Dim[^1] = new Onnx.TensorShapeProto.Types.Dimension { DimParam = "width" };
        using var fixedWidths = OnnxEncoder.FromGraph(bytes, keepLogits: true, vocabSize: vocabulary);
        using var looseWidths = OnnxEncoder.FromGraph(Google.Protobuf.MessageExtensions.ToByteArray(loose), keepLogits: true,
            vocabSize: vocabulary);
        Assert.Equal(vocabulary, fixedWidths.LogitsWidth);
        Assert.Equal(0, looseWidths.LogitsWidth);

        var ids = torch.tensor(new long[] { 101, 104, 105, 102, 106, 102, 101, 107, 102, 0, 0, 0 }).reshape(2, 6);
        var inputs = new HybridBert.Model.EncoderInputs(ids, ids.ne(0).to_type(torch.ScalarType.Int64), torch.zeros_like(ids));
        var (hidden, logits) = fixedWidths.ForwardWithLogits(inputs);
        var (hiddenLoose, logitsLoose) = looseWidths.ForwardWithLogits(inputs);
        Assert.Equal(new long[] { 2, 6, hidden.shape[2] }, hiddenLoose.shape);
        Assert.Equal(new long[] { 2, 6, vocabulary }, logits!.shape);
        Assert.Equal(logits.shape, logitsLoose!.shape);
        Assert.True(hidden.allclose(hiddenLoose, rtol: 0, atol: 1e-6) && logits.allclose(logitsLoose, rtol: 0, atol: 1e-5));
        Assert.True(hidden.abs().sum().item<float>() > 0);
    }

    [Theory]
    [InlineData("bert_2l")]
    [InlineData("hybrid_4l_interleaved")]
    public void The_int8_graph_quantizes_every_linear_layer_and_keeps_the_embeddings(string name)
    {
        var (folder, _, _) = HuggingFaceExportTests.Source(name, temp);
        using var fp32 = InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx);
        using var int8 = InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx, quantized: true);
        var quantizedPath = Path.Combine(folder, OnnxQuantization.FolderModel);
        Assert.True(File.Exists(quantizedPath));

        var quantizedGraph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(quantizedPath)).Graph;
        var plainGraph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, OnnxExport.FolderModel))).Graph;
        Assert.Equal(0, MatMulsByWeights(quantizedGraph));
        Assert.True(MatMulsByWeights(plainGraph) >= 8);
        Assert.Equal(MatMulsByWeights(plainGraph), quantizedGraph.Node.Count(n => n.OpType == "MatMulInteger"));

        var rows = Rows(fp32);
        var (a, b) = (new Embedder(fp32).Embed(rows, Pooling.Mean, true), new Embedder(int8).Embed(rows, Pooling.Mean, true));
        var cosines = a.Zip(b, (x, y) => x.Zip(y, (p, q) => p * q).Sum()).ToList();
        Assert.True(cosines.Min() > 0.99, $"int8 embeddings' cosine to fp32: min {cosines.Min():F4}");
        Assert.True(cosines.Max() < 1 - 1e-7, "the int8 graph gave fp32's vectors exactly: it did not run int8");
    }

    /// <summary>MatMuls whose right side is a constant or a transposed constant: the linear layers.</summary>
    private static int MatMulsByWeights(Onnx.GraphProto graph)
    {
        var constants = graph.Initializer.Select(t => t.Name).ToHashSet();
        return graph.Node.Count(n => n.OpType == "MatMul" && (constants.Contains(n.Input[1]) ||
            graph.Node.Any(t => t.OpType == "Transpose" && t.Output[0] == n.Input[1] && constants.Contains(t.Input[0]))));
    }

    [Fact]
    public void Weights_are_quantized_per_output_column_within_half_a_step()
    {
        var weight = new float[] { 1f, -0.02f, 0, -2f, 0.01f, 0, 0.5f, 0.005f, 0 };   // [3, 3]; column 2 all zero
        var (values, scales) = OnnxQuantization.Quantize(weight, 3, 3);
        Assert.Equal(new[] { 2f / 127, 0.02f / 127, 1f }, scales, (x, y) => Math.Abs(x - y) < 1e-9);
        for (var i = 0; i < weight.Length; i++)
            Assert.True(Math.Abs(values[i] * scales[i % 3] - weight[i]) <= scales[i % 3] / 2 + 1e-9, $"entry {i}");
        Assert.Equal(-127, values[3]);
        Assert.Equal(127, values[1] * -1);
    }

    [Fact]
    public void The_cli_runs_the_onnx_runtime_and_refuses_int8_without_it()
    {
        var (folder, _, _) = HuggingFaceExportTests.Source("bert_2l", temp);
        var input = Path.Combine(temp, "texts.txt");
        File.WriteAllLines(input, ["a b c", "d e"]);
        var vectors = new Dictionary<string, string>();
        foreach (var runtime in new[] { "torch", "onnx" })
        {
            var output = Path.Combine(temp, $"{runtime}.jsonl");
            var (exit, stdout, stderr) = ModelCommandTests.Run("embed", "--model", folder, "--input", input, "--out", output, "--runtime", runtime);
            Assert.True(exit == 0, stderr + stdout);
            vectors[runtime] = File.ReadAllText(output);
        }
        var parse = (string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(l => System.Text.Json.Nodes.JsonNode.Parse(l)!["embedding"]!.AsArray().Select(v => v!.GetValue<float>())).ToList();
        Assert.True(MaxDifference(parse(vectors["torch"]), parse(vectors["onnx"])) < 1e-4);

        var (code, _, error) = ModelCommandTests.Run("embed", "--model", folder, "--input", input, "--out", Path.Combine(temp, "q.jsonl"),
            "--quantized");
        Assert.Equal(2, code);
        Assert.Contains("--quantized runs the int8 ONNX graph: add --runtime onnx", error);
    }

    [Fact]
    public async Task The_server_batches_for_the_int8_graph_and_says_so()
    {
        var (folder, _, _) = HuggingFaceExportTests.Source("hybrid_4l_interleaved", temp);
        await using var server = await HybridBert.Serving.InferenceServer.StartAsync(new HybridBert.Serving.ServeOptions
        {
            Model = folder, Port = 0, Threads = 1, Runtime = InferenceRuntime.Onnx, Quantized = true,
        });
        using var client = new HttpClient { BaseAddress = server.Address };
        string[] texts = ["a b c d", "e f", "g h i j k l"];
        var requests = texts.Select(t => client.PostAsync("/embed",
            new StringContent(new System.Text.Json.Nodes.JsonObject { ["inputs"] = t }.ToJsonString(), System.Text.Encoding.UTF8,
                "application/json"))).ToList();
        var answers = new List<float[]>();
        foreach (var request in requests)
        {
            using var response = await request;
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            answers.Add(System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())![0]!.AsArray()
                .Select(v => v!.GetValue<float>()).ToArray());
        }
        using var library = InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx, quantized: true);
        var expected = new Embedder(library).Embed(texts, library.PoolingFor(null));
        Assert.True(MaxDifference(expected.SelectMany(v => v), answers.SelectMany(v => v)) < 1e-5);
        var info = System.Text.Json.Nodes.JsonNode.Parse(await client.GetStringAsync("/info"))!;
        Assert.Equal("int8", info["model_dtype"]!.GetValue<string>());
    }

    [Fact]
    public void Export_writes_the_int8_graph_beside_the_fp32_one_into_a_folder_only()
    {
        var (folder, _, _) = HuggingFaceExportTests.Source("ponet_2l", temp);
        var output = Path.Combine(temp, "onnx-folder");
        var (exit, stdout, stderr) = ModelCommandTests.Run("export", "onnx", "--model", folder, "--out", output, "--quantize", "int8");
        Assert.True(exit == 0, stderr + stdout);
        var quantized = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(output, OnnxQuantization.FolderModel)));
        Assert.Contains(quantized.Graph.Node, n => n.OpType == "MatMulInteger");
        Assert.True(File.Exists(Path.Combine(output, OnnxExport.FolderModel)));

        (exit, _, stderr) = ModelCommandTests.Run("export", "onnx", "--model", folder, "--out", Path.Combine(temp, "alone.onnx"),
            "--quantize", "int8");
        Assert.Equal(2, exit);
        Assert.Contains("give a folder", stderr);
    }

    [Fact]
    public void Bench_runtimes_compares_speed_and_answers_of_the_three_runtimes()
    {
        var (folder, _, _) = HuggingFaceExportTests.Source("hybrid_4l_interleaved", temp);
        var (exit, stdout, stderr) = ModelCommandTests.Run("bench", "runtimes", "--model", folder, "--rows", "24", "--json");
        Assert.True(exit == 0, stderr + stdout);
        var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        Assert.Equal(["torch", "onnx", "onnx-int8"], rows.Select(r => r["runtime"]!.GetValue<string>()));
        Assert.All(rows, r => Assert.True(r["tokens_per_second"]!.GetValue<double>() > 0));
        Assert.Null(rows[0]["mean_cosine"]);
        Assert.True(rows[1]["min_cosine"]!.GetValue<double>() > 0.99999);
        Assert.Equal(1.0, rows[1]["fill_mask_top1_agreement"]!.GetValue<double>());
        Assert.True(rows[2]["min_cosine"]!.GetValue<double>() > 0.99);

        var (classifier, _, _) = HuggingFaceExportTests.Source("classifier_PH_mean", temp);
        var file = Path.Combine(temp, "labelled.tsv");
        File.WriteAllLines(file, ["text\tlabel", "a b c\tneg", "d e f g\tpos", "h\tneu", "i j\tpos"]);
        (exit, stdout, stderr) = ModelCommandTests.Run("bench", "runtimes", "--model", classifier, "--rows", "8", "--file", file, "--json");
        Assert.True(exit == 0, stderr + stdout);
        var scored = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        Assert.All(scored, r => Assert.Equal("accuracy", r["metric"]!.GetValue<string>()));
        Assert.Equal(scored[0]["metric_value"]!.GetValue<double>(), scored[1]["metric_value"]!.GetValue<double>());
        Assert.Null(scored[1]["fill_mask_top1_agreement"]);
    }

    [Theory]
    [InlineData("bert_2l", false)]
    [InlineData("hybrid_4l_interleaved", true)]
    [InlineData("classifier_PH_mean", false)]
    [InlineData("classifier_PH_mean", true)]
    [InlineData("tagger_PA", false)]
    [InlineData("tagger_PA", true)]
    public void An_onnx_model_folder_runs_alone_with_its_heads_in_the_graph(string name, bool quantized)
    {
        var (source, _, _) = HuggingFaceExportTests.Source(name, temp);
        var folder = Path.Combine(temp, "onnx-" + name + (quantized ? "-int8" : ""));
        OnnxExport.Run(source, folder, quantize: quantized);
        using var reference = InferenceModel.Load(source, runtime: InferenceRuntime.Onnx, quantized: quantized);
        using var alone = InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx, quantized: quantized);
        Assert.Equal(reference.CanFillMask, alone.CanFillMask);
        Assert.Equal(reference.CanClassify, alone.CanClassify);
        Assert.Equal(reference.CanTag, alone.CanTag);
        var rows = Rows(reference);
        var tolerance = quantized ? 1e-3 : 1e-4;   // int8: the head's layers are quantized in the folder's graph too
        var (a, b) = (new Embedder(reference).Embed(rows, Pooling.Mean, true), new Embedder(alone).Embed(rows, Pooling.Mean, true));
        Assert.True(MaxDifference(a.SelectMany(v => v), b.SelectMany(v => v)) < 1e-5);
        if (reference.CanClassify)
        {
            Assert.Equal(reference.Task!.Labels, alone.Task!.Labels);
            var (p, q) = (new TextClassifier(reference).Predict(rows), new TextClassifier(alone).Predict(rows));
            Assert.True(MaxDifference(p.SelectMany(x => x.Probabilities), q.SelectMany(x => x.Probabilities)) < tolerance);
        }
        if (reference.CanTag)
        {
            Assert.Equal(reference.TokenTask!.Labels, alone.TokenTask!.Labels);
            var (p, q) = (reference.Tagger!.Run(rows), alone.Tagger!.Run(rows));
            var worst = MaxDifference(p.SelectMany(r => r.SelectMany(v => v)), q.SelectMany(r => r.SelectMany(v => v)));
            Assert.True(worst < tolerance, $"tag probabilities differ by {worst}");
            // Raw text through the pipeline's path (windows, offsets, aggregation): the same entities.
            const string text = "Ada Lovelace met Charles Babbage in London.";
            var (e, f) = (reference.Tagger.Predict(text, Aggregation.Simple), alone.Tagger.Predict(text, Aggregation.Simple));
            Assert.Equal(e.Select(x => (x.EntityGroup, x.Start, x.End)), f.Select(x => (x.EntityGroup, x.Start, x.End)));
        }
        if (reference.CanTag && !quantized)
        {
            // The CLI: the ONNX folder tags as the folder it was exported from.
            var fromSource = ModelCommandTests.Run("tag", "--model", source, "--aggregation", "none", "Ada Lovelace met Charles Babbage.");
            var fromGraph = ModelCommandTests.Run("tag", "--model", folder, "--runtime", "onnx", "--aggregation", "none",
                "Ada Lovelace met Charles Babbage.");
            Assert.True(fromGraph.Item1 == 0, fromGraph.Item3);
            Assert.Equal(Entities(fromSource.Item2), Entities(fromGraph.Item2));
        }
        if (reference.CanFillMask)
        {
            var (p, q) = (new FillMask(reference).Predict(rows, 3), new FillMask(alone).Predict(rows, 3));
            var scores = (p.SelectMany(t => t.SelectMany(m => m)).ToList(), q.SelectMany(t => t.SelectMany(m => m)).ToList());
            Assert.Equal(scores.Item1.Count, scores.Item2.Count);
            var worst = MaxDifference(scores.Item1.Select(c => (float)c.Score), scores.Item2.Select(c => (float)c.Score));
            // int8: the folder's graph quantizes the MLM head's vocabulary projection too (measured 2.1e-3 here).
            Assert.True(worst < (quantized ? 1e-2 : 1e-4), $"fill-mask scores differ by {worst}");
            var sparse = (new Embedder(reference).EmbedSparse(rows), new Embedder(alone).EmbedSparse(rows));
            if (!quantized) Assert.Equal(sparse.Item1[0].Count, sparse.Item2[0].Count);
            // Both: the same weights, log(1 + relu(logit)); int8 quantizes the vocabulary projection in the folder's graph,
            // moving these weights by up to 0.023 here (random weights), and a word near 0 may be in one and not the other.
            var (x, y) = (sparse.Item1[0].ToDictionary(e => e.Index, e => e.Value), sparse.Item2[0].ToDictionary(e => e.Index, e => e.Value));
            var worstSparse = x.Keys.Union(y.Keys).Max(i => Math.Abs(x.GetValueOrDefault(i) - y.GetValueOrDefault(i)));
            Assert.True(worstSparse < (quantized ? 0.1 : 1e-4), $"sparse weights differ by {worstSparse}");
        }

        var (exit, _, stderr) = ModelCommandTests.Run("fill-mask", "--model", folder, "a [MASK] b");
        Assert.Equal(2, exit);
        Assert.Contains("is an ONNX model folder", stderr);
        Assert.Contains("--runtime onnx", stderr);
    }

    [Fact]
    public void An_onnx_folder_in_optimums_layout_runs_too()
    {
        var (source, _, _) = HuggingFaceExportTests.Source("classifier_PH_mean", temp);
        var folder = Path.Combine(temp, "optimum");
        OnnxExport.Run(source, folder);
        File.Move(Path.Combine(folder, OnnxExport.FolderModel), Path.Combine(folder, "model.onnx"));   // Optimum: the graph at the top
        Directory.Delete(Path.Combine(folder, "onnx"));
        using var reference = InferenceModel.Load(source);
        using (var alone = InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx))
        {
            var rows = Rows(reference);
            var (p, q) = (new TextClassifier(reference).Predict(rows), new TextClassifier(alone).Predict(rows));
            Assert.True(MaxDifference(p.SelectMany(x => x.Probabilities), q.SelectMany(x => x.Probabilities)) < 1e-4);
        }
        using (InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx, quantized: true)) { }
        Assert.True(File.Exists(Path.Combine(folder, "model_quantized.onnx")), "the int8 graph goes beside Optimum's model.onnx");
    }

    [Fact]
    public void A_damaged_graph_in_the_folder_is_named()
    {
        var (folder, _, _) = HuggingFaceExportTests.Source("bert_2l", temp);
        var graph = Path.Combine(folder, OnnxExport.FolderModel);
        Directory.CreateDirectory(Path.GetDirectoryName(graph)!);
        File.WriteAllBytes(graph, [0xFF, 0xFF, 0xFF, 0x01, 0x02]);
        var error = Assert.Throws<InvalidDataException>(() => InferenceModel.Load(folder, runtime: InferenceRuntime.Onnx));
        Assert.Contains(graph, error.Message);
        Assert.Contains("delete it", error.Message);
    }
}
