using HybridBert.Interop;
using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests;

/// <summary>
/// One reference fixture (see fixtures/README.md): a tiny model's weights, one batch of inputs and the outputs the
/// PoNet authors' code / a textbook PyTorch BERT produced. The folder is <c>HYBRIDBERT_FIXTURES</c> when set, else the
/// copy shipped with the tests.
/// </summary>
internal sealed class ReferenceFixture
{
    public static string Folder =>
        Environment.GetEnvironmentVariable("HYBRIDBERT_FIXTURES") is { Length: > 0 } custom
            ? custom
            : System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures");

    public static IEnumerable<string> All() =>
        Directory.EnumerateFiles(Folder, "*.safetensors").Order(StringComparer.Ordinal);

    public required string Path { get; init; }
    public required EncoderConfig Config { get; init; }
    public required bool DropMask { get; init; }
    public required int MaskTokenId { get; init; }
    public required Dictionary<string, Tensor> Tensors { get; init; }

    public static ReferenceFixture Load(string path)
    {
        var metadata = SafetensorsFile.ReadMetadata(path);
        int Id(string key, int fallback) => metadata.TryGetValue(key, out var v) ? int.Parse(v) : fallback;
        var config = EncoderConfig.FromJson(metadata["config"], path) with
        {
            HiddenDropoutProb = 0,
            AttentionProbsDropoutProb = 0,
            PadTokenId = Id("pad_token_id", 0),
            ClsTokenId = Id("cls_token_id", 101),
            SepTokenId = Id("sep_token_id", 102),
        };
        return new ReferenceFixture
        {
            Path = path,
            Config = config.Validate(),
            DropMask = metadata.TryGetValue("dropmask", out var d) && d == "true",
            MaskTokenId = Id("mask_token_id", 103),
            Tensors = SafetensorsFile.Read(path),
        };
    }

    public Tensor this[string name] => Tensors[name];
    public bool Has(string name) => Tensors.ContainsKey(name);

    public EncoderInputs Inputs()
    {
        var ids = this["input.input_ids"];
        return new EncoderInputs(
            ids,
            this["input.attention_mask"],
            this["input.token_type_ids"],
            Has("input.segment_ids") ? this["input.segment_ids"] : null,
            DropMask ? ids.eq(MaskTokenId) : null);
    }

    /// <summary>A model built from the fixture's config with the fixture's weights, in eval mode.</summary>
    public HybridBertModel Model()
    {
        var model = new HybridBertModel(Config);
        WeightLoader.Load(model, Tensors, Path, ignorePrefixes: ["input.", "expected."]);
        model.eval();
        return model;
    }
}
