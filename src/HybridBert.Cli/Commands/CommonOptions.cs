using System.CommandLine;
using HybridBert.Data;

namespace HybridBert.Cli.Commands;

/// <summary>Options and output shared by several commands.</summary>
internal static class CommonOptions
{
    /// <summary>A model option's value: an existing path made absolute, anything else (a Hugging Face model id such as
    /// <c>org/name@revision</c>) as typed, for <see cref="Interop.ModelSource.Open"/> to resolve.</summary>
    public static string ModelPath(this string text) => Path.Exists(text) ? Path.GetFullPath(text) : text;

    /// <summary>What a model option takes, said once for every command.</summary>
    public const string ModelHelp = "a folder (a pre-training run or checkpoint, a fine-tuned seed-N, a Hugging Face model) or a " +
                                    "Hugging Face model id, org/name[@revision], from the cache or downloaded on first use";

    /// <summary>What a classifier's model option takes.</summary>
    public const string ClassifierHelp = "A fine-tuned seed-N folder, a Hugging Face sequence classifier folder or its Hub id (org/name[@revision])";

    /// <summary><c>--token</c> and <c>--offline</c>, on every command (HF_TOKEN and HF_HUB_OFFLINE by default).</summary>
    public static readonly Option<string?> Token = new("--token")
    {
        Recursive = true, Description = "A Hugging Face token for gated or private models [default: $HF_TOKEN, else the saved login]",
    };

    public static readonly Option<bool> Offline = new("--offline")
    {
        Recursive = true, Description = "Use only models already in the Hugging Face cache, never the network (as HF_HUB_OFFLINE=1 does)",
    };

    /// <summary>
    /// Without a terminal (a log file, a CI job) Spectre prints a progress task as "description: NN%" lines and drops its
    /// columns, the remaining time among them: this puts the time left into the description there, and nothing on a terminal,
    /// whose own column shows it.
    /// </summary>
    public static string TimeLeft(Spectre.Console.ProgressTask task) =>
        Spectre.Console.AnsiConsole.Profile.Capabilities.Interactive || task.RemainingTime is not { } left ? ""
            : $", {left:hh\\:mm\\:ss} left";

    /// <summary>The --device value, saying what <c>auto</c> chose.</summary>
    public static string DeviceValue(System.CommandLine.ParseResult parse, System.CommandLine.Option<string> device)
    {
        var value = parse.GetValue(device)!;
        if (Model.Devices.ExplainAuto(value) is { } chose) Console.Error.WriteLine(chose);
        return value;
    }

    /// <summary>"1 seed", "2 seeds": a count with its noun (regular English plurals only).</summary>
    public static string Plural(long count, string noun) => $"{count:N0} {noun}{(count == 1 ? "" : "s")}";

    /// <summary>What --pattern accepts: the pattern names and the layer letters of <see cref="Model.Mixers"/>.</summary>
    public static string PatternHelp { get; } =
        $"{string.Join(", ", Model.Presets.PatternNames)}, or one letter per layer such as PPAA ({Model.Mixers.Legend})";

    /// <summary><c>--device</c>: cpu, cuda, cuda:N or auto.</summary>
    public static Option<string> Device(string defaultValue) =>
        new("--device") { Description = $"Where the model runs: {Model.Devices.Help}", DefaultValueFactory = _ => defaultValue };

    /// <summary><c>--options-file</c>: the command's whole options record as JSON (what <c>reproduce</c> hands its child processes).</summary>
    public static Option<FileInfo?> OptionsFile() => new("--options-file")
    {
        Description = "Run with the options in this JSON file (the command's options record, as `reproduce` writes them) instead of flags",
    };

    /// <summary>The options record in <paramref name="file"/>'s JSON, or null when it was not given. Giving it with any
    /// other option is an error (which one would win?); a file that does not parse is an error naming the file.</summary>
    public static T? ReadOptionsFile<T>(System.CommandLine.ParseResult parse, Option<FileInfo?> file, Command command) where T : class
    {
        if (parse.GetValue(file) is not { } info) return null;
        var others = command.Options.Where(o => o != file && parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
        if (others.Count > 0) throw new ArgumentException($"--options-file holds every option: do not also give {string.Join(", ", others)}");
        if (!info.Exists) throw new FileNotFoundException($"--options-file {info.FullName}: no such file");
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<T>(File.ReadAllText(info.FullName), IO.JsonFiles.Options)
                   ?? throw new InvalidDataException($"{info.FullName}: empty options file");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{info.FullName}: not a valid {typeof(T).Name} JSON file ({e.Message})", e);
        }
    }

    public static Option<string> OnInvalid() =>
        Choice("--on-invalid", "On invalid UTF-8: fail (say file, line and byte offset), skip the line, or replace the bytes",
            InvalidUtf8Policy.Fail);

    /// <summary>An option whose values are an enum's names in lower case, as help shows them (<c>&lt;bf16|fp32&gt;</c>,
    /// <c>[default: fp32]</c>) and as users type them; read it with <see cref="Parse{T}"/>.</summary>
    public static Option<string> Choice<T>(string name, string description, T defaultValue) where T : struct, Enum
    {
        var names = Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToArray();
        var option = new Option<string>(name) { Description = description,
            DefaultValueFactory = _ => defaultValue.ToString().ToLowerInvariant(), HelpName = string.Join('|', names) };
        option.AcceptOnlyFromAmong(names);
        return option;
    }

    public static T Parse<T>(string value) where T : struct, Enum => Enum.Parse<T>(value, ignoreCase: true);

    public static Option<string> TextField() => new("--text-field")
    {
        Description = "The JSON field that holds the text in .jsonl files",
        DefaultValueFactory = _ => "text",
    };

    /// <summary>"1,2,3" → [1, 2, 3]; a bad item is an error naming the option and the item.</summary>
    public static List<int> IntList(string text, string option, int min = 0)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0) throw new ArgumentException($"{option} needs at least one number (got '{text}')");
        return items.Select(item =>
            int.TryParse(item, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= min
            ? v
            : throw new ArgumentException($"{option}: '{item}' is not a whole number >= {min} (got '{text}')")).ToList();
    }

    /// <summary>"train,infer" → enum values; an unknown name is an error listing the allowed ones.</summary>
    public static List<T> EnumList<T>(string text, string option) where T : struct, Enum =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(item => EnumNames.Parse<T>(item) is { } v
                ? v
                : throw new ArgumentException($"{option}: '{item}' is not one of " +
                    $"{string.Join(", ", Enum.GetValues<T>().Select(EnumNames.Kebab))}"))
            .ToList();

    /// <summary>A learning rate as people write it: 5e-4, 1e-3, 2.5e-5 (not .NET's 5.0E-004).</summary>
    public static string Lr(double lr) => lr == 0 ? "0" : lr.ToString("0.##e+0", System.Globalization.CultureInfo.InvariantCulture);

    public static IReadOnlyList<CorpusSource> Sources(string[]? paths) =>
        paths is { Length: > 0 } ? CorpusSource.Resolve(paths, message => Console.Error.WriteLine($"warning: {message}")) : CorpusSource.Default();

    public static void PrintCorpusStats(CorpusStats stats)
    {
        foreach (var warning in stats.Warnings) Console.Error.WriteLine($"warning: {warning}");
        var notes = new List<string>();
        if (stats.InvalidLinesSkipped > 0) notes.Add($"{stats.InvalidLinesSkipped} invalid-UTF-8 lines skipped");
        if (stats.InvalidLinesReplaced > 0) notes.Add($"{stats.InvalidLinesReplaced} invalid-UTF-8 lines repaired");
        if (stats.LongLinesSplit > 0) notes.Add($"{stats.LongLinesSplit} over-long line pieces cut");
        if (stats.EmptyFiles > 0) notes.Add($"{stats.EmptyFiles} empty files");
        if (stats.JsonLinesWithoutText > 0) notes.Add($"{stats.JsonLinesWithoutText} JSON lines without text");
        Console.WriteLine($"read {stats.BytesRead / 1e6:F1} MB, {stats.Lines:N0} lines, {stats.Documents:N0} documents" +
            (notes.Count > 0 ? "; " + string.Join(", ", notes) : ""));
    }
}

/// <summary><c>--runtime</c> and <c>--quantized</c>, which every inference command takes, and loading a model with them.</summary>
internal sealed class RuntimeOptions
{
    public Option<string> Runtime { get; } = CommonOptions.Choice("--runtime",
        "What runs the encoder: torch (TorchSharp) or onnx (ONNX Runtime, CPU, on the model folder's onnx/model.onnx, exported there " +
        "first when absent)", Inference.InferenceRuntime.Torch);

    public Option<bool> Quantized { get; } = new("--quantized")
    {
        Description = "With --runtime onnx: the int8 graph, onnx/model_quantized.onnx (quantized from the fp32 graph when absent)",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Runtime);
        command.Options.Add(Quantized);
    }

    public Inference.InferenceRuntime RuntimeValue(ParseResult parse) => CommonOptions.Parse<Inference.InferenceRuntime>(parse.GetValue(Runtime)!);

    public Inference.InferenceModel Load(ParseResult parse, string modelPath, Option<string> device, int maxBatchTokens = 16_384) =>
        Inference.InferenceModel.Load(modelPath, CommonOptions.DeviceValue(parse, device), maxBatchTokens, RuntimeValue(parse),
            parse.GetValue(Quantized));
}
