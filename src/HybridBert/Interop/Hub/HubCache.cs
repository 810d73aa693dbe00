namespace HybridBert.Interop.Hub;

/// <summary>
/// The Hugging Face cache, in the layout huggingface_hub documents for clients in any language, so that what Python
/// (or transformers.js, or text-embeddings-inference) downloaded is used here and what we download is used there:
/// <code>
/// {cache}/models--org--name/
///   refs/{revision}                 the commit a branch or tag pointed to when last seen (no newline)
///   blobs/{etag}                    each file's bytes once, named by its etag (SHA-256 for LFS files, git SHA-1 else)
///   blobs/{etag}.incomplete         a download in progress or interrupted (resumed with a Range request)
///   snapshots/{commit}/{file}       relative symlinks into ../../blobs/{etag}
///   .no_exist/{commit}/{file}       empty: the file is known not to exist at that commit
/// {cache}/.locks/models--org--name/{etag}.lock   one downloader per blob (flock, as Python's filelock takes it)
/// </code>
/// </summary>
public sealed class HubCache(string root)
{
    public string Root { get; } = root;

    public string RepoFolder(HubModelId id) => Path.Combine(Root, id.FolderName);
    public string SnapshotFolder(HubModelId id, string commit) => Path.Combine(RepoFolder(id), "snapshots", commit);
    public string BlobPath(HubModelId id, string etag) => Path.Combine(RepoFolder(id), "blobs", etag);
    public string LockPath(HubModelId id, string etag) => Path.Combine(Root, ".locks", id.FolderName, etag + ".lock");

    /// <summary>The commit the cache knows for the id's revision: <c>refs/{revision}</c>, or the revision itself when it
    /// is a commit hash with a snapshot; null when the cache has never seen it.</summary>
    public string? CommitFor(HubModelId id)
    {
        var folder = RepoFolder(id);
        var reference = Path.Combine(folder, "refs", id.Revision);
        if (File.Exists(reference)) return File.ReadAllText(reference).Trim();
        return id.PinnedToCommit && Directory.Exists(SnapshotFolder(id, id.Revision)) ? id.Revision : null;
    }

    /// <summary>True when <paramref name="file"/> is in the snapshot and its blob is there (a dangling link is not).</summary>
    public bool Has(HubModelId id, string commit, string file) => File.Exists(Path.Combine(SnapshotFolder(id, commit), file));

    /// <summary>True when the cache recorded that <paramref name="file"/> does not exist at <paramref name="commit"/>.</summary>
    public bool KnownMissing(HubModelId id, string commit, string file) =>
        File.Exists(Path.Combine(RepoFolder(id), ".no_exist", commit, file));

    public void WriteRef(HubModelId id, string commit)
    {
        if (id.Revision == commit) return;   // a commit needs no ref
        var path = Path.Combine(RepoFolder(id), "refs", id.Revision);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == commit) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";   // unique per writer: two pulls may write the same ref at once
        File.WriteAllText(temporary, commit);
        File.Move(temporary, path, overwrite: true);
    }

    public void MarkMissing(HubModelId id, string commit, string file)
    {
        var path = Path.Combine(RepoFolder(id), ".no_exist", commit, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path)) File.WriteAllBytes(path, []);
    }

    /// <summary>Points <c>snapshots/{commit}/{file}</c> at its blob with a relative symlink (a copy where the file system
    /// cannot link, as huggingface_hub does).</summary>
    public string Link(HubModelId id, string commit, string file, string etag)
    {
        var pointer = Path.Combine(SnapshotFolder(id, commit), file);
        var blob = BlobPath(id, etag);
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        var relative = Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob);
        var temporary = $"{pointer}.{Guid.NewGuid():N}.link";
        File.Delete(temporary);
        try
        {
            File.CreateSymbolicLink(temporary, relative);
        }
        catch (IOException)
        {
            File.Copy(blob, temporary, overwrite: true);
        }
        File.Move(temporary, pointer, overwrite: true);   // rename(2): readers see the old link or the new one, never none
        return pointer;
    }

    /// <summary>A file's size, through its symlink (a link's own length is that of the path it holds).</summary>
    public static long SizeOf(string path)
    {
        var file = new FileInfo(path);
        return (file.LinkTarget is null ? file : file.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? file).Length;
    }

    /// <summary>Every model in the cache: its revisions (refs and snapshots), files, size on disk (each blob counted
    /// once) and interrupted downloads.</summary>
    public IReadOnlyList<CachedModel> List()
    {
        if (!Directory.Exists(Root)) return [];
        var models = new List<CachedModel>();
        foreach (var folder in Directory.GetDirectories(Root, "models--*").Order(StringComparer.Ordinal))
        {
            var repo = Path.GetFileName(folder)["models--".Length..].Replace("--", "/", StringComparison.Ordinal);
            var refs = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            var refsFolder = Path.Combine(folder, "refs");
            if (Directory.Exists(refsFolder))
                foreach (var file in Directory.GetFiles(refsFolder, "*", SearchOption.AllDirectories))
                {
                    var commit = File.ReadAllText(file).Trim();
                    var name = Path.GetRelativePath(refsFolder, file).Replace('\\', '/');
                    if (!refs.TryGetValue(commit, out var names)) refs[commit] = names = [];
                    names.Add(name);
                }
            var revisions = new List<CachedRevision>();
            var snapshots = Path.Combine(folder, "snapshots");
            if (Directory.Exists(snapshots))
                foreach (var snapshot in Directory.GetDirectories(snapshots).Order(StringComparer.Ordinal))
                {
                    var commit = Path.GetFileName(snapshot);
                    var files = Directory.GetFiles(snapshot, "*", SearchOption.AllDirectories)
                        .Where(File.Exists).Select(f => Path.GetRelativePath(snapshot, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
                    var size = Directory.GetFiles(snapshot, "*", SearchOption.AllDirectories).Where(File.Exists).Sum(SizeOf);
                    revisions.Add(new CachedRevision(commit, refs.GetValueOrDefault(commit)?.Order(StringComparer.Ordinal).ToList() ?? [],
                        files, size, Directory.GetLastWriteTimeUtc(snapshot)));
                }
            var blobs = Path.Combine(folder, "blobs");
            // Sizes as listed: a download in another process may rename a blob between listing it and asking its size
            var blobFiles = Directory.Exists(blobs) ? new DirectoryInfo(blobs).GetFiles() : [];
            models.Add(new CachedModel(repo, folder, revisions,
                blobFiles.Where(f => !f.Name.EndsWith(".incomplete", StringComparison.Ordinal)).Sum(f => f.Length),
                blobFiles.Count(f => f.Name.EndsWith(".incomplete", StringComparison.Ordinal))));
        }
        return models;
    }
}

/// <summary>One cached model: <see cref="SizeOnDisk"/> counts each blob once; <see cref="Incomplete"/> is how many
/// interrupted downloads wait to be resumed.</summary>
public sealed record CachedModel(string Repo, string Folder, IReadOnlyList<CachedRevision> Revisions, long SizeOnDisk, int Incomplete);

/// <summary>One snapshot: its commit, the branches and tags that point to it, its files and their total size.</summary>
public sealed record CachedRevision(string Commit, IReadOnlyList<string> Refs, IReadOnlyList<string> Files, long Size, DateTime Modified);
