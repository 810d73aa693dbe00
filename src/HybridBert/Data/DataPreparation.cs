using HybridBert.Text;

namespace HybridBert.Data;

public sealed record PrepareOptions
{
    public int SeqLen { get; init; } = 128;
    /// <summary>Every round(1/fraction)-th document goes to the validation split.</summary>
    public double ValidationFraction { get; init; } = 0.05;
    public int Seed { get; init; } = 1234;
    public int Workers { get; init; } = Environment.ProcessorCount;
    public bool Lowercase { get; init; } = true;
    public InvalidUtf8Policy OnInvalid { get; init; } = InvalidUtf8Policy.Fail;
    public string TextField { get; init; } = "text";
    public long SequencesPerShard { get; init; } = 100_000;
    public bool Overwrite { get; init; }

    /// <summary>The defaults, for the CLI's help and flags.</summary>
    public static PrepareOptions Defaults { get; } = new();

    /// <summary>Every setting at once; throws one ArgumentException naming each that is out of range.</summary>
    public PrepareOptions Validate()
    {
        var errors = new Problems();
        if (SeqLen is < 8 or > 65535) errors.Add($"--seq-len must be in [8, 65535] (got {SeqLen})");
        if (ValidationFraction is < 0 or >= 1 ||
            double.IsNaN(ValidationFraction)) errors.Add($"--validation-fraction must be in [0, 1) (got {ValidationFraction})");
        if (Workers < 1) errors.Add($"--workers must be >= 1 (got {Workers})");
        if (SequencesPerShard < 1) errors.Add($"sequences per shard must be >= 1 (got {SequencesPerShard})");
        if (string.IsNullOrEmpty(TextField)) errors.Add("--text-field must not be empty");
        errors.ThrowIfAny();
        return this;
    }
}

public sealed record PrepareProgress(long RawBytes, long TotalRawBytes, long Sequences, long Tokens);

/// <summary>
/// <c>hybridbert data prepare</c>: corpus → sentences → token ids → packed sequences → shards + manifest.
/// Streaming (documents flow through in batches); tokenization runs on <c>Workers</c> threads while packing stays
/// sequential with one seeded RNG, so the output is byte-identical for a seed whatever the worker count.
/// Everything is written into a temporary sibling folder that is renamed into place only when complete: an
/// interrupted run leaves no directory that looks prepared.
/// </summary>
public static class DataPreparation
{
    private const int BatchDocuments = 64;

    public static ShardManifest Run(IReadOnlyList<CorpusSource> sources, Vocabulary vocabulary, string outDir, PrepareOptions options,
        IProgress<PrepareProgress>? progress = null, CancellationToken cancel = default, Action<string>? log = null)
    {
        options.Validate();
        if (sources.Count == 0) throw new ArgumentException("no corpus files to prepare");
        outDir = Path.GetFullPath(outDir);
        using var outLock = IO.PathLock.Acquire(outDir);   // before looking at it: another process may be writing it
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
        {
            if (!options.Overwrite) throw new IO.OutputExistsException(outDir, "files", resumable: false);
            if (!File.Exists(Path.Combine(outDir, ShardManifest.FileName)))
                throw new IOException($"{outDir} exists and is not a prepared data directory: not overwriting it");
        }
        var parent = Path.GetDirectoryName(outDir)!;
        Directory.CreateDirectory(parent);
        IO.StaleTemporaries.Remove(parent, $".{Path.GetFileName(outDir)}.partial-*", log);
        var temp = Path.Combine(parent, $".{Path.GetFileName(outDir)}.partial-{Environment.ProcessId}");
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(temp);
        try
        {
            var manifest = Write(sources, vocabulary, temp, options, progress, cancel);
            IO.AtomicFile.PublishFolder(temp, outDir);
            return manifest;
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    private static ShardManifest Write(IReadOnlyList<CorpusSource> sources, Vocabulary vocabulary, string dir, PrepareOptions options,
        IProgress<PrepareProgress>? progress, CancellationToken cancel)
    {
        var idBytes = vocabulary.Count <= 65536 ? 2 : 4;
        var reader = new CorpusReader(options.OnInvalid, options.TextField);
        var hashes = new SourceHashes();
        var random = new Random(options.Seed);
        var packers = new Dictionary<string, SequencePacker>
        {
            ["train"] = new(options.SeqLen, vocabulary, random),
            ["validation"] = new(options.SeqLen, vocabulary, random),
        };
        using var train = new ShardWriter(dir, "train", options.SeqLen, idBytes, options.SequencesPerShard);
        using var validation = new ShardWriter(dir, "validation", options.SeqLen, idBytes, options.SequencesPerShard);
        var documents = new Dictionary<string, long> { ["train"] = 0, ["validation"] = 0 };
        var every = options.ValidationFraction > 0 ? Math.Max(2, (int)Math.Round(1 / options.ValidationFraction)) : int.MaxValue;
        var offset = options.Seed % Math.Min(every, int.MaxValue - 1);
        long documentIndex = 0, sentences = 0, longSentencesTrimmed = 0;
        var totalBytes = sources.Sum(s => s.Length);
        using var tokenizers = new ThreadLocal<BertTokenizer>(() => new BertTokenizer(vocabulary, options.Lowercase));

        foreach (var batch in reader.Read(hashes.Wrap(sources)).Chunk(BatchDocuments))
        {
            cancel.ThrowIfCancellationRequested();
            var tokenized = new List<int[]>[batch.Length];
            Parallel.For(0, batch.Length,
                new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Workers), CancellationToken = cancel }, d =>
            {
                var tokenizer = tokenizers.Value!;
                var ids = new List<int[]>();
                foreach (var paragraph in batch[d].Paragraphs)
                    foreach (var sentence in SentenceSplitter.Split(paragraph))
                        if (tokenizer.Tokenize(sentence) is { Length: > 0 } t) ids.Add(t);
                tokenized[d] = ids;
            });
            foreach (var doc in tokenized)
            {
                var split = (documentIndex++ + offset) % every == 0 ? "validation" : "train";
                if (doc.Count == 0) continue;
                documents[split]++;
                sentences += doc.Count;
                longSentencesTrimmed += doc.Count(s => s.Length > options.SeqLen - 3);
                var writer = split == "train" ? train : validation;
                foreach (var sequence in packers[split].Pack(doc)) writer.Write(sequence);
            }
            progress?.Report(new PrepareProgress(reader.RawBytesRead, totalBytes, train.Sequences + validation.Sequences,
                train.Tokens + validation.Tokens));
        }
        train.Complete();
        validation.Complete();
        if (train.Sequences == 0)
            throw new InvalidDataException($"The corpus produced no training sequences: {reader.Stats.WhyNothing(options.TextField)}");
        if (validation.Sequences == 0 && options.ValidationFraction > 0)
            reader.Stats.Warn($"the validation split is empty: {documentIndex:N0} documents, of which every {every}th is held out, gave none; " +
                              "pre-training on this data skips evaluation (more documents, or documents separated by blank lines, give a " +
                                  "validation split)");

        var stats = new Dictionary<string, long>
        {
            ["bytes_read"] = reader.Stats.BytesRead,
            ["lines"] = reader.Stats.Lines,
            ["documents"] = reader.Stats.Documents,
            ["sentences"] = sentences,
            ["sentences_longer_than_a_sequence"] = longSentencesTrimmed,
            ["invalid_lines_skipped"] = reader.Stats.InvalidLinesSkipped,
            ["invalid_lines_replaced"] = reader.Stats.InvalidLinesReplaced,
            ["long_lines_split"] = reader.Stats.LongLinesSplit,
            ["empty_files"] = reader.Stats.EmptyFiles,
            ["json_lines_without_text"] = reader.Stats.JsonLinesWithoutText,
        };
        var manifest = new ShardManifest
        {
            SeqLen = options.SeqLen,
            VocabHash = vocabulary.Hash,
            VocabSize = vocabulary.Count,
            Lowercase = options.Lowercase,
            IdBytes = idBytes,
            PadTokenId = vocabulary.PadId,
            ClsTokenId = vocabulary.ClsId,
            SepTokenId = vocabulary.SepId,
            MaskTokenId = vocabulary.MaskId,
            Seed = options.Seed,
            ValidationFraction = options.ValidationFraction,
            Sources = sources.Select(s => new SourceInfo(s.Name, s.Length, hashes.Get(s.Name))).ToList(),
            Splits = new Dictionary<string, SplitInfo>
            {
                ["train"] = new(documents["train"], train.Sequences, train.Tokens, train.Shards),
                ["validation"] = new(documents["validation"], validation.Sequences, validation.Tokens, validation.Shards),
            },
            Stats = stats,
            Warnings = reader.Stats.Warnings,
        };
        vocabulary.Save(Path.Combine(dir, ShardManifest.VocabFileName));   // the data directory is self-contained
        manifest.Save(dir);
        return manifest;
    }

    /// <summary>SHA-256 of each source's raw bytes, computed while it is read (no second pass over the corpus).</summary>
    private sealed class SourceHashes
    {
        private readonly Dictionary<string, System.Security.Cryptography.IncrementalHash> hashes = [];
        private readonly Dictionary<string, string> done = [];

        public IEnumerable<CorpusSource> Wrap(IEnumerable<CorpusSource> sources) => sources.Select(s =>
        {
            var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            hashes[s.Name] = hash;
            return s with { OpenRaw = () => new ObservedStream(s.OpenRaw(), bytes => hash.AppendData(bytes)) };
        });

        public string Get(string name)
        {
            if (!done.TryGetValue(name, out var hex))
                done[name] = hex = Convert.ToHexStringLower(hashes[name].GetHashAndReset());
            return hex;
        }
    }
}
