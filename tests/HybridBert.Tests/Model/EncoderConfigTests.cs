using HybridBert.Model;

namespace HybridBert.Tests.Model;

public sealed class EncoderConfigTests
{
    [Theory]
    [InlineData("bert", 4, "AAAA")]
    [InlineData("ponet", 4, "PPPP")]
    [InlineData("hybrid", 12, "PPPPPPAAAAAA")]
    [InlineData("hybrid", 2, "PA")]
    [InlineData("ppaa", 4, "PPAA")]
    public void Pattern_names_expand_to_one_letter_per_layer(string name, int layers, string expected) =>
        Assert.Equal(expected, Presets.Pattern(name, layers));

    [Theory]
    [InlineData("tiny", 2, 64)]
    [InlineData("mini", 4, 256)]
    [InlineData("small", 4, 512)]
    [InlineData("base", 12, 768)]
    public void Size_presets_have_the_documented_shapes(string size, int layers, int hidden)
    {
        var c = Presets.Build(size, "hybrid");
        Assert.Equal((layers, hidden), (c.NumHiddenLayers, c.HiddenSize));
        Assert.Equal(layers, c.LayerPattern.Length);
    }

    [Theory]
    [InlineData("AXA", "layer_pattern", "'X'")]
    [InlineData("AAA", "num_hidden_layers", "3 letters")]
    public void A_bad_pattern_fails_naming_the_field_and_the_allowed_letters(string pattern, string field, string detail)
    {
        var error = Assert.Throws<ConfigException>(() => (Presets.Mini with { LayerPattern = pattern }).Validate());
        Assert.Contains(field, error.Message);
        Assert.Contains(detail, error.Message);
        if (field == "layer_pattern") Assert.Contains("allowed: A self-attention, P pooling network (PoNet), H attention and pooling " +
            "heads in one layer", error.Message);
    }

    [Fact]
    public void Heads_that_do_not_divide_the_hidden_size_fail_by_name()
    {
        var error = Assert.Throws<ConfigException>(() => (Presets.Mini with { NumAttentionHeads = 3 }).Validate());
        Assert.Contains("num_attention_heads (3) must divide hidden_size (256)", error.Message);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var error = Assert.Throws<ConfigException>(() =>
            (Presets.Mini with { HiddenAct = "swish", HiddenDropoutProb = 1.5, VocabSize = 0 }).Validate());
        Assert.Contains("hidden_act must be one of gelu, gelu_new, relu", error.Message);
        Assert.Contains("hidden_dropout_prob", error.Message);
        Assert.Contains("vocab_size", error.Message);
    }

    [Fact]
    public void A_hybrid_split_must_leave_heads_for_both_mixers()
    {
        var error = Assert.Throws<ConfigException>(() => (Presets.Mini with { LayerPattern = "HHAA", HybridAttentionHeads = 4 }).Validate());
        Assert.Contains("hybrid_attention_heads", error.Message);
        Assert.Equal(2, (Presets.Mini with { LayerPattern = "HHAA" }).Validate().AttentionHeadsInHybridLayer);
    }

    [Fact]
    public void Json_round_trips_with_hugging_face_field_names()
    {
        var config = Presets.Build("mini", "hybrid", vocabSize: 8192) with { HybridAttentionHeads = 1 };
        var json = config.ToJson();
        Assert.Contains("\"hidden_size\": 256", json);
        Assert.Contains("\"layer_pattern\": \"PPAA\"", json);
        Assert.Contains("\"layer_norm_eps\": 1E-12", json, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(config, EncoderConfig.FromJson(json));
    }

    [Fact]
    public void A_hugging_face_config_with_extra_fields_loads()
    {
        const string json =
            """{"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "layer_pattern": "PA"}""";
        var config = EncoderConfig.FromJson(json);
        Assert.Equal("PA", config.LayerPattern);
    }

    [Fact]
    public void Malformed_json_names_its_source()
    {
        // Not a config at all is a file error (exit 1), and so is a file whose values are impossible: only a config
        // built from the command line (flags, presets) is a ConfigException (exit 2).
        var error = Assert.Throws<InvalidDataException>(() => EncoderConfig.FromJson("{\"hidden_size\": \"big\"}", "run/config.json"));
        Assert.StartsWith("run/config.json: not a valid encoder config JSON", error.Message);
        var impossible =
            Assert.Throws<InvalidDataException>(() =>
            EncoderConfig.FromJson("{\"hidden_size\": 100, \"num_attention_heads\": 3}", "run/config.json"));
        Assert.StartsWith("run/config.json: Invalid encoder config:", impossible.Message);
    }
}
