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
        var exit = parsed.Invoke();
        // System.CommandLine prints parse errors with the usage and returns 1; a wrong command line is our exit 2.
        return parsed.Errors.Count > 0 ? CliErrors.UsageError : exit;
    }

    /// <summary>The command tree. Its root is named <c>hybridbert</c>, the command people type (a RootCommand would take
    /// the app host's file name, HybridBert.Cli, under <c>dotnet run</c>), with the help and version options a RootCommand has.</summary>
    public static Command BuildRoot()
    {
        var root = new Command("hybridbert", "HybridBert: pre-train, fine-tune and benchmark BERT encoders whose layers mix tokens by self-attention, pooling or both.")
        {
            new HelpOption(), new VersionOption(),
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
        root.Subcommands.Add(ServeCommand.Build());
        root.Subcommands.Add(FineTuneCommands.Datasets());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(ReproduceCommand.Build());
        return root;
    }
}
