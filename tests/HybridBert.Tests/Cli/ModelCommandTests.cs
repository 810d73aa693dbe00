using HybridBert.Cli;

namespace HybridBert.Tests.Cli;

[Collection("Console")]
public sealed class ModelCommandTests
{
    internal static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (output, error) = (new StringWriter(), new StringWriter());
        Console.SetOut(output);
        Console.SetError(error);
        // Spectre.Console keeps the writer it was created with: point it at this run's output too.
        var savedAnsi = Spectre.Console.AnsiConsole.Console;
        Spectre.Console.AnsiConsole.Console =
            Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(output) });
        try
        {
            return (Program.Main(args), output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
            Spectre.Console.AnsiConsole.Console = savedAnsi;
        }
    }

    [Fact]
    public void Describe_json_prints_the_resolved_config()
    {
        var (exit, output, _) = Run("model", "describe", "--preset", "mini", "--pattern", "hybrid", "--json");
        Assert.Equal(0, exit);
        Assert.Contains("\"layer_pattern\": \"PPAA\"", output);
    }

    [Fact]
    public void Describe_with_a_bad_pattern_exits_2_naming_the_field()
    {
        var (exit, _, error) = Run("model", "describe", "--preset", "mini", "--pattern", "PPQA");
        Assert.Equal(2, exit);
        Assert.Contains("layer_pattern 'PPQA' has unknown letter(s) 'Q'", error);
    }
}
