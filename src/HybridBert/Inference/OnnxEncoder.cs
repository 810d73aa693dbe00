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
        session = Session(model, threads);
    }

    /// <summary>An ONNX Runtime session on <paramref name="model"/> as every ONNX path here runs one (the encoder, <c>bench
    /// gemm</c>): CPU, <paramref name="threads"/> intra-op threads, all graph optimizations, sequential.</summary>
    internal static InferenceSession Session(ModelProto model, int threads)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        // Idle threads sleep instead of spinning: on a 2-core machine spinning takes the cores the server's HTTP threads need
        // (bench serve, int8, 32 in flight: +7-14% requests/s without it; bench --mode onnx unchanged within noise).
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options);
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
    /// <remarks>ONNX Runtime reads the ids from the tensors' own memory and writes the outputs into tensors made for
    /// them (the outputs' shapes follow from the inputs' and the graph's): no copies and no managed arrays, which at
    /// 16 × 128 tokens were a 2 MiB large-object allocation and two copies per batch. A graph whose output widths are not
    /// fixed has its outputs copied once.</remarks>
    public (Tensor Hidden, Tensor? Logits) ForwardWithLogits(EncoderInputs inputs)
    {
        long batch = inputs.InputIds.shape[0], seq = inputs.InputIds.shape[1];
        using var scope = NewDisposeScope();
        var ids = new[] { inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds ?? zeros_like(inputs.InputIds) }
            .Select(t => t.cpu().to_type(ScalarType.Int64).contiguous()).ToArray();
        using var run = new RunOptions();
        var feeds = new List<OrtValue>();
        var written = new List<OrtValue>();
        try
        {
            foreach (var t in ids) feeds.Add(InPlace<long>(t, TensorElementType.Int64));
            long[]? logitsShape = outputs.Length == 1 || LogitsWidth <= 0 ? null
                : Head == Interop.OnnxHead.Classifier ? [batch, LogitsWidth] : [batch, seq, LogitsWidth];
            Tensor[] results;
            if (hidden > 0 && (outputs.Length == 1 || logitsShape is not null))
            {
                results = outputs.Length == 1 ? [empty(batch, seq, hidden)] : [empty(batch, seq, hidden), empty(logitsShape!)];
                foreach (var t in results) written.Add(InPlace<float>(t, TensorElementType.Float));
                session.Run(run, InputNames, feeds, outputs, written);
            }
            else
            {
                using var values = session.Run(run, InputNames, feeds, outputs);
                results = values.Select(v =>
                {
                    var t = empty(v.GetTensorTypeAndShape().Shape);
                    v.GetTensorDataAsSpan<float>().CopyTo(Span(t));
                    return t;
                }).ToArray();
            }
            return (results[0].MoveToOuterDisposeScope(), results.Length > 1 ? results[1].MoveToOuterDisposeScope() : null);
        }
        finally
        {
            foreach (var v in feeds.Concat(written)) v.Dispose();
        }
    }

    private static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];

    /// <summary>An ONNX Runtime view of a contiguous CPU tensor's memory (elements of type <typeparamref name="T"/>).</summary>
    internal static unsafe OrtValue InPlace<T>(Tensor t, TensorElementType type) where T : unmanaged =>
        OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, t.shape, (IntPtr)Pointer<T>(t), t.numel() * sizeof(T));

    private static unsafe T* Pointer<T>(Tensor t) where T : unmanaged => (T*)t.storage<T>().data_ptr() + t.storage_offset();

    private static unsafe Span<float> Span(Tensor t) => new(Pointer<float>(t), checked((int)t.numel()));

    public void Dispose() => session.Dispose();
}
