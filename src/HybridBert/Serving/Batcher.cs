using HybridBert.FineTuning;
using HybridBert.Inference;
using HybridBert.Text;

namespace HybridBert.Serving;

internal enum Job { Embed, Predict, FillMask }

/// <summary>One request's work: its texts and settings, and where its result goes.</summary>
internal sealed class WorkItem(Job task, IReadOnlyList<string> texts, CancellationToken aborted)
{
    public Job Task { get; } = task;
    public IReadOnlyList<string> Texts { get; } = texts;
    /// <summary>Each text's second sequence (/predict's pairs), null where it has none; null for the whole request without pairs.</summary>
    public IReadOnlyList<string?>? Pairs { get; init; }
    /// <summary>Each input's own token ids (/embed's and /v1/embeddings' id inputs), null where it is a text; null for the whole request without ids.</summary>
    public IReadOnlyList<int[]?>? Ids { get; init; }
    public CancellationToken Aborted { get; } = aborted;
    public Pooling Pooling { get; init; }
    public bool Normalize { get; init; }
    public bool Truncate { get; init; }
    public int TopK { get; init; } = 5;
    public bool RawScores { get; init; }
    /// <summary>Tokens of each input after tokenization (the OpenAI route's usage).</summary>
    public int Tokens { get; set; }
    public TaskCompletionSource<object> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Requests may share a forward only with the same task and settings.</summary>
    public (Job, Pooling, bool, bool, int, bool) Key => (Task, Pooling, Normalize, Truncate, TopK, RawScores);
}

/// <summary>
/// Dynamic batching: requests queue here; one worker thread (the only one touching the model and its tokenizer)
/// takes the oldest, waits up to <c>MaxWaitMs</c> for more with the same task and settings (up to
/// <c>MaxBatchRequests</c>), drops those whose client has gone, tokenizes the rest (an input error fails only its own
/// request), runs them through the model together in equal-length forwards of at most <c>MaxBatchTokens</c>, and hands
/// every request its own slice of the results.
/// </summary>
internal sealed class Batcher : IDisposable
{
    private readonly InferenceModel model;
    private readonly ServeOptions options;
    private readonly ServerMetrics metrics;
    private readonly LinkedList<WorkItem> queue = new();
    private readonly SemaphoreSlim signal = new(0);          // one count per queued request: the main loop's wake-up
    private readonly AutoResetEvent arrival = new(false);    // a request arrived: a batch being collected looks again
    private readonly CancellationTokenSource stop = new();
    private readonly Thread worker;
    private readonly Embedder embedder;
    private readonly FillMask fillMask;
    private readonly TextClassifier classifier;

    public Batcher(InferenceModel model, ServeOptions options, ServerMetrics metrics)
    {
        (this.model, this.options, this.metrics) = (model, options, metrics);
        (embedder, fillMask, classifier) = (new Embedder(model), new FillMask(model), new TextClassifier(model));
        worker = new Thread(Loop) { Name = "hybridbert-batcher", IsBackground = true };
        worker.Start();
    }

    /// <summary>Queues a request; false when the queue is full (the caller answers 429).</summary>
    public bool TryEnqueue(WorkItem item)
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
            foreach (var item in queue) item.Result.TrySetCanceled();
    }

    /// <summary>The oldest request and those that join it within MaxWaitMs (same task and settings).</summary>
    private List<WorkItem> Collect()
    {
        var batch = new List<WorkItem>();
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
                    if (node.Value.Key == batch[0].Key)
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

    private void Run(List<WorkItem> batch)
    {
        // A client that has gone: its work is dropped before it costs a forward.
        var live = new List<(WorkItem Item, List<EncodedText> Rows)>();
        foreach (var item in batch)
        {
            if (item.Aborted.IsCancellationRequested)
            {
                metrics.Dropped.Inc();
                item.Result.TrySetCanceled();
                continue;
            }
            try
            {
                var rows = item.Task == Job.FillMask
                    ? item.Texts.Select(fillMask.Encode).ToList()
                    : model.Encode(item.Texts, item.Truncate, item.Pairs, item.Ids);
                item.Tokens = rows.Sum(r => r.Length);
                live.Add((item, rows));
            }
            catch (Exception e)
            {
                item.Result.TrySetException(e);
            }
        }
        if (live.Count == 0) return;
        metrics.BatchRequests.Observe(live.Count);
        metrics.BatchInputs.Observe(live.Sum(l => l.Rows.Count));
        var first = live[0].Item;
        var all = live.SelectMany(l => l.Rows).ToList();
        try
        {
            IReadOnlyList<object> results = first.Task switch
            {
                Job.Embed => embedder.Embed(all, first.Pooling, first.Normalize),
                Job.Predict => classifier.Classify(all, first.TopK == int.MaxValue ? null : first.TopK, first.RawScores),
                _ => fillMask.Predict(all, first.TopK),
            };
            var offset = 0;
            foreach (var (item, rows) in live)
            {
                item.Result.TrySetResult(results.Skip(offset).Take(rows.Count).ToList());
                offset += rows.Count;
            }
        }
        catch (Exception e)
        {
            foreach (var (item, _) in live) item.Result.TrySetException(e);
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
