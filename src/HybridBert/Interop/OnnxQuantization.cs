using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace HybridBert.Interop;

/// <summary>
/// Dynamic int8 quantization of an ONNX graph's linear layers, as ONNX Runtime's <c>quantize_dynamic</c> (per channel)
/// writes it: every <c>MatMul</c> by a constant weight becomes <c>DynamicQuantizeLinear</c> of the activations (uint8,
/// scale and zero point computed per call), <c>MatMulInteger</c> by the weight in int8 (symmetric, one scale per output
/// column, zero point 0), and a rescale in float. Standard ONNX operators only, so any runtime runs it; ONNX Runtime fuses
/// the pattern into its <c>DynamicQuantizeMatMul</c> kernel.
/// <para>Written by hand: ONNX Runtime's quantizer is Python, and no .NET library here rewrites graphs.</para>
/// </summary>
public static class OnnxQuantization
{
    /// <summary>The quantized graph's name in an ONNX model folder, where transformers.js and Optimum look for it.</summary>
    public const string FolderModel = "onnx/model_quantized.onnx";

    /// <summary>A copy of <paramref name="model"/> with every MatMul by a 2-D float constant (itself, or a transpose of
    /// one) quantized; the float weights no other node uses are dropped.</summary>
    public static ModelProto DynamicInt8(ModelProto model)
    {
        var result = model.Clone();
        var graph = result.Graph;
        var constants = graph.Initializer.ToDictionary(t => t.Name);
        var producers = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        var nodes = new List<NodeProto>();
        var quantized = 0;
        foreach (var node in graph.Node)
        {
            if (node.OpType != "MatMul" || Weight(node.Input[1], constants, producers) is not { } weight)
            {
                nodes.Add(node);
                continue;
            }
            var name = $"{node.Name}_int8";
            var (values, scales) = Quantize(weight.Values, weight.Rows, weight.Columns);
            graph.Initializer.Add(Int8(name + "_weight", values, weight.Rows, weight.Columns));
            graph.Initializer.Add(Floats(name + "_scale", scales));
            graph.Initializer.Add(new TensorProto
            {
                Name = name + "_zero", DataType = (int)TensorProto.Types.DataType.Int8, RawData = ByteString.CopyFrom(new byte[1]),
            });
            nodes.Add(Node("DynamicQuantizeLinear", [node.Input[0]], [name + "_a", name + "_a_scale", name + "_a_zero"]));
            nodes.Add(Node("MatMulInteger", [name + "_a", name + "_weight", name + "_a_zero", name + "_zero"], [name + "_int"]));
            nodes.Add(Node("Cast", [name + "_int"], [name + "_float"], new AttributeProto
            {
                Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorProto.Types.DataType.Float,
            }));
            nodes.Add(Node("Mul", [name + "_a_scale", name + "_scale"], [name + "_scales"]));
            nodes.Add(Node("Mul", [name + "_float", name + "_scales"], [node.Output[0]]));
            quantized++;
        }
        if (quantized == 0) throw new InvalidDataException("the graph has no MatMul by a constant weight to quantize");
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        OnnxGraphs.Prune(graph);
        result.DocString += $" (int8: {quantized} MatMuls quantized dynamically, per output column)";
        return result;
    }

    private sealed record ConstantWeight(float[] Values, int Rows, int Columns);

    /// <summary>The [K, N] values multiplying on the right when <paramref name="input"/> is a 2-D float constant or its
    /// transpose; else null.</summary>
    private static ConstantWeight? Weight(string input, Dictionary<string, TensorProto> constants, Dictionary<string, NodeProto> producers)
    {
        if (constants.TryGetValue(input, out var direct))
            return direct.Dims.Count == 2 && Floats(direct) is { } v ? new ConstantWeight(v, (int)direct.Dims[0], (int)direct.Dims[1]) : null;
        if (!producers.TryGetValue(input, out var node) || node.OpType != "Transpose" || !constants.TryGetValue(node.Input[0], out var t)
            || t.Dims.Count != 2 || Floats(t) is not { } values) return null;
        var perm = node.Attribute.FirstOrDefault(a => a.Name == "perm")?.Ints;
        if (perm is not null && !(perm.Count == 2 && perm[0] == 1 && perm[1] == 0)) return null;
        var (rows, columns) = ((int)t.Dims[0], (int)t.Dims[1]);   // stored [N, K]: the weight is its transpose
        var transposed = new float[values.Length];
        for (var n = 0; n < rows; n++)
            for (var k = 0; k < columns; k++) transposed[k * rows + n] = values[n * columns + k];
        return new ConstantWeight(transposed, columns, rows);
    }

    private static float[]? Floats(TensorProto t)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float) return null;
        return t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : t.FloatData.ToArray();
    }

    /// <summary>Symmetric int8 per column of a [rows, columns] matrix: scale = max |w| / 127 (1 for an all-zero column).</summary>
    internal static (sbyte[] Values, float[] Scales) Quantize(float[] weight, int rows, int columns)
    {
        var scales = new float[columns];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++) scales[c] = Math.Max(scales[c], Math.Abs(weight[r * columns + c]));
        for (var c = 0; c < columns; c++) scales[c] = scales[c] > 0 ? scales[c] / 127 : 1;
        var values = new sbyte[weight.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++)
                values[r * columns + c] = (sbyte)Math.Clamp(MathF.Round(weight[r * columns + c] / scales[c], MidpointRounding.ToEven), -127, 127);
        return (values, scales);
    }

    private static TensorProto Int8(string name, sbyte[] values, int rows, int columns)
    {
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int8,
            RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        proto.Dims.Add(rows);
        proto.Dims.Add(columns);
        return proto;
    }

    private static TensorProto Floats(string name, float[] values)
    {
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float,
            RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        proto.Dims.Add(values.Length);
        return proto;
    }

    private static NodeProto Node(string type, string[] inputs, string[] outputs, AttributeProto? attribute = null)
    {
        var node = new NodeProto { OpType = type, Name = outputs[0] + "_node" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        if (attribute is not null) node.Attribute.Add(attribute);
        return node;
    }
}

/// <summary>Edits of a graph's structure shared by the quantizer and the ONNX runtime.</summary>
public static class OnnxGraphs
{
    /// <summary>Keeps only the outputs named <paramref name="outputs"/> (in the graph's order) and what computes them.</summary>
    public static void KeepOutputs(GraphProto graph, params string[] outputs)
    {
        var missing = outputs.Where(o => graph.Output.All(g => g.Name != o)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"the ONNX graph has no output {string.Join(", ", missing)} " +
                                           $"(it has {string.Join(", ", graph.Output.Select(o => o.Name))})");
        var kept = graph.Output.Where(o => outputs.Contains(o.Name)).ToList();
        graph.Output.Clear();
        graph.Output.AddRange(kept);
        Prune(graph);
    }

    /// <summary>Drops the nodes whose outputs no graph output needs, then the constants no node reads.</summary>
    public static void Prune(GraphProto graph)
    {
        var needed = new HashSet<string>(graph.Output.Select(o => o.Name));
        var kept = new List<NodeProto>();
        foreach (var node in graph.Node.Reverse())   // ONNX nodes are in topological order
        {
            if (!node.Output.Any(needed.Contains)) continue;
            kept.Add(node);
            foreach (var input in node.Input) needed.Add(input);
        }
        kept.Reverse();
        graph.Node.Clear();
        graph.Node.AddRange(kept);
        var unused = graph.Initializer.Where(t => !needed.Contains(t.Name)).ToList();
        foreach (var t in unused) graph.Initializer.Remove(t);
    }
}
