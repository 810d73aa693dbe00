using System.Diagnostics;
using HybridBert.Native;

namespace HybridBert.Tests.Native;

/// <summary>
/// TorchSharp's native library loads in a user's own project on Debian 12: the library marks its GLIBCXX_3.4.32 need
/// weak itself. Checked on the library file TorchSharp ships (from the NuGet cache) and end to end with console apps
/// created outside this repository — one with a ProjectReference, one with a PackageReference to the packed library.
/// </summary>
public sealed class GlibcxxCompatTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("hybridbert-consumer-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static string PackagesFolder() => Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>TorchSharp's own, unpatched copy in the NuGet packages folder.</summary>
    private static string ShippedLibrary() =>
        Path.Combine(PackagesFolder(), "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void Only_the_GLIBCXX_3_4_32_need_is_marked_weak_once()
    {
        var original = File.ReadAllBytes(ShippedLibrary());
        var patched = (byte[])original.Clone();
        Assert.True(GlibcxxCompat.WeakenVersionNeed(patched, "GLIBCXX_3.4.32"));
        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToList();
        Assert.Single(changed);
        Assert.Equal(original[changed[0]] | 2, patched[changed[0]]);   // VER_FLG_WEAK in vna_flags
        Assert.False(GlibcxxCompat.WeakenVersionNeed(patched, "GLIBCXX_3.4.32"));   // idempotent
        Assert.False(GlibcxxCompat.WeakenVersionNeed((byte[])original.Clone(), "GLIBCXX_9.9"));
        Assert.False(GlibcxxCompat.WeakenVersionNeed(new byte[100], "GLIBCXX_3.4.32"));   // not an ELF file: untouched
    }

    private static (int Exit, string Out, string Err) Dotnet(string workDir, IDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(8)), $"dotnet {string.Join(' ', args)} did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The README's "Use it from C#" block, as a user pastes it into Program.cs.</summary>
    private static string ReadmeExample()
    {
        var readme = File.ReadAllLines(Path.Combine(Repo.Root, "README.md"));
        var start = Array.FindIndex(readme, l => l.Trim() == "```csharp") + 1;
        while (!readme.Skip(start).TakeWhile(l => l.Trim() != "```").Any(l => l.Trim() == "using HybridBert.Training;"))
            start = Array.FindIndex(readme, start, l => l.Trim() == "```csharp") + 1;
        return string.Join('\n', readme.Skip(start).TakeWhile(l => l.Trim() != "```"));
    }

    private string Consumer(string name, string reference)
    {
        var dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                {reference}
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), ReadmeExample());
        return dir;
    }

    private static void AssertRanTheExample((int Exit, string Out, string Err) run)
    {
        Assert.True(run.Exit == 0, $"exit {run.Exit}: {run.Err}\n{run.Out}");
        Assert.Matches(@"validation MLM loss \d+\.\d{3} after 30 steps", run.Out);
        Assert.Matches(@"1 × \d+ × 64", run.Out);
    }

    [Fact]
    public void A_console_app_outside_the_repository_runs_the_readme_example_twice_by_project_reference()
    {
        var project = Path.Combine(Repo.Root, "src", "HybridBert", "HybridBert.csproj");
        var app = Consumer("ByProject", $"""<ProjectReference Include="{project}" />""");
        var env = new Dictionary<string, string> { ["TMPDIR"] = Directory.CreateDirectory(Path.Combine(root, "tmp")).FullName };
        var build = Dotnet(app, env, "build");
        Assert.True(build.Exit == 0, build.Out + build.Err);
        var copy = Directory.GetFiles(Path.Combine(app, "bin"), "libLibTorchSharp.so", SearchOption.AllDirectories).Single();
        Assert.True(GlibcxxCompat.WeakenVersionNeed(File.ReadAllBytes(copy), "GLIBCXX_3.4.32"),
            "the build copied an already-fixed library: this test would prove nothing");
        AssertRanTheExample(Dotnet(app, env, "run", "--no-build"));
        Assert.False(GlibcxxCompat.WeakenVersionNeed(File.ReadAllBytes(copy), "GLIBCXX_3.4.32"), "the library did not fix the application's copy");
        AssertRanTheExample(Dotnet(app, env, "run", "--no-build"));   // a second run: a fresh folder, not "already holds a run"
    }

    [Fact]
    public void A_console_app_outside_the_repository_runs_the_readme_example_from_the_packed_library()
    {
        // A version of its own: NuGet caches a package by version in the global packages folder (removed again below).
        var version = $"0.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var feed = Path.Combine(root, "feed");
        var pack = Dotnet(Repo.Root, null, "pack", Path.Combine("src", "HybridBert", "HybridBert.csproj"), "-o", feed,
            $"-p:PackageVersion={version}");
        Assert.True(pack.Exit == 0, pack.Out + pack.Err);
        var app = Consumer("ByPackage", $"""<PackageReference Include="HybridBert" Version="{version}" />""");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <configuration>
              <packageSources>
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        try
        {
            var env = new Dictionary<string, string> { ["TMPDIR"] = Directory.CreateDirectory(Path.Combine(root, "tmp")).FullName };
            AssertRanTheExample(Dotnet(app, env, "run"));
        }
        finally
        {
            var cached = Path.Combine(PackagesFolder(), "hybridbert", version);
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
        }
    }
}
