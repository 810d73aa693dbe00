namespace HybridBert.Interop.Hub;

/// <summary>
/// One downloader per blob across processes: an exclusive lock on <c>{cache}/.locks/models--org--name/{etag}.lock</c>,
/// the file huggingface_hub locks for the same blob. .NET takes <see cref="FileShare.None"/> on Unix as
/// <c>flock(LOCK_EX | LOCK_NB)</c>, as Python's <c>filelock</c> does, so a Python client and this one wait for each other;
/// the kernel drops the lock when a process dies, so a killed download never blocks the next. The second comes
/// waits (saying so once) and then finds the blob in place.
/// </summary>
internal sealed class BlobLock : IDisposable
{
    private readonly FileStream stream;

    private BlobLock(FileStream stream) => this.stream = stream;

    public static BlobLock Acquire(string path, string what, HubSettings settings)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var said = false;
        while (true)
        {
            try
            {
                return new BlobLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (File.Exists(path))
            {
                if (!said) settings.Log.WriteLine($"waiting for another download of {what} ({path})");
                said = true;
                settings.Cancel.WaitHandle.WaitOne(100);
                settings.Cancel.ThrowIfCancellationRequested();
            }
        }
    }

    public void Dispose() => stream.Dispose();
}
