using System.Runtime.InteropServices;

namespace HybridBert.Memory;

/// <summary>
/// Hands freed native memory back to the OS during training: without it glibc's heap keeps the freed activations of
/// each step and resident memory grows step after step although no tensor leaks. Trimming costs time (the next
/// allocations fault their pages in again). A trimming step trims twice: after the forward, before backward allocates
/// the gradients (the step's peak is in backward, and the forward's freed temporaries would sit fragmented under it),
/// and after the step; that lowers the peak at no measurable cost. Hence <c>--trim-every</c> (default 1). Linux/glibc
/// only; elsewhere a no-op. Measurements: docs/results/design-measurements.md#trimming.
/// <para>
/// Without trimming, the heap must still not grow from step to step: <see cref="AfterStep"/> runs the .NET garbage
/// collector and its finalizers after every step, because native memory held by objects that only a finalizer
/// releases stays allocated, scattered among the freed activations, until the collector happens to run — and a
/// training loop allocates too little managed memory for that. With it (and gradients zeroed in place,
/// <see cref="Training.Gradients"/>) the peak is a third of what it grows to without, for 1–2 ms a step
/// (docs/results/design-measurements.md#collect-after-step).
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
    /// young). It lowers the inference peak by 31–45% at no measurable cost
    /// (docs/results/design-measurements.md#collect-after-step).</summary>
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
    /// page; with huge pages it faults 5–10× less, and training peaks are a tenth lower at the same step
    /// time. Inference, which does not trim, ran slower with it and kept the same peak, so it is for training only
    /// (docs/results/design-measurements.md#huge-pages).
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
