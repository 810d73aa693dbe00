using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// Runs one part of a forward in its own dispose scope and keeps only its result: TorchSharp keeps every
/// intermediate tensor alive while its C# handle lives, where Python frees it when the last reference goes, so
/// without this a part's temporaries (projections, masked copies, the pooling maxima's tables) would live until the
/// enclosing layer's scope ends. Autograd holds its own references to what backward needs, so training computes the
/// same; only the rest is freed sooner. Measured with <c>bench --mode infer</c> (mini, 20 forwards, before/after
/// interleaved, two rounds): peak 613–680 → 534–558 MiB (ponet, 128 × 32), 479–491 → 425 (bert), 542–550 → 479–480
/// (ponet, 512 × 8). Training peaks unchanged: one build with these scopes on and off in training, ponet 128 × 32,
/// five rounds interleaved, 1,095–1,199 vs 1,164–1,208 MiB (medians 1,194 and 1,195).
/// </summary>
public static class Scoped
{
    public static Tensor Keep(Func<Tensor> part)
    {
        using var scope = torch.NewDisposeScope();
        return part().MoveToOuterDisposeScope();
    }
}
