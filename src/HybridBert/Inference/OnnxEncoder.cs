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
    public const string HiddenOutput = "last_hidden_state";
    private static readonly string[] Outputs = [HiddenOutput];
    private readonly InferenceSession session;
    private readonly int hidden;

    /// <summary>Where the graph was read from (or written to), or null when built in memory.</summary>
    public string? GraphPath { get; }

    private OnnxEncoder(byte[] graph, int threads, string? path)
    {
        var model = ModelProto.Parser.ParseFrom(graph);
        var inputs = model.Graph.Input.Select(i => i.Name).ToList();
        string[] expected = ["input_ids", "attention_mask", "token_type_ids"];
        if (inputs.Except(expected).FirstOrDefault() is { } extra)
            throw new InvalidDataException($"{path ?? "the ONNX graph"}: it takes an input '{extra}' the runtime does not give " +
                "(exported with --segment-ids?): export the folder again without it, or delete the graph to have it exported anew");
        Interop.OnnxGraphs.KeepOutputs(model.Graph, HiddenOutput);
        var width = model.Graph.Output[0].Type.TensorType.Shape.Dim.LastOrDefault()?.DimValue ?? 0;
        hidden = (int)width;
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        // Idle threads sleep instead of spinning: on a 2-core machine spinning takes the cores the server's HTTP threads need
        // (bench serve, int8, 32 in flight: +7-14% requests/s without it; bench --mode onnx unchanged within noise).
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options);
        GraphPath = path;
    }

    /// <summary>A session on <paramref name="graph"/> (an ONNX model with our inputs and <c>last_hidden_state</c>).</summary>
    /// <param name="threads">ONNX Runtime's intra-op threads; 0 = as many as TorchSharp uses.</param>
    public static OnnxEncoder FromGraph(byte[] graph, int threads = 0, string? path = null) =>
        new(graph, threads > 0 ? threads : get_num_threads(), path);

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
    public Tensor Forward(EncoderInputs inputs)
    {
        var shape = new[] { (int)inputs.InputIds.shape[0], (int)inputs.InputIds.shape[1] };
        NamedOnnxValue Input(string name, Tensor t) =>
            NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(t.cpu().contiguous().data<long>().ToArray(), shape));
        var feeds = new[]
        {
            Input("input_ids", inputs.InputIds), Input("attention_mask", inputs.AttentionMask),
            Input("token_type_ids", inputs.TokenTypeIds ?? zeros_like(inputs.InputIds)),
        };
        using var results = session.Run(feeds, Outputs);
        var output = (DenseTensor<float>)results[0].Value;
        return tensor(output.Buffer.ToArray(), output.Dimensions.ToArray().Select(d => (long)d).ToArray());
    }

    public void Dispose() => session.Dispose();
}
