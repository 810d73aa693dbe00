using System.Diagnostics;
using System.Text.Json.Nodes;

namespace HybridBert.Interop.Hub;

/// <summary>A model resolved from the Hub: the snapshot folder to load (a Hugging Face model folder), its commit, and
/// what had to be downloaded (nothing when everything was cached).</summary>
public sealed record PulledModel(HubModelId Id, string Folder, string Commit, IReadOnlyList<string> Files, int Downloaded, long DownloadedBytes,
    bool FromCacheOnly);

/// <summary>
/// Resolves a Hub id to a local folder, downloading what the cache lacks. Only the files a model needs are fetched:
/// <c>config.json</c>; the tokenizer's <c>vocab.txt</c>, <c>tokenizer.json</c>, <c>tokenizer_config.json</c>,
/// <c>special_tokens_map.json</c> where present; the weights <c>model.safetensors</c>, else the shard index and its
/// shards, else <c>pytorch_model.bin</c>; and a sentence-transformers model's <c>config_sentence_transformers.json</c>,
/// <c>modules.json</c> and pooling config. Online, each file is checked with a HEAD (as transformers does), so a branch
/// that moved is followed; files already cached are never downloaded again, and a revision that is a commit hash needs no
/// network once cached. Offline (<see cref="HubSettings.Offline"/>), or when the Hub cannot be reached, the cache alone
/// serves, and a model it lacks is an error naming it.
/// </summary>
public static class HubModels
{
    /// <summary>The tokenizer files fetched where the repository has them.</summary>
    public static readonly string[] TokenizerFiles =
        [ModelLayout.Vocab, ModelLayout.TokenizerJson, ModelLayout.TokenizerConfig, ModelLayout.SpecialTokens];

    /// <summary>sentence-transformers' own files: the prompts and the module list (which names the pooling config).</summary>
    public const string SentenceTransformersConfig = "config_sentence_transformers.json", Modules = "modules.json";

    /// <summary>
    /// Resolves <paramref name="text"/> when it is not an existing path: a Hub id becomes its snapshot folder (pulled on
    /// first use); anything else is returned as it is for the caller's own "not found".
    /// </summary>
    public static string ResolvePath(string text, HubSettings? settings = null) => Resolve(text, settings).Path;

    /// <summary><see cref="ResolvePath"/>, saying which Hub model (and commit) the folder is, when it is one.</summary>
    public static (string Path, PulledModel? Pulled) Resolve(string text, HubSettings? settings = null)
    {
        if (Directory.Exists(text) || File.Exists(text) || !HubModelId.TryParse(text, out var id) || LooksLikePath(text)) return (text, null);
        try
        {
            var pulled = Pull(id, settings);
            return (pulled.Folder, pulled);
        }
        catch (HubException e)
        {
            throw new HubException($"{text}: no such folder, and from the Hugging Face Hub: {e.Message}", e);
        }
    }

    /// <summary>Relative paths that do exist nowhere but are obviously meant as paths (<c>./x</c>, <c>x/</c>) are not ids.</summary>
    private static bool LooksLikePath(string text) => text.StartsWith('.') || text.EndsWith('/') || text.StartsWith('~');

    /// <summary>Makes the model available in the cache and returns its snapshot folder.</summary>
    public static PulledModel Pull(HubModelId id, HubSettings? settings = null)
    {
        settings ??= HubSettings.Current;
        var cache = new HubCache(settings.CacheDir);
        if (settings.Offline) return FromCache(id, cache, settings, "offline mode is on (HF_HUB_OFFLINE=1 or --offline)");
        using var client = new HubClient(settings);
        var pull = new Puller(id, cache, client, settings);
        try
        {
            return pull.Run();
        }
        catch (HubUnreachableException e)
        {
            var cached = TryFromCache(id, cache);
            if (cached is null)
                throw new HubUnreachableException($"{e.Message}, and {id} is not in the cache {cache.Root}: check the network, " +
                                                  "or work offline (HF_HUB_OFFLINE=1) with models already cached", e);
            settings.Log.WriteLine($"note: {e.Message}; using the cached {id} ({cached.Commit[..Math.Min(7, cached.Commit.Length)]})");
            return cached;
        }
    }

    private static PulledModel FromCache(HubModelId id, HubCache cache, HubSettings settings, string why) =>
        TryFromCache(id, cache) ?? throw new HubException(
            $"{id} is not in the Hugging Face cache ({cache.Root}) and {why}: pull it where there is network " +
            $"(hybridbert model pull {id}), or point HF_HUB_CACHE at a cache that has it");

    /// <summary>The cached snapshot of the id's revision when it holds a config and weights; null otherwise.</summary>
    public static PulledModel? TryFromCache(HubModelId id, HubCache cache)
    {
        if (cache.CommitFor(id) is not { } commit) return null;
        var folder = cache.SnapshotFolder(id, commit);
        if (!File.Exists(Path.Combine(folder, ModelLayout.Config))) return null;
        var weights = HuggingFaceFolder.WeightFiles.FirstOrDefault(f => File.Exists(Path.Combine(folder, f)));
        if (weights is null) return null;
        if (weights == ModelLayout.ShardIndex && Shards(Path.Combine(folder, weights)).Any(s => !File.Exists(Path.Combine(folder, s)))) return null;
        var files = Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Where(File.Exists)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
        return new PulledModel(id, folder, commit, files, 0, 0, FromCacheOnly: true);
    }

    internal static IEnumerable<string> Shards(string index)
    {
        var map = JsonNode.Parse(File.ReadAllText(index))?["weight_map"] as JsonObject
                  ?? throw new InvalidDataException($"{index}: no weight_map");
        return map.Select(p => p.Value!.GetValue<string>()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
    }

    /// <summary>The module folder of the Pooling entry of a sentence-transformers <c>modules.json</c>, or null.</summary>
    public static string? PoolingFolder(string modulesJson)
    {
        var modules = JsonNode.Parse(File.ReadAllText(modulesJson)) as JsonArray;
        var pooling = modules?.OfType<JsonObject>().FirstOrDefault(m =>
            m["type"]?.GetValue<string>().EndsWith(".Pooling", StringComparison.Ordinal) == true);
        return pooling?["path"]?.GetValue<string>() is { Length: > 0 } path ? path.Trim('/') : null;
    }

    /// <summary>One pull: the files of <see cref="HubModels"/>'s list, each from the cache or the Hub.</summary>
    private sealed class Puller(HubModelId id, HubCache cache, HubClient client, HubSettings settings)
    {
        private string? commit;
        private readonly List<string> files = [];
        private int downloaded;
        private long downloadedBytes;
        private readonly Stopwatch clock = Stopwatch.StartNew();

        public PulledModel Run()
        {
            Need(ModelLayout.Config, required: true);
            foreach (var file in TokenizerFiles) Need(file, required: false);
            if (!Need(ModelLayout.Weights, required: false))
            {
                if (Need(ModelLayout.ShardIndex, required: false))
                    foreach (var shard in Shards(Local(ModelLayout.ShardIndex))) Need(shard, required: true);
                else if (!Need(ModelLayout.Pickle, required: false))
                    throw new HubException($"{id} has no weights we read ({string.Join(", ", HuggingFaceFolder.WeightFiles)}) " +
                                           $"at {id.Revision}: is it a BERT-family model?");
            }
            Need(SentenceTransformersConfig, required: false);
            if (Need(Modules, required: false) && PoolingFolder(Local(Modules)) is { } pooling) Need(pooling + "/config.json", required: false);
            if (downloaded > 0)
                settings.Log.WriteLine($"{id}: downloaded {downloaded} file{(downloaded == 1 ? "" : "s")} ({Bytes(downloadedBytes)}) in " +
                                       $"{clock.Elapsed.TotalSeconds:0.0} s -> {cache.SnapshotFolder(id, commit!)}");
            return new PulledModel(id, cache.SnapshotFolder(id, commit!), commit!, files, downloaded, downloadedBytes, FromCacheOnly: false);
        }

        private string Local(string file) => Path.Combine(cache.SnapshotFolder(id, commit!), file);

        /// <summary>Makes <paramref name="file"/> present in the snapshot; false when the repository does not have it.</summary>
        private bool Need(string file, bool required)
        {
            if (id.PinnedToCommit && commit is null) commit = id.Revision;
            if (id.PinnedToCommit)
            {
                if (cache.Has(id, id.Revision, file)) return Found(file);
                if (cache.KnownMissing(id, id.Revision, file)) return Missing(file, required);
            }
            var (remote, missingAt) = client.Head(id, file);
            if (remote is null)
            {
                if ((missingAt ?? commit) is { } at)
                {
                    Commit(at);
                    cache.MarkMissing(id, at, file);
                }
                return Missing(file, required);
            }
            Commit(remote.Commit);
            if (cache.Has(id, remote.Commit, file)) return Found(file);   // cached: never downloaded again
            Fetch(file, remote);
            cache.Link(id, remote.Commit, file, remote.Etag);
            return Found(file);
        }

        private void Commit(string at)
        {
            if (commit is not null && commit != at)
                throw new HubException($"{id} moved to commit {at} while it was being pulled (from {commit}): pull again");
            commit = at;
            cache.WriteRef(id, at);
        }

        private bool Found(string file)
        {
            files.Add(file);
            return true;
        }

        private bool Missing(string file, bool required) => required
            ? throw new HubException($"{id} has no {file} at revision {id.Revision}: not a Hugging Face model folder")
            : false;

        /// <summary>Downloads the blob unless another process has or does (it waits on the blob's lock, as the Hub's own
        /// clients do), verifies it, and renames it into place.</summary>
        private void Fetch(string file, HubFile remote)
        {
            var blob = cache.BlobPath(id, remote.Etag);
            if (File.Exists(blob)) return;
            Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
            using var _ = BlobLock.Acquire(cache.LockPath(id, remote.Etag), $"{id}/{file}", settings);
            if (File.Exists(blob)) return;   // the process we waited for downloaded it
            var incomplete = blob + ".incomplete";
            using (var progress = new DownloadProgress(file, remote.Size, settings))
            {
                try
                {
                    client.Download(remote, incomplete, progress.Report);
                }
                catch (Exception e) when (e is IOException or HttpRequestException && e is not HubException)
                {
                    var held = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
                    throw new HubException($"{id}/{file}: the download failed ({e.Message}) after {Bytes(held)} of {Bytes(remote.Size)}; " +
                                           "run the command again to resume it", e);
                }
            }
            if (HubClient.Mismatch(incomplete, remote.Etag, remote.Size) is { } wrong)
            {
                File.Delete(incomplete);
                throw new HubException($"{id}/{file}: the download is corrupt ({wrong}); it was discarded: pull again");
            }
            File.Move(incomplete, blob);
            downloaded++;
            downloadedBytes += remote.Size;
        }
    }

    internal static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };
}
