using HybridBert.Interop;
using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Interop;

public sealed class WeightLoaderTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("hybridbert-weights-").FullName;
    private static readonly EncoderConfig Config = Presets.Tiny with { VocabSize = 50, LayerPattern = "PA", ClsTokenId = 2, SepTokenId = 3 };

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Saved_weights_load_back_into_a_fresh_model_exactly()
    {
        torch.manual_seed(1);
        using var original = new HybridBertModel(Config);
        var path = Path.Combine(folder, "model.safetensors");
        WeightLoader.Save(original, path);

        torch.manual_seed(2);
        using var copy = new HybridBertModel(Config);
        WeightLoader.Load(copy, path);

        foreach (var (name, tensor) in original.state_dict())
            Assert.True(tensor.eq(copy.state_dict()[name]).all().item<bool>(), name);
        Assert.Empty(Directory.GetFiles(folder, "*.tmp-*"));
    }

    [Fact]
    public void Hugging_face_prefixes_and_the_tied_decoder_copy_are_accepted()
    {
        using var model = new HybridBertModel(Config);
        var tensors = model.state_dict().ToDictionary(kv => kv.Key.StartsWith("cls.") ? kv.Key : "bert." + kv.Key, kv => kv.Value.clone());
        tensors["cls.predictions.decoder.weight"] = torch.zeros(50, 64);
        tensors["bert.embeddings.position_ids"] = torch.arange(512).unsqueeze(0);

        WeightLoader.Load(model, tensors, "hf-checkpoint");
    }

    [Fact]
    public void Mismatches_are_listed_together_missing_unexpected_and_mis_shaped()
    {
        using var model = new HybridBertModel(Config);
        var tensors = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        tensors.Remove("encoder.layer.0.attention.self.dense_q.weight");
        tensors["encoder.layer.7.output.dense.weight"] = torch.zeros(1);
        tensors["embeddings.word_embeddings.weight"] = torch.zeros(99, 64);

        var error = Assert.Throws<WeightMismatchException>(() => WeightLoader.Load(model, tensors, "x.safetensors"));

        Assert.Contains("missing 1: encoder.layer.0.attention.self.dense_q.weight", error.Message);
        Assert.Contains("unexpected 1: encoder.layer.7.output.dense.weight", error.Message);
        Assert.Contains("embeddings.word_embeddings.weight (file [99, 64], model [50, 64])", error.Message);
    }

    [Fact]
    public void Weights_of_another_size_are_summarized_not_listed_one_by_one()
    {
        using var model = new HybridBertModel(Config);
        using var wider = new HybridBertModel(Config with { HiddenSize = 128, IntermediateSize = 256 });
        var error = Assert.Throws<WeightMismatchException>(() => WeightLoader.Load(model, wider.state_dict(), "wide.safetensors"));
        Assert.Matches(@"mis-shaped \d+: (\S+ \(file \[[\d, ]+\], model \[[\d, ]+\]\), ){4}\S+ \(file \[[\d, ]+\], model \[[\d, ]+\]\) and \d+ more", error.Message);
        Assert.Contains("the weights were made for a model of other sizes", error.Message);
        Assert.True(error.Message.Length < 1000, error.Message);
    }

    [Fact]
    public void A_truncated_file_is_detected_before_reading_tensors()
    {
        using var model = new HybridBertModel(Config);
        var path = Path.Combine(folder, "model.safetensors");
        WeightLoader.Save(model, path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);

        var error = Assert.Throws<InvalidDataException>(() => WeightLoader.Load(model, path));
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void A_file_that_is_not_safetensors_says_so()
    {
        var path = Path.Combine(folder, "notes.safetensors");
        File.WriteAllText(path, "hello, this is text");
        Assert.Throws<InvalidDataException>(() => SafetensorsFile.Read(path));
        Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Read(Path.Combine(folder, "absent.safetensors")));
    }
}
