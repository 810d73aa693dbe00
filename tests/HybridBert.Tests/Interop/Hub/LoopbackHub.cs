using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HybridBert.Tests.Interop.Hub;

/// <summary>
/// A stand-in for the Hugging Face Hub on two loopback ports (this machine has no route to the real one), answering
/// the resolve route as the Hub documents and as huggingface_hub's client code expects:
/// <list type="bullet">
/// <item><c>HEAD</c>/<c>GET {hub}/{repo}/resolve/{revision}/{file}</c>: a small file is answered here with <c>ETag</c> (its
/// git blob SHA-1), <c>X-Repo-Commit</c> and <c>Content-Length</c>; an LFS file (<c>*.safetensors</c>, <c>*.bin</c>,
/// <c>*.onnx</c>) with a 302 to the second port (the CDN) and <c>X-Linked-Etag</c> (its SHA-256), <c>X-Linked-Size</c>.</item>
/// <item>Errors with the Hub's <c>X-Error-Code</c>: 401 <c>RepoNotFound</c> (the Hub does not tell an anonymous client
/// whether a private repository exists), 401 <c>GatedRepo</c> without the token, 404 <c>RevisionNotFound</c>, 404
/// <c>EntryNotFound</c> with <c>X-Repo-Commit</c>.</item>
/// <item>A renamed repository answers 307 to its new name on the same host.</item>
/// <item>The CDN serves <c>Range</c> requests (206, <c>Content-Range</c>) and can be slowed, cut off or made to corrupt a
/// byte, to test resuming and checksums.</item>
/// </list>
/// Every request is logged (method, host, path, Range, whether an Authorization header came).
/// </summary>
internal sealed class LoopbackHub : IAsyncDisposable
{
    public sealed record Repo(bool Gated, Dictionary<string, Dictionary<string, byte[]>> Commits, Dictionary<string, string> Refs);
    public sealed record Request(string Server, string Method, string Path, string? Range, bool Authorized);

    public const string Token = "hf_loopback_token";
    private readonly ConcurrentDictionary<string, Repo> repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> renamed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> blobs = new(StringComparer.Ordinal);
    private WebApplication? hub, cdn;

    public ConcurrentQueue<Request> Log { get; } = new();
    public string Endpoint { get; private set; } = "";
    public string CdnEndpoint { get; private set; } = "";
    /// <summary>Delay after each 4 KiB the CDN sends (zero: as fast as it can).</summary>
    public TimeSpan ChunkDelay { get; set; }
    /// <summary>When set, the CDN's next response stops after this many bytes by dropping the connection (once).</summary>
    public long? CutAfter { get; set; }
    /// <summary>When set, the CDN's next full response has one byte flipped (once).</summary>
    public bool CorruptNext { get; set; }

    public static async Task<LoopbackHub> StartAsync()
    {
        var server = new LoopbackHub();
        server.cdn = Build(server.Cdn);
        await server.cdn.StartAsync();
        server.CdnEndpoint = Address(server.cdn);
        server.hub = Build(server.Hub);
        await server.hub.StartAsync();
        server.Endpoint = Address(server.hub);
        return server;
    }

    /// <summary>Adds a repository: each commit's files, and the branches and tags pointing at commits.</summary>
    public void Add(string repo, Dictionary<string, Dictionary<string, byte[]>> commits, Dictionary<string, string> refs, bool gated = false)
    {
        repos[repo] = new Repo(gated, commits, refs);
        foreach (var files in commits.Values)
            foreach (var bytes in files.Values) blobs[Sha256(bytes)] = bytes;
    }

    /// <summary>Adds a one-commit repository from a folder's files; returns the commit.</summary>
    public string AddFolder(string repo, string folder, bool gated = false, string revision = "main")
    {
        var files = Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f).Replace('\\', '/'), File.ReadAllBytes);
        var commit = CommitOf(repo, files);
        Add(repo, new() { [commit] = files }, new() { [revision] = commit }, gated);
        return commit;
    }

    public void Rename(string from, string to) => renamed[from] = to;

    /// <summary>Moves a branch or tag to another commit (adding the commit's files).</summary>
    public void Move(string repo, string reference, string commit, Dictionary<string, byte[]> files)
    {
        var r = repos[repo];
        r.Commits[commit] = files;
        r.Refs[reference] = commit;
        foreach (var bytes in files.Values) blobs[Sha256(bytes)] = bytes;
    }

    public static string CommitOf(string repo, Dictionary<string, byte[]> files)
    {
        var text = repo + string.Join(";", files.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + "=" + Sha256(f.Value)));
        return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text)));
    }

    public static bool IsLfs(string file) => file.EndsWith(".safetensors", StringComparison.Ordinal) || file.EndsWith(".bin", StringComparison.Ordinal)
                                          || file.EndsWith(".onnx", StringComparison.Ordinal);

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string GitSha1(byte[] bytes) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {bytes.Length}\0"), .. bytes]));

    public IEnumerable<Request> CdnRequests => Log.Where(r => r.Server == "cdn");

    public async Task StopAsync()
    {
        if (hub is not null) await hub.StopAsync();
        if (cdn is not null) await cdn.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (hub is not null) await hub.DisposeAsync();
        if (cdn is not null) await cdn.DisposeAsync();
    }

    private static WebApplication Build(RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(handler);
        return app;
    }

    private static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');

    private void Record(string server, HttpContext context, string path) =>
        Log.Enqueue(new Request(server, context.Request.Method, path, context.Request.Headers.Range.FirstOrDefault(),
            context.Request.Headers.Authorization.Count > 0));

    private async Task Hub(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        Record("hub", context, raw);
        var response = context.Response;
        var at = raw.IndexOf("/resolve/", StringComparison.Ordinal);
        if (at < 0 || context.Request.Method is not ("GET" or "HEAD"))
        {
            response.StatusCode = 404;
            return;
        }
        var repoName = raw[1..at];
        var rest = raw[(at + "/resolve/".Length)..].Split('/', 2);
        var revision = Uri.UnescapeDataString(rest[0]);
        var file = rest.Length > 1 ? Uri.UnescapeDataString(rest[1]) : "";
        if (renamed.TryGetValue(repoName, out var newName))
        {
            response.StatusCode = 307;
            response.Headers.Location = $"/{newName}/resolve/{rest[0]}/{(rest.Length > 1 ? rest[1] : "")}";
            return;
        }
        if (!repos.TryGetValue(repoName, out var repo))
        {
            await Error(response, 401, "RepoNotFound", "Repository not found");
            return;
        }
        if (repo.Gated && context.Request.Headers.Authorization.ToString() != $"Bearer {Token}")
        {
            await Error(response, 401, "GatedRepo", $"Access to model {repoName} is restricted. You must have access to it and be authenticated to access it.");
            return;
        }
        var commit = repo.Refs.TryGetValue(revision, out var c) ? c : repo.Commits.ContainsKey(revision) ? revision : null;
        if (commit is null)
        {
            await Error(response, 404, "RevisionNotFound", $"Invalid rev id: {revision}");
            return;
        }
        response.Headers["X-Repo-Commit"] = commit;
        if (!repo.Commits[commit].TryGetValue(file, out var bytes))
        {
            await Error(response, 404, "EntryNotFound", $"{file} does not exist on \"{revision}\"");
            return;
        }
        if (IsLfs(file))
        {
            var sha = Sha256(bytes);
            response.StatusCode = 302;
            response.Headers.Location = $"{CdnEndpoint}/blobs/{sha}?file={Uri.EscapeDataString(file)}";
            response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
            response.Headers["X-Linked-Size"] = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            response.Headers.ETag = $"\"{GitSha1(Encoding.ASCII.GetBytes($"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\n"))}\"";
            return;
        }
        response.Headers.ETag = $"\"{GitSha1(bytes)}\"";
        await Send(context, bytes, throttle: false);
    }

    private async Task Cdn(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        Record("cdn", context, path);
        if (!path.StartsWith("/blobs/", StringComparison.Ordinal) || !blobs.TryGetValue(path["/blobs/".Length..], out var bytes))
        {
            context.Response.StatusCode = 404;
            return;
        }
        await Send(context, bytes, throttle: true);
    }

    private async Task Send(HttpContext context, byte[] bytes, bool throttle)
    {
        var response = context.Response;
        long from = 0;
        if (context.Request.Headers.Range.FirstOrDefault() is { } range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            from = long.Parse(range["bytes=".Length..].Split('-')[0], System.Globalization.CultureInfo.InvariantCulture);
            if (from >= bytes.Length)
            {
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{bytes.Length}";
                return;
            }
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {from}-{bytes.Length - 1}/{bytes.Length}";
        }
        response.Headers.AcceptRanges = "bytes";
        response.ContentLength = bytes.Length - from;
        if (context.Request.Method == "HEAD") return;
        var body = bytes[(int)from..];
        if (throttle && CorruptNext && from == 0)
        {
            CorruptNext = false;
            body = [.. body];
            body[body.Length / 2] ^= 0xFF;
        }
        var cut = throttle ? CutAfter : null;
        if (cut is not null) CutAfter = null;
        for (var offset = 0; offset < body.Length; offset += 4096)
        {
            var n = Math.Min(4096, body.Length - offset);
            if (cut is { } limit && offset + n > limit)
            {
                await response.Body.WriteAsync(body.AsMemory(offset, (int)Math.Max(0, limit - offset)));
                await response.Body.FlushAsync();
                await Task.Delay(300);   // let the client read what was sent before the reset
                context.Abort();   // the connection drops mid-file
                return;
            }
            await response.Body.WriteAsync(body.AsMemory(offset, n));
            if (throttle && ChunkDelay > TimeSpan.Zero)
            {
                await response.Body.FlushAsync();
                await Task.Delay(ChunkDelay);
            }
        }
    }

    private static async Task Error(HttpResponse response, int status, string code, string message)
    {
        response.StatusCode = status;
        response.Headers["X-Error-Code"] = code;
        response.Headers["X-Error-Message"] = message;
        response.ContentType = "application/json";
        if (response.HttpContext.Request.Method == "HEAD") return;
        await response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new { error = message }));
    }
}
