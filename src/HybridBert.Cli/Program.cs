using System.CommandLine;
using System.CommandLine.Help;
using HybridBert.Cli.Commands;

namespace HybridBert.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        Native.GlibcxxCompat.Apply();   // before anything can load TorchSharp's native library (see there)
        // Piped or redirected output is read by scripts and people with wide windows: do not wrap tables at 80 columns.
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 1000;
        var parsed = BuildRoot().Parse(args);
        var hub = Interop.Hub.HubSettings.Current;
        try
        {
            Interop.Hub.HubSettings.Current = hub with
            {
                Token = parsed.GetValue(CommonOptions.Token) ?? hub.Token, Offline = hub.Offline || parsed.GetValue(CommonOptions.Offline),
            };
            var exit = parsed.Invoke();
            // System.CommandLine prints parse errors with the usage and returns 1; a wrong command line is our exit 2.
            return parsed.Errors.Count > 0 ? CliErrors.UsageError : exit;
        }
        finally
        {
            Interop.Hub.HubSettings.Current = hub;
        }
    }

    /// <summary>The command tree. Its root is named <c>hybridbert</c>, the command people type (a RootCommand would take
    /// the app host's file name, HybridBert.Cli, under <c>dotnet run</c>), with the help and version options a RootCommand has.</summary>
    public static Command BuildRoot()
    {
        var root = new Command("hybridbert",
            "HybridBert: pre-train, fine-tune and benchmark BERT encoders whose layers mix tokens by self-attention, pooling or both.")
        {
            new HelpOption(), new VersionOption(), CommonOptions.Token, CommonOptions.Offline,
        };
        root.Subcommands.Add(ModelCommand.Build());
        root.Subcommands.Add(ExportCommand.Build());
        root.Subcommands.Add(TokenizerCommand.Build());
        root.Subcommands.Add(DataCommand.Build());
        root.Subcommands.Add(PretrainCommand.Build());
        root.Subcommands.Add(FineTuneCommands.FineTune());
        root.Subcommands.Add(FineTuneCommands.Evaluate());
        root.Subcommands.Add(FineTuneCommands.Predict());
        root.Subcommands.Add(InferenceCommands.FillMaskCommand());
        root.Subcommands.Add(InferenceCommands.EmbedCommand());
        root.Subcommands.Add(InferenceCommands.TagCommand());
        root.Subcommands.Add(ServeCommand.Build());
        root.Subcommands.Add(FineTuneCommands.Datasets());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(ReproduceCommand.Build());
        AddExamples(root, "");
        return root;
    }

    /// <summary>Every command's help ends with these (a test parses each one, so none goes stale).</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Examples = new Dictionary<string, string[]>
    {
        ["model describe"] = ["hybridbert model describe --preset base --pattern hybrid", "hybridbert model describe --model runs/hybrid --json"],
        ["model import"] = ["hybridbert model import --from ~/models/bert-mini --out models/bert-mini",
                            "hybridbert model import --from google/bert_uncased_L-4_H-256_A-4 --out models/bert-mini"],
        ["model pull"] = ["hybridbert model pull sentence-transformers/all-MiniLM-L6-v2", "hybridbert model pull bert-base-uncased@main"],
        ["model list"] = ["hybridbert model list", "hybridbert model list --json"],
        ["export hf"] = ["hybridbert export hf --model runs/ft/seed-1 --out exports/ft-hf"],
        ["export onnx"] = ["hybridbert export onnx --model runs/hybrid --out exports/hybrid.onnx --head none",
                           "hybridbert export onnx --model runs/ft/seed-1 --out exports/ft-onnx --quantize int8"],
        ["tokenizer train"] = ["hybridbert tokenizer train --corpus my-corpus/ --vocab-size 8192 --out vocab.txt",
                               "hybridbert tokenizer train --corpus posts.jsonl --text-field body --out vocab.txt"],
        ["data prepare"] = ["hybridbert data prepare --corpus my-corpus/ --vocab vocab.txt --seq-len 128 --out data/"],
        ["data verify"] = ["hybridbert data verify data/"],
        ["pretrain"] = ["hybridbert pretrain --out runs/hybrid --preset mini --pattern hybrid --max-steps 2000",
                        "hybridbert pretrain --out runs/hybrid --resume"],
        ["finetune"] = ["hybridbert finetune --checkpoint runs/hybrid --task sentiment-sentences --seeds 1,2,3 --out runs/ft",
                        "hybridbert finetune --checkpoint runs/hybrid --train my.csv --dev my-dev.csv --text review --label stars --out runs/mine"],
        ["evaluate"] = ["hybridbert evaluate --model runs/ft/seed-1 --file my-test.tsv"],
        ["predict"] = ["hybridbert predict --model runs/ft/seed-1 \"The food was great.\"",
                       "hybridbert predict --model runs/ft/seed-1 --input texts.txt --out predictions.jsonl"],
        ["fill-mask"] = ["hybridbert fill-mask --model runs/hybrid \"The capital of France is [MASK].\""],
        ["tag"] = ["hybridbert tag --model runs/ner/seed-1 \"George Washington went to Washington.\"",
                   "hybridbert tag --model runs/pos/seed-1 --aggregation none --input texts.txt"],
        ["embed"] = ["hybridbert embed --model runs/hybrid --input texts.txt --out vectors.npy",
                     "hybridbert embed --model runs/hybrid --input texts.txt --out vectors.npy --runtime onnx --quantized"],
        ["serve"] = ["hybridbert serve --model runs/ft/seed-1 --port 8080",
                     "hybridbert serve --model runs/ft/seed-1 --port 8080 --runtime onnx --quantized"],
        ["datasets fetch"] = ["hybridbert datasets fetch imdb"],
        ["datasets list"] = ["hybridbert datasets list"],
        ["bench"] = ["hybridbert bench --preset mini --patterns bert,hybrid,ponet --seq 128,512 --rounds 2",
                     "hybridbert bench --preset mini --patterns bert,hybrid,ponet --mode infer,onnx,onnx-int8",
                     "hybridbert bench --json --patterns bert --seq 128 --batch 32 --mode train,infer"],
        ["bench text"] = ["hybridbert bench text", "hybridbert bench text --corpus my-corpus/ --vocab vocab.txt"],
        ["bench serve"] = ["hybridbert bench serve --concurrency 32 --requests 2000"],
        ["bench layers"] = ["hybridbert bench layers --seq 512", "hybridbert bench layers --seq 128 --save-memory --json"],
        ["bench runtimes"] = ["hybridbert bench runtimes --model runs/hybrid",
                              "hybridbert bench runtimes --model runs/ft/seed-1 --file data/tasks/sentiment-sentences/dev.tsv --json"],
        ["bench gemm"] = ["hybridbert bench gemm", "hybridbert bench gemm --preset base --seq 128 --batch 8 --json"],
        ["reproduce"] = ["hybridbert reproduce --budget smoke --out runs/smoke",
            "hybridbert reproduce --budget default --out runs/reproduce --resume"],
    };

    private static void AddExamples(Command command, string path)
    {
        foreach (var sub in command.Subcommands) AddExamples(sub, (path + " " + sub.Name).Trim());
        if (Examples.TryGetValue(path, out var lines))
            command.Description += "\n\nExamples:\n" + string.Join("\n", lines.Select(l => "  " + l));
    }
}
