using HybridBert.Interop;
using HybridBert.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace HybridBert.Tests.Examples;

/// <summary>The README's ONNX Runtime example is this code, line for line (checked), and it runs on a Hugging Face fixture folder.</summary>
[Collection("Console")]
public sealed class OnnxReadmeExampleTests
{
    private static void Example()
    {
        // README:begin
        var modelFolder = Path.Combine(Path.GetTempPath(), "my-bert");   // a Hugging Face BERT folder, a run or a fine-tuned model
        var onnxFile = Path.Combine(Directory.CreateTempSubdirectory("my-bert-onnx-").FullName, "model.onnx");
        OnnxExport.Run(modelFolder, onnxFile, OnnxHead.None);   // once; from here on only ONNX Runtime and the tokenizer

        var tokenizer = new BertTokenizer(Vocabulary.Load(Path.Combine(modelFolder, "vocab.txt")));
        var encoded = tokenizer.Encode("The cat sat on the mat.", maxLength: 128);
        int[] shape = [1, encoded.Length];
        DenseTensor<long> Ids(int[] values) => new(values.Select(v => (long)v).ToArray(), shape);
        using var session = new InferenceSession(onnxFile);
        using var results = session.Run([
            NamedOnnxValue.CreateFromTensor("input_ids", Ids(encoded.InputIds)),
            NamedOnnxValue.CreateFromTensor("attention_mask", Ids(encoded.AttentionMask)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", Ids(encoded.TokenTypeIds)),
        ]);
        var hidden = results.First(r => r.Name == "last_hidden_state").AsTensor<float>();
        Console.WriteLine(string.Join(" × ", hidden.Dimensions.ToArray()));   // 1 × 9 × hidden size
        // README:end
    }

    [Fact]
    public void The_readme_example_is_this_code() =>
        ReadmeExampleTests.AssertReadmeBlockIs("using Microsoft.ML.OnnxRuntime;",
            Path.Combine("tests", "HybridBert.Tests", "Examples", "OnnxReadmeExampleTests.cs"));

    [Fact]
    public void The_readme_example_runs()
    {
        var folder = Path.Combine(Path.GetTempPath(), "my-bert");
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(Interop.HuggingFaceImportTests.Folder("bert-mlm-safetensors")))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        var before = Directory.GetDirectories(Path.GetTempPath(), "my-bert-onnx-*").ToHashSet();
        string output;
        try
        {
            output = ReadmeExampleTests.Printed(Example);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
            foreach (var made in Directory.GetDirectories(Path.GetTempPath(), "my-bert-onnx-*").Where(d => !before.Contains(d)))
                Directory.Delete(made, recursive: true);
        }
        Assert.Equal("1 × 9 × 32", output.Trim());   // [CLS] the cat sat on the mat . [SEP]
    }
}
