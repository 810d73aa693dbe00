using System.Runtime.CompilerServices;
using System.Text;

namespace HybridBert.Native;

/// <summary>
/// TorchSharp 0.107's <c>libLibTorchSharp.so</c> asks for <c>GLIBCXX_3.4.32</c> (GCC 13) only for the no-op marker
/// symbol <c>std::ios_base_library_init()</c>; Debian 12's libstdc++ stops at 3.4.30, so the dynamic loader refuses
/// the library and the first tensor aborts the process. Marking that one version requirement weak
/// (<c>VER_FLG_WEAK</c> in the ELF <c>.gnu.version_r</c> section) lets it load, and nothing calls the symbol.
/// <para>
/// This runs when the library is loaded (a module initializer), before any TorchSharp call of ours, on the copy in
/// the application's own folder — so the fix travels with the library to any project that references it or its
/// package, not only to builds inside this repository. It is idempotent (a copy already marked is left alone),
/// written to a temporary file and renamed (two processes starting at once both see a whole file), and does nothing
/// off Linux or where the library is absent. An application that calls TorchSharp before it touches any HybridBert
/// type can call <see cref="Apply()"/> first.
/// </para>
/// </summary>
public static class GlibcxxCompat
{
    private const string Version = "GLIBCXX_3.4.32";
    private static int applied;

#pragma warning disable CA2255 // a module initializer in a library: it must run before TorchSharp loads its native library, whoever calls us first
    [ModuleInitializer]
    internal static void OnLoad() => Apply();
#pragma warning restore CA2255

    /// <summary>Marks the requirement weak in every copy of <c>libLibTorchSharp.so</c> the application loads from its own folder.</summary>
    public static void Apply()
    {
        if (OperatingSystem.IsLinux() && Interlocked.Exchange(ref applied, 1) == 0) ApplyOnLinux(AppContext.BaseDirectory);
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static void ApplyOnLinux(string baseDir)
    {
        foreach (var path in new[] { Path.Combine(baseDir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
            Path.Combine(baseDir, "libLibTorchSharp.so") })
        {
            if (!File.Exists(path)) continue;
            try
            {
                var bytes = File.ReadAllBytes(path);
                if (!WeakenVersionNeed(bytes, Version)) continue;
                IO.AtomicFile.Write(path, temp =>
                {
                    File.WriteAllBytes(temp, bytes);
                    File.SetUnixFileMode(temp, File.GetUnixFileMode(path));
                });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"warning: cannot mark {Version} weak in {path} ({e.Message}); if TorchSharp then fails to load it, " +
                                        "make the application folder writable once, or run on a system with GCC 13's libstdc++");
            }
        }
    }

    /// <summary>
    /// Sets <c>VER_FLG_WEAK</c> on the <c>Vernaux</c> entry named <paramref name="version"/> of a 64-bit little-endian
    /// ELF image in place. Returns whether anything changed (false when it is already weak, absent, or the image is not
    /// such an ELF file). No library here edits ELF version records, so the walk is by hand, following the ELF-64 layout:
    /// section headers at e_shoff, each <c>SHT_GNU_verneed</c> section a chain of Verneed records (vn_cnt, vn_aux,
    /// vn_next) each with a chain of Vernaux records (vna_flags, vna_name, vna_next), names in the linked string table.
    /// </summary>
    public static bool WeakenVersionNeed(byte[] elf, string version)
    {
        const uint ShtGnuVerneed = 0x6ffffffe;
        const byte VerFlgWeak = 0x2;
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F' || elf[4] != 2 || elf[5] != 1) return false;
        var shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        bool InRange(long offset, int size) => offset >= 0 && offset + size <= elf.Length;
        var changed = false;
        for (var i = 0; i < shnum; i++)
        {
            var sh = shoff + (long)i * shentsize;
            if (!InRange(sh, 64) || BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            var link = BitConverter.ToUInt32(elf, (int)sh + 40);
            var strSection = shoff + link * shentsize;
            if (!InRange(strSection, 64)) return false;
            var strings = (long)BitConverter.ToUInt64(elf, (int)strSection + 24);
            var need = (long)BitConverter.ToUInt64(elf, (int)sh + 24);
            while (InRange(need, 16))
            {
                int count = BitConverter.ToUInt16(elf, (int)need + 2);
                uint aux = BitConverter.ToUInt32(elf, (int)need + 8), next = BitConverter.ToUInt32(elf, (int)need + 12);
                var entry = need + aux;
                for (var k = 0; k < count && InRange(entry, 16); k++)
                {
                    var name = strings + BitConverter.ToUInt32(elf, (int)entry + 8);
                    var end = name;
                    while (InRange(end, 1) && elf[end] != 0) end++;
                    if (InRange(name, (int)(end - name)) && Encoding.ASCII.GetString(elf, (int)name, (int)(end - name)) == version &&
                        (elf[entry + 4] & VerFlgWeak) == 0)
                    {
                        elf[entry + 4] |= VerFlgWeak;
                        changed = true;
                    }
                    var auxNext = BitConverter.ToUInt32(elf, (int)entry + 12);
                    if (auxNext == 0) break;
                    entry += auxNext;
                }
                if (next == 0) break;
                need += next;
            }
        }
        return changed;
    }
}
