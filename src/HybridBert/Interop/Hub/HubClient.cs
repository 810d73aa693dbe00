using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace HybridBert.Interop.Hub;

/// <summary>The Hub said no (no such model, revision or file; no access; a corrupted download): one line saying what to do.</summary>
public class HubException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>The Hub could not be reached at all (no network, DNS, refused, timed out): the cache may still serve.</summary>
public sealed class HubUnreachableException(string message, Exception? inner = null) : HubException(message, inner);

/// <summary>What a HEAD on the resolve route says about one file.</summary>
/// <param name="Commit">The commit the revision resolved to (<c>X-Repo-Commit</c>).</param>
/// <param name="Etag">The blob's name in the cache (<c>X-Linked-Etag</c> for LFS files, else <c>ETag</c>), quotes removed.</param>
/// <param name="Size">Bytes (<c>X-Linked-Size</c>, else <c>Content-Length</c>).</param>
/// <param name="Location">Where to GET it: the CDN for LFS files, else the resolve URL.</param>
public sealed record HubFile(string Commit, string Etag, long Size, Uri Location);

/// <summary>
/// The Hub's HTTP protocol for downloads, as huggingface_hub speaks it: <c>HEAD {endpoint}/{repo}/resolve/{revision}/{file}</c>
/// (redirects to the same host followed, e.g. a renamed repository; a redirect to another host is the CDN and only
/// read), then <c>GET</c> of the location with <c>Range</c> to resume; <c>Authorization</c> only to the Hub's own host;
/// errors by <c>X-Error-Code</c> (<c>RepoNotFound</c>, <c>RevisionNotFound</c>, <c>EntryNotFound</c>, <c>GatedRepo</c>) and status.
/// Written by hand: no .NET library for the Hub is published on NuGet.
/// </summary>
internal sealed class HubClient : IDisposable
{
    private readonly HttpClient http;
    private readonly HubSettings settings;
    private readonly Uri endpoint;

    public HubClient(HubSettings settings)
    {
        this.settings = settings;
        endpoint = new Uri(settings.Endpoint.TrimEnd('/') + "/");
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, ConnectTimeout = settings.Timeout,
        };
        http = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd($"hybridbert/{typeof(HubClient).Assembly.GetName().Version?.ToString(3) ?? "0"}");
    }

    public void Dispose() => http.Dispose();

    public Uri ResolveUrl(HubModelId id, string file) =>
        new(endpoint, $"{id.Repo}/resolve/{Uri.EscapeDataString(id.Revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>The file's metadata, or (null, commit) when the revision exists but the file does not (the commit is null
    /// when the Hub did not say it).</summary>
    public (HubFile? File, string? Commit) Head(HubModelId id, string file)
    {
        var url = ResolveUrl(id, file);
        for (var hop = 0; ; hop++)
        {
            using var request = Request(HttpMethod.Head, url);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(settings.Cancel);
            timeout.CancelAfter(settings.Timeout);
            using var response = Send(request, timeout.Token, url);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                var next = location.IsAbsoluteUri ? location : new Uri(url, location);
                if (SameHost(next, url) && hop < 5 && !HasLinkedEtag(response))
                {
                    url = next;   // a renamed repository: follow, as huggingface_hub's follow_relative_redirects does
                    continue;
                }
                return (Metadata(response, next, id, file), null);
            }
            if (response.IsSuccessStatusCode) return (Metadata(response, url, id, file), null);
            var code = Header(response, "X-Error-Code");
            if (code == "EntryNotFound" || (status == 404 && code is null && Header(response, "X-Repo-Commit") is not null))
                return (null, Header(response, "X-Repo-Commit"));
            throw Failure(response, id, file);
        }
    }

    private static bool HasLinkedEtag(HttpResponseMessage response) => Header(response, "X-Linked-Etag") is not null;

    private HubFile Metadata(HttpResponseMessage response, Uri location, HubModelId id, string file)
    {
        var commit = Header(response, "X-Repo-Commit")
            ?? throw new HubException($"{settings.Endpoint} sent no X-Repo-Commit for {id}/{file}: is HF_ENDPOINT a Hugging Face Hub?");
        var etag = Header(response, "X-Linked-Etag") ?? Header(response, "ETag")
            ?? throw new HubException($"{settings.Endpoint} sent no ETag for {id}/{file}: cannot cache it safely");
        var size = long.TryParse(Header(response, "X-Linked-Size"), out var linked) ? linked
            : response.Content.Headers.ContentLength ?? throw new HubException($"{settings.Endpoint} sent no size for {id}/{file}");
        return new HubFile(commit, NormalizeEtag(etag), size, location);
    }

    /// <summary>An etag as the cache names its blob: without a weak marker and quotes.</summary>
    public static string NormalizeEtag(string etag) => (etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag).Trim('"');

    /// <summary>
    /// Downloads <paramref name="file"/> into <paramref name="incomplete"/>, resuming from the bytes it already holds with a
    /// <c>Range</c> request; retries a dropped connection from where it stopped. <paramref name="progress"/> is told the bytes held.
    /// </summary>
    public void Download(HubFile file, string incomplete, Action<long> progress)
    {
        for (var attempt = 1; ; attempt++)
        {
            var have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
            if (have > file.Size)
            {
                File.Delete(incomplete);   // longer than the file: not a prefix of it, start again
                have = 0;
            }
            if (have == file.Size && have > 0) return;   // complete already (the caller verifies it)
            using var request = Request(HttpMethod.Get, file.Location, authorize: SameHost(file.Location, endpoint));
            if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
            try
            {
                using var response = Send(request, settings.Cancel, file.Location, headersOnly: true);
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                {
                    File.Delete(incomplete);
                    if (attempt < 3) continue;
                }
                if (!response.IsSuccessStatusCode) throw Failure(response, null, file.Location.ToString());
                var append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
                using var output = new FileStream(incomplete, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read);
                using var body = response.Content.ReadAsStream(settings.Cancel);
                var buffer = new byte[1 << 16];
                var held = append ? have : 0;
                progress(held);
                int read;
                while ((read = ReadOrStall(body, buffer)) > 0)
                {
                    output.Write(buffer, 0, read);
                    held += read;
                    progress(held);
                }
                output.Flush(flushToDisk: true);
                if (held < file.Size && attempt < 3) continue;   // the connection ended early: resume
                return;
            }
            catch (Exception e) when (e is IOException or HttpRequestException && (e is not HubException || e is HubUnreachableException)
                                      && attempt < 3 && !settings.Cancel.IsCancellationRequested)
            {
                Thread.Sleep(200 * attempt);   // a dropped connection: resume from what was written
            }
        }
    }

    /// <summary>One read of the body, stopped by the caller's cancellation or by <see cref="HubSettings.Timeout"/> without
    /// data (a stalled connection, which the retry then resumes), as huggingface_hub's <c>HF_HUB_DOWNLOAD_TIMEOUT</c> does.</summary>
    private int ReadOrStall(Stream body, byte[] buffer)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(settings.Cancel);
        stall.CancelAfter(settings.Timeout);
        try
        {
            return body.ReadAsync(buffer, stall.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (!settings.Cancel.IsCancellationRequested)
        {
            throw new IOException($"no data for {settings.Timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Checks a finished download against its etag: a 64-hex etag is the SHA-256 of an LFS file, a 40-hex one the
    /// git blob SHA-1 of a small file. Other etags (a mirror's own) are not checked beyond the size.</summary>
    public static string? Mismatch(string path, string etag, long size)
    {
        var actual = new FileInfo(path).Length;
        if (actual != size) return $"{actual:N0} bytes where {size:N0} were expected";
        if (etag.Length == 64 && etag.All(Uri.IsHexDigit))
        {
            using var stream = File.OpenRead(path);
            var sha = Convert.ToHexStringLower(SHA256.HashData(stream));
            return sha == etag.ToLowerInvariant() ? null : $"SHA-256 {sha} where the Hub says {etag}";
        }
        if (etag.Length == 40 && etag.All(Uri.IsHexDigit))
        {
            using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
            sha1.AppendData(System.Text.Encoding.ASCII.GetBytes($"blob {actual}\0"));
            using var stream = File.OpenRead(path);
            var buffer = new byte[1 << 16];
            int read;
            while ((read = stream.Read(buffer)) > 0) sha1.AppendData(buffer, 0, read);
            var git = Convert.ToHexStringLower(sha1.GetHashAndReset());
            return git == etag.ToLowerInvariant() ? null : $"git SHA-1 {git} where the Hub says {etag}";
        }
        return null;
    }

    private HttpRequestMessage Request(HttpMethod method, Uri url, bool authorize = true)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.AcceptEncoding.ParseAdd("identity");
        // The token goes to the Hub only, never to the CDN a file is redirected to (another host).
        if (authorize && settings.Token is { } token && SameHost(url, endpoint))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancel, Uri url, bool headersOnly = false)
    {
        try
        {
            return http.Send(request, headersOnly ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, cancel);
        }
        catch (OperationCanceledException) when (settings.Cancel.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is HttpRequestException { StatusCode: null } or OperationCanceledException)
        {
            var why = e is OperationCanceledException ? $"no answer in {settings.Timeout.TotalSeconds:0} s" : e.InnerException?.Message ?? e.Message;
            throw new HubUnreachableException($"cannot reach {url.GetLeftPart(UriPartial.Authority)} ({why})", e);
        }
    }

    private Exception Failure(HttpResponseMessage response, HubModelId? id, string file)
    {
        var code = Header(response, "X-Error-Code");
        var what = id is null ? file : $"{id.Repo}";
        var tokenHint = settings.Token is null ? "set HF_TOKEN (or --token) to a token with access"
            : "the token given (HF_TOKEN/--token) has no access";
        return (int)response.StatusCode switch
        {
            _ when code == "RepoNotFound" =>
                new HubException($"no model '{what}' on {settings.Endpoint} (or it is private: {tokenHint})"),
            _ when code == "RevisionNotFound" => new HubException($"model '{what}' has no revision '{id!.Revision}' (a branch, tag or commit)"),
            _ when code == "GatedRepo" => new HubException($"'{what}' is gated: accept its conditions on the Hub, then {tokenHint}"),
            401 => new HubException($"'{what}' needs authentication (private or gated): {tokenHint}"),
            403 => new HubException($"access to '{what}' is forbidden: {tokenHint}"),
            404 => new HubException($"not found on {settings.Endpoint}: {what} ({file})"),
            _ => new HubException($"{settings.Endpoint} answered {(int)response.StatusCode} {response.ReasonPhrase} for {what} ({file})"),
        };
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault()
        : response.Content.Headers.TryGetValues(name, out var content) ? content.FirstOrDefault() : null;

    private static bool SameHost(Uri a, Uri b) =>
        string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port && a.Scheme == b.Scheme;
}
