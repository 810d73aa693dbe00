namespace HybridBert.Tests;

/// <summary>
/// An npm package pinned to one version, installed on first use with the machine's npm into a cache outside the
/// repository (<c>HYBRIDBERT_TEST_CACHE</c>, else <c>$XDG_CACHE_HOME/hybridbert-tests</c>, else <c>~/.cache/hybridbert-tests</c>),
/// beside the final folder and renamed into place, so a killed install is never taken for a complete one. Scripts the
/// tests run with node are copied next to its <c>node_modules</c>.
/// </summary>
internal sealed class NpmPackage
{
    private readonly Lazy<string> installed;

    public NpmPackage(string name, string version, IReadOnlyList<string> scripts, IDictionary<string, string>? environment = null)
    {
        (Name, Version) = (name, version);
        installed = new Lazy<string>(() => Install(scripts, environment));
    }

    public string Name { get; }
    public string Version { get; }

    private static readonly Lazy<string?> Missing = new(() =>
        ExternalProgram.Run("node", ["--version"], TimeSpan.FromSeconds(30)).Exit != 0 ? "node is not installed (Node.js 18+ is needed)"
        : ExternalProgram.Run("npm", ["--version"], TimeSpan.FromSeconds(30)).Exit != 0 ? "npm is not installed (it installs the package)"
        : null);

    /// <summary>Why npm packages cannot run here (no node, no npm), or null.</summary>
    public static string? Problem => Missing.Value;

    /// <summary>The folder holding node_modules and the scripts; a failed install throws (the test fails).</summary>
    public string Folder => installed.Value;

    private static string CacheRoot() =>
        Environment.GetEnvironmentVariable("HYBRIDBERT_TEST_CACHE") is { Length: > 0 } cache ? cache
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "hybridbert-tests");

    private string Install(IReadOnlyList<string> scripts, IDictionary<string, string>? environment)
    {
        var folder = Path.Combine(CacheRoot(), $"{Name.Split('/').Last()}-{Version}");
        var marker = Path.Combine(folder, "node_modules", Name, "package.json");
        if (!File.Exists(marker))
        {
            var temp = $"{folder}.tmp-{Environment.ProcessId}";
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            Directory.CreateDirectory(temp);
            var (exit, output, errors) = ExternalProgram.Run("npm", ["install", "--no-audit", "--no-fund", "--prefix", temp, $"{Name}@{Version}"],
                TimeSpan.FromMinutes(10), environment);
            if (exit != 0) throw new InvalidOperationException($"npm install {Name}@{Version} failed (exit {exit}): {output}{errors}");
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            Directory.Move(temp, folder);
        }
        foreach (var script in scripts)
            File.Copy(Path.Combine(Repo.Root, "tests", "HybridBert.Tests", script), Path.Combine(folder, Path.GetFileName(script)), overwrite: true);
        return folder;
    }

    /// <summary>Runs <paramref name="script"/> with node in <see cref="Folder"/>, <paramref name="input"/> on its standard input;
    /// returns what it printed, or throws with its errors.</summary>
    public string Run(string script, string input)
    {
        var (exit, output, errors) = ExternalProgram.Run("node", [script], TimeSpan.FromMinutes(5), input: input, workingDirectory: Folder);
        if (exit != 0) throw new InvalidOperationException($"node {script} ({Name}@{Version}) failed (exit {exit}): {errors}");
        return output;
    }
}

/// <summary>A fact that needs an <see cref="NpmPackage"/>; skipped with the reason where node or npm is missing.</summary>
public sealed class NpmFactAttribute : FactAttribute
{
    public NpmFactAttribute()
    {
        if (NpmPackage.Problem is { } problem) Skip = problem;
    }
}
