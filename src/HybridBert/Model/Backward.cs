using System.Runtime.ExceptionServices;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// Runs backward and rethrows what a backward written in C# (<see cref="ActivatedLinear"/>) failed with. libtorch's
/// engine calls such a backward from native code, where a .NET exception would end the process; so it records the
/// exception, returns no gradients, and <see cref="Run"/> throws it when the engine returns. A failure that nothing
/// rethrew (a plain <c>Tensor.backward()</c>) is thrown by the next forward through <see cref="ActivatedLinear"/>.
/// The record is process-wide, not per thread: on a GPU the engine runs backward on threads of its own.
/// </summary>
public static class Backward
{
    private static ExceptionDispatchInfo? pending;

    public static void Run(Tensor output, Tensor? gradient = null)
    {
        if (gradient is null) output.backward();
        else output.backward([gradient]);
        ThrowPending();
    }

    /// <summary>
    /// A C# backward's body: its gradients, or — when it throws — no gradient for any of its <paramref name="inputs"/>
    /// inputs and the exception recorded for <see cref="Run"/> to rethrow (it cannot cross libtorch's engine: it would
    /// end the process).
    /// </summary>
    internal static List<Tensor> Guard(int inputs, Func<List<Tensor>> gradients)
    {
        try
        {
            return gradients();
        }
        catch (Exception e)
        {
            Fail(e);
            return Enumerable.Repeat<Tensor>(null!, inputs).ToList();
        }
    }

    internal static void Fail(Exception e) => Interlocked.CompareExchange(ref pending, ExceptionDispatchInfo.Capture(e), null);

    internal static void ThrowPending() => Interlocked.Exchange(ref pending, null)?.Throw();
}
