using HybridBert.Model;
using HybridBert.Text;
using static TorchSharp.torch;

namespace HybridBert.Interop;

public enum ModelSourceKind { Checkpoint, HuggingFace, FineTuned }

/// <summary>
/// Anything the project can load a pre-trained encoder from, resolved once: a pre-training run folder (its best
/// checkpoint, else its newest), one of its checkpoints, a fine-tuned <c>seed-N</c> folder, or a Hugging Face model
/// folder (<see cref="HuggingFaceFolder"/>; also what <c>model import</c> writes). The weights are read when
/// <see cref="LoadInto"/> is called, so resolving is cheap.
/// </summary>
public sealed record ModelSource
{
    public required string Folder { get; init; }
    public required ModelSourceKind Kind { get; init; }
    public required EncoderConfig Config { get; init; }
    public required Vocabulary Vocabulary { get; init; }
    /// <summary>The tokenizer's lower-casing when the folder says (Hugging Face, fine-tuned); null for our checkpoints,
    /// which do not record it.</summary>
    public bool? Lowercase { get; init; }
    /// <summary>A Hugging Face sequence classifier's labels (null for other models).</summary>
    public ClassifierLabels? Labels { get; init; }

    /// <summary>The Hub model and commit the folder is a snapshot of, when it was named by id (null for a folder).</summary>
    public Hub.PulledModel? Pulled { get; init; }

    public string Description => Pulled is { } hub ? $"{Config.LayerPattern} from {hub.Id} ({hub.Commit[..Math.Min(7, hub.Commit.Length)]})"
        : $"{Config.LayerPattern} from {Folder}";

    /// <summary>Resolves <paramref name="path"/>; a folder that is none of the kinds above is an error naming what each would need.</summary>
    /// <remarks>A <paramref name="path"/> that does not exist but reads as a Hub id (<c>org/name[@revision]</c>) is
    /// taken from the Hugging Face cache, downloaded on first use (<see cref="Hub.HubModels"/>).</remarks>
    public static ModelSource Open(string path)
    {
        var (resolved, pulled) = Hub.HubModels.Resolve(path);
        return OpenFolder(resolved) with { Pulled = pulled };
    }

    private static ModelSource OpenFolder(string path)
    {
        if (File.Exists(path)) throw new InvalidDataException($"{path} is a file, not a model folder: {Expected}");
        if (!Directory.Exists(path))
            throw new DirectoryNotFoundException($"Model folder not found: {path} (nor is it a Hugging Face model id, org/name[@revision])");
        path = FineTunedSeed(path) ?? path;
        var kind = ModelLayout.Detect(path);
        if (kind == ModelSourceKind.FineTuned)
        {
            var head = FineTuning.FineTunedModel.ReadHead(path);
            var vocabulary = Vocabulary.Load(Path.Combine(path, FineTuning.FineTunedModel.VocabFile));
            return new ModelSource
            {
                Folder = path, Kind = ModelSourceKind.FineTuned,
                    Config = CheckVocabulary(EncoderConfig.Load(Path.Combine(path, FineTuning.FineTunedModel.ConfigFile)), vocabulary, path),
                Vocabulary = vocabulary, Lowercase = head.Lowercase,
            };
        }
        if (kind == ModelSourceKind.Checkpoint)
        {
            var folder = CheckpointFolder(path);
            var vocabulary = Vocabulary.Load(Path.Combine(folder, Training.Checkpoint.VocabFile));
            return new ModelSource
            {
                Folder = folder, Kind = ModelSourceKind.Checkpoint,
                Config = CheckVocabulary(EncoderConfig.Load(Path.Combine(folder, Training.Checkpoint.ConfigFile)), vocabulary, folder),
                Vocabulary = vocabulary,
            };
        }
        if (kind == ModelSourceKind.HuggingFace)
        {
            if (!HuggingFaceFolder.Is(path))
                throw new FileNotFoundException($"{path}: has {HuggingFaceFolder.ConfigFile} but no weights — expected one of " +
                    $"{string.Join(", ", HuggingFaceFolder.WeightFiles)}");
            var (vocabulary, lowercase) = HuggingFaceFolder.ReadTokenizer(path);
            return new ModelSource
            {
                Folder = path, Kind = ModelSourceKind.HuggingFace, Config = HuggingFaceFolder.ReadConfig(path, vocabulary),
                Vocabulary = vocabulary, Lowercase = lowercase, Labels = HuggingFaceFolder.ReadLabels(path),
            };
        }
        throw new FileNotFoundException($"{path} is not a model: {Expected}");
    }

    private static string Expected => $"expected a pre-training run folder (checkpoints/), a checkpoint ({Training.Checkpoint.TrainerFile}), " +
                                      $"a fine-tuned folder ({FineTuning.FineTunedModel.TaskFile}) or a Hugging Face model folder " +
                                          $"({HuggingFaceFolder.ConfigFile} + weights)";

    /// <summary>SHA-256 (hex) over the weight files' names and bytes: what an ONNX graph exported into the folder was made
    /// from (<see cref="OnnxExport.ForFolder(ModelSource, bool)"/>), so a graph left behind by other weights is noticed.</summary>
    public string WeightsFingerprint()
    {
        IEnumerable<string> files = Kind switch
        {
            ModelSourceKind.HuggingFace => HuggingFaceFolder.WeightFiles.Select(f => Path.Combine(Folder, f)).Where(File.Exists)
                .Concat(Directory.EnumerateFiles(Folder, "model-*-of-*.safetensors").Order(StringComparer.Ordinal)),
            ModelSourceKind.Checkpoint => [Path.Combine(Folder, Training.Checkpoint.WeightsFile)],
            _ => [Path.Combine(Folder, FineTuning.FineTunedModel.WeightsFile)],
        };
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
            using var stream = File.OpenRead(file);
            var buffer = new byte[1 << 20];
            for (int read; (read = stream.Read(buffer)) > 0;) hash.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The weights under the names in the file (CPU, dtype as stored); the caller disposes them.</summary>
    public Dictionary<string, Tensor> ReadWeights() => Kind switch
    {
        ModelSourceKind.HuggingFace => HuggingFaceFolder.ReadWeights(Folder),
        ModelSourceKind.Checkpoint => SafetensorsFile.Read(Path.Combine(Folder, Training.Checkpoint.WeightsFile)),
        _ => SafetensorsFile.Read(Path.Combine(Folder, FineTuning.FineTunedModel.WeightsFile)),
    };

    /// <summary>
    /// Copies the weights into <paramref name="module"/> (<see cref="WeightLoader.Load(TorchSharp.torch.nn.Module,
    /// IReadOnlyDictionary{string, Tensor}, string, IEnumerable{string}?, IEnumerable{string}?)"/>:
    /// names mapped, every mismatch listed); returns the module's tensors the source did not have (left as initialized).
    /// </summary>
    public IReadOnlyList<string> LoadInto(nn.Module module, IEnumerable<string>? ignorePrefixes = null, IEnumerable<string>? optionalPrefixes = null)
    {
        var tensors = ReadWeights();
        try
        {
            return WeightLoader.Load(module, tensors, Folder, ignorePrefixes, optionalPrefixes);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>
    /// A fine-tuning's output folder (<c>results.json</c> and <c>seed-N/</c> models) stands for its one model when it
    /// holds one; with several, the caller must choose, and the error names them. Null for any other folder.
    /// </summary>
    public static string? FineTunedSeed(string folder)
    {
        if (!File.Exists(Path.Combine(folder, ModelLayout.FineTuneResults))) return null;
        var seeds = Directory.GetDirectories(folder,
            "seed-*").Where(d => File.Exists(Path.Combine(d, FineTuning.FineTunedModel.TaskFile))).Order(StringComparer.Ordinal).ToList();
        return seeds.Count switch
        {
            0 => null,
            1 => seeds[0],
            _ => throw new InvalidDataException($"{folder} holds {seeds.Count} fine-tuned models " +
                $"({string.Join(", ", seeds.Select(Path.GetFileName))}), one per seed: " +
                                                $"name one, e.g. {seeds[0]}"),
        };
    }

    /// <summary>A checkpoint folder, or a run folder's best checkpoint (else its newest), its files verified.</summary>
    public static string CheckpointFolder(string path)
    {
        if (File.Exists(Path.Combine(path, Training.Checkpoint.TrainerFile))) return path;
        var checkpoints = Training.Checkpoint.List(path);
        if (checkpoints.Count == 0) throw new FileNotFoundException($"{path}: neither a checkpoint nor a pre-training run folder with checkpoints");
        var newest = Training.Checkpoint.Read(checkpoints[0].Folder, verify: false);
        var best = checkpoints.FirstOrDefault(c => c.Step == newest.State.BestStep);
        var chosen = best.Folder ?? checkpoints[0].Folder;
        Training.Checkpoint.Read(chosen);   // verify its files
        return chosen;
    }

    private static EncoderConfig CheckVocabulary(EncoderConfig config, Vocabulary vocabulary, string folder) =>
        vocabulary.Count == config.VocabSize ? config
            : throw new InvalidDataException($"{folder}: its vocab.txt has {vocabulary.Count} tokens but the model has " +
                $"vocab_size={config.VocabSize} — the model and vocabulary do not belong together");
}
