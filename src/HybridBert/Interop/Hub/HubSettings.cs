namespace HybridBert.Interop.Hub;

/// <summary>
/// Where models named by Hub id come from, read from the environment variables Hugging Face's own clients read:
/// <c>HF_ENDPOINT</c> (default <c>https://huggingface.co</c>), <c>HF_TOKEN</c> (else the token file <c>huggingface-cli
/// login</c> writes, <c>HF_TOKEN_PATH</c> or <c>$HF_HOME/token</c>), <c>HF_HUB_OFFLINE</c>, the cache
/// <c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else <c>$XDG_CACHE_HOME/huggingface/hub</c>, else
/// <c>~/.cache/huggingface/hub</c>, and <c>HF_HUB_DISABLE_PROGRESS_BARS</c>. The CLI's <c>--token</c> and
/// <c>--offline</c> override them (<see cref="Current"/>).
/// </summary>
public sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    public string Endpoint { get; init; } = DefaultEndpoint;
    public string? Token { get; init; }
    public bool Offline { get; init; }
    public required string CacheDir { get; init; }
    /// <summary>Show a live progress line (bytes, rate, ETA) while downloading; when false, one summary line per model.</summary>
    public bool Progress { get; init; }
    /// <summary>Where download progress and notes go (standard error by default; stdout stays the command's output).</summary>
    public TextWriter Log { get; init; } = Console.Error;
    /// <summary>How long to wait for the Hub to answer a metadata request before taking it as unreachable.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Stops a download (the CLI's Ctrl-C); what was downloaded stays as <c>.incomplete</c> and is resumed next time.</summary>
    public CancellationToken Cancel { get; init; }

    /// <summary>The settings every command uses; the CLI sets its <c>--token</c>/<c>--offline</c> here.</summary>
    public static HubSettings Current { get; set; } = FromEnvironment();

    /// <summary>The settings the environment gives (<paramref name="variable"/> reads one variable; by default the process's).</summary>
    public static HubSettings FromEnvironment(Func<string, string?>? variable = null)
    {
        variable ??= Environment.GetEnvironmentVariable;
        string? Get(string name) => variable(name) is { Length: > 0 } v ? v : null;
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var hfHome = Get("HF_HOME") ?? Path.Combine(Get("XDG_CACHE_HOME") ?? Path.Combine(home, ".cache"), "huggingface");
        var tokenFile = Get("HF_TOKEN_PATH") ?? Path.Combine(hfHome, "token");
        var token = Get("HF_TOKEN") ?? Get("HUGGING_FACE_HUB_TOKEN") ?? ReadToken(tokenFile);
        return new HubSettings
        {
            Endpoint = (Get("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/'),
            Token = token,
            Offline = IsTrue(Get("HF_HUB_OFFLINE")),
            CacheDir = Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(hfHome, "hub"),
            Progress = !Console.IsErrorRedirected && !IsTrue(Get("HF_HUB_DISABLE_PROGRESS_BARS")),
        };
    }

    /// <summary>huggingface_hub's truthy values: 1, ON, YES, TRUE (any case).</summary>
    internal static bool IsTrue(string? value) =>
        value is not null && new[] { "1", "ON", "YES", "TRUE" }.Contains(value.Trim(), StringComparer.OrdinalIgnoreCase);

    private static string? ReadToken(string path)
    {
        try
        {
            return File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } t ? t : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
