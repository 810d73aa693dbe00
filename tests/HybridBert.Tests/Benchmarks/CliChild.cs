using HybridBert.Benchmarks;

namespace HybridBert.Tests.Benchmarks;

/// <summary>Commands that start child processes must start the CLI, not the test host: point them at its app host.</summary>
internal static class CliChild
{
    public static void Use() =>
        SelfProcess.Override = (Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "HybridBert.Cli.exe" : "HybridBert.Cli"), []);
}
