using HybridBert.Model;
using HybridBert.Tests.Training;
using HybridBert.Training;

namespace HybridBert.Tests.Cli;

/// <summary>Bad inputs of every kind, given to every command: one clear message naming the thing and what was
/// expected, exit 2 when the command line is wrong and 1 when the files are, and never a stack trace.</summary>
public sealed class BadInputFiles : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("hybridbert-sweep-").FullName;
    public string Checkpoint { get; }

    public BadInputFiles()
    {
        File.WriteAllText(Path.Combine(Root, "empty.txt"), "");
        File.WriteAllText(Path.Combine(Root, "empty.tsv"), "");
        File.WriteAllText(Path.Combine(Root, "empty.json"), "");
        File.WriteAllBytes(Path.Combine(Root, "binary.txt"), [0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x0a, 0x90, 0x91]);
        File.WriteAllBytes(Path.Combine(Root, "latin1.tsv"), [.. "text\tlabel\n"u8, 0x63, 0x61, 0x66, 0xe9, .. "\tpos\n"u8]);
        File.WriteAllBytes(Path.Combine(Root, "latin1.csv"), [.. "text,label\nfine,pos\n"u8, 0x63, 0x61, 0x66, 0xe9, .. ",pos\n"u8]);
        File.WriteAllText(Path.Combine(Root, "columns.dat"), "text\tlabel\nit is good\tpos\n");
        File.WriteAllText(Path.Combine(Root, "labelled.txt"), "it is good\nit is bad\n");
        // A prose file read as a table: its first line (3,600 characters) becomes the "header".
        File.WriteAllText(Path.Combine(Root, "prose.tsv"), string.Concat(Enumerable.Repeat("Call me Ishmael. ", 212)) + "\nSome years ago.\n");
        File.WriteAllText(Path.Combine(Root, "columns.tsv"), "sentence\tgold\nit is good\tpos\nit is bad\tneg\n");
        File.WriteAllText(Path.Combine(Root, "config.json"),
            "{\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 3, \"layer_pattern\": \"AA\"}");
        // A pre-training checkpoint: the wrong kind of model for evaluate/predict.
        using var data = new TinyData();
        var run = Path.Combine(Root, "pretrained");
        new Pretrainer(new PretrainOptions
        {
            DataDir = data.DataDir, RunDir = run, Model = Presets.Build("tiny", "AA", 8192) with { MaxPositionEmbeddings = 64 },
            BatchSize = 4, MaxSteps = 1, Threads = 1, EvalBatches = 1,
        }).Run();
        Checkpoint = HybridBert.Training.Checkpoint.List(run)[0].Folder;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

[Collection("Console")]
public sealed class ErrorSweepTests(BadInputFiles files) : IClassFixture<BadInputFiles>
{
    public const int Usage = 2, Runtime = 1;

    public static TheoryData<string, int, string> Cases() => new()
    {
        // Missing files and folders.
        { "tokenizer train --corpus {root}/missing.txt --out {root}/v.txt --vocab-size 100", Runtime, "missing.txt" },
        { "data prepare --corpus {root}/missing.txt --out {root}/d1", Runtime, "missing.txt" },
        { "pretrain --data {root}/no-such-folder --out {root}/r1 --preset tiny --max-steps 1", Runtime, "no-such-folder" },
        { "finetune --checkpoint {root}/no-such-run --out {root}/f1", Runtime, "no-such-run" },
        { "finetune --init random --preset tiny --train {root}/missing.tsv --dev {root}/missing.tsv --out {root}/f2", Runtime, "missing.tsv" },
        { "evaluate --model {root}/no-such-model --file {root}/columns.tsv", Runtime, "no-such-model" },
        { "predict --model {root}/no-such-model hello", Runtime, "no-such-model" },
        { "model describe --config {root}/missing.json", Runtime, "Config file not found" },
        { "pretrain --options-file {root}/missing.json", Runtime, "missing.json" },
        // Empty files.
        { "data prepare --corpus {root}/empty.txt --out {root}/d2", Runtime, "0 documents, 0 bytes read — is it empty?" },
        { "finetune --init random --preset tiny --train {root}/empty.tsv --dev {root}/empty.tsv --out {root}/f3", Runtime,
            "empty.tsv: the file is empty" },
        { "model describe --config {root}/empty.json", Runtime, "empty.json: not a valid encoder config JSON" },
        { "finetune --options-file {root}/empty.json", Runtime, "empty.json: not a valid FineTuneOptions JSON file" },
        // Binary and non-UTF-8 files.
        { "data prepare --corpus {root}/binary.txt --out {root}/d3", Runtime, "binary.txt:1: invalid UTF-8" },
        { "model describe --config {root}/binary.txt", Runtime, "binary.txt: not a valid encoder config JSON" },
        { "finetune --init random --preset tiny --train {root}/latin1.tsv --dev {root}/latin1.tsv --out {root}/f4", Runtime,
            "latin1.tsv:2: not UTF-8 text" },
        { "finetune --init random --preset tiny --train {root}/latin1.csv --dev {root}/latin1.csv --out {root}/f4c", Runtime,
            "latin1.csv:3: not UTF-8 text" },
        // Files whose type says nothing, or the wrong thing.
        { "finetune --init random --preset tiny --train {root}/columns.dat --dev {root}/columns.dat --out {root}/f4d", Runtime,
            "columns.dat: unknown file type '.dat' — use .tsv" },
        { "finetune --init random --preset tiny --train {root}/labelled.txt --dev {root}/labelled.txt --out {root}/f4e", Runtime,
            "a .txt file holds one text per line and no labels" },
        { "evaluate --model {checkpoint} --file {root}/latin1.tsv", Runtime,
            "is a pre-training run or checkpoint, a model without a classifier: fine-tune it first" },
        // Wrong columns.
        { "finetune --init random --preset tiny --train {root}/columns.tsv --dev {root}/columns.tsv --out {root}/f5", Runtime,
            "columns.tsv: no column 'text'; the columns are: 'sentence', 'gold'" },
        // The wrong kind of model.
        { "evaluate --model {checkpoint} --file {root}/columns.tsv", Runtime,
            "is a pre-training run or checkpoint, a model without a classifier: fine-tune it first" },
        { "predict --model {checkpoint} hello", Runtime, "not a fine-tuned model folder" },
        { "finetune --checkpoint {root}/columns.tsv --out {root}/f6", Runtime,
            "columns.tsv is a file, not a model folder: expected a pre-training run folder" },
        { "model import --from {root} --out {root}/i1", Runtime, "has config.json but no weights" },
        { "export hf --model {root}/no-such-model --out {root}/e1", Runtime, "Model folder not found" },
        { "export onnx --model {checkpoint} --out {root}/e2.onnx --head classifier", Usage, "is not a classifier" },
        { "export onnx --model {checkpoint} --out {root}/e3.onnx --head softmax", Usage, "softmax" },
        { "pretrain --init-from {root}/no-such-model --out {root}/r12 --max-steps 1", Runtime, "no-such-model" },
        // Invalid configs and out-of-range options.
        // the file is wrong, not the command line
        { "model describe --config {root}/config.json", Runtime,
            "config.json: Invalid encoder config: num_attention_heads (3) must divide hidden_size (64)" },
        { "pretrain --out {root}/r2 --preset tiny --lr 0", Usage, "--lr must be > 0" },
        { "pretrain --out {root}/r3 --preset tiny --dropout 1.5", Usage, "--dropout must be in [0, 1)" },
        { "pretrain --out {root}/r4 --preset tiny --device tpu", Usage, "--device must be" },
        { "pretrain --out {root}/r5 --preset tiny --device cuda --max-steps 1", Usage, "CUDA is not available" },
        { "pretrain --out {root}/r6 --preset huge", Usage, "Unknown preset 'huge'" },
        { "pretrain --out {root}/r7 --preset tiny --pattern AQ", Usage, "unknown letter(s) 'Q'" },
        { "pretrain --out {root}/r8 --resume-strict", Usage, "--resume-strict goes with --resume" },
        { "pretrain --out {root}/r9 --options-file {root}/config.json", Usage, "--options-file holds every option: do not also give --out" },
        { "finetune --init random --preset tiny --epochs 0 --out {root}/f7", Usage, "--epochs must be >= 1" },
        { "finetune --init random --preset tiny --seeds 1,1 --out {root}/f8", Usage, "--seeds repeats a seed" },
        { "finetune --out {root}/f9", Usage, "give --checkpoint RUN_DIR, or --init random" },
        { "bench --preset tiny --seq 0", Usage, "--seq: '0' is not a whole number >= 4" },
        { "bench --preset tiny --threads 0", Usage, "--threads must be >= 1" },
        // More memory than any machine has: libtorch's allocation failure, without its C++ stack.
        { "bench layers --preset tiny --seq 262144 --letters A --repeats 1 --warmup 0", Runtime, "out of memory: one tensor needed 512.0 GiB" },
        // What System.CommandLine itself refuses.
        { "pretrain --out {root}/r10 --batch many", Usage, "many" },
        { "pretrain --out {root}/r11 --precision fp8", Usage, "fp8" },
        { "finetune --init zeros --out {root}/f10", Usage, "zeros" },
        { "no-such-command", Usage, "no-such-command" },
    };

    [Fact]
    public void A_missing_column_quotes_a_long_header_shortened()
    {
        var (exit, output, error) = ModelCommandTests.Run("finetune", "--init", "random", "--preset", "tiny", "--train",
            Path.Combine(files.Root, "prose.tsv"),
            "--dev", Path.Combine(files.Root, "prose.tsv"), "--out", Path.Combine(files.Root, "f-prose"));
        Assert.Equal(Runtime, exit);
        Assert.Contains("no column 'text'; the columns are: 'Call me Ishmael. Call me", error);
        Assert.Contains("… (3604 characters)", error);
        Assert.True(error.Length < 400, error);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_bad_input_is_one_clear_message_with_the_right_exit_code(string command, int exitCode, string named)
    {
        var args = command.Replace("{root}", files.Root).Replace("{checkpoint}", files.Checkpoint).Split(' ');
        var (exit, output, error) = ModelCommandTests.Run(args);
        var all = output + error;
        Assert.True(exit == exitCode, $"exit {exit}, expected {exitCode}: {all}");
        Assert.Contains(named, all);
        Assert.DoesNotContain("   at ", all);
        Assert.DoesNotContain("Exception:", all);
        Assert.DoesNotContain("an unexpected failure", all);
        Assert.DoesNotContain("frame #", all);   // libtorch's C++ stack
    }
}
