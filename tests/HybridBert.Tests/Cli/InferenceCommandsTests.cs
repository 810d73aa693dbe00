using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using HybridBert.Inference;
using HybridBert.Tests.Interop;

namespace HybridBert.Tests.Cli;

/// <summary><c>fill-mask</c> and <c>embed</c> from the command line, against the library they call.</summary>
[Collection("Console")]
public sealed class InferenceCommandsTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-infer-cli-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    private static readonly string Mlm = HuggingFaceImportTests.Folder("bert-mlm-safetensors");

    [Fact]
    public void Fill_mask_prints_the_pipelines_output()
    {
        var (exit, stdout, stderr) = ModelCommandTests.Run("fill-mask", "--model", Mlm, "--top-k", "3", "--json", "the cat [MASK] on the mat.");
        Assert.True(exit == 0, stderr);
        var candidates = JsonNode.Parse(stdout.Trim())!.AsArray();
        using var model = InferenceModel.Load(Mlm);
        var expected = new FillMask(model).Predict(["the cat [MASK] on the mat."], 3)[0][0];
        Assert.Equal(expected.Select(c => c.Token), candidates.Select(c => c!["token"]!.GetValue<int>()));
        Assert.Equal(expected[0].Sequence, candidates[0]!["sequence"]!.GetValue<string>());
    }

    [Fact]
    public void Fill_mask_without_a_mask_or_an_mlm_head_is_one_clear_error()
    {
        var (exit, _, stderr) = ModelCommandTests.Run("fill-mask", "--model", Mlm, "no mask here");
        Assert.Equal(1, exit);
        Assert.Contains("has no [MASK]", stderr);
        (exit, _, stderr) = ModelCommandTests.Run("fill-mask", "--model", HuggingFaceImportTests.Folder("bert-classifier"), "a [MASK]");
        Assert.Equal(1, exit);
        Assert.Contains("has no MLM head", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void Embed_writes_npy_and_jsonl_equal_to_the_library()
    {
        var input = Path.Combine(temp, "texts.txt");
        File.WriteAllText(input, "the cat sat on the mat.\n\na dog ran\nthe night\n");
        using var model = InferenceModel.Load(Mlm);
        var expected = new Embedder(model).Embed(["the cat sat on the mat.", "a dog ran", "the night"]);

        var npy = Path.Combine(temp, "v.npy");
        var (exit, stdout, stderr) = ModelCommandTests.Run("embed", "--model", Mlm, "--input", input, "--out", npy, "--chunk", "2");
        Assert.True(exit == 0, stderr);
        Assert.Contains("3 vectors of 32", stdout);
        var bytes = File.ReadAllBytes(npy);
        var headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Contains("'shape': (3, 32)", Encoding.ASCII.GetString(bytes, 10, headerLength));
        var values = new float[3 * 32];
        Buffer.BlockCopy(bytes, 10 + headerLength, values, 0, values.Length * 4);
        Assert.Equal(expected.SelectMany(v => v), values);

        var jsonl = Path.Combine(temp, "v.jsonl");
        (exit, _, stderr) = ModelCommandTests.Run("embed", "--model", Mlm, "--input", input, "--out", jsonl);
        Assert.True(exit == 0, stderr);
        var lines = File.ReadAllLines(jsonl).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal([1, 3, 4], lines.Select(l => l["line"]!.GetValue<int>()));
        Assert.Equal(expected[2], lines[2]["embedding"]!.AsArray().Select(x => x!.GetValue<float>()));
    }

    [Fact]
    public void Embed_names_the_line_of_a_text_that_is_too_long_and_leaves_no_file()
    {
        var input = Path.Combine(temp, "long.txt");
        File.WriteAllLines(input, ["short", string.Join(' ', Enumerable.Repeat("cat", 60))]);
        var output = Path.Combine(temp, "v.npy");
        var (exit, _, stderr) = ModelCommandTests.Run("embed", "--model", Mlm, "--input", input, "--out", output);
        Assert.Equal(1, exit);
        Assert.Contains("long.txt:2: the text is 62 tokens long, more than the model's maximum of 40 — give --truncate to cut it", stderr);
        Assert.DoesNotContain("truncate: true", stderr);   // the server's field, not this command's flag
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(temp, "*.tmp*"));
        (exit, _, stderr) = ModelCommandTests.Run("embed", "--model", Mlm, "--input", input, "--out", output, "--truncate");
        Assert.True(exit == 0, stderr);
    }

    [Fact]
    public void Predict_reads_a_txt_file_as_one_text_per_line_and_says_which_texts_it_cut()
    {
        var classifier = HuggingFaceImportTests.Folder("bert-classifier");
        var input = Path.Combine(temp, "texts.txt");
        File.WriteAllLines(input, ["a good movie", string.Join(' ', Enumerable.Repeat("cat", 60)), "", "a bad film"]);
        var output = Path.Combine(temp, "p.jsonl");
        var (exit, _, stderr) = ModelCommandTests.Run("predict", "--model", classifier, "--input", input, "--out", output);
        Assert.True(exit == 0, stderr);
        var lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal([1, 2, 4], lines.Select(l => l["line"]!.GetValue<int>()));   // one text per line, the empty one skipped
        Assert.Equal("a good movie", lines[0]["text"]!.GetValue<string>());
        Assert.Contains("warning: 1 text longer than the model's maximum of 40 tokens was cut to fit (the first: " + input + ":2)", stderr);

        (exit, _, stderr) = ModelCommandTests.Run("predict", "--model", classifier, "--input", input, "--out", Path.Combine(temp, "p.txt"));
        Assert.Equal(2, exit);
        Assert.Contains("--out must end in .jsonl or .csv", stderr);
        (exit, _, stderr) = ModelCommandTests.Run("predict", "--model", classifier, "--input", input, "--id", "review_id");
        Assert.Equal(1, exit);
        Assert.Contains("texts.txt: a .txt file holds one text per line and no columns, so it has no id column 'review_id'", stderr);
    }
}
