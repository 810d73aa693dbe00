using System.CommandLine;
using HybridBert.Model;
using Spectre.Console;

namespace HybridBert.Cli.Commands;

/// <summary><c>hybridbert model describe</c> (the layer table and parameter counts of a configuration) and <c>model import</c>.</summary>
internal static class ModelCommand
{
    public static Command Build()
    {
        var preset = new Option<string>("--preset") { Description = $"Model size: {string.Join(", ", Presets.Sizes.Keys)}",
            DefaultValueFactory = _ => Presets.DefaultSize };
        var pattern = new Option<string>("--pattern") { Description = $"Layer pattern: {CommonOptions.PatternHelp}",
            DefaultValueFactory = _ => Presets.DefaultPattern };
        var config = new Option<FileInfo?>("--config") { Description = "A config.json instead of --preset/--pattern" };
        var vocabSize =
            new Option<int?>("--vocab-size") { Description =
            "Vocabulary size [default: the embedded vocabulary's 8,192, which pretrain uses without --data; bert-base-uncased has 30,522]" };
        var json = new Option<bool>("--json") { Description = "Print the resolved config.json instead of the table" };
        var modelFolder =
            new Option<string?>("--model") { Description =
            "Any model instead of --preset/--pattern: " + CommonOptions.ModelHelp };

        var describe = new Command("describe", "Print the layer table and parameter counts of a model configuration")
        {
            preset, pattern, config, modelFolder, vocabSize, json,
        };
        describe.SetAction(parse => CliErrors.Run(() =>
        {
            if (parse.GetValue(modelFolder) is not null &&
                parse.GetValue(config) is not null) throw new ArgumentException("give --model or --config, not both");
            // A config.json inside a model folder is read with the folder (its tokenizer gives the vocabulary's ids),
            // as every other command reads it; a config on its own is taken as it is.
            var folder = parse.GetValue(modelFolder)?.ModelPath()
                         ?? (parse.GetValue(config) is { } f && IsModelFolder(f.DirectoryName!) ? f.DirectoryName : null);
            var c = folder is not null ? Interop.ModelSource.Open(folder).Config
                : parse.GetValue(config) is { } file ? EncoderConfig.Load(file.FullName)
                : parse.GetValue(vocabSize) is { } size ? Presets.Build(parse.GetValue(preset)!, parse.GetValue(pattern)!, size)
                : Presets.Build(parse.GetValue(preset)!, parse.GetValue(pattern)!,
                    Data.EmbeddedData.Vocabulary().Count).ForVocabulary(Data.EmbeddedData.Vocabulary());
            if (parse.GetValue(json))
            {
                Console.WriteLine(c.ToJson());
                return;
            }
            Describe(c);
        }));

        var from = new Option<string>("--from") { Required = true,
            Description =
            "A Hugging Face model folder (config.json + model.safetensors, sharded safetensors or pytorch_model.bin; vocab.txt or " +
            "tokenizer.json), a Hub id (org/name[@revision]), or any model folder we load" };
        var output = new Option<DirectoryInfo>("--out") { Required = true, Description = "The folder to write (our layout)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace a non-empty --out" };
        var import = new Command("import",
            "Convert a model folder (e.g. Hugging Face's) to ours once; every command also loads the original directly") { from, output, overwrite };
        import.SetAction(parse => CliErrors.Run(() =>
        {
            var what = Interop.ModelImport.Run(parse.GetValue(from)!.ModelPath(), parse.GetValue(output)!.FullName, parse.GetValue(overwrite));
            Console.WriteLine($"imported {parse.GetValue(from)!.ModelPath()} as a {what} -> {parse.GetValue(output)!.FullName}");
        }));

        return new Command("model", "Inspect, import, download and list models") { describe, import, Pull(), List() };
    }

    private static Command Pull()
    {
        var id = new Argument<string>("id") { Description = "A Hugging Face model id, org/name[@revision] (a branch, tag or commit)" };
        var pull = new Command("pull",
            "Download a model from the Hugging Face Hub into its cache (only the files a model needs), without running anything; " +
            "prints the snapshot folder") { id };
        pull.SetAction(parse => CliErrors.Run(() =>
        {
            var model = Interop.Hub.HubModels.Pull(Interop.Hub.HubModelId.Parse(parse.GetValue(id)!));
            var state = model.FromCacheOnly ? "cached (not checked against the Hub)"
                : model.Downloaded == 0 ? "already cached" : $"downloaded {model.Downloaded} of {model.Files.Count} files";
            Console.Error.WriteLine($"{model.Id} at commit {model.Commit}: {state}");
            Console.WriteLine(model.Folder);
        }));
        return pull;
    }

    private static Command List()
    {
        var json = new Option<bool>("--json") { Description = "Print the cache as JSON (repo, revisions, files, sizes)" };
        var list = new Command("list", "The models in the Hugging Face cache ($HF_HUB_CACHE): revisions, sizes, interrupted downloads") { json };
        list.SetAction(parse => CliErrors.Run(() =>
        {
            var cache = new Interop.Hub.HubCache(Interop.Hub.HubSettings.Current.CacheDir);
            var models = cache.List();
            if (parse.GetValue(json))
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(models.Select(m => new
                {
                    repo = m.Repo, folder = m.Folder, size_on_disk = m.SizeOnDisk, incomplete_downloads = m.Incomplete,
                    revisions = m.Revisions.Select(r => new { commit = r.Commit, refs = r.Refs, files = r.Files, size = r.Size }),
                }), IO.JsonFiles.Options));
                return;
            }
            if (models.Count == 0)
            {
                Console.WriteLine($"no models in {cache.Root}");
                return;
            }
            var table = new Table().Title($"[bold]{Markup.Escape(cache.Root)}[/]").AddColumn("model").AddColumn("revision")
                .AddColumn("refs").AddColumn(new TableColumn("files").RightAligned()).AddColumn(new TableColumn("size").RightAligned())
                .AddColumn("modified");
            foreach (var m in models)
            {
                var first = true;
                foreach (var r in m.Revisions)
                {
                    table.AddRow(first ? Markup.Escape(m.Repo) : "", r.Commit[..Math.Min(12, r.Commit.Length)],
                        Markup.Escape(string.Join(", ", r.Refs)),
                        r.Files.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Interop.Hub.HubModels.Bytes(r.Size),
                        r.Modified.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture));
                    first = false;
                }
                if (first) table.AddRow(Markup.Escape(m.Repo), "(no snapshot)", "", "0", "", "");
                var note = m.Incomplete > 0 ? $", {m.Incomplete} interrupted download(s) to resume" : "";
                table.AddRow("", $"[dim]on disk {Interop.Hub.HubModels.Bytes(m.SizeOnDisk)}{note}[/]", "", "", "", "");
            }
            AnsiConsole.Write(table);
        }));
        return list;
    }

    private static bool IsModelFolder(string folder)
    {
        try
        {
            Interop.ModelSource.Open(folder);
            return true;
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            return false;
        }
    }

    private static void Describe(EncoderConfig c)
    {
        using var model = new HybridBertModel(c);
        var table =
            new Table().Title($"[bold]{c.LayerPattern}[/]: {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NumAttentionHeads} " +
            $"heads, FFN {c.IntermediateSize}, vocab {c.VocabSize}")
            .AddColumn("layer").AddColumn("mixer").AddColumn(new TableColumn("mixer params").RightAligned())
            .AddColumn(new TableColumn("layer params").RightAligned());
        for (var i = 0; i < c.NumHiddenLayers; i++)
        {
            var mixer = Mixers.Get(c.LayerPattern[i]).DescribeIn(c);
            table.AddRow(i.ToString(), mixer, $"{model.ParameterCount($"encoder.layer.{i}.attention.self."):N0}",
                $"{model.ParameterCount($"encoder.layer.{i}."):N0}");
        }
        AnsiConsole.Write(table);

        var totals = new Table().HideHeaders().AddColumn("part").AddColumn(new TableColumn("params").RightAligned());
        totals.AddRow("embeddings", $"{model.ParameterCount("embeddings."):N0}");
        totals.AddRow("encoder", $"{model.ParameterCount("encoder."):N0}");
        totals.AddRow("MLM head (decoder tied to word embeddings)", $"{model.ParameterCount("cls."):N0}");
        totals.AddRow("[bold]total[/]", $"[bold]{model.ParameterCount():N0}[/]");
        AnsiConsole.Write(totals);
    }
}
