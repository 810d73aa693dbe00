using System.CommandLine;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert export hf</c>: a model out to Hugging Face's layout.</summary>
internal static class ExportCommand
{
    public static Command Build()
    {
        var model = new Option<DirectoryInfo>("--model") { Required = true, Description = "A pre-training run or checkpoint, a fine-tuned seed-N folder, or a Hugging Face model folder" };
        var output = new Option<DirectoryInfo>("--out") { Required = true, Description = "The Hugging Face folder to write" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace a non-empty --out" };
        var hf = new Command("hf", "Write a Hugging Face model folder: plain BERT for all-attention models, model_type hybridbert (trust_remote_code) otherwise")
        {
            model, output, overwrite,
        };
        hf.SetAction(parse => CliErrors.Run(() =>
        {
            var architecture = Interop.HuggingFaceExport.Run(parse.GetValue(model)!.FullName, parse.GetValue(output)!.FullName, parse.GetValue(overwrite));
            Console.WriteLine($"exported {parse.GetValue(model)!.FullName} as {architecture} -> {parse.GetValue(output)!.FullName}");
        }));
        return new Command("export", "Write models in other formats") { hf };
    }
}
