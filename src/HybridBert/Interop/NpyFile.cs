using System.Text;

namespace HybridBert.Interop;

/// <summary>
/// NumPy's .npy format (version 1.0) for a float32 matrix: magic, header dict padded to 64 bytes, row-major data.
/// Written by hand — about ten lines, and none of the libraries here writes it.
/// </summary>
public static class NpyFile
{
    public static void Write(string path, IReadOnlyList<float[]> rows)
    {
        var width = rows.Count == 0 ? 0 : rows[0].Length;
        if (rows.Any(r => r.Length != width)) throw new ArgumentException("every row must have the same length");
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows.Count}, {width}), }}";
        header = header.PadRight((header.Length + 10 + 1 + 63) / 64 * 64 - 10 - 1) + "\n";   // magic(6)+version(2)+length(2) + header ≡ 0 mod 64
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        writer.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        writer.Write((ushort)header.Length);
        writer.Write(Encoding.ASCII.GetBytes(header));
        foreach (var row in rows)
            foreach (var value in row) writer.Write(value);   // little-endian on every platform .NET runs on
    }
}
