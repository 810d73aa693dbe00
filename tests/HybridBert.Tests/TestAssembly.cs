using System.Runtime.CompilerServices;

namespace HybridBert.Tests;

internal static class TestAssembly
{
#pragma warning disable CA2255 // tests may call TorchSharp before any HybridBert type: make the library's native fix run first
    [ModuleInitializer]
    internal static void Init() => HybridBert.Native.GlibcxxCompat.Apply();
#pragma warning restore CA2255
}
