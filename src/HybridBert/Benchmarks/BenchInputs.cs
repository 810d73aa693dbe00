using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Benchmarks;

/// <summary>The random inputs the model benchmarks run on: one home for their shape.</summary>
public static class BenchInputs
{
    /// <summary>A preset's config for benchmarking: positions for <paramref name="seq"/>, fixed special-token ids.</summary>
    public static EncoderConfig Config(string preset, string pattern, int vocabSize, int seq) =>
        Presets.Build(preset, pattern, vocabSize) with
        {
            MaxPositionEmbeddings = Math.Max(512, seq), ClsTokenId = 2, SepTokenId = 3, PadTokenId = 0,
        };

    /// <summary>[CLS] words [SEP] words [SEP]: two sentences, as pre-training data looks.</summary>
    public static Tensor RandomIds(EncoderConfig config, int batch, int seq, Device device)
    {
        var ids = torch.randint(5, config.VocabSize, [batch, seq], device: device);
        ids[TensorIndex.Colon, 0] = config.ClsTokenId;
        ids[TensorIndex.Colon, seq / 2] = config.SepTokenId;
        ids[TensorIndex.Colon, seq - 1] = config.SepTokenId;
        return ids;
    }
}
