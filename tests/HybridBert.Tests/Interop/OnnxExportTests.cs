using HybridBert.FineTuning;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Tests.Cli;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Interop;

/// <summary>ONNX exports of every mixer and head, run in ONNX Runtime, against TorchSharp's outputs at several lengths with padding.</summary>
[Collection("Console")]
public sealed class OnnxExportTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-onnx-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    public static TheoryData<string> Cases() =>
        new(["bert_2l", "bert_2l_dropmask", "ponet_2l", "ponet_2l_sentence_segments", "hybrid_4l_pool_bottom", "hybrid_4l_interleaved",
        "random_HAPH_sso", "classifier_AA_cls", "classifier_PH_mean", "tagger_PA"]);

    /// <summary>Batches of several lengths with padding: [CLS] a [SEP] b [SEP] per row, random ids in between.</summary>
    private static IEnumerable<Dictionary<string, Tensor>> Batches(int vocab, int maxPositions, bool withSegments)
    {
        foreach (var lengths in new[] { new[] { 5 }, new[] { 9, 4, 7 }, new[] { Math.Min(30, maxPositions), 12 } })
        {
            var seq = lengths.Max();
            var generator = new Generator((ulong)lengths.Sum());
            var ids = torch.randint(104, vocab, [lengths.Length, seq], generator: generator);
            var mask = torch.zeros_like(ids);
            var types = torch.zeros_like(ids);
            var segments = torch.zeros_like(ids);
            for (var b = 0; b < lengths.Length; b++)
            {
                var n = lengths[b];
                ids[b, 0] = 101;
                ids[b, n / 2] = 102;
                ids[b, n - 1] = 102;
                ids[b, TensorIndex.Slice(n)] = 0;
                mask[b, TensorIndex.Slice(0, n)] = 1;
                types[b, TensorIndex.Slice(n / 2 + 1, n)] = 1;
                segments[b, TensorIndex.Slice(n / 2 + 1, n)] = 1;
            }
            var batch = new Dictionary<string, Tensor>
                { ["input.input_ids"] = ids, ["input.attention_mask"] = mask, ["input.token_type_ids"] = types };
            if (withSegments) batch["input.segment_ids"] = segments;
            yield return batch;
        }
    }

    private static DenseTensor Ort(Tensor t) => new(t.data<long>().ToArray(), t.shape.Select(d => (int)d).ToArray());

    private static float MaxError(float[] onnx, Tensor expected, Tensor? real)
    {
        var actual = torch.tensor(onnx).reshape(expected.shape);
        var difference = (actual - expected).abs();
        if (real is not null) difference = difference[real];
        return difference.numel() == 0 ? 0 : difference.max().item<float>();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Onnx_runtime_gives_torchsharps_outputs_within_1e4(string name)
    {
        var (source, _, _) = HuggingFaceExportTests.Source(name, temp);
        var classifier = name.StartsWith("classifier_");
        var tagging = name.StartsWith("tagger_");
        var segmented = name.EndsWith("sentence_segments");
        var onnxPath = Path.Combine(temp, name + ".onnx");
        var args = new List<string> { "export", "onnx", "--model", source, "--out", onnxPath };
        if (segmented) args.Add("--segment-ids");
        var (exit, stdout, stderr) = ModelCommandTests.Run(args.ToArray());
        Assert.True(exit == 0, stderr + stdout);

        using var session = new InferenceSession(onnxPath);
        Assert.Equal(segmented ? 4 : 3, session.InputMetadata.Count);
        using var fine = classifier ? FineTunedModel.Load(source) : null;
        using var tagger = tagging ? TokenTagger.Load(source) : null;
        var sourceModel = classifier || tagging ? null : ModelSource.Open(source);
        using var mlm = sourceModel is null ? null : HuggingFaceImportTests.Load(sourceModel);
        var config = classifier ? fine!.Classifier.Config : tagging ? tagger!.Classifier!.Config : mlm!.Config;

        foreach (var batch in Batches(config.VocabSize, config.MaxPositionEmbeddings, segmented))
        {
            var feeds = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor("input_ids", Ort(batch["input.input_ids"])),
                NamedOnnxValue.CreateFromTensor("attention_mask", Ort(batch["input.attention_mask"])),
                NamedOnnxValue.CreateFromTensor("token_type_ids", Ort(batch["input.token_type_ids"])),
            };
            if (segmented) feeds.Add(NamedOnnxValue.CreateFromTensor("segment_ids", Ort(batch["input.segment_ids"])));
            using var results = session.Run(feeds);
            var hiddenOnnx = results.First(r => r.Name == "last_hidden_state").AsEnumerable<float>().ToArray();
            var logitsOnnx = results.First(r => r.Name == "logits").AsEnumerable<float>().ToArray();

            using var noGrad = torch.no_grad();
            var inputs = HuggingFaceExportTests.Inputs(batch);
            Tensor hidden, logits;
            if (classifier) (hidden, logits) = (fine!.Classifier.Encoder.forward(inputs), fine.Classifier.forward(inputs));
            else if (tagging) (hidden, logits) = (tagger!.Classifier!.Encoder.forward(inputs), tagger.Classifier!.forward(inputs));
            else (hidden, logits) = mlm!.Infer(inputs);
            var real = batch["input.attention_mask"].to_type(ScalarType.Bool);
            var shape = string.Join("×", batch["input.input_ids"].shape);
            Assert.True(MaxError(hiddenOnnx, hidden, real) < 1e-4,
                $"{name} {shape}: last_hidden_state differs by {MaxError(hiddenOnnx, hidden, real):E2}");
            Assert.True(MaxError(logitsOnnx, logits, classifier ? null : real) < 1e-4,
                $"{name} {shape}: logits differ by {MaxError(logitsOnnx, logits, classifier ? null : real):E2}");
        }
    }

    [Fact]
    public void A_head_the_model_lacks_is_refused()
    {
        var (source, _, _) = HuggingFaceExportTests.Source("bert_2l", temp);
        var (exit, _, stderr) = ModelCommandTests.Run("export", "onnx", "--model", source, "--out", Path.Combine(temp, "x.onnx"), "--head",
            "classifier");
        Assert.Equal(2, exit);   // a usage error: the flag does not fit the model
        Assert.Contains("not a classifier", stderr);
    }
}
