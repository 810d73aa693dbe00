using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Data;

/// <summary>
/// The one place rows of different lengths become a batch tensor: a [rows, length] grid pre-filled with a padding
/// value, set cell by cell, then handed to libtorch as int64 on the model's device. Pre-training batches
/// (<see cref="MlmBatcher"/>) and fine-tuning/inference batches (<see cref="Batches"/>) both use it.
/// </summary>
public sealed class PaddedRows
{
    private readonly long[] values;

    public int Rows { get; }
    public int Length { get; }

    public PaddedRows(int rows, int length, long fill = 0)
    {
        (Rows, Length) = (rows, length);
        values = new long[rows * length];
        if (fill != 0) Array.Fill(values, fill);
    }

    public long this[int row, int column]
    {
        get => values[row * Length + column];
        set => values[row * Length + column] = value;
    }

    /// <summary>[rows, length] int64 (or <paramref name="dtype"/>) on <paramref name="device"/> (CPU when null).</summary>
    public Tensor ToTensor(Device? device = null, ScalarType dtype = ScalarType.Int64)
    {
        var tensor = torch.tensor(values, [Rows, Length], device: device);
        return dtype == ScalarType.Int64 ? tensor : tensor.to_type(dtype);
    }
}
