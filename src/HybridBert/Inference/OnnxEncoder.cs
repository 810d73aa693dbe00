using HybridBert.Model;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace HybridBert.Inference;

/// <summary>Which engine runs a model's encoder at inference.</summary>
public enum InferenceRuntime
{
    /// <summary>TorchSharp (libtorch): every device, fp32 or the model's own precision.</summary>
    Torch,
    /// <summary>ONNX Runtime's CPU provider on the model's exported graph (<see cref="Interop.OnnxExport"/>), fp32 or int8
    /// (<see cref="Interop.OnnxQuantization"/>).</summary>
    Onnx,
}

/// <summary>
/// The encoder as ONNX Runtime runs it: the exported graph cut to its <c>last_hidden_state</c> (the heads stay in
/// TorchSharp, small beside the encoder, so every task's head is computed one way whichever runtime ran the encoder).
/// The one place ONNX Runtime sessions are configured, for the inference core and <c>bench</c>.
/// </summary>
public sealed class OnnxEncoder : IDisposable
{
    public const string HiddenOutput = "last_hidden_state", LogitsOutput = "logits";
    private readonly string[] outputs;
    private readonly InferenceSession session;
    private readonly int hidden;

    /// <summary>What the graph's <c>logits</c> are, when they are kept (<see cref="FromGraph"/>); None otherwise.</summary>
    public Interop.OnnxHead Head { get; }
    /// <summary>The kept logits' last dimension (labels, tags or the vocabulary); 0 without.</summary>
    public long LogitsWidth { get; }

    private OnnxEncoder(byte[] graph, int threads, string? path, bool keepLogits, int vocabSize)
    {
        var model = ModelProto.Parser.ParseFrom(graph);
        var inputs = model.Graph.Input.Select(i => i.Name).ToList();
        string[] expected = ["input_ids", "attention_mask", "token_type_ids"];
        if (inputs.Except(expected).FirstOrDefault() is { } extra)
            throw new InvalidDataException($"{path ?? "the ONNX graph"}: it takes an input '{extra}' the runtime does not give " +
                "(exported with --segment-ids?): export the folder again without it, or delete the graph to have it exported anew");
        var logits = keepLogits ? model.Graph.Output.FirstOrDefault(o => o.Name == LogitsOutput) : null;
        outputs = logits is null ? [HiddenOutput] : [HiddenOutput, LogitsOutput];
        if (logits is not null)
        {
            var dims = logits.Type.TensorType.Shape.Dim;
            LogitsWidth = dims.LastOrDefault()?.DimValue ?? 0;
            Head = dims.Count == 2 ? Interop.OnnxHead.Classifier
                : LogitsWidth == vocabSize ? Interop.OnnxHead.Mlm : Interop.OnnxHead.Token;
        }
        Interop.OnnxGraphs.KeepOutputs(model.Graph, outputs);
        hidden = (int)(model.Graph.Output.First(o => o.Name == HiddenOutput).Type.TensorType.Shape.Dim.LastOrDefault()?.DimValue ?? 0);
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        // Idle threads sleep instead of spinning: on a 2-core machine spinning takes the cores the server's HTTP threads need
        // (bench serve, int8, 32 in flight: +7-14% requests/s without it; bench --mode onnx unchanged within noise).
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options);
    }

    /// <summary>A session on <paramref name="graph"/> (an ONNX model with our inputs and <c>last_hidden_state</c>).</summary>
    /// <param name="threads">ONNX Runtime's intra-op threads; 0 = as many as TorchSharp uses.</param>
    /// <param name="keepLogits">Also run the graph's head, when it has one (<c>logits</c>: an ONNX model folder has no
    /// other weights for it); <paramref name="vocabSize"/> tells an MLM head from a token classifier's.</param>
    public static OnnxEncoder FromGraph(byte[] graph, int threads = 0, string? path = null, bool keepLogits = false, int vocabSize = 0) =>
        new(graph, threads > 0 ? threads : get_num_threads(), path, keepLogits, vocabSize);

    /// <summary>The graph of the model in <paramref name="source"/>'s folder (exported there first when absent).</summary>
    public static OnnxEncoder ForModel(Interop.ModelSource source, bool quantized, int expectedHidden)
    {
        var (graph, path) = Interop.OnnxExport.ForFolder(source, quantized);
        var encoder = FromGraph(graph, 0, path);
        if (encoder.hidden != 0 && encoder.hidden != expectedHidden)
        {
            encoder.Dispose();
            throw new InvalidDataException($"{path}: its last_hidden_state is {encoder.hidden} wide, the model's hidden size is {expectedHidden}: " +
                "the graph is another model's; delete it to have it exported anew");
        }
        return encoder;
    }

    /// <summary>The last hidden state [batch, seq, hidden] of <paramref name="inputs"/>, as a CPU tensor.</summary>
    public Tensor Forward(EncoderInputs inputs) => ForwardWithLogits(inputs).Hidden;

    /// <summary>The last hidden state and, when kept, the head's logits (else null), as CPU tensors.</summary>
    public (Tensor Hidden, Tensor? Logits) ForwardWithLogits(EncoderInputs inputs)
    {
        var shape = new[] { (int)inputs.InputIds.shape[0], (int)inputs.InputIds.shape[1] };
        NamedOnnxValue Input(string name, Tensor t) =>
            NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(t.cpu().contiguous().data<long>().ToArray(), shape));
        var feeds = new[]
        {
            Input("input_ids", inputs.InputIds), Input("attention_mask", inputs.AttentionMask),
            Input("token_type_ids", inputs.TokenTypeIds ?? zeros_like(inputs.InputIds)),
        };
        using var results = session.Run(feeds, outputs);
        Tensor Torch(int i)
        {
            var output = (DenseTensor<float>)results[i].Value;
            return tensor(output.Buffer.ToArray(), output.Dimensions.ToArray().Select(d => (long)d).ToArray());
        }
        return (Torch(0), outputs.Length > 1 ? Torch(1) : null);
    }

    public void Dispose() => session.Dispose();
}
