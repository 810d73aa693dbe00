using System.Diagnostics;
using HybridBert.FineTuning;
using HybridBert.Inference;
using HybridBert.Text;

namespace HybridBert.Serving;

/// <summary>The engines over the one loaded model; only the batcher's thread touches them.</summary>
internal sealed record Engines(InferenceModel Model, Embedder Embedder, TextClassifier Classifier, FillMask FillMask)
{
    public Engines(InferenceModel model) : this(model, new Embedder(model), new TextClassifier(model), new FillMask(model)) { }
}

/// <summary>One request's inputs, as the model encodes them: texts, or per input a second text (a pair) or the client's own token ids.</summary>
internal sealed record ModelInputs(IReadOnlyList<string> Texts, bool Truncate, IReadOnlyList<string?>? Pairs = null,
    IReadOnlyList<int[]?>? Ids = null,
    bool FromLeft = false);

/// <summary>
/// How a forward runs and what its requests must share: a job's value is its batching key, so requests share a
/// forward exactly when their jobs are equal (same kind, same settings). <typeparamref name="T"/> is one input's result.
/// </summary>
internal abstract record Job<T>
{
    public virtual List<EncodedText> Encode(Engines engines, ModelInputs inputs) =>
        engines.Model.Encode(inputs.Texts, inputs.Truncate, inputs.Pairs, inputs.Ids, fromLeft: inputs.FromLeft);

    public abstract IReadOnlyList<T> Run(Engines engines, IReadOnlyList<EncodedText> rows);
}

/// <summary>Pooled vectors; with <see cref="Dimensions"/> only the first N (Matryoshka), normalised after the cut.</summary>
internal sealed record EmbedJob(Pooling Pooling, bool Normalize, int? Dimensions = null) : Job<float[]>
{
    public override IReadOnlyList<float[]> Run(Engines engines, IReadOnlyList<EncodedText> rows)
    {
        if (Dimensions is not { } n) return engines.Embedder.Embed(rows, Pooling, Normalize);
        return engines.Embedder.Embed(rows, Pooling, normalize: false).Select(v =>
        {
            var cut = v[..Math.Min(n, v.Length)];
            if (!Normalize) return cut;
            var norm = (float)Math.Sqrt(cut.Sum(x => (double)x * x));
            return cut.Select(x => x / Math.Max(norm, 1e-12f)).ToArray();
        }).ToArray();
    }
}

/// <summary>Every token's vector.</summary>
internal sealed record EmbedAllJob : Job<float[][]>
{
    public override IReadOnlyList<float[][]> Run(Engines engines, IReadOnlyList<EncodedText> rows) => engines.Embedder.EmbedAll(rows);
}

/// <summary>SPLADE-style sparse vectors.</summary>
internal sealed record EmbedSparseJob : Job<List<(int Index, float Value)>>
{
    public override IReadOnlyList<List<(int Index, float Value)>> Run(Engines engines, IReadOnlyList<EncodedText> rows) =>
        engines.Embedder.EmbedSparse(rows);
}

/// <summary>Every label's score, highest first (/predict; /rerank reads a one-output model's score).</summary>
internal sealed record ClassifyJob(bool RawScores) : Job<LabelScore[]>
{
    public override IReadOnlyList<LabelScore[]> Run(Engines engines, IReadOnlyList<EncodedText> rows) =>
        engines.Classifier.Classify(rows, null, RawScores);
}

/// <summary>Per text, Hugging Face's token-classification output with <see cref="Aggregation"/>: rows carry their pieces'
/// character spans, so texts of many requests share a forward.</summary>
internal sealed record TagJob(Aggregation Aggregation) : Job<TokenPrediction[]>
{
    public override List<EncodedText> Encode(Engines engines, ModelInputs inputs)
    {
        if (inputs.Pairs?.Any(p => p is not null) == true || inputs.Ids?.Any(i => i is not null) == true)
            throw new InvalidInputException("a token classifier tags single texts: send a text or a batch of texts, not pairs or token ids");
        var tagger = engines.Model.Tagger!;
        return inputs.Texts.Select((text, i) => tagger.EncodeText(text, inputs.Truncate, i)).ToList();
    }

    public override IReadOnlyList<TokenPrediction[]> Run(Engines engines, IReadOnlyList<EncodedText> rows) =>
        engines.Model.Tagger!.PredictRows(rows, Aggregation);
}

/// <summary>Per input, per [MASK], the top candidates.</summary>
internal sealed record FillMaskJob(int TopK) : Job<List<List<FillMaskCandidate>>>
{
    public override List<EncodedText> Encode(Engines engines, ModelInputs inputs) => inputs.Texts.Select(engines.FillMask.Encode).ToList();

    public override IReadOnlyList<List<List<FillMaskCandidate>>> Run(Engines engines, IReadOnlyList<EncodedText> rows) =>
        engines.FillMask.Predict(rows, TopK);
}

/// <summary>A queued request, whatever its result type: what the batcher needs to group, encode, run and answer it.</summary>
internal abstract class Work(ModelInputs inputs, CancellationToken aborted)
{
    public ModelInputs Inputs { get; } = inputs;
    public CancellationToken Aborted { get; } = aborted;
    /// <summary>The batching key (<see cref="Job{T}"/>).</summary>
    public abstract object Key { get; }
    /// <summary>The encoded inputs, once <see cref="Encode"/> ran.</summary>
    public IReadOnlyList<EncodedText> Rows { get; protected set; } = [];
    /// <summary>Tokens of all inputs after tokenization (the OpenAI route's usage).</summary>
    public int Tokens => Rows.Sum(r => r.Length);

    /// <summary>When the request was queued, its tokenization began, its forward began and its results were ready
    /// (<see cref="Stopwatch"/> timestamps; 0 until then): gRPC's per-request metadata.</summary>
    public long Queued { get; } = Stopwatch.GetTimestamp();
    public long EncodeStarted { get; protected set; }
    public long RunStarted { get; protected set; }
    public long Finished { get; protected set; }

    /// <summary>Tokenizes (on the batcher's thread, or a tokenization worker's before it is queued); an input error
    /// fails this request only.</summary>
    public abstract void Encode(Engines engines);
    /// <summary>Whether <see cref="Encode"/> ran (a tokenization worker's work reaches the batcher encoded).</summary>
    public bool Encoded { get; protected set; }
    /// <summary>Runs every request of <paramref name="batch"/> (all with this one's key) in one go and answers each with its own results.</summary>
    public abstract void RunBatch(IReadOnlyList<Work> batch, Engines engines);
    public abstract void Fail(Exception error);
    public abstract void Cancel();
}

internal sealed class Work<T>(Job<T> job, ModelInputs inputs, CancellationToken aborted) : Work(inputs, aborted)
{
    private readonly TaskCompletionSource<IReadOnlyList<T>> result = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>One result per input, in input order.</summary>
    public Task<IReadOnlyList<T>> Result => result.Task;
    public override object Key => job;

    public override void Encode(Engines engines)
    {
        EncodeStarted = Stopwatch.GetTimestamp();
        Rows = job.Encode(engines, Inputs);
        RunStarted = Stopwatch.GetTimestamp();
        Encoded = true;
    }

    public override void RunBatch(IReadOnlyList<Work> batch, Engines engines)
    {
        var items = batch.Cast<Work<T>>().ToList();   // equal keys: the same job type, so the same T
        var results = job.Run(engines, items.SelectMany(w => w.Rows).ToList());
        var offset = 0;
        var finished = Stopwatch.GetTimestamp();
        foreach (var item in items)
        {
            item.Finished = finished;
            item.result.TrySetResult(results.Skip(offset).Take(item.Rows.Count).ToList());
            offset += item.Rows.Count;
        }
    }

    public override void Fail(Exception error) => result.TrySetException(error);
    public override void Cancel() => result.TrySetCanceled();
}
