using System.CommandLine;
using HybridBert.Cli.Commands;

namespace HybridBert.Cli;

public static class Program
{
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("HybridBert: pre-train, fine-tune and benchmark BERT encoders whose layers mix tokens by self-attention, pooling or both.");
        root.Subcommands.Add(ModelCommand.Build());
        root.Subcommands.Add(TokenizerCommand.Build());
        root.Subcommands.Add(DataCommand.Build());
        root.Subcommands.Add(PretrainCommand.Build());
        root.Subcommands.Add(FineTuneCommands.FineTune());
        root.Subcommands.Add(FineTuneCommands.Evaluate());
        root.Subcommands.Add(FineTuneCommands.Predict());
        root.Subcommands.Add(FineTuneCommands.Datasets());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(ReproduceCommand.Build());
        return root;
    }
}
