using HybridBert.Data;
using HybridBert.Interop;
using HybridBert.Model;
using HybridBert.Text;
using HybridBert.Training;
using TorchSharp;

namespace HybridBert.Tests.Examples;

/// <summary>The README's "Use it from C#" example is this code, line for line (checked), and it runs.</summary>
[Collection("Console")]   // it swaps Console.Out, as the CLI tests do
public sealed class ReadmeExampleTests
{
    private static void Example()
    {
        // README:begin
        var work = Directory.CreateTempSubdirectory("hybridbert-example-").FullName;   // a fresh folder for the data and the run

        // Tokenize as Hugging Face's BERT tokenizer does, with the embedded 8,192-token vocabulary.
        var vocabulary = EmbeddedData.Vocabulary();
        var tokenizer = new BertTokenizer(vocabulary);
        var encoded = tokenizer.Encode("Call me Ishmael.", maxLength: 32);
        Console.WriteLine(string.Join(' ', encoded.InputIds));

        // Prepare the embedded corpus, then pre-train a tiny HybridBERT (pooling below, attention above).
        var data = Path.Combine(work, "data");
        DataPreparation.Run(CorpusSource.Default(), vocabulary, data, new PrepareOptions { SeqLen = 64 });
        var options = new PretrainOptions
        {
            DataDir = data, RunDir = Path.Combine(work, "run"), Model = Presets.Build("tiny", "hybrid", vocabulary.Count),
            MaxSteps = 30, BatchSize = 16, LearningRate = 2e-3, Precision = Precision.Bf16, Seed = 1,
        };
        var summary = new Pretrainer(options).Run();
        Console.WriteLine($"validation MLM loss {summary.FinalEval!.MlmLoss:F3} after {summary.Steps} steps");

        // Load the checkpoint and run the encoder: the last hidden state is [batch, tokens, hidden].
        var config = EncoderConfig.Load(Path.Combine(summary.LastCheckpoint, Checkpoint.ConfigFile));
        using var model = new HybridBertModel(config);
        WeightLoader.Load(model, Path.Combine(summary.LastCheckpoint, Checkpoint.WeightsFile));
        model.eval();
        using var noGrad = torch.no_grad();
        var hidden = model.forward(Batches.Inputs([encoded], vocabulary.PadId));
        Console.WriteLine(string.Join(" × ", hidden.shape));
        // README:end
    }

    private static string RepoFile(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, name)) &&
                File.Exists(Path.Combine(dir.FullName, "HybridBert.slnx"))) return Path.Combine(dir.FullName, name);
        throw new FileNotFoundException($"{name} not found above {AppContext.BaseDirectory}");
    }

    private static List<string> Statements(IEnumerable<string> lines) =>
        lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("using ", StringComparison.Ordinal) ||
            l.StartsWith("using var", StringComparison.Ordinal)).ToList();

    [Fact]
    public void The_readme_example_is_this_code() =>
        AssertReadmeBlockIs("using HybridBert.Training;", Path.Combine("tests", "HybridBert.Tests", "Examples", "ReadmeExampleTests.cs"));

    /// <summary>The README's ```csharp block that contains <paramref name="marker"/> equals the lines between
    /// <c>// README:begin</c> and <c>// README:end</c> of <paramref name="sourceFile"/>, with the same using lines.</summary>
    internal static void AssertReadmeBlockIs(string marker, string sourceFile)
    {
        var readme = File.ReadAllLines(RepoFile("README.md"));
        List<string>? block = null;
        for (var i = 0; i < readme.Length && block is null; i++)
            if (readme[i].Trim() == "```csharp")
            {
                var candidate = readme.Skip(i + 1).TakeWhile(l => l.Trim() != "```").ToList();
                if (candidate.Any(l => l.Trim() == marker)) block = candidate;
            }
        Assert.True(block is not null, $"README.md has no ```csharp block with '{marker}'");

        var source = File.ReadAllLines(RepoFile(sourceFile));
        var begin = Array.FindIndex(source, l => l.Trim() == "// README:begin");
        var end = Array.FindIndex(source, l => l.Trim() == "// README:end");
        Assert.Equal(Statements(source[(begin + 1)..end]), Statements(block!));
        // …and the README's using lines are the ones this file needs.
        Assert.Equal(source.Where(l => l.StartsWith("using ", StringComparison.Ordinal)).Order(),
            block!.Where(l => l.StartsWith("using ", StringComparison.Ordinal) && !l.StartsWith("using var", StringComparison.Ordinal)).Order());
    }

    /// <summary>What <paramref name="example"/> writes to the console.</summary>
    internal static string Printed(Action example)
    {
        var saved = Console.Out;
        var output = new StringWriter();
        try
        {
            Console.SetOut(output);
            example();
        }
        finally
        {
            Console.SetOut(saved);
        }
        return output.ToString();
    }

    [Fact]
    public void The_readme_example_runs()
    {
        var before = Directory.GetDirectories(Path.GetTempPath(), "hybridbert-example-*").ToHashSet();
        string output;
        try
        {
            output = ReadmeExampleTests.Printed(Example);
        }
        finally
        {
            foreach (var work in Directory.GetDirectories(Path.GetTempPath(), "hybridbert-example-*").Where(d => !before.Contains(d)))
                Directory.Delete(work, recursive: true);
        }
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var vocabulary = EmbeddedData.Vocabulary();
        var ids = lines[0].Split(' ').Select(int.Parse).ToList();
        Assert.Equal(vocabulary.ClsId, ids[0]);
        Assert.Equal(vocabulary.SepId, ids[^1]);
        Assert.Matches(@"^validation MLM loss \d+\.\d{3} after 30 steps$", lines[1]);
        Assert.Equal($"1 × {ids.Count} × 64", lines[2]);
    }
}
