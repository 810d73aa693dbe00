using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// <c>--device cpu|cuda|cuda:N|auto</c>. This project ships libtorch's CPU build (the <c>libtorch-cpu</c> package);
/// CUDA needs TorchSharp's CUDA package instead (README, "GPU"), and asking for it without one is a clear error.
/// </summary>
public static class Devices
{
    public const string Help = "cpu, cuda, cuda:N or auto (cuda when a CUDA build of libtorch and a GPU are present, else cpu)";

    /// <summary>What is wrong with <paramref name="text"/> on this machine (not a device name, or CUDA asked for and
    /// absent), or null: options records call it so that a bad --device fails before any work.</summary>
    public static string? Problem(string text)
    {
        try
        {
            Resolve(text);
            return null;
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }
    }

    /// <summary>What <c>auto</c> chose and why, for a person to read; null for any other value (which says itself).</summary>
    public static string? ExplainAuto(string text) => text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)
        ? torch.cuda.is_available() ? $"--device auto: cuda ({torch.cuda.device_count()} CUDA device(s); using device 0)"
            : "--device auto: cpu (this libtorch build has no CUDA, or no GPU is present)"
        : null;

    public static Device Resolve(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        var index = 0;
        if (!(t is "cpu" or "cuda" or "auto" || (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t[5..], out index) && index >= 0)))
            throw new ArgumentException($"--device must be {Help} (got '{text}')");
        if (t == "cpu") return torch.CPU;
        var available = torch.cuda.is_available();
        if (t == "auto") return available ? torch.CUDA : torch.CPU;
        if (!available)
            throw new ArgumentException($"--device {text}: CUDA is not available — this build uses libtorch's CPU package. " +
                "For a GPU, reference TorchSharp-cuda-linux (or TorchSharp-cuda-windows) instead of libtorch-cpu-linux-x64 / " +
                    "TorchSharp-cpu in src/HybridBert/HybridBert.csproj and rebuild (README, \"GPU\").");
        if (index >= torch.cuda.device_count())
            throw new ArgumentException($"--device {text}: there are {torch.cuda.device_count()} CUDA device(s), numbered from 0");
        return torch.device(DeviceType.CUDA, index);
    }
}
