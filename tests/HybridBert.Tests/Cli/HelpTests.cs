using System.CommandLine;
using HybridBert.Benchmarks;
using HybridBert.Cli;

namespace HybridBert.Tests.Cli;

/// <summary>Help as a new user reads it: every option says what it does, choices and defaults as they are typed.</summary>
[Collection("Console")]
public sealed class HelpTests
{
    private static IEnumerable<Command> All(Command command) => new[] { command }.Concat(command.Subcommands.SelectMany(All));

    [Fact]
    public void Every_option_of_every_command_has_a_description_without_a_second_default()
    {
        var problems = new List<string>();
        foreach (var command in All(Program.BuildRoot()))
            foreach (var option in command.Options.Where(o => !o.Hidden && o.Name is not ("--help" or "--version")))
            {
                if (string.IsNullOrWhiteSpace(option.Description)) problems.Add($"{command.Name} {option.Name}: no description");
                else if (option.Description.Contains("(default", StringComparison.Ordinal))
                    problems.Add($"{command.Name} {option.Name}: says its default as (default …), where help shows defaults as [default: …]");
                else if (option.HasDefaultValue && option.Description.Contains("[default", StringComparison.Ordinal))
                    problems.Add($"{command.Name} {option.Name}: says its default in the description and again as [default: …]");
            }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Help_names_the_command_hybridbert_and_shows_choices_in_lower_case()
    {
        var (exit, output, _) = ModelCommandTests.Run("pretrain", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("<fp32|bf16>", output);
        Assert.Contains("[default: fp32]", output);
        Assert.Contains("<none|nsp|sso>", output);
        Assert.DoesNotContain("Fp32", output);

        // The app host is what users run (dotnet run, the tool): its usage line says `hybridbert`.
        Benchmarks.CliChild.Use();
        var child = SelfProcess.Run(["reproduce", "--help"], TimeSpan.FromMinutes(1));
        Assert.Contains("hybridbert reproduce [options]", child.Stdout);
        Assert.DoesNotContain("HybridBert.Cli", child.Stdout);
        Assert.Contains(ReproduceBudget.Default.ExpectedTime, child.Stdout);
        // the same time the README gives
        Assert.Contains($"{ReproduceBudget.Default.ExpectedTime} on 2 cores", File.ReadAllText(Path.Combine(Repo.Root, "README.md")));
    }

    /// <summary>Every command a person runs (one with an action) has examples in its help, and each one parses.</summary>
    [Fact]
    public void Every_command_has_examples_that_parse()
    {
        var root = Program.BuildRoot();
        var problems = new List<string>();
        void Visit(Command command, string path)
        {
            foreach (var sub in command.Subcommands) Visit(sub, (path + " " + sub.Name).Trim());
            if (command.Action is null || path.Length == 0) return;
            if (!Program.Examples.TryGetValue(path, out var examples) || examples.Length == 0) problems.Add($"{path}: no examples");
            else if (!command.Description!.Contains("Examples:\n  hybridbert " + path,
                StringComparison.Ordinal)) problems.Add($"{path}: help does not show its examples");
            foreach (var example in examples ?? [])
            {
                var args = System.Text.RegularExpressions.Regex.Matches(example, "\"[^\"]*\"|\\S+").Select(m => m.Value.Trim('"')).Skip(1).ToArray();
                var parsed = root.Parse(args);
                if (parsed.Errors.Count > 0) problems.Add($"{example}: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
                else if (parsed.CommandResult.Command != command)
                    problems.Add($"{example}: parses as {parsed.CommandResult.Command.Name}, not {path}");
            }
        }
        Visit(root, "");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [InlineData(5e-4, "5e-4")]
    [InlineData(1e-3, "1e-3")]
    [InlineData(2.5e-5, "2.5e-5")]
    public void Learning_rates_print_as_people_write_them(double lr, string expected) =>
        Assert.Equal(expected, HybridBert.Cli.Commands.CommonOptions.Lr(lr));
}
