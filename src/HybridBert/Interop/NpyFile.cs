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
        using var writer = new Writer(path, rows.Count, width);
        foreach (var row in rows) writer.Append(row);
        writer.Finish();
    }

    /// <summary>Streams a [rows, width] float32 matrix to disk row by row (the shape goes in the header first).</summary>
    public sealed class Writer : IDisposable
    {
        private readonly BinaryWriter writer;
        private readonly long rows;
        private readonly int width;
        private long written;

        public Writer(string path, long rows, int width)
        {
            (this.rows, this.width) = (rows, width);
            var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {width}), }}";
            // magic(6)+version(2)+length(2) + header ≡ 0 mod 64
            header = header.PadRight((header.Length + 10 + 1 + 63) / 64 * 64 - 10 - 1) + "\n";
            writer = new BinaryWriter(File.Create(path));
            writer.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
            writer.Write((ushort)header.Length);
            writer.Write(Encoding.ASCII.GetBytes(header));
        }

        public void Append(float[] row)
        {
            if (row.Length != width) throw new ArgumentException($"every row must have {width} values (got {row.Length})");
            if (++written > rows) throw new InvalidOperationException($"the header says {rows} rows");
            foreach (var value in row) writer.Write(value);   // little-endian on every platform .NET runs on
        }

        /// <summary>Checks that every announced row was written and flushes.</summary>
        public void Finish()
        {
            if (written != rows) throw new InvalidOperationException($"wrote {written} of the {rows} rows the header announces");
            writer.Flush();
        }

        public void Dispose() => writer.Dispose();
    }
}
