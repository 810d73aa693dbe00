namespace HybridBert.Tests;

/// <summary>
/// transformers.js (npm <c>@huggingface/transformers</c>, pinned), installed on first use with the machine's npm into
/// a cache outside the repository (<c>HYBRIDBERT_TEST_CACHE</c>, else <c>$XDG_CACHE_HOME/hybridbert-tests</c>, else
/// <c>~/.cache/hybridbert-tests</c>), and run by the machine's Node.js on <c>Interop/TransformersJs/run.mjs</c>. The
/// install sets <c>ONNXRUNTIME_NODE_INSTALL=skip</c> (onnxruntime-node's install script would fetch GPU binaries; its
/// CPU library ships in the package). Tests that need it are skipped, with the reason, where node or npm is missing.
/// </summary>
internal static class TransformersJs
{
    public const string Version = "4.3.1";

    private static readonly Lazy<string?> Missing = new(() =>
        ExternalProgram.Run("node", ["--version"], TimeSpan.FromSeconds(30)).Exit != 0 ? "node is not installed (Node.js 18+ runs transformers.js)"
        : ExternalProgram.Run("npm", ["--version"], TimeSpan.FromSeconds(30)).Exit != 0 ? "npm is not installed (it installs transformers.js)"
        : null);

    private static readonly Lazy<string> Installed = new(Install);

    /// <summary>Why the tests cannot run here (no node, no npm), or null.</summary>
    public static string? Problem => Missing.Value;

    /// <summary>The folder holding node_modules and run.mjs, installed on first use; a failed install throws (the test fails).</summary>
    public static string Folder => Installed.Value;

    private static string CacheRoot() =>
        Environment.GetEnvironmentVariable("HYBRIDBERT_TEST_CACHE") is { Length: > 0 } cache ? cache
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "hybridbert-tests");

    private static string Install()
    {
        var folder = Path.Combine(CacheRoot(), $"transformersjs-{Version}");
        var marker = Path.Combine(folder, "node_modules", "@huggingface", "transformers", "package.json");
        if (!File.Exists(marker))
        {
            // Installed beside the final folder and renamed into place, so a killed install is never taken for a complete one.
            var temp = $"{folder}.tmp-{Environment.ProcessId}";
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            Directory.CreateDirectory(temp);
            var (exit, output, errors) = ExternalProgram.Run("npm",
                ["install", "--no-audit", "--no-fund", "--prefix", temp, $"@huggingface/transformers@{Version}"], TimeSpan.FromMinutes(10),
                new Dictionary<string, string> { ["ONNXRUNTIME_NODE_INSTALL"] = "skip" });
            if (exit != 0) throw new InvalidOperationException($"npm install @huggingface/transformers@{Version} failed (exit {exit}): " +
                $"{output}{errors}");
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            Directory.Move(temp, folder);
        }
        File.Copy(Path.Combine(Repo.Root, "tests", "HybridBert.Tests", "Interop", "TransformersJs", "run.mjs"),
            Path.Combine(folder, "run.mjs"), overwrite: true);
        return folder;
    }

    /// <summary>Runs run.mjs with <paramref name="jobsJson"/> (its input format) and returns what it printed.</summary>
    public static string RunJobs(string jobsJson)
    {
        var (exit, output, errors) = ExternalProgram.Run("node", ["run.mjs"], TimeSpan.FromMinutes(5), input: jobsJson, workingDirectory: Folder);
        if (exit != 0) throw new InvalidOperationException($"transformers.js failed (exit {exit}): {errors}");
        return output;
    }
}

/// <summary>A fact that needs <see cref="TransformersJs"/>; skipped with the reason where node or npm is missing.</summary>
public sealed class TransformersJsFactAttribute : FactAttribute
{
    public TransformersJsFactAttribute()
    {
        if (TransformersJs.Problem is { } problem) Skip = problem;
    }
}
