using System.Text.Json;

namespace HybridBert.FineTuning;

/// <summary>Mean and sample standard deviation of a metric over the fine-tuning seeds.</summary>
public sealed record MeanStd(double Mean, double Std);

/// <summary>One fine-tuning seed in <c>results.json</c>: its best epoch and step, dev (and test) metrics, time, model
/// folder, and <c>rss_mib</c>, the process's resident memory after the seed's model and optimizer were released.</summary>
public sealed record FineTuneSeedResults(int Seed, int BestEpoch, long BestStep, IReadOnlyDictionary<string, double> Dev,
    IReadOnlyDictionary<string, double>? Test, double Seconds, string ModelFolder,
        [property: System.Text.Json.Serialization.JsonPropertyName("rss_mib")] double RssMiB = double.NaN);

/// <summary>
/// <c>OUT/results.json</c> of <c>hybridbert finetune</c>, written and read as this record (snake_case fields:
/// <c>task</c>, <c>encoder</c>, <c>majority_baseline</c> — null for regression, which has no majority class — <c>dev</c>/<c>test</c> as
/// metric → {mean, std}, and <c>seeds</c>).
/// </summary>
public sealed record FineTuneResults(string Task, string Encoder, double? MajorityBaseline, IReadOnlyDictionary<string, MeanStd> Dev,
    IReadOnlyDictionary<string, MeanStd>? Test, IReadOnlyList<FineTuneSeedResults> Seeds)
{
    public const string FileName = Interop.ModelLayout.FineTuneResults;

    public static FineTuneResults From(FineTuneSummary s) => new(s.Task, s.Encoder, double.IsNaN(s.MajorityBaseline) ? null : s.MajorityBaseline,
        s.Dev.ToDictionary(kv => kv.Key, kv => new MeanStd(kv.Value.Mean, kv.Value.Std)),
        s.Test?.ToDictionary(kv => kv.Key, kv => new MeanStd(kv.Value.Mean, kv.Value.Std)),
        s.Seeds.Select(r => new FineTuneSeedResults(r.Seed, r.BestEpoch, r.BestStep, r.Dev, r.Test, r.Seconds, r.ModelFolder, r.RssMiB)).ToList());

    public static FineTuneResults Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<FineTuneResults>(File.ReadAllText(path), IO.JsonFiles.Options)
                   ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a fine-tuning results.json ({e.Message})", e);
        }
    }
}
