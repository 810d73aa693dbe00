namespace HybridBert.Tests;

/// <summary>The repository the tests run from (the folder above the test binaries that holds HybridBert.slnx).</summary>
internal static class Repo
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "HybridBert.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no HybridBert.slnx above {AppContext.BaseDirectory}");
    }
}
