using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Interop;

/// <summary>
/// Copies named tensors into a module by name, after mapping Hugging Face checkpoint names onto ours.
/// Every problem is collected and reported at once: missing, unexpected and mis-shaped tensors.
/// </summary>
public static class WeightLoader
{
    /// <summary>Prefixes Hugging Face puts before the encoder's own names (<c>bert.embeddings…</c>, <c>ponet.encoder…</c>).</summary>
    public static readonly string[] ModelPrefixes = ["bert.", "ponet.", "hybridbert."];

    /// <summary>Hugging Face name → our name, or null for tensors we never load (tied decoder copy, position id buffer).</summary>
    public static string? MapName(string name)
    {
        foreach (var prefix in ModelPrefixes)
            if (name.StartsWith(prefix, StringComparison.Ordinal)) { name = name[prefix.Length..]; break; }
        return name switch
        {
            "cls.predictions.decoder.weight" => null,  // tied to embeddings.word_embeddings.weight
            "cls.predictions.decoder.bias" => null,    // the same tensor as cls.predictions.bias
            "embeddings.position_ids" => null,         // a buffer HF recomputes; we use arange
            _ => name,
        };
    }

    /// <summary>
    /// Loads <paramref name="tensors"/> into <paramref name="module"/>. Names starting with one of
    /// <paramref name="ignorePrefixes"/> are skipped on both sides (e.g. <c>input.</c>/<c>expected.</c> in a
    /// fixture, or <c>cls.</c> when a fine-tuning model drops the MLM head); <paramref name="optionalPrefixes"/>
    /// may be missing from the file (a freshly initialised head). Returns the module's names that the file did not
    /// have (all under <paramref name="optionalPrefixes"/>), left as they were.
    /// </summary>
    public static IReadOnlyList<string> Load(nn.Module module, IReadOnlyDictionary<string, Tensor> tensors, string source,
        IEnumerable<string>? ignorePrefixes = null, IEnumerable<string>? optionalPrefixes = null)
    {
        var ignore = (ignorePrefixes ?? []).ToArray();
        var optional = (optionalPrefixes ?? []).ToArray();
        bool Ignored(string n) => ignore.Any(p => n.StartsWith(p, StringComparison.Ordinal));

        var expected = module.state_dict();
        var mapped = new Dictionary<string, Tensor>();
        foreach (var (name, tensor) in tensors)
            if (Resolve(name, expected) is { } ours && !Ignored(name) && !Ignored(ours)) mapped[ours] = tensor;

        var absent = expected.Keys.Where(k => !mapped.ContainsKey(k) && !Ignored(k)).ToList();
        var missing = absent.Where(k => !optional.Any(p => k.StartsWith(p, StringComparison.Ordinal))).ToList();
        var unexpected = mapped.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        var misShaped = mapped.Where(kv => expected.TryGetValue(kv.Key, out var e) && !e.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key} (file {Shape(kv.Value)}, model {Shape(expected[kv.Key])})").ToList();
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
        {
            // A few names of each kind, then a count: a config that does not match its weights mis-shapes every tensor.
            static string Some(List<string> names) => string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"missing {missing.Count}: {Some(missing)}");
            if (unexpected.Count > 0) parts.Add($"unexpected {unexpected.Count}: {Some(unexpected)}");
            if (misShaped.Count > 0) parts.Add($"mis-shaped {misShaped.Count}: {Some(misShaped)}");
            var hint = misShaped.Count > 5
                ? " — the weights were made for a model of other sizes: check that the config (hidden_size, intermediate_size, " +
                "vocab_size …) is the one they were saved with" : "";
            throw new WeightMismatchException($"{source} does not fit the model — {string.Join("; ", parts)}{hint}");
        }

        using var noGrad = torch.no_grad();
        foreach (var (name, tensor) in mapped)
        {
            var target = expected[name];
            target.copy_(tensor.to(target.dtype, target.device));
        }
        return absent;
    }

    /// <summary>
    /// The model's name for a file's tensor: the name itself when the model has it (a classifier's own
    /// <c>bert.embeddings…</c>), else the name with a Hugging Face prefix stripped (a BertForMaskedLM checkpoint
    /// loaded into a bare encoder), else null for tensors never loaded.
    /// </summary>
    private static string? Resolve(string name, IReadOnlyDictionary<string, Tensor> expected)
    {
        if (expected.ContainsKey(name)) return name;
        return MapName(name);
    }

    public static IReadOnlyList<string> Load(nn.Module module, string safetensorsPath, IEnumerable<string>? ignorePrefixes = null,
        IEnumerable<string>? optionalPrefixes = null)
    {
        var tensors = SafetensorsFile.Read(safetensorsPath);
        try
        {
            return Load(module, tensors, safetensorsPath, ignorePrefixes, optionalPrefixes);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Saves the module's state under Hugging Face names (no prefix), atomically.</summary>
    public static void Save(nn.Module module, string safetensorsPath) =>
        SafetensorsFile.Write(safetensorsPath, module.state_dict());

    private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
}

public sealed class WeightMismatchException(string message) : Exception(message);
