using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

/// <summary>Properties every mixer must have, on tiny random models.</summary>
public sealed class EncoderPropertyTests
{
    private const int Cls = 101, Sep = 102, Vocab = 160;

    public static TheoryData<string> Patterns() => new("AA", "PP", "HH", "PA", "APHA");

    private static HybridBertModel TinyModel(string pattern, int seed = 0)
    {
        torch.manual_seed(seed);
        var config = Presets.Tiny with
        {
            VocabSize = Vocab, NumHiddenLayers = pattern.Length, LayerPattern = pattern, NumAttentionHeads = 4,
            HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
        };
        var model = new HybridBertModel(config);
        model.eval();
        return model;
    }

    // [CLS] w w w [SEP] w w [SEP] per row, words in [110, 160).
    private static Tensor RandomIds(int batch, int seq, int seed)
    {
        torch.manual_seed(seed);
        var ids = torch.randint(110, Vocab, [batch, seq]);
        ids[TensorIndex.Colon, 0] = Cls;
        ids[TensorIndex.Colon, seq / 2] = Sep;
        ids[TensorIndex.Colon, seq - 1] = Sep;
        return ids;
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void Appending_padding_does_not_change_real_token_outputs(string pattern)
    {
        using var model = TinyModel(pattern);
        var ids = RandomIds(2, 12, seed: 1);
        var (plain, _) = model.Infer(new EncoderInputs(ids, torch.ones_like(ids)));

        var padded = torch.cat([ids, torch.zeros(2, 5, dtype: ScalarType.Int64)], 1);
        var mask = torch.cat([torch.ones_like(ids), torch.zeros(2, 5, dtype: ScalarType.Int64)], 1);
        var (withPadding, _) = model.Infer(new EncoderInputs(padded, mask));

        var difference = (withPadding.narrow(1, 0, 12) - plain).abs().max().item<float>();
        Assert.True(difference < 1e-5, $"{pattern}: padding changed real outputs by {difference}");
    }

    public static TheoryData<string> Presets_() => new("bert", "ponet", "hybrid", "HHHH", "PAPA");

    [Theory]
    [MemberData(nameof(Presets_))]
    public void With_dropmask_changing_dropped_tokens_changes_no_other_position(string preset)
    {
        torch.manual_seed(3);
        var config = Presets.Build("mini", preset, Vocab) with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 };
        using var model = new HybridBertModel(config);
        model.eval();
        var ids = RandomIds(2, 20, seed: 4);
        var mask = torch.ones_like(ids);
        mask[1, TensorIndex.Slice(16)] = 0;                       // row 1 is padded
        var drop = torch.zeros_like(ids, dtype: ScalarType.Bool);
        foreach (var p in new[] { 2, 3, 7, 12, 13 }) drop[TensorIndex.Colon, p] = true;  // incl. adjacent ones
        var (before, _) = model.Infer(new EncoderInputs(ids, mask, DropPositions: drop));

        var changed = ids.clone();
        changed[drop] = torch.randint(110, Vocab, [drop.sum().item<long>()]);
        var (after, _) = model.Infer(new EncoderInputs(changed, mask, DropPositions: drop));

        var others = drop.logical_not() & mask.to_type(ScalarType.Bool);
        var difference = (after - before).abs()[others].max().item<float>();
        Assert.Equal(0f, difference);
        // …while the dropped tokens' own outputs do change: they are still computed, for the MLM head.
        Assert.True((after - before).abs()[drop].max().item<float>() > 1e-3);
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void With_no_dropped_position_dropmask_is_bit_for_bit_the_ordinary_model(string pattern)
    {
        using var model = TinyModel(pattern);
        var ids = RandomIds(2, 10, seed: 5);
        var mask = torch.ones_like(ids);
        var (ordinary, _) = model.Infer(new EncoderInputs(ids, mask));
        var (noneDropped, _) = model.Infer(new EncoderInputs(ids, mask, DropPositions: torch.zeros_like(ids, dtype: ScalarType.Bool)));
        Assert.Equal(0f, (ordinary - noneDropped).abs().max().item<float>());  // exactly, not approximately
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void Dropmask_changes_what_unmasked_tokens_see(string pattern)
    {
        using var model = TinyModel(pattern);
        var ids = RandomIds(1, 10, seed: 6);
        var mask = torch.ones_like(ids);
        var drop = torch.zeros_like(ids, dtype: ScalarType.Bool);
        drop[0, 3] = true;
        var (ordinary, _) = model.Infer(new EncoderInputs(ids, mask));
        var (dropped, _) = model.Infer(new EncoderInputs(ids, mask, DropPositions: drop));
        Assert.True((ordinary - dropped).abs()[0, 4].max().item<float>() > 1e-4);
    }

    [Fact]
    public void Gradients_reach_every_parameter()
    {
        using var model = TinyModel("APH");
        model.train();
        var ids = RandomIds(2, 12, seed: 7);
        var drop = torch.zeros_like(ids, dtype: ScalarType.Bool);
        drop[TensorIndex.Colon, 2] = true;
        var hidden = model.forward(new EncoderInputs(ids, torch.ones_like(ids), torch.zeros_like(ids), DropPositions: drop));
        var positions = torch.tensor(new long[] { 2, 5, 14, 20 });
        var logits = model.MlmLogits(hidden, positions);
        nn.functional.cross_entropy(logits, ids.reshape(-1).index_select(0, positions)).backward();

        var starved = model.named_parameters()
            .Where(p => p.parameter.grad is null || p.parameter.grad.abs().sum().item<float>() == 0)
            .Select(p => p.name).ToList();
        // The only legitimately untouched rows are not whole parameters, so every parameter must have some gradient.
        Assert.Empty(starved);
    }

    [Fact]
    public void Sparse_mlm_logits_equal_the_full_logits_at_those_positions()
    {
        using var model = TinyModel("PA");
        var ids = RandomIds(2, 9, seed: 8);
        using var noGrad = torch.no_grad();
        var hidden = model.forward(new EncoderInputs(ids, torch.ones_like(ids)));
        var positions = torch.tensor(new long[] { 1, 4, 10, 17 });

        var sparse = model.MlmLogits(hidden, positions);
        var full = model.MlmLogits(hidden).reshape(-1, Vocab).index_select(0, positions);

        Assert.Equal([4L, Vocab], sparse.shape);
        Assert.True(sparse.allclose(full, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void Pooling_outputs_are_zero_at_padding_before_the_output_dense()
    {
        var config = Presets.Tiny with { VocabSize = Vocab, LayerPattern = "PP" };
        var ids = RandomIds(1, 8, seed: 9);
        var mask = torch.ones_like(ids);
        mask[0, TensorIndex.Slice(6)] = 0;
        var context = MixerContext.Build(new EncoderInputs(ids, mask), config, needsPooling: true);
        using var mixer = new PoolingMixer(config, config.NumAttentionHeads);

        var output = mixer.call(torch.randn(1, 8, config.HiddenSize), context);

        Assert.Equal(0f, output[0, TensorIndex.Slice(6)].abs().max().item<float>());
        Assert.True(output[0, 1].abs().max().item<float>() > 0);
    }

    [Fact]
    public void Inference_leaves_no_temporaries_behind_in_the_callers_scope()
    {
        using var model = TinyModel("PA");
        var ids = RandomIds(2, 10, seed: 10);
        var inputs = new EncoderInputs(ids, torch.ones_like(ids));
        using var scope = torch.NewDisposeScope();

        var (hidden, logits) = model.Infer(inputs);

        // Only the two results reach the caller's scope; every temporary died in Infer's own scope.
        Assert.Equal(2, scope.DisposablesCount);
        hidden.Dispose();
        logits.Dispose();
        Assert.Equal(0, scope.DisposablesCount);
    }
}
