namespace HybridBert.Tests;

/// <summary>
/// Debian's python3-torch, for checks against PyTorch that cannot be fixtures (an exported folder's own Python code).
/// <c>HYBRIDBERT_PYTHON</c> names the interpreter; else /usr/bin/python3, else python3 on the PATH — the first that
/// imports torch. Tests that need it are skipped, visibly, where it is absent (a machine with only the .NET SDK).
/// </summary>
internal static class PythonTorch
{
    private static readonly Lazy<string?> Interpreter = new(() =>
        new[] { Environment.GetEnvironmentVariable("HYBRIDBERT_PYTHON"), "/usr/bin/python3", "python3" }
            .Where(p => !string.IsNullOrEmpty(p))
            .FirstOrDefault(p => Run(p!, ["-c", "import torch"], TimeSpan.FromSeconds(60)).Exit == 0));

    public static string? Path => Interpreter.Value;
    public const string Missing = "python3 with torch is not installed (Debian: apt-get install python3-torch; or set HYBRIDBERT_PYTHON)";

    public static (int Exit, string Output) Run(string python, IEnumerable<string> args, TimeSpan timeout)
    {
        var (exit, stdout, stderr) = ExternalProgram.Run(python, args, timeout);
        return (exit, stdout + stderr);
    }
}

/// <summary>A theory that needs <see cref="PythonTorch"/>; skipped with the reason where it is missing.</summary>
public sealed class PythonTorchTheoryAttribute : TheoryAttribute
{
    public PythonTorchTheoryAttribute()
    {
        if (PythonTorch.Path is null) Skip = PythonTorch.Missing;
    }
}
