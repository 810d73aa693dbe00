using HybridBert.Model;

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
