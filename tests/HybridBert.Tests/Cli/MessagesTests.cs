using System.Text.Json;
using HybridBert.Benchmarks;
using HybridBert.Tests.Benchmarks;
using HybridBert.Tests.Interop;
using HybridBert.Tests.Training;

namespace HybridBert.Tests.Cli;

/// <summary>
/// What a new user met in messages: libtorch's "in beta" warning ahead of our own, corpora whose text field is
/// elsewhere, the wrong kind of model folder, a fine-tuning's output folder taken as its model, configs read with their
/// folder, a batch larger than the data.
/// </summary>
[Collection("Console")]
public sealed class MessagesTests(TinyData data) : IClassFixture<TinyData>, IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-messages-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => ModelCommandTests.Run(args);

    private string Pretrained(string name, string pattern)
    {
        var run = Path.Combine(root, name);
        var r = Run("pretrain", "--data", data.DataDir, "--out", run, "--preset", "tiny", "--pattern", pattern, "--batch", "4", "--max-steps", "1",
            "--eval-batches", "1", "--threads", "1");
        Assert.True(r.Exit == 0, r.Err);
        return run;
    }

    [Fact]
    public void Running_a_pooling_layer_prints_no_libtorch_warning_and_later_errors_still_are()
    {
        var run = Pretrained("pooling", "PA");
        var input = Path.Combine(root, "texts.txt");
        File.WriteAllLines(input, ["a short text", string.Join(' ', Enumerable.Repeat("whale", 700))]);
        CliChild.Use();
        // --chunk 1: the first text runs through the pooling layer, then the second fails on its length.
        var result = SelfProcess.Run(["embed", "--model", run, "--input", input, "--out", Path.Combine(root, "v.npy"), "--chunk", "1"],
            TimeSpan.FromMinutes(2));
        Assert.Equal(1, result.ExitCode);
        Assert.DoesNotContain("Warning", result.Stderr);   // (index_reduce, which pooling used to run, warned "in beta")
        Assert.Contains("texts.txt:2: the text is", result.Stderr);
    }

    [Fact]
    public void A_jsonl_corpus_without_the_text_field_names_the_fields_it_has()
    {
        var corpus = Path.Combine(root, "posts.jsonl");
        File.WriteAllLines(corpus, ["{\"id\": 1, \"body\": \"Call me Ishmael.\"}", "{\"id\": 2, \"body\": \"Some years ago.\"}"]);
        var (exit, _, err) = Run("tokenizer", "train", "--corpus", corpus, "--out", Path.Combine(root, "vocab.txt"), "--vocab-size", "100");
        Assert.Equal(1, exit);
        Assert.Contains("2 JSON lines have no string field \"text\"", err);
        Assert.Contains("its fields: id, body", err);
        Assert.Contains("--text-field", err);

        (exit, var output, err) = Run("bench", "text", "--corpus", corpus, "--repeats", "1");
        Assert.Equal(1, exit);
        Assert.Contains("its fields: id, body", err);
        (exit, output, err) = Run("bench", "text", "--corpus", corpus, "--repeats", "1", "--text-field", "body");
        Assert.True(exit == 0, err);
        Assert.Contains("tokenize (1 thread): 0.0 MB, 11 tokens", output);   // [CLS]-less ids of both texts
    }

    [Fact]
    public void Evaluate_and_predict_say_what_kind_of_folder_they_were_given()
    {
        var run = Pretrained("for-ft", "AA");
        var (exit, _, err) = Run("evaluate", "--model", run, "--file", Path.Combine(root, "none.tsv"));
        Assert.Equal(1, exit);
        Assert.Contains("is a pre-training run or checkpoint, a model without a classifier: fine-tune it first", err);
        Assert.DoesNotContain("model.safetensors is missing", err);

        // A fine-tuning's output folder with one seed stands for that seed's model; with two, the error names them.
        var ft = Path.Combine(root, "ft");
        var tuned = Run("finetune", "--checkpoint", run, "--task", "sentiment-sentences", "--epochs", "1", "--max-train-examples", "16",
            "--batch", "8",
            "--max-eval-examples", "16", "--seeds", "1", "--threads", "1", "--out", ft);
        Assert.True(tuned.Exit == 0, tuned.Err);
        var tsv = Path.Combine(root, "dev.tsv");
        File.WriteAllText(tsv, "sentence\tlabel\nA great film.\tpositive\nA dull film.\tnegative\n");
        (exit, var output, err) = Run("evaluate", "--model", ft, "--file", tsv, "--text", "sentence");
        Assert.True(exit == 0, err);
        Assert.Contains("accuracy", output);
        (exit, output, err) = Run("predict", "--model", ft, "A great film.");
        Assert.True(exit == 0, err);

        Directory.CreateDirectory(Path.Combine(ft, "seed-2"));
        foreach (var file in Directory.GetFiles(Path.Combine(ft, "seed-1"))) File.Copy(file, Path.Combine(ft, "seed-2", Path.GetFileName(file)));
        (exit, _, err) = Run("predict", "--model", ft, "A great film.");
        Assert.Equal(1, exit);
        Assert.Contains("holds 2 fine-tuned models (seed-1, seed-2), one per seed: name one", err);
    }

    [Fact]
    public void Model_describe_reads_model_folders_and_configs_with_their_vocabulary()
    {
        var hf = HuggingFaceImportTests.Folder("bert-mlm-safetensors");
        var (exit, output, err) = Run("model", "describe", "--model", hf, "--json");
        Assert.True(exit == 0, err);
        var fromFolder = JsonDocument.Parse(output).RootElement;
        Assert.Equal(96, fromFolder.GetProperty("vocab_size").GetInt32());
        Assert.Equal(2, fromFolder.GetProperty("cls_token_id").GetInt32());   // from the folder's vocab.txt, not BERT's 101

        (exit, output, err) = Run("model", "describe", "--config", Path.Combine(hf, "config.json"), "--json");
        Assert.True(exit == 0, err);
        Assert.Equal(output, Run("model", "describe", "--model", hf, "--json").Out);

        (exit, output, err) = Run("model", "describe", "--preset", "tiny", "--json");
        Assert.True(exit == 0, err);
        var embedded = HybridBert.Data.EmbeddedData.Vocabulary();
        var preset = JsonDocument.Parse(output).RootElement;
        Assert.Equal(embedded.ClsId, preset.GetProperty("cls_token_id").GetInt32());
        Assert.Equal(embedded.SepId, preset.GetProperty("sep_token_id").GetInt32());
        Assert.Equal(embedded.Count, preset.GetProperty("vocab_size").GetInt32());

        (exit, output, err) = Run("model", "describe", "--model", hf);
        Assert.True(exit == 0, err);
        Assert.Contains("total", output);
    }

    [Fact]
    public void A_batch_larger_than_the_training_split_is_a_warning()
    {
        var (exit, output, err) = Run("pretrain", "--data", data.DataDir, "--out", Path.Combine(root, "big-batch"), "--preset", "tiny",
            "--batch", "4096",
            "--micro-batch", "64", "--max-steps", "1", "--eval-batches", "1", "--threads", "1");
        Assert.True(exit == 0, err);
        Assert.Matches(@"warning: --batch 4096 is larger than the training split \(\d+ sequences\)", output);
    }

    [Fact]
    public void Device_auto_says_what_it_chose_and_embed_says_how_npy_rows_map_to_lines()
    {
        var input = Path.Combine(root, "with-gaps.txt");
        File.WriteAllLines(input, ["the cat", "", "the dog"]);
        var mlm = HuggingFaceImportTests.Folder("bert-mlm-safetensors");
        var (exit, _, err) = Run("embed", "--model", mlm, "--input", input, "--out", Path.Combine(root, "v.npy"), "--device", "auto");
        Assert.True(exit == 0, err);
        Assert.Contains("--device auto: cpu", err);
        Assert.Contains("1 empty line skipped: row i of v.npy is the i-th non-empty line, not line i", err);
    }

    [Theory]
    [InlineData("0.0.0.0", null, true)]
    [InlineData("192.168.1.5", null, true)]
    [InlineData("0.0.0.0", "secret", false)]
    [InlineData("127.0.0.1", null, false)]
    [InlineData("::1", null, false)]
    [InlineData("localhost", null, false)]
    public void Serving_beyond_loopback_without_a_key_is_a_warning(string host, string? key, bool warned)
    {
        var options = new HybridBert.Serving.ServeOptions { Model = "m", Host = host, ApiKey = key };
        Assert.Equal(warned, options.ExposureWarning is not null);
        if (warned) Assert.Contains($"serving on {host} without --api-key", options.ExposureWarning);
    }

    [Fact]
    public void Progress_written_to_a_file_carries_the_time_left()
    {
        var (exit, output, err) = Run("pretrain", "--data", data.DataDir, "--out", Path.Combine(root, "eta"), "--preset", "tiny", "--batch", "4",
            "--max-steps", "600", "--eval-every", "1000", "--eval-batches", "1", "--threads", "1");
        Assert.True(exit == 0, err);
        Assert.Matches(@"step \d+/600 .*, \d\d:\d\d:\d\d left", output);
    }
}
