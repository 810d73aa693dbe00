using Prometheus;

namespace HybridBert.Serving;

/// <summary>The server's Prometheus metrics (prometheus-net), in a registry of its own so that several servers in one process do not mix.</summary>
internal sealed class ServerMetrics
{
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();
    public Counter Requests { get; }
    public Histogram Latency { get; }
    public Histogram BatchRequests { get; }
    public Histogram BatchInputs { get; }
    public Gauge QueueDepth { get; }
    public Counter Dropped { get; }

    public ServerMetrics()
    {
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("hybridbert_requests_total", "HTTP requests by route and status code", "route", "status");
        Latency = factory.CreateHistogram("hybridbert_request_duration_seconds", "Time from request to response, by route",
            new HistogramConfiguration { LabelNames = ["route"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        BatchRequests = factory.CreateHistogram("hybridbert_batch_requests", "Requests served by one batch of model forwards",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 10) });
        BatchInputs = factory.CreateHistogram("hybridbert_batch_inputs", "Inputs (texts) in one batch of model forwards",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 12) });
        QueueDepth = factory.CreateGauge("hybridbert_queue_depth", "Requests waiting for the model");
        Dropped = factory.CreateCounter("hybridbert_dropped_total", "Requests whose client went away before their batch ran");
    }
}
