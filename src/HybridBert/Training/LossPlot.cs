namespace HybridBert.Training;

/// <summary>PNG plots of loss curves (ScottPlot).</summary>
public static class LossPlot
{
    /// <summary>One line per named series of (step, loss) points.</summary>
    public static void Save(string path, string title, IEnumerable<(string Name, IReadOnlyList<(long Step, double Value)> Points)> series,
        string yLabel = "loss")
    {
        var plot = new ScottPlot.Plot();
        foreach (var (name, points) in series)
        {
            if (points.Count == 0) continue;
            var line = plot.Add.Scatter(points.Select(p => (double)p.Step).ToArray(), points.Select(p => p.Value).ToArray());
            line.LegendText = name;
            line.MarkerSize = points.Count > 50 ? 0 : 4;
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.ShowLegend();
        plot.Legend.Alignment = ScottPlot.Alignment.UpperRight;   // loss curves fall: the upper right is empty
        IO.AtomicFile.Write(path, temp => plot.SavePng(temp, 900, 540));
    }
}
