using System.CommandLine;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert export hf|onnx</c>: a model out to Hugging Face's layout or to ONNX.</summary>
internal static class ExportCommand
{
    public static Command Build()
    {
        var model = new Option<string>("--model") { Required = true,
            Description = "The model: " + CommonOptions.ModelHelp };
        var output = new Option<DirectoryInfo>("--out") { Required = true, Description = "The Hugging Face folder to write" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace a non-empty --out" };
        var hf = new Command("hf",
            "Write a Hugging Face model folder: plain BERT for all-attention models, model_type hybridbert (trust_remote_code) otherwise")
        {
            model, output, overwrite,
        };
        hf.SetAction(parse => CliErrors.Run(() =>
        {
            var architecture = Interop.HuggingFaceExport.Run(parse.GetValue(model)!.ModelPath(), parse.GetValue(output)!.FullName,
                parse.GetValue(overwrite));
            Console.WriteLine($"exported {parse.GetValue(model)!.ModelPath()} as {architecture} -> {parse.GetValue(output)!.FullName}");
        }));
        var onnxModel = new Option<string>("--model") { Required = true,
            Description = "The model: " + CommonOptions.ModelHelp };
        var onnxOut = new Option<FileInfo>("--out") { Required = true,
            Description =
                "A .onnx file for the graph alone, or a folder: the ONNX model folder transformers.js and Optimum load (config.json, " +
                "tokenizer files, onnx/model.onnx)" };
        var head = new Option<string?>("--head") { Description =
            "none, mlm, classifier or token [default: the model's own: token for a token classifier, classifier for other fine-tuned " +
                "models, else mlm]" };
        var segmentIds =
            new Option<bool>("--segment-ids") { Description =
            "Add a segment_ids input (explicit sentence segments for pooling layers; default: from [CLS]/[SEP])" };
        var onnxOverwrite = new Option<bool>("--overwrite") { Description = "Replace an existing --out file" };
        var quantize = new Option<string>("--quantize")
        {
            Description = $"int8: also write {Interop.OnnxQuantization.FolderModel} (dynamic quantization: int8 weights per output column, " +
                          "activations quantized on the fly), which --runtime onnx --quantized runs; a model folder only",
            DefaultValueFactory = _ => "none", HelpName = "none|int8",
        };
        quantize.AcceptOnlyFromAmong("none", "int8");
        var onnx = new Command("onnx", $"Write an ONNX graph (opset {Interop.OnnxExport.Opset}; dynamic batch and sequence axes) for ONNX Runtime")
        {
            onnxModel, onnxOut, head, segmentIds, onnxOverwrite, quantize,
        };
        onnx.SetAction(parse => CliErrors.Run(() =>
        {
            var chosen = parse.GetValue(head) is { } h ? CommonOptions.Parse<Interop.OnnxHead>(h) : (Interop.OnnxHead?)null;
            var written = Interop.OnnxExport.Run(parse.GetValue(onnxModel)!.ModelPath(), parse.GetValue(onnxOut)!.FullName, chosen,
                parse.GetValue(segmentIds), parse.GetValue(onnxOverwrite), quantize: parse.GetValue(quantize) == "int8");
            Console.WriteLine($"exported {parse.GetValue(onnxModel)!.ModelPath()} with head {written.ToString().ToLowerInvariant()} -> " +
                $"{parse.GetValue(onnxOut)!.FullName}");
        }));
        return new Command("export", "Write models in other formats") { hf, onnx };
    }
}
