using System.Runtime.InteropServices;

namespace HybridBert.Memory;

/// <summary>
/// Hands freed native memory back to the OS during training. Measured on the mini preset (batch 32, seq 128,
/// 2 threads): without it glibc's heap keeps the freed activations of each step and resident memory grows by about
/// 30 MB per step (1.9 GB after 22 steps) although no tensor leaks. Trimming costs time (the next allocations fault
/// their pages in again): 979 vs 782 ms per step when trimming after every step; every 4 steps: 851 ms, 1.3 GB.
/// A trimming step trims twice: after the forward, before backward allocates the gradients (the step's peak is in
/// backward, and the forward's freed temporaries would sit fragmented under it), and after the step. Measured
/// against trimming after the step only (AAAA / PPPP, vocab 30,522, interleaved): peak 1,082–1,108 vs 1,176–1,190
/// MiB and 1,174 vs 1,289–1,294 MiB, step time within the run-to-run noise (+5% to −14%). Hence
/// <c>--trim-every</c> (default 1). Linux/glibc only; elsewhere a no-op.
/// <para>
/// Without trimming, the heap must still not grow from step to step: <see cref="AfterStep"/> runs the .NET garbage
/// collector and its finalizers after every step, because native memory held by objects that only a finalizer
/// releases stays allocated, scattered among the freed activations, until the collector happens to run — and a
/// training loop allocates too little managed memory for that. Measured (mini ponet 128×32, vocab 30,522,
/// <c>--trim-every 0</c>, 40 steps): peak 3,813 MiB without the collection (1.6 GB after 5 steps, still growing by
/// ~60 MiB a step), 1,380 MiB with it and gradients zeroed in place (<see cref="Training.Gradients"/>); bert 3,486 vs 1,303
/// MiB. A collection takes 1–2 ms.
/// </para>
/// </summary>
public static partial class NativeMemory
{
    private static bool available = OperatingSystem.IsLinux();

    /// <summary>After training step <paramref name="step"/> (1-based): collects what finalizers release, then trims
    /// when <paramref name="trimEvery"/> divides the step (0 = never).</summary>
    public static void AfterStep(long step, int trimEvery)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        if (IsTrimmingStep(step, trimEvery)) Trim();
    }

    /// <summary>After each inference batch (inference never trims: predict and serve answer faster without): a
    /// young-generation collection, whose finalizers free the small native objects the forward left behind (they die
    /// young). Measured (mini, 128×32, vocab 30,522, 60 forwards, <c>bench --mode infer</c>, two rounds): peak
    /// 1,070–1,074 → 584–622 MiB (ponet), 694–754 → 481–498 MiB (bert), forward times within the noise.</summary>
    public static void AfterInferenceBatch() => GC.Collect(0);

    /// <summary>Trims before the backward of step <paramref name="step"/> (1-based) when it is a trimming step.</summary>
    public static void BeforeBackward(long step, int trimEvery)
    {
        if (IsTrimmingStep(step, trimEvery)) Trim();
    }

    private static bool IsTrimmingStep(long step, int every) => every > 0 && step % every == 0;

    public static void Trim()
    {
        if (!available) return;
        try
        {
            malloc_trim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            available = false;   // not glibc (e.g. musl): nothing to trim this way
        }
    }

    private static int hugePagesAsked;

    /// <summary>The variable libtorch's CPU allocator (c10 <c>alloc_cpu</c>) reads once, at its first allocation.</summary>
    public const string HugePagesVariable = "THP_MEM_ALLOC_ENABLE";

    /// <summary>
    /// For a training process that trims: asks libtorch's CPU allocator to back tensors of 2 MiB and more with
    /// transparent huge pages (its <c>THP_MEM_ALLOC_ENABLE=1</c>: such tensors are page-aligned and advised
    /// <c>MADV_HUGEPAGE</c>). libtorch reads the setting once, at the process's first tensor, so this takes effect only
    /// when called before any tensor exists (pre-training and the bench's training children call it first thing);
    /// later it changes nothing. A value the user set is obeyed (<c>THP_MEM_ALLOC_ENABLE=0</c> turns it off), and
    /// the environment is left as it was, so child processes are not affected. Linux only.
    /// </summary>
    /// <remarks>
    /// Trimming hands each step's freed activations back to the OS, and the next step faults them in again page by
    /// page: 200,000–300,000 minor faults a step at mini, 4,096 tokens; with huge pages 30,000–40,000. Measured
    /// (mini, the six shapes of <c>benchmarks/compare-pytorch.sh</c>, 24 interleaved pairs): peak memory ×0.90, step
    /// time unchanged (×0.99). The lower peak comes from the allocation path, not from the huge pages: it was as low
    /// with THP disabled in the kernel (sysfs <c>never</c>). Inference, which does not trim, ran 3–7% slower with it
    /// and kept the same peak, so it is for training only. Details: <c>docs/results/compare-pytorch/</c>.
    /// (.NET's <c>Environment.SetEnvironmentVariable</c> does not reach the native environment on Unix: libc's
    /// <c>setenv</c> does.)
    /// </remarks>
    public static void UseHugePages()
    {
        // Once per process: only the first call can matter, and changing the environment while other threads might
        // read it is best done as rarely as possible.
        if (Interlocked.Exchange(ref hugePagesAsked, 1) == 1) return;
        if (!OperatingSystem.IsLinux() || getenv(HugePagesVariable) != IntPtr.Zero) return;
        try
        {
            setenv(HugePagesVariable, "1", overwrite: 1);
            try { HugePagesActive(); }   // libtorch's first allocation reads the setting, if none has yet
            finally { unsetenv(HugePagesVariable); }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    /// <summary>
    /// Whether libtorch's allocator is on its huge-page path in this process: a 40 MiB tensor (never touched, so it
    /// costs no memory) is page-aligned on that path and 64-byte aligned off it (glibc serves that size from mmap
    /// either way, so the answer does not depend on the heap's state).
    /// </summary>
    public static bool HugePagesActive()
    {
        using var probe = TorchSharp.torch.empty(40L << 20, dtype: TorchSharp.torch.ScalarType.Byte);
        return (long)probe.storage<byte>().data_ptr() % Environment.SystemPageSize == 0;
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int malloc_trim(nuint pad);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unsetenv(string name);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr getenv(string name);
}
