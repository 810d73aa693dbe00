using System.Text.Json;
using System.Text.Json.Serialization;

namespace HybridBert.IO;

/// <summary>
/// The project's one JSON policy, for every file it writes (config.json, trainer.json, task.json, results.json,
/// manifest.json, …) and the server's bodies: plain snake_case fields, enums as snake_case strings, NaN and infinities
/// as "NaN"/"Infinity" (a diverged loss stays readable), unknown fields skipped on reading. Files are indented; a field
/// left out when null says so on its property.
/// </summary>
public static class JsonFiles
{
    public static readonly JsonSerializerOptions Options = ApplyPolicy(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>The same policy on one line: JSON lines (bench results, a benchmark child's answer) and standard output.</summary>
    public static readonly JsonSerializerOptions Lines = ApplyPolicy(new JsonSerializerOptions());

    /// <summary>Sets the policy on <paramref name="options"/> (the server's, which ASP.NET Core creates) and returns them.</summary>
    public static JsonSerializerOptions ApplyPolicy(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        return options;
    }
}
