using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

/// <summary>The layer-letter table says what each mixer is: these tests keep it true to the modules it builds.</summary>
public sealed class MixersTests
{
    [Fact]
    public void Each_letter_builds_a_layer_whose_mixer_parameters_are_the_ones_the_table_names()
    {
        foreach (var mixer in Mixers.All)
        {
            var config = Presets.Tiny with { LayerPattern = mixer.Letter.ToString(), NumHiddenLayers = 1 };
            using var model = new HybridBertModel(config);
            var names = model.state_dict().Keys
                .Where(k => k.StartsWith("encoder.layer.0.attention.self.", StringComparison.Ordinal))
                .Select(k => k["encoder.layer.0.attention.self.".Length..].Split('.')[0]).Distinct().Order();
            Assert.Equal(mixer.ParameterNames.Order(), names);
        }
    }

    [Fact]
    public void Every_mixer_frees_its_temporaries_and_leaves_only_its_output_in_the_callers_scope()
    {
        foreach (var mixer in Mixers.All)
        {
            var config = OneLayer(mixer);
            torch.manual_seed(3);
            var ids = Sentences(config, batch: 2, seq: 12, separators: [6]);
            var context = MixerContext.Build(new EncoderInputs(ids, torch.ones_like(ids)), config, mixer.Pools);
            using var module = mixer.Create(config);
            var h = torch.randn(2, 12, config.HiddenSize, requires_grad: true);
            foreach (var training in new[] { true, false })
            {
                module.train(training);
                using var noGrad = training ? null : torch.no_grad();
                using var scope = torch.NewDisposeScope();
                var output = module.call(h, context);
                // Projections, masks and the maxima's tables die in the mixer: only the output reaches the caller
                // (autograd keeps what backward needs by itself, as the backward below shows).
                Assert.True(scope.DisposablesCount == 1, $"{mixer.Letter} (training {training}): {scope.DisposablesCount} tensors left");
                if (training)
                {
                    output.sum().backward();
                    Assert.True(h.grad!.abs().sum().item<float>() > 0);
                }
            }
        }
    }

    [Fact]
    public void Every_mixer_gives_without_autograd_what_it_gives_with_it_padding_and_dropped_tokens_included()
    {
        // Inference runs its own code (one product for the projections, no masked copies in the maxima, the global
        // aggregation through bmm): it must give what the training code gives, dropout off.
        foreach (var mixer in Mixers.All)
        {
            var config = OneLayer(mixer);
            torch.manual_seed(5);
            var ids = Sentences(config, batch: 3, seq: 11, separators: [5, 10]);
            ids[1, 7] = config.SepTokenId;
            var mask = torch.ones_like(ids);
            mask[1, TensorIndex.Slice(8, null)] = 0;                       // row 1: padding after its last [SEP]
            var dropped = torch.zeros(3, 11, dtype: ScalarType.Bool);
            dropped[2, 2] = true;                                          // row 2: two DropMask positions side by side
            dropped[2, 3] = true;
            var context = MixerContext.Build(new EncoderInputs(ids, mask, DropPositions: dropped), config, mixer.Pools);
            using var module = mixer.Create(config);
            module.eval();
            var h = torch.randn(3, 11, config.HiddenSize, requires_grad: true);

            var withAutograd = module.call(h, context).detach();
            Tensor without;
            using (torch.no_grad()) without = module.call(h, context);

            var difference = (withAutograd - without).abs().max().item<float>();
            Assert.True(difference <= 1e-5f * Math.Max(1f, withAutograd.abs().max().item<float>()),
                $"{mixer.Letter}: inference differs from the training code by {difference}");
            if (mixer.Letter == 'P')
                Assert.Equal(0f, without[1, TensorIndex.Slice(8, null)].abs().max().item<float>());   // padding outputs 0
        }
    }

    private static EncoderConfig OneLayer(MixerKind mixer) =>
        Presets.Tiny with { LayerPattern = mixer.Letter.ToString(), NumHiddenLayers = 1 };

    /// <summary>Random word ids, [CLS] first and [SEP] at <paramref name="separators"/> in every row.</summary>
    private static Tensor Sentences(EncoderConfig config, int batch, int seq, int[] separators)
    {
        var ids = torch.randint(5, config.VocabSize, [batch, seq], dtype: ScalarType.Int64);
        ids[TensorIndex.Colon, 0] = config.ClsTokenId;
        foreach (var at in separators) ids[TensorIndex.Colon, at] = config.SepTokenId;
        return ids;
    }

    [Fact]
    public void An_unknown_letter_is_refused_naming_every_known_one()
    {
        var error = Assert.Throws<ConfigException>(() => Mixers.Get('Q'));
        foreach (var mixer in Mixers.All) Assert.Contains($"{mixer.Letter} {mixer.Description}", error.Message);
    }

    [Fact]
    public void Only_pooling_mixers_need_the_pooling_masks_and_only_attention_heads_are_counted_as_attending()
    {
        var config = Presets.Mini;
        Assert.Equal([('A', false, 4), ('P', true, 0), ('H', true, 2)], Mixers.All.Select(m => (m.Letter, m.Pools, m.AttentionHeads(config))));
    }
}
