namespace HybridBert.Tests.Cli;

/// <summary>Malformed option values end in one clear line and exit code 2, never a stack trace.</summary>
[Collection("Console")]
public sealed class BadArgumentTests
{
    [Theory]
    [InlineData("--seq 128,12x", "--seq: '12x' is not a whole number")]
    [InlineData("--mode train,sing", "--mode: 'sing' is not one of train, infer")]
    [InlineData("--steps 0", "--steps and --rounds must be >= 1")]
    [InlineData("--patterns AAAA,PPPP,aaaa", "--patterns names AAAA twice; use --rounds N")]
    public void Bench_names_the_bad_value(string arguments, string expected)
    {
        var (exit, _, error) = ModelCommandTests.Run(["bench", "--preset", "tiny", .. arguments.Split(' ')]);
        Assert.Equal(2, exit);
        Assert.Contains(expected, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Finetune_names_a_bad_seed()
    {
        var (exit, _, error) = ModelCommandTests.Run("finetune", "--init", "random", "--seeds", "1,a", "--out",
            Path.Combine(Path.GetTempPath(), "hb-never"));
        Assert.Equal(2, exit);
        Assert.Contains("--seeds: 'a' is not a whole number", error);
    }

    [Fact]
    public void Finetune_refuses_zero_epochs_before_doing_any_work()
    {
        var (exit, _, error) = ModelCommandTests.Run("finetune", "--init", "random", "--preset", "tiny", "--epochs", "0", "--out",
            Path.Combine(Path.GetTempPath(), "hb-never"));
        Assert.Equal(2, exit);
        Assert.Contains("--epochs must be >= 1 (got 0)", error);
    }

    [Fact]
    public void Pretrain_refuses_a_negative_trim_cadence()
    {
        var error = Assert.Throws<ArgumentException>(() => new HybridBert.Training.PretrainOptions
        {
            DataDir = "d", RunDir = "r", Model = HybridBert.Model.Presets.Tiny, TrimEvery = -1,
        }.Validate());
        Assert.Contains("--trim-every must be >= 0", error.Message);
    }
}
