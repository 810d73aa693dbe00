using HybridBert.FineTuning;
using HybridBert.Model;
using HybridBert.Tests.Training;
using HybridBert.Training;

namespace HybridBert.Tests.FineTuning;

public sealed class FineTunerTests(TinyData data) : IClassFixture<TinyData>
{
    private string PretrainTiny()
    {
        var run = Path.Combine(data.Root, "pretrained");
        if (Checkpoint.List(run).Count > 0) return run;
        new Pretrainer(new PretrainOptions
        {
            DataDir = data.DataDir, RunDir = run, Model = Presets.Build("tiny", "hybrid", 8192) with { MaxPositionEmbeddings = 128 },
            BatchSize = 16, MaxSteps = 30, LearningRate = 2e-3, EvalEvery = 30, EvalBatches = 2, CheckpointEvery = 30, Threads = 2,
        }).Run();
        return run;
    }

    [Fact]
    public void A_tiny_pretrained_model_beats_the_majority_baseline_on_the_embedded_task_and_round_trips()
    {
        var outDir = Path.Combine(data.Root, "finetuned");
        var summary = new FineTuner(new FineTuneOptions
        {
            Task = new TaskSpec { Name = "sentiment-sentences", CacheRoot = data.Root }, OutDir = outDir, Checkpoint = PretrainTiny(),
            Epochs = 2, LearningRate = 1e-3, MaxLength = 64, Seeds = [1], Threads = 2,
        }).Run();

        var accuracy = summary.Dev["accuracy"].Mean;
        Assert.True(accuracy > summary.MajorityBaseline + 0.1, $"dev accuracy {accuracy:P1} vs majority {summary.MajorityBaseline:P1}");

        // The saved model predicts exactly what the tuned one scored.
        using var model = HybridBert.Inference.InferenceModel.Load(Path.Combine(outDir, "seed-1"));
        var task = TaskData.Load(new TaskSpec { Name = "sentiment-sentences", CacheRoot = data.Root });
        Assert.Equal(accuracy, FineTuner.Evaluate(model, task, task.Dev).Values["accuracy"], 10);
        Assert.True(File.Exists(Path.Combine(outDir, "results.json")));
    }

    [Fact]
    public void A_checkpoint_whose_vocabulary_does_not_match_its_model_is_refused()
    {
        var run = PretrainTiny();
        var copy = Path.Combine(data.Root, "broken-checkpoint");
        var source = Checkpoint.List(run)[0].Folder;
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)), true);
        File.WriteAllLines(Path.Combine(copy, Checkpoint.VocabFile), HuggingFaceVocabulary());

        var error = Assert.Throws<InvalidDataException>(() => new FineTuner(new FineTuneOptions
        {
            Task = new TaskSpec { Name = "sentiment-sentences", CacheRoot = data.Root }, OutDir = Path.Combine(data.Root, "x"), Checkpoint = copy,
        }).Run());
        Assert.Contains("vocab_size=8192", error.Message);
    }

    [Fact]
    public void A_regression_run_records_no_majority_baseline_as_null()
    {
        var train = Path.Combine(data.Root, "scores.tsv");
        File.WriteAllLines(train, ["text\tlabel", .. Enumerable.Range(0, 12).Select(i => $"the whale swam {i} miles\t{i * 0.25}")]);
        var outDir = Path.Combine(data.Root, "regression");
        new FineTuner(new FineTuneOptions
        {
            Task = new TaskSpec { Train = train, Dev = train, Regression = true }, OutDir = outDir, Checkpoint = PretrainTiny(),
            Epochs = 1, MaxLength = 32, Seeds = [1], Threads = 2, BatchSize = 4,
        }).Run();
        var json = File.ReadAllText(Path.Combine(outDir, "results.json"));
        Assert.Contains("\"majority_baseline\": null", json);   // a number or null, never the string "NaN"
        Assert.DoesNotContain("\"NaN\"", json.Split("\"seeds\"")[0]);
        Assert.Null(FineTuneResults.Read(Path.Combine(outDir, "results.json")).MajorityBaseline);
    }

    private static IEnumerable<string> HuggingFaceVocabulary() => Text.HuggingFaceOracle.BertBaseUncasedVocabulary().Tokens;
}
