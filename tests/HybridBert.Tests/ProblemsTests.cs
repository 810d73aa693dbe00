using HybridBert.Data;
using HybridBert.Model;
using HybridBert.Training;

namespace HybridBert.Tests;

/// <summary>Every validator has one shape: all problems found, then one exception naming each.</summary>
public sealed class ProblemsTests
{
    [Fact]
    public void Masking_options_name_every_problem_at_once()
    {
        var error = Assert.Throws<ArgumentException>(() => new MaskingOptions { Rate = 2, MaskFraction = 0.9, RandomFraction = 0.5 }.Validate());
        Assert.Contains("mask rate must be in (0, 1) (got 2)", error.Message);
        Assert.Contains("mask split must be three non-negative parts summing to 100", error.Message);
    }

    [Fact]
    public void Pretraining_options_name_every_problem_at_once_including_the_maskings()
    {
        var options = new PretrainOptions { DataDir = "d", RunDir = "r", Model = Presets.Tiny, BatchSize = 0, LearningRate = -1,
            Masking = new MaskingOptions { Rate = 0 } };
        var error = Assert.Throws<ArgumentException>(() => options.ValidateSettings());
        Assert.Contains("--batch must be >= 1 (got 0)", error.Message);
        Assert.Contains("--lr must be > 0 (got -1)", error.Message);
        Assert.Contains("mask rate must be in (0, 1) (got 0)", error.Message);
    }
}
