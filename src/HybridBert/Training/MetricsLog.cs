using System.Text.Json;
using TorchSharp;

namespace HybridBert.Training;

/// <summary>
/// One JSON object per line in <c>RUN_DIR/metrics.jsonl</c> (appended, flushed per record, so a crash loses
/// nothing written) and the same scalars as TensorBoard events under <c>RUN_DIR/tensorboard</c>.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter writer;
    private readonly TorchSharp.Modules.SummaryWriter tensorboard;

    public MetricsLog(string runDir, long resumeFromStep)
    {
        var path = Path.Combine(runDir, "metrics.jsonl");
        // On resume, drop records past the checkpoint: they belong to steps that will be run again.
        if (File.Exists(path))
        {
            var kept = File.ReadLines(path).Where(line =>
            {
                try { return JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt64() <= resumeFromStep; }
                catch (JsonException) { return false; }
            }).ToList();
            IO.AtomicFile.WriteAllLines(path, kept);   // a crash while rewriting must not lose the log
        }
        writer = new StreamWriter(path, append: true) { AutoFlush = true };
        tensorboard = torch.utils.tensorboard.SummaryWriter(Path.Combine(runDir, "tensorboard"), createRunName: false);
    }

    public void Write(string kind, long step, IReadOnlyDictionary<string, double> values)
    {
        var record = new Dictionary<string, object> { ["type"] = kind, ["step"] = step };
        foreach (var (k, v) in values)
        {
            record[k] = double.IsFinite(v) ? Math.Round(v, 6) : v.ToString();
            if (double.IsFinite(v)) tensorboard.add_scalar($"{kind}/{k}", (float)v, (int)step);
        }
        writer.WriteLine(JsonSerializer.Serialize(record));
    }

    /// <summary>A record that is data, not scalars (e.g. the batch log): written to metrics.jsonl only.</summary>
    public void WriteRecord(string kind, long step, IReadOnlyDictionary<string, object> values)
    {
        var record = new Dictionary<string, object> { ["type"] = kind, ["step"] = step };
        foreach (var (k, v) in values) record[k] = v;
        writer.WriteLine(JsonSerializer.Serialize(record));
    }

    public static List<(long Step, double Value)> Read(string runDir, string kind, string key)
    {
        var path = Path.Combine(runDir, "metrics.jsonl");
        var points = new List<(long, double)>();
        if (!File.Exists(path)) return points;
        foreach (var line in File.ReadLines(path))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.GetProperty("type").GetString() == kind && root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number)
                points.Add((root.GetProperty("step").GetInt64(), v.GetDouble()));
        }
        return points;
    }

    public void Dispose() => writer.Dispose();   // TorchSharp's SummaryWriter writes each event as it comes
}
