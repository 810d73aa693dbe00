namespace HybridBert.Tests;

/// <summary>
/// transformers.js (npm <c>@huggingface/transformers</c>, pinned; <see cref="NpmPackage"/>), run by the machine's Node.js
/// on <c>Interop/TransformersJs/run.mjs</c>. The install sets <c>ONNXRUNTIME_NODE_INSTALL=skip</c> (onnxruntime-node's
/// install script would fetch GPU binaries; its CPU library ships in the package).
/// </summary>
internal static class TransformersJs
{
    public const string Version = "4.3.1";

    private static readonly NpmPackage Package = new("@huggingface/transformers", Version, ["Interop/TransformersJs/run.mjs"],
        new Dictionary<string, string> { ["ONNXRUNTIME_NODE_INSTALL"] = "skip" });

    /// <summary>Runs run.mjs with <paramref name="jobsJson"/> (its input format) and returns what it printed.</summary>
    public static string RunJobs(string jobsJson) => Package.Run("run.mjs", jobsJson);
}
