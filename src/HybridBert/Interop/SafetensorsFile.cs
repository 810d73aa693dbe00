using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace HybridBert.Interop;

/// <summary>
/// Reading and writing safetensors files. Tensors go through TorchSharp.PyBridge; the <c>__metadata__</c> map,
/// which PyBridge does not expose, is read here from the JSON header (8-byte little-endian length, then JSON).
/// </summary>
public static class SafetensorsFile
{
    public static Dictionary<string, Tensor> Read(string path)
    {
        CheckHeader(path);
        try
        {
            return Safetensors.LoadStateDict(path);
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new InvalidDataException($"{path}: not a readable safetensors file ({e.Message})", e);
        }
    }

    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var header = CheckHeader(path);
        if (!header.RootElement.TryGetProperty("__metadata__", out var metadata)) return new Dictionary<string, string>();
        return metadata.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
    }

    /// <summary>Writes atomically and durably (<see cref="IO.AtomicFile"/>): a crash never leaves a half-written file behind.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        // PyBridge writes the storage as laid out in memory: hand it contiguous CPU tensors.
        var contiguous = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous());
        IO.AtomicFile.Write(path, temp => Safetensors.SaveStateDict(temp, contiguous));
    }

    private static JsonDocument CheckHeader(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Weights file not found: {path}", path);
        using var stream = File.OpenRead(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) < 8)
            throw new InvalidDataException($"{path}: too short to be a safetensors file ({stream.Length} bytes)");
        var length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length == 0 || length > (ulong)(stream.Length - 8) || length > 100_000_000)
            throw new InvalidDataException($"{path}: not a safetensors file (header length {length}, file size {stream.Length})");
        var json = new byte[length];
        stream.ReadExactly(json);
        JsonDocument header;
        try
        {
            header = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: safetensors header is not valid JSON ({e.Message})", e);
        }
        // A truncated file is caught here rather than deep inside the reader.
        long dataEnd = 0;
        foreach (var entry in header.RootElement.EnumerateObject())
            if (entry.Name != "__metadata__" && entry.Value.TryGetProperty("data_offsets", out var offsets))
                dataEnd = Math.Max(dataEnd, offsets[1].GetInt64());
        if (8 + (long)length + dataEnd > stream.Length)
        {
            header.Dispose();
            throw new InvalidDataException($"{path}: truncated — the header describes {8 + (long)length + dataEnd} bytes but the file " +
                $"has {stream.Length}");
        }
        return header;
    }
}
