using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace HybridBert.Data;

public sealed record ShardFile(string File, long Sequences, long Bytes, string Sha256);

public sealed record SplitInfo(long Documents, long Sequences, long Tokens, IReadOnlyList<ShardFile> Shards);

public sealed record SourceInfo(string Name, long Bytes, string Sha256);

/// <summary>
/// <c>manifest.json</c> of a prepared data directory: how to read the shards and what they were made from.
/// A shard is a flat array of fixed-size records, one per sequence (see <see cref="RecordBytes"/>).
/// </summary>
public sealed record ShardManifest
{
    public const string FileName = "manifest.json";
    public const string VocabFileName = "vocab.txt";
    public const string CurrentFormat = "hybridbert-shards/1";

    public string Format { get; init; } = CurrentFormat;
    public required int SeqLen { get; init; }
    public required string VocabHash { get; init; }
    public required int VocabSize { get; init; }
    public required bool Lowercase { get; init; }
    /// <summary>2 (uint16) when every id fits, else 4 (int32).</summary>
    public required int IdBytes { get; init; }
    public required int PadTokenId { get; init; }
    public required int ClsTokenId { get; init; }
    public required int SepTokenId { get; init; }
    public required int MaskTokenId { get; init; }
    public required int Seed { get; init; }
    public required double ValidationFraction { get; init; }
    public IReadOnlyList<string> SentenceLabels { get; init; } = SentenceLabel.Names;
    public required IReadOnlyList<SourceInfo> Sources { get; init; }
    public required IReadOnlyDictionary<string, SplitInfo> Splits { get; init; }
    public required IReadOnlyDictionary<string, long> Stats { get; init; }
    /// <summary>The first reading warnings (skipped lines, empty files …), so the manifest says what was left out.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>ids (seq_len × id bytes), sentence ids (seq_len × 2), length u16, type boundary u16, label u8, 3 spare.</summary>
    [JsonIgnore] public int RecordBytes => RecordSize(SeqLen, IdBytes);
    public static int RecordSize(int seqLen, int idBytes) => seqLen * (idBytes + 2) + 8;

    public static ShardManifest Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{directory}: no {FileName} — not a prepared data directory (run `hybridbert data prepare`)", path);
        ShardManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ShardManifest>(File.ReadAllText(path), IO.JsonFiles.Options) ??
                throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid manifest ({e.Message})", e);
        }
        if (manifest.Format != CurrentFormat)
            throw new InvalidDataException($"{path}: format '{manifest.Format}', this version reads '{CurrentFormat}'");
        return manifest;
    }

    public void Save(string directory) =>
        File.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, IO.JsonFiles.Options));

    /// <summary>Fails, naming both values, when the data was made with another vocabulary or sequence length.</summary>
    public void CheckCompatible(string directory, string? vocabHash, int? vocabSize, int? maxPositions)
    {
        if (vocabHash is not null && vocabHash != VocabHash)
            throw new InvalidDataException($"{directory} was prepared with another vocabulary (hash {VocabHash[..12]}…, {VocabSize} " +
                $"tokens) than the one given (hash {vocabHash[..12]}…)");
        if (vocabSize is not null && vocabSize != VocabSize)
            throw new InvalidDataException($"{directory} was prepared with a {VocabSize}-token vocabulary but the model has vocab_size={vocabSize}");
        if (maxPositions is not null && SeqLen > maxPositions)
            throw new InvalidDataException($"{directory} has seq_len={SeqLen} but the model has max_position_embeddings={maxPositions}");
    }

    /// <summary>The vocabulary the data was prepared with (saved beside the manifest), checked against its hash.</summary>
    public Text.Vocabulary LoadVocabulary(string directory)
    {
        var vocabulary = Text.Vocabulary.Load(Path.Combine(directory, VocabFileName));
        if (vocabulary.Hash != VocabHash)
            throw new InvalidDataException($"{Path.Combine(directory, VocabFileName)} is not the vocabulary the manifest was made with " +
                $"(hash {vocabulary.Hash[..12]}… vs {VocabHash[..12]}…)");
        return vocabulary;
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
