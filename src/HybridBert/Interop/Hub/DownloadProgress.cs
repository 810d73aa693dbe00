using System.Diagnostics;

namespace HybridBert.Interop.Hub;

/// <summary>A download's live line on a terminal (bytes, rate, ETA), from a quarter of a second in, redrawn at most ten
/// times a second and cleared at the end; nothing when progress is off (the pull prints a summary instead).</summary>
internal sealed class DownloadProgress(string file, long size, HubSettings settings) : IDisposable
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private long start = -1, last;
    private TimeSpan? drawn;
    private bool shown;

    public void Report(long held)
    {
        if (start < 0) start = held;   // resumed bytes do not count toward the rate
        last = held;
        // Nothing for a file done within a quarter of a second (most small files), then ten redraws a second.
        if (!settings.Progress || clock.Elapsed < TimeSpan.FromMilliseconds(250)
            || (drawn is { } previous && clock.Elapsed - previous < TimeSpan.FromMilliseconds(100))) return;
        drawn = clock.Elapsed;
        settings.Log.Write($"\r{Line()}\u001b[K");
        shown = true;
    }

    internal string Line()
    {
        var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
        var rate = (last - start) / seconds;
        var eta = rate > 0 ? TimeSpan.FromSeconds((size - last) / rate) : (TimeSpan?)null;
        var percent = size > 0 ? 100.0 * last / size : 100;
        return $"{file}: {HubModels.Bytes(last)} / {HubModels.Bytes(size)} ({percent:0}%), {HubModels.Bytes((long)rate)}/s" +
               (eta is { } e ? $", ETA {e:hh\\:mm\\:ss}" : "");
    }

    public void Dispose()
    {
        if (shown) settings.Log.Write("\r\u001b[K");
    }
}
