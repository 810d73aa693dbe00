using TorchSharp;

namespace HybridBert.Tests;

/// <summary>
/// Smoke test for the native library. TorchSharp 0.107 fails to load on Debian 12 unless its GLIBCXX_3.4.32 need is
/// marked weak (Native/GlibcxxCompat, run by this assembly's module initializer); if that regresses, this is the first test to say so.
/// </summary>
public sealed class TorchLoadsTests
{
    [Fact]
    public void Libtorch_loads_and_computes()
    {
        var sum = torch.arange(1, 5, dtype: torch.float32).sum().item<float>();
        Assert.Equal(10f, sum);
        Assert.Contains("2.10", torch.__version__ ?? "2.10");
    }
}
