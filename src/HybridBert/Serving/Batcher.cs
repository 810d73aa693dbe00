using HybridBert.Inference;

namespace HybridBert.Serving;

/// <summary>
/// Dynamic batching: requests queue here; one worker thread (the only one touching the model and its tokenizer)
/// takes the oldest, waits up to <c>MaxWaitMs</c> for more with an equal <see cref="Job{T}"/> (up to
/// <c>MaxBatchRequests</c>), drops those whose client has gone, tokenizes the rest (an input error fails only its own
/// request), runs them through the model together in equal-length forwards of at most <c>MaxBatchTokens</c>, and hands
/// every request its own slice of the results.
/// </summary>
internal sealed class Batcher : IDisposable
{
    private readonly ServeOptions options;
    private readonly ServerMetrics metrics;
    private readonly LinkedList<Work> queue = new();
    private readonly SemaphoreSlim signal = new(0);          // one count per queued request: the main loop's wake-up
    private readonly AutoResetEvent arrival = new(false);    // a request arrived: a batch being collected looks again
    private readonly CancellationTokenSource stop = new();
    private readonly Thread worker;
    private readonly Engines engines;

    public Batcher(InferenceModel model, ServeOptions options, ServerMetrics metrics)
    {
        (this.options, this.metrics) = (options, metrics);
        engines = new Engines(model);
        worker = new Thread(Loop) { Name = "hybridbert-batcher", IsBackground = true };
        worker.Start();
    }

    /// <summary>Queues a request; false when the queue is full (the caller answers 429).</summary>
    public bool TryEnqueue(Work item)
    {
        lock (queue)
        {
            if (queue.Count >= options.MaxQueue) return false;
            queue.AddLast(item);
            metrics.QueueDepth.Set(queue.Count);
        }
        signal.Release();
        arrival.Set();
        return true;
    }

    private void Loop()
    {
        TorchSharp.torch.set_num_threads(options.Threads);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                signal.Wait(stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var batch = Collect();
            if (batch.Count > 0) Run(batch);
        }
        lock (queue)
            foreach (var item in queue) item.Cancel();
    }

    /// <summary>The oldest request and those that join it within MaxWaitMs (an equal job).</summary>
    private List<Work> Collect()
    {
        var batch = new List<Work>();
        var deadline = DateTime.UtcNow.AddMilliseconds(options.MaxWaitMs);
        lock (queue)
        {
            if (queue.First is null) return batch;
            batch.Add(queue.First.Value);
            queue.RemoveFirst();
        }
        while (true)
        {
            lock (queue)
            {
                for (var node = queue.First; node is not null && batch.Count < options.MaxBatchRequests;)
                {
                    var next = node.Next;
                    if (node.Value.Key.Equals(batch[0].Key))
                    {
                        batch.Add(node.Value);
                        queue.Remove(node);
                        signal.Wait(0);   // each queued request was counted once for the main loop
                    }
                    node = next;
                }
                metrics.QueueDepth.Set(queue.Count);
            }
            var left = deadline - DateTime.UtcNow;
            if (batch.Count >= options.MaxBatchRequests || left <= TimeSpan.Zero || !arrival.WaitOne(left)) break;
        }
        return batch;
    }

    private void Run(List<Work> batch)
    {
        // A client that has gone: its work is dropped before it costs a forward.
        var live = new List<Work>();
        foreach (var item in batch)
        {
            if (item.Aborted.IsCancellationRequested)
            {
                metrics.Dropped.Inc();
                item.Cancel();
                continue;
            }
            try
            {
                if (!item.Encoded) item.Encode(engines);
                live.Add(item);
            }
            catch (Exception e)
            {
                item.Fail(e);
            }
        }
        if (live.Count == 0) return;
        metrics.BatchRequests.Observe(live.Count);
        metrics.BatchInputs.Observe(live.Sum(l => l.Rows.Count));
        try
        {
            live[0].RunBatch(live, engines);
        }
        catch (Exception e)
        {
            foreach (var item in live) item.Fail(e);
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        worker.Join();
        signal.Dispose();
        arrival.Dispose();
        stop.Dispose();
    }
}
