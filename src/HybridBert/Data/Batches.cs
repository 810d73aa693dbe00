using HybridBert.Model;
using HybridBert.Text;
using static TorchSharp.torch;

namespace HybridBert.Data;

/// <summary>Encoded texts as one padded batch, on the model's device.</summary>
public static class Batches
{
    public static EncoderInputs Inputs(IReadOnlyList<EncodedText> rows, int padId, Device? device = null)
    {
        var length = rows.Max(r => r.Length);
        var ids = new Data.PaddedRows(rows.Count, length, padId);
        var mask = new Data.PaddedRows(rows.Count, length);
        var types = new Data.PaddedRows(rows.Count, length);
        for (var b = 0; b < rows.Count; b++)
            for (var i = 0; i < rows[b].Length; i++)
            {
                ids[b, i] = rows[b].InputIds[i];
                mask[b, i] = rows[b].AttentionMask[i];
                types[b, i] = rows[b].TokenTypeIds[i];
            }
        return new EncoderInputs(ids.ToTensor(device), mask.ToTensor(device), types.ToTensor(device));
    }
}
