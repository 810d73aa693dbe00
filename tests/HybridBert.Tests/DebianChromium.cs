namespace HybridBert.Tests;

/// <summary>
/// Debian's <c>chromium</c> for browser tests, driven by Microsoft.Playwright (which then downloads no browser of its
/// own). Installed by the tests where it is absent and they may (root, apt-get): the pinned version, or where Debian's
/// security archive has moved past it, the one it now has (said on standard error). Skipped with the reason elsewhere.
/// </summary>
internal static class DebianChromium
{
    public const string PinnedVersion = "156.0.8078.129-1~deb12u1";
    private const string Binary = "/usr/bin/chromium";

    private static readonly Lazy<(string? Path, string? Problem)> Found = new(Find);

    public static string? Path => Found.Value.Path;
    public static string? Problem => Found.Value.Problem;

    private static (string?, string?) Find()
    {
        if (File.Exists(Binary)) return (Binary, null);
        if (!File.Exists("/usr/bin/apt-get")) return (null, "chromium is not installed and this is not a Debian system with apt-get");
        if (Environment.UserName != "root") return (null, "chromium is not installed (apt-get install chromium needs root)");
        Run("apt-get", "update");
        if (Run("apt-get", "install", "-y", "--no-install-recommends", $"chromium={PinnedVersion}") != 0)
        {
            Console.Error.WriteLine($"chromium {PinnedVersion} is no longer in Debian's archive: installing the version it has");
            if (Run("apt-get", "install", "-y", "--no-install-recommends", "chromium") != 0) return (null, "apt-get install chromium failed");
        }
        return File.Exists(Binary) ? (Binary, null) : (null, $"apt-get installed chromium but {Binary} is missing");
    }

    private static int Run(string program, params string[] args) =>
        ExternalProgram.Run(program, args, TimeSpan.FromMinutes(10), new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" })
            .Exit;
}

/// <summary>A fact that needs <see cref="DebianChromium"/>; skipped with the reason where it cannot be had.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (DebianChromium.Problem is { } problem) Skip = problem;
    }
}
