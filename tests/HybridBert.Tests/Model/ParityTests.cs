using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

public sealed class ParityTests
{
    public static TheoryData<string> Fixtures() => new(ReferenceFixture.All().Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Last_hidden_state_and_mlm_logits_match_the_reference_on_real_tokens(string file)
    {
        var fixture = ReferenceFixture.Load(Path.Combine(ReferenceFixture.Folder, file));
        using var model = fixture.Model();

        var (hidden, logits) = model.Infer(fixture.Inputs());

        var real = fixture["input.attention_mask"].to_type(ScalarType.Bool);
        var hiddenError = (hidden - fixture["expected.last_hidden_state"]).abs()[real].max().item<float>();
        var logitError = (logits - fixture["expected.mlm_logits"]).abs()[real].max().item<float>();
        Assert.True(hiddenError < 1e-4, $"{file}: last_hidden_state differs by {hiddenError:E2}");
        Assert.True(logitError < 1e-4, $"{file}: mlm_logits differ by {logitError:E2}");
    }

    [Fact]
    public void There_is_at_least_one_fixture_of_each_mixer_and_a_dropmask_one()
    {
        var fixtures = ReferenceFixture.All().Select(ReferenceFixture.Load).ToList();
        Assert.Contains(fixtures, f => f.Config.LayerPattern.Contains('A'));
        Assert.Contains(fixtures, f => f.Config.LayerPattern.Contains('P'));
        Assert.Contains(fixtures, f => f.DropMask);
    }

    [Fact]
    public void State_dict_keys_equal_the_fixture_key_set()
    {
        foreach (var file in ReferenceFixture.All())
        {
            var fixture = ReferenceFixture.Load(file);
            using var model = new HybridBertModel(fixture.Config);
            var fixtureKeys = fixture.Tensors.Keys.Where(k => !k.StartsWith("input.") && !k.StartsWith("expected.")).Order();
            Assert.Equal(fixtureKeys, model.state_dict().Keys.Order());
        }
    }
}
