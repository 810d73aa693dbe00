namespace HybridBert.Memory;

/// <summary>Resident memory of this process: current (VmRSS) and peak (VmHWM), in MiB. Native (libtorch) memory
/// included, which the GC's counters do not see.</summary>
public static class MemoryUsage
{
    public static double CurrentMiB => Read("VmRSS:") ?? Environment.WorkingSet / 1048576.0;
    public static double PeakMiB => Read("VmHWM:") ?? System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;

    /// <summary>Memory the kernel can give without swapping (MemAvailable), in bytes; null where /proc is absent.</summary>
    public static double? AvailableBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return double.Parse(line["MemAvailable:".Length..].Trim().Split(' ')[0],
                        System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>A limit on this process's memory, in bytes: its cgroup's <c>memory.max</c> (cgroup v2) or the address-space
    /// rlimit (<c>ulimit -v</c>), whichever is lower; null when neither is set (or where /proc and /sys are absent).</summary>
    public static double? LimitBytes()
    {
        double? limit = null;
        try
        {
            if (File.Exists("/sys/fs/cgroup/memory.max") && File.ReadAllText("/sys/fs/cgroup/memory.max").Trim() is var max && max != "max"
                && double.TryParse(max, System.Globalization.CultureInfo.InvariantCulture, out var cgroup))
                limit = cgroup;
            foreach (var line in File.ReadLines("/proc/self/limits"))
                if (line.StartsWith("Max address space", StringComparison.Ordinal)
                    && line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, _, _, var soft, ..]
                    && double.TryParse(soft, System.Globalization.CultureInfo.InvariantCulture, out var rlimit))
                    limit = Math.Min(limit ?? double.MaxValue, rlimit);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return limit;
    }

    /// <summary>Minor page faults of this process so far (pages the kernel mapped in without reading disk); null
    /// where /proc is absent.</summary>
    public static long? MinorFaults()
    {
        try
        {
            // /proc/self/stat: "pid (comm) state ppid ..."; comm may hold spaces, so count fields after its ')'.
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture);   // minflt, field 10
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    private static double? Read(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return double.Parse(line[field.Length..].Trim().Split(' ')[0]) / 1024.0;   // kB
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
