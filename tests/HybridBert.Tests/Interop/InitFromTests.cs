using HybridBert.Data;
using HybridBert.FineTuning;
using HybridBert.Interop;
using HybridBert.Tests.Cli;
using HybridBert.Text;
using HybridBert.Training;

namespace HybridBert.Tests.Interop;

/// <summary>A downloaded (Hugging Face) model trained further: pre-training and fine-tuning start from its weights.</summary>
[Collection("Console")]
public sealed class InitFromTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-init-from-").FullName;
    public void Dispose() => Directory.Delete(root, recursive: true);

    private static readonly string Model = HuggingFaceImportTests.Folder("bert-mlm-safetensors");

    /// <summary>A small corpus prepared with the model's own vocabulary.</summary>
    private string Data(Vocabulary vocabulary)
    {
        var corpus = Path.Combine(root, "corpus.txt");
        var sentences = new[] { "The cat sat on the mat.", "The dog was very good.", "A big red city is not small.",
            "Paris is the capital of France." };
        File.WriteAllLines(corpus,
            Enumerable.Range(0, 60).Select(i => i % 5 == 4 ? "" : string.Join(' ', Enumerable.Range(0, 4).Select(k => sentences[(i + k) % 4]))));
        var dir = Path.Combine(root, "data");
        DataPreparation.Run(CorpusSource.Resolve([corpus]), vocabulary, dir, new PrepareOptions { SeqLen = 32, ValidationFraction = 0.2 });
        return dir;
    }

    private PretrainOptions Options(string dataDir, string run) => new()
    {
        DataDir = dataDir, RunDir = Path.Combine(root, run), Model = AnyPreset, InitFrom = Model,
        BatchSize = 4, MaxSteps = 1, LearningRate = 1e-9, WarmupSteps = 0, EvalEvery = 1, CheckpointEvery = 1, Threads = 2, Dropout = 0,
    };

    private static readonly HybridBert.Model.EncoderConfig AnyPreset = HybridBert.Model.Presets.Tiny;   // replaced by the model's own config

    [Fact]
    public void Pretraining_continues_from_a_hugging_face_folder_with_its_architecture_and_weights()
    {
        var source = ModelSource.Open(Model);
        var options = Options(Data(source.Vocabulary), "run");
        var messages = new List<string>();

        new Pretrainer(options, log: messages.Add).Run();

        Assert.Contains(messages, m => m.Contains("initialized from AAA"));
        var checkpoint = ModelSource.Open(options.RunDir);
        Assert.Equal(ModelSourceKind.Checkpoint, checkpoint.Kind);
        Assert.Equal("AAA", checkpoint.Config.LayerPattern);
        Assert.Equal(source.Config.HiddenSize, checkpoint.Config.HiddenSize);
        // One step at lr 1e-9: the weights are the model's, not a random initialization.
        var original = source.ReadWeights();
        var trained = checkpoint.ReadWeights();
        foreach (var (name, tensor) in trained)
        {
            var hfName = name.StartsWith("cls.") ? name : "bert." + name;
            Assert.True(original.ContainsKey(hfName), name);
            Assert.True((tensor - original[hfName]).abs().max().item<float>() < 1e-5, $"{name} moved away from the model's weights");
        }
    }

    [Fact]
    public void Pretraining_from_a_model_on_data_of_another_vocabulary_is_refused_with_the_fix()
    {
        var other = Path.Combine(root, "other-data");
        var corpus = Path.Combine(root, "other.txt");
        File.WriteAllLines(corpus,
            Enumerable.Range(0, 40).Select(i => i % 5 == 4 ? "" : "Call me Ishmael. Some years ago, never mind how long precisely."));
        DataPreparation.Run(CorpusSource.Resolve([corpus]), EmbeddedData.Vocabulary(), other,
            new PrepareOptions { SeqLen = 32, ValidationFraction = 0.2 });

        var error = Assert.Throws<InvalidDataException>(() => new Pretrainer(Options(other, "refused")).Run());

        Assert.Contains("is not the one", error.Message);
        Assert.Contains("data prepare --vocab", error.Message);
    }

    [Fact]
    public void Fine_tuning_starts_from_a_hugging_face_folder()
    {
        var train = Path.Combine(root, "train.tsv");
        var lines =
            new[] { "sentence\tlabel" }.Concat(Enumerable.Range(0,
            24).Select(i => i % 2 == 0 ? "the movie was very good\t1" : "the film was bad\t0"));
        File.WriteAllLines(train, lines);
        File.WriteAllLines(Path.Combine(root, "dev.tsv"), lines.Take(9));

        var (exit, stdout, stderr) = ModelCommandTests.Run("finetune", "--checkpoint", Model, "--train", train, "--dev",
            Path.Combine(root, "dev.tsv"),
            "--text", "sentence", "--label", "label", "--epochs", "1", "--batch", "8", "--out", Path.Combine(root, "ft"), "--threads", "2");

        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("AAA from", stdout);
        using var model = FineTunedModel.Load(Path.Combine(root, "ft", "seed-1"));
        Assert.Equal(3, model.Classifier.Config.NumHiddenLayers);
    }
}
