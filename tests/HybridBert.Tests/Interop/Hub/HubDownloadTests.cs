using System.Diagnostics;
using HybridBert.Inference;
using HybridBert.Interop;
using HybridBert.Interop.Hub;
using HybridBert.Tests.Cli;

namespace HybridBert.Tests.Interop.Hub;

/// <summary>
/// Models by Hub id against <see cref="LoopbackHub"/>, a real HTTP server answering as the Hub does: download then load,
/// the cache's layout, the second run without a server, revisions, resuming, checksums, locks, offline mode and errors.
/// </summary>
[Collection("Console")]
public sealed class HubDownloadTests : IAsyncLifetime
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-hub-").FullName;
    private readonly StringWriter log = new();
    private readonly HubSettings saved = HubSettings.Current;
    private LoopbackHub hub = null!;

    private string Cache => Path.Combine(temp, "hub");
    private static string Fixture(string name) => HuggingFaceImportTests.Folder(name);

    public async Task InitializeAsync()
    {
        hub = await LoopbackHub.StartAsync();
        HubSettings.Current = Settings();
    }

    public async Task DisposeAsync()
    {
        HubSettings.Current = saved;
        await hub.DisposeAsync();
        Directory.Delete(temp, recursive: true);
    }

    private HubSettings Settings(bool offline = false, string? token = null, string? endpoint = null) => new()
    {
        Endpoint = endpoint ?? hub.Endpoint, CacheDir = Cache, Offline = offline, Token = token, Progress = false, Log = log,
        Timeout = TimeSpan.FromSeconds(5),
    };

    private static float[] Embed(string model)
    {
        using var m = InferenceModel.Load(model);
        return new Embedder(m).Embed(["the cat sat on the mat", "a dog"])[0];
    }

    [Fact]
    public void A_model_is_downloaded_into_the_hubs_cache_layout_and_loads_like_its_folder()
    {
        var commit = hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));

        var pulled = HubModels.Pull(HubModelId.Parse("tiny/bert-mlm"));

        Assert.Equal(commit, pulled.Commit);
        Assert.Equal(Path.Combine(Cache, "models--tiny--bert-mlm", "snapshots", commit), pulled.Folder);
        // Only what a model needs: never the fixture's expected.safetensors.
        Assert.Equal(["config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"], pulled.Files.Order(StringComparer.Ordinal));
        Assert.False(File.Exists(Path.Combine(pulled.Folder, "expected.safetensors")));
        Assert.DoesNotContain(hub.Log, r => r.Path.Contains("expected.safetensors", StringComparison.Ordinal));
        // huggingface_hub's layout: refs/main holds the commit; snapshot files are relative links into blobs named by etag.
        var repo = Path.Combine(Cache, "models--tiny--bert-mlm");
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repo, "refs", "main")));
        var weights = new FileInfo(Path.Combine(pulled.Folder, "model.safetensors"));
        var sha = LoopbackHub.Sha256(File.ReadAllBytes(Path.Combine(Fixture("bert-mlm-safetensors"), "model.safetensors")));
        Assert.Equal(Path.Combine("..", "..", "blobs", sha), weights.LinkTarget);
        var vocab = File.ReadAllBytes(Path.Combine(Fixture("bert-mlm-safetensors"), "vocab.txt"));
        Assert.Equal(Path.Combine("..", "..", "blobs", LoopbackHub.GitSha1(vocab)), new FileInfo(Path.Combine(pulled.Folder, "vocab.txt")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(repo, ".no_exist", commit, "tokenizer.json")), "a missing optional file is remembered");
        Assert.Empty(Directory.GetFiles(Path.Combine(repo, "blobs"), "*.incomplete"));

        // Loaded by id, the model is the folder's model.
        Assert.Equal(Embed(Fixture("bert-mlm-safetensors")), Embed("tiny/bert-mlm"));
        Assert.Contains("downloaded 4 files", log.ToString());
    }

    [Fact]
    public async Task The_second_run_is_served_by_the_cache_even_with_the_hub_stopped_and_nothing_is_downloaded_twice()
    {
        hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));
        var first = Embed("tiny/bert-mlm");
        var cdnGets = hub.CdnRequests.Count();

        var again = HubModels.Pull(HubModelId.Parse("tiny/bert-mlm"));   // online: checks each file, downloads none
        Assert.Equal(0, again.Downloaded);
        Assert.Equal(cdnGets, hub.CdnRequests.Count());
        Assert.DoesNotContain(hub.Log, r => r.Method == "GET" && r.Server == "hub" && r.Path.EndsWith("vocab.txt", StringComparison.Ordinal)
                                            && hub.Log.Count(x => x.Path == r.Path && x.Method == "GET") > 1);

        await hub.StopAsync();
        Assert.Equal(first, Embed("tiny/bert-mlm"));   // the Hub unreachable: the cache serves, and says so
        Assert.Contains("cannot reach", log.ToString());
        Assert.Contains("using the cached tiny/bert-mlm", log.ToString());

        HubSettings.Current = Settings(offline: true);
        Assert.Equal(first, Embed("tiny/bert-mlm"));
    }

    [Fact]
    public void A_cache_written_by_huggingface_hub_is_used_as_it_is()
    {
        // The layout huggingface_hub writes, made here by hand: blobs by etag, relative links, refs, .no_exist.
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        var repo = Path.Combine(Cache, "models--someone--bert-mlm");
        var snapshot = Path.Combine(repo, "snapshots", commit);
        Directory.CreateDirectory(snapshot);
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        foreach (var file in new[] { "config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(Fixture("bert-mlm-safetensors"), file));
            var etag = LoopbackHub.IsLfs(file) ? LoopbackHub.Sha256(bytes) : LoopbackHub.GitSha1(bytes);
            File.WriteAllBytes(Path.Combine(repo, "blobs", etag), bytes);
            File.CreateSymbolicLink(Path.Combine(snapshot, file), Path.Combine("..", "..", "blobs", etag));
        }
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        Directory.CreateDirectory(Path.Combine(repo, ".no_exist", commit));
        File.WriteAllBytes(Path.Combine(repo, ".no_exist", commit, "tokenizer.json"), []);

        HubSettings.Current = Settings(offline: true);
        Assert.Equal(Embed(Fixture("bert-mlm-safetensors")), Embed("someone/bert-mlm"));
        Assert.Equal(Embed(Fixture("bert-mlm-safetensors")), Embed($"someone/bert-mlm@{commit}"));

        // Online, with the Hub at the same commit: every file is checked, none is fetched.
        HubSettings.Current = Settings();
        hub.Add("someone/bert-mlm", new() { [commit] = Directory.GetFiles(Fixture("bert-mlm-safetensors"))
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes) }, new() { ["main"] = commit });
        var pulled = HubModels.Pull(HubModelId.Parse("someone/bert-mlm"));
        Assert.Equal(0, pulled.Downloaded);
        Assert.Empty(hub.CdnRequests);
        Assert.DoesNotContain(hub.Log, r => r.Method == "GET");
    }

    [Fact]
    public void Revisions_are_branches_tags_or_commits_and_a_moved_branch_is_followed()
    {
        var folder = Fixture("bert-mlm-safetensors");
        var v1 = Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        var v2 = new Dictionary<string, byte[]>(v1) { ["tokenizer_config.json"] = "{\"do_lower_case\": false}"u8.ToArray() };
        var c1 = LoopbackHub.CommitOf("org/m", v1);
        var c2 = LoopbackHub.CommitOf("org/m", v2);
        hub.Add("org/m", new() { [c1] = v1, [c2] = v2 }, new() { ["main"] = c2, ["v1.0"] = c1 });

        Assert.Equal(c1, HubModels.Pull(HubModelId.Parse("org/m@v1.0")).Commit);
        Assert.Equal(c2, HubModels.Pull(HubModelId.Parse("org/m")).Commit);
        Assert.Equal(c1, HubModels.Pull(HubModelId.Parse($"org/m@{c1}")).Commit);
        var repo = Path.Combine(Cache, "models--org--m");
        Assert.Equal(c1, File.ReadAllText(Path.Combine(repo, "refs", "v1.0")));
        Assert.Equal(c2, File.ReadAllText(Path.Combine(repo, "refs", "main")));
        Assert.False(File.Exists(Path.Combine(repo, "refs", c1)), "a commit needs no ref");
        // The weights are one blob shared by both snapshots, fetched from the CDN once.
        Assert.Single(hub.CdnRequests);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(repo, "snapshots")).Length);
        Assert.True(ModelSource.Open($"org/m@{c1}").Lowercase);
        Assert.False(ModelSource.Open("org/m").Lowercase);

        // A commit that is cached needs no network at all.
        var before = hub.Log.Count;
        HubModels.Pull(HubModelId.Parse($"org/m@{c1}"));
        Assert.Equal(before, hub.Log.Count);

        // The branch moves: the next pull follows it and writes the new ref.
        var v3 = new Dictionary<string, byte[]>(v1) { ["tokenizer_config.json"] = "{\"do_lower_case\": true, \"model_max_length\": 64}"u8.ToArray() };
        var c3 = LoopbackHub.CommitOf("org/m", v3);
        hub.Move("org/m", "main", c3, v3);
        Assert.Equal(c3, HubModels.Pull(HubModelId.Parse("org/m")).Commit);
        Assert.Equal(c3, File.ReadAllText(Path.Combine(repo, "refs", "main")));
        Assert.Single(hub.CdnRequests);

        var error = Assert.Throws<HubException>(() => HubModels.Pull(HubModelId.Parse("org/m@v9")));
        Assert.Contains("has no revision 'v9'", error.Message);
    }

    [Fact]
    public void Sharded_and_pickled_weights_and_a_tokenizer_json_are_fetched_as_the_folder_has_them()
    {
        hub.AddFolder("tiny/sharded", Fixture("bert-pretraining-bf16-sharded"));
        hub.AddFolder("tiny/fp16-bin", Fixture("bert-mlm-fp16-bin"));

        var sharded = HubModels.Pull(HubModelId.Parse("tiny/sharded"));
        Assert.Contains("model-00001-of-00002.safetensors", sharded.Files);
        Assert.Contains("model-00002-of-00002.safetensors", sharded.Files);
        Assert.Equal(Embed(Fixture("bert-pretraining-bf16-sharded")), Embed("tiny/sharded"));

        var pickled = HubModels.Pull(HubModelId.Parse("tiny/fp16-bin"));
        Assert.Equal(["config.json", "pytorch_model.bin", "tokenizer.json"], pickled.Files.Order(StringComparer.Ordinal));
        Assert.Equal(Embed(Fixture("bert-mlm-fp16-bin")), Embed("tiny/fp16-bin"));
    }

    [Fact]
    public void A_sentence_transformers_model_brings_its_pooling_and_nothing_else()
    {
        var files = Directory.GetFiles(Fixture("bert-mlm-safetensors")).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        files["modules.json"] = """
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
             {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
            """u8.ToArray();
        files["1_Pooling/config.json"] = """
            {"word_embedding_dimension": 32, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false,
             "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}
            """u8.ToArray();
        files["config_sentence_transformers.json"] = """{"prompts": {"query": "query: "}, "default_prompt_name": null}"""u8.ToArray();
        files["README.md"] = "# a model card"u8.ToArray();
        files["onnx/model.onnx"] = new byte[1000];
        var commit = LoopbackHub.CommitOf("st/model", files);
        hub.Add("st/model", new() { [commit] = files }, new() { ["main"] = commit });

        var pulled = HubModels.Pull(HubModelId.Parse("st/model"));

        Assert.Equal(["1_Pooling/config.json", "config.json", "config_sentence_transformers.json", "model.safetensors", "modules.json",
            "tokenizer_config.json", "vocab.txt"], pulled.Files.Order(StringComparer.Ordinal));
        var link = new FileInfo(Path.Combine(pulled.Folder, "1_Pooling", "config.json")).LinkTarget;
        Assert.Equal(Path.Combine("..", "..", "..", "blobs", LoopbackHub.GitSha1(files["1_Pooling/config.json"])), link);
        using var model = InferenceModel.Load("st/model");
        Assert.Equal("cls", model.DeclaredPooling);
        Assert.Equal(HybridBert.FineTuning.Pooling.Cls, model.PoolingFor(null));
        Assert.Equal(HybridBert.FineTuning.Pooling.Mean, model.PoolingFor(HybridBert.FineTuning.Pooling.Mean));
        Assert.Equal("query: ", model.Prompts["query"]);
    }

    [Fact]
    public void A_download_cut_off_midway_resumes_with_a_range_request_and_ends_byte_equal()
    {
        hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));
        hub.CutAfter = 50_000;   // the CDN drops the connection 50 kB into the weights

        var pulled = HubModels.Pull(HubModelId.Parse("tiny/bert-mlm"));

        var gets = hub.CdnRequests.ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        Assert.StartsWith("bytes=", gets[1].Range);
        Assert.True(long.Parse(gets[1].Range!["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Fixture("bert-mlm-safetensors"), "model.safetensors")),
            File.ReadAllBytes(Path.Combine(pulled.Folder, "model.safetensors")));
    }

    [Fact]
    public void A_download_killed_with_its_process_is_resumed_by_the_next_pull_and_ends_byte_equal()
    {
        hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));
        hub.ChunkDelay = TimeSpan.FromMilliseconds(40);   // ~100 kB/s: the 119 kB weights take over a second
        var blobs = Path.Combine(Cache, "models--tiny--bert-mlm", "blobs");

        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "HybridBert.Cli"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[] { "model", "pull", "tiny/bert-mlm" }) info.ArgumentList.Add(a);
        info.Environment["HF_ENDPOINT"] = hub.Endpoint;
        info.Environment["HF_HUB_CACHE"] = Cache;
        using (var child = Process.Start(info)!)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            // Sizes as enumerated: a small file's .incomplete may be renamed between listing it and asking its size
            long Held() => Directory.Exists(blobs) ? new DirectoryInfo(blobs).EnumerateFiles("*.incomplete").Sum(f => f.Length) : 0;
            while (Held() < 20_000 && DateTime.UtcNow < deadline && !child.HasExited) Thread.Sleep(20);
            if (child.HasExited) Assert.Fail($"the pull ended before it could be killed: {child.StandardError.ReadToEnd()}");
            child.Kill();   // SIGKILL: no chance to clean up
            child.WaitForExit();
        }
        var incomplete = Assert.Single(Directory.GetFiles(blobs, "*.incomplete"));
        var held = new FileInfo(incomplete).Length;
        Assert.InRange(held, 20_000, 119_000);

        hub.ChunkDelay = TimeSpan.Zero;
        var pulled = HubModels.Pull(HubModelId.Parse("tiny/bert-mlm"));

        Assert.Equal($"bytes={held}-", hub.CdnRequests.Last().Range);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Fixture("bert-mlm-safetensors"), "model.safetensors")),
            File.ReadAllBytes(Path.Combine(pulled.Folder, "model.safetensors")));
        Assert.Empty(Directory.GetFiles(blobs, "*.incomplete"));
    }

    [Fact]
    public void A_stalled_download_gives_up_saying_so_and_the_next_pull_resumes_it()
    {
        hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));
        hub.ChunkDelay = TimeSpan.FromSeconds(2);   // 4 KiB, then silence longer than the timeout

        var error = Assert.Throws<HubException>(() => HubModels.Pull(HubModelId.Parse("tiny/bert-mlm"),
            Settings() with { Timeout = TimeSpan.FromMilliseconds(400) }));

        Assert.Contains("tiny/bert-mlm/model.safetensors: the download failed (no data for 0.4 s) after 12.0 KiB of 116.7 KiB; " +
                        "run the command again to resume it", error.Message);
        Assert.Equal(3, hub.CdnRequests.Count());   // three tries, each resuming where the last stopped
        Assert.Equal(["bytes=4096-", "bytes=8192-"], hub.CdnRequests.Skip(1).Select(r => r.Range));
        hub.ChunkDelay = TimeSpan.Zero;
        HubModels.Pull(HubModelId.Parse("tiny/bert-mlm"));
        Assert.Equal("bytes=12288-", hub.CdnRequests.Last().Range);
    }

    [Fact]
    public void A_corrupted_download_is_refused_and_discarded()
    {
        hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));
        hub.CorruptNext = true;

        var error = Assert.Throws<HubException>(() => HubModels.Pull(HubModelId.Parse("tiny/bert-mlm")));

        Assert.Contains("tiny/bert-mlm/model.safetensors: the download is corrupt (SHA-256", error.Message);
        Assert.Contains("discarded", error.Message);
        var blobs = Path.Combine(Cache, "models--tiny--bert-mlm", "blobs");
        var sha = LoopbackHub.Sha256(File.ReadAllBytes(Path.Combine(Fixture("bert-mlm-safetensors"), "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(blobs, sha)));
        Assert.False(File.Exists(Path.Combine(blobs, sha + ".incomplete")));
        Assert.Null(HubModels.TryFromCache(HubModelId.Parse("tiny/bert-mlm"), new HubCache(Cache)));

        Assert.Equal(1, HubModels.Pull(HubModelId.Parse("tiny/bert-mlm")).Downloaded);   // the next pull is clean
    }

    [Fact]
    public async Task Two_pulls_at_once_wait_for_each_other_and_download_each_file_once()
    {
        hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));
        hub.ChunkDelay = TimeSpan.FromMilliseconds(10);

        using var start = new Barrier(2);
        var pulls = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            return HubModels.Pull(HubModelId.Parse("tiny/bert-mlm"), Settings());
        })).ToArray();
        var results = await Task.WhenAll(pulls);

        Assert.Single(hub.CdnRequests);
        Assert.Equal(results[0].Folder, results[1].Folder);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Fixture("bert-mlm-safetensors"), "model.safetensors")),
            File.ReadAllBytes(Path.Combine(results[0].Folder, "model.safetensors")));
        Assert.Contains("waiting for another download of tiny/bert-mlm/model.safetensors", log.ToString());
    }

    [Fact]
    public void Offline_mode_uses_the_cache_only_and_names_a_model_it_lacks()
    {
        HubSettings.Current = Settings(offline: true);
        hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));

        var error = Assert.Throws<HubException>(() => InferenceModel.Load("tiny/bert-mlm"));

        Assert.Contains("tiny/bert-mlm is not in the Hugging Face cache", error.Message);
        Assert.Contains("offline mode is on", error.Message);
        Assert.Contains("hybridbert model pull tiny/bert-mlm", error.Message);
        Assert.Empty(hub.Log);
        Assert.True(HubSettings.FromEnvironment(v => v == "HF_HUB_OFFLINE" ? "1" : null).Offline);
        Assert.True(HubSettings.FromEnvironment(v => v == "HF_HUB_OFFLINE" ? "yes" : null).Offline);
        Assert.False(HubSettings.FromEnvironment(v => v == "HF_HUB_OFFLINE" ? "0" : null).Offline);
    }

    [Fact]
    public void Hub_errors_are_one_line_saying_what_to_do()
    {
        hub.AddFolder("org/gated", Fixture("bert-mlm-safetensors"), gated: true);
        hub.AddFolder("org/no-weights", Path.Combine(Fixture("bert-mlm-safetensors"), "..", "..", "..", "fixtures", "hf", "bert-classifier"));
        hub.Add("org/config-only", new() { ["c"] = new() { ["config.json"] = "{}"u8.ToArray() } }, new() { ["main"] = "c" });

        var gated = Assert.Throws<HubException>(() => HubModels.Pull(HubModelId.Parse("org/gated")));
        Assert.Contains("'org/gated' is gated", gated.Message);
        Assert.Contains("set HF_TOKEN (or --token)", gated.Message);

        var missing = Assert.Throws<HubException>(() => HubModels.Pull(HubModelId.Parse("org/nope")));
        Assert.Contains("no model 'org/nope' on " + hub.Endpoint, missing.Message);

        var noWeights = Assert.Throws<HubException>(() => HubModels.Pull(HubModelId.Parse("org/config-only")));
        Assert.Contains("org/config-only has no weights we read", noWeights.Message);

        // Through a command: one line, exit 1, saying it was no folder either.
        var (exit, _, stderr) = ModelCommandTests.Run("fill-mask", "--model", "org/nope", "a [MASK]");
        Assert.Equal(1, exit);
        Assert.Equal("error: org/nope: no such folder, and from the Hugging Face Hub: no model 'org/nope' on " + hub.Endpoint +
                     " (or it is private: set HF_TOKEN (or --token) to a token with access)", stderr.Trim());

        // No network: said, with offline mode as the way out.
        HubSettings.Current = Settings(endpoint: "http://127.0.0.1:9");
        var unreachable = Assert.Throws<HubUnreachableException>(() => HubModels.Pull(HubModelId.Parse("org/other")));
        Assert.Contains("cannot reach http://127.0.0.1:9", unreachable.Message);
        Assert.Contains("HF_HUB_OFFLINE=1", unreachable.Message);
    }

    [Fact]
    public void The_token_reaches_the_hub_but_never_the_cdn()
    {
        hub.AddFolder("org/gated", Fixture("bert-mlm-safetensors"), gated: true);
        HubSettings.Current = Settings(token: LoopbackHub.Token);

        var pulled = HubModels.Pull(HubModelId.Parse("org/gated"));

        Assert.Equal(4, pulled.Downloaded);
        Assert.All(hub.Log.Where(r => r.Server == "hub"), r => Assert.True(r.Authorized));
        Assert.All(hub.CdnRequests, r => Assert.False(r.Authorized, "the token went to the CDN"));
        Assert.NotEmpty(hub.CdnRequests);
    }

    [Fact]
    public void A_renamed_repository_is_followed_on_the_same_host()
    {
        hub.AddFolder("org/new-name", Fixture("bert-mlm-safetensors"));
        hub.Rename("org/old-name", "org/new-name");

        var pulled = HubModels.Pull(HubModelId.Parse("org/old-name"));

        Assert.Equal(4, pulled.Files.Count);
        Assert.Equal(Path.Combine(Cache, "models--org--old-name"), Path.GetDirectoryName(Path.GetDirectoryName(pulled.Folder)));
    }

    [Fact]
    public void The_commands_take_hub_ids_and_model_pull_and_list_show_the_cache()
    {
        var commit = hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));

        var (exit, stdout, stderr) = ModelCommandTests.Run("model", "pull", "tiny/bert-mlm");
        Assert.True(exit == 0, stderr);
        Assert.Equal(Path.Combine(Cache, "models--tiny--bert-mlm", "snapshots", commit), stdout.Trim());
        Assert.Contains($"tiny/bert-mlm at commit {commit}: downloaded 4 of 4 files", stderr);

        var (listed, table, _) = ModelCommandTests.Run("model", "list", "--json");
        Assert.Equal(0, listed);
        var json = System.Text.Json.Nodes.JsonNode.Parse(table)!.AsArray();
        var model = Assert.Single(json)!;
        Assert.Equal("tiny/bert-mlm", model["repo"]!.GetValue<string>());
        Assert.Equal(commit, model["revisions"]![0]!["commit"]!.GetValue<string>());
        Assert.Equal(model["size_on_disk"]!.GetValue<long>(), model["revisions"]![0]!["size"]!.GetValue<long>());
        Assert.Equal("main", model["revisions"]![0]!["refs"]![0]!.GetValue<string>());
        Assert.Equal(Directory.GetFiles(Fixture("bert-mlm-safetensors")).Where(f => !f.EndsWith("expected.safetensors", StringComparison.Ordinal))
            .Sum(f => new FileInfo(f).Length), model["size_on_disk"]!.GetValue<long>());

        var (filled, output, fillErrors) = ModelCommandTests.Run("fill-mask", "--model", "tiny/bert-mlm", "--offline", "--json", "the [MASK] sat");
        Assert.True(filled == 0, fillErrors);
        Assert.Contains("\"token_str\"", output);
    }

    [Fact]
    public async Task A_server_for_a_hub_id_reports_it_and_its_commit_as_text_embeddings_inference_does()
    {
        var files = Directory.GetFiles(Fixture("bert-mlm-safetensors")).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        files["modules.json"] = """[{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"""u8.ToArray();
        files["1_Pooling/config.json"] = """{"pooling_mode_cls_token": true}"""u8.ToArray();
        var commit = LoopbackHub.CommitOf("st/model", files);
        hub.Add("st/model", new() { [commit] = files }, new() { ["main"] = commit });

        await using var server = await HybridBert.Serving.InferenceServer.StartAsync(
            new HybridBert.Serving.ServeOptions { Model = "st/model", Port = 0, Threads = 1 });
        using var client = new HttpClient { BaseAddress = server.Address };
        var info = System.Text.Json.Nodes.JsonNode.Parse(await client.GetStringAsync("/info"))!;

        Assert.Equal("st/model", info["model_id"]!.GetValue<string>());
        Assert.Equal(commit, info["model_sha"]!.GetValue<string>());
        Assert.Equal("cls", info["model_type"]!["embedding"]!["pooling"]!.GetValue<string>());   // the model's own pooling
    }

    [Fact]
    public void A_terminal_sees_bytes_rate_and_time_left_while_a_file_downloads_and_a_log_sees_one_line()
    {
        hub.AddFolder("tiny/bert-mlm", Fixture("bert-mlm-safetensors"));
        hub.ChunkDelay = TimeSpan.FromMilliseconds(15);
        var terminal = new StringWriter();

        HubModels.Pull(HubModelId.Parse("tiny/bert-mlm"), Settings() with { Progress = true, Log = terminal });

        var text = terminal.ToString();
        Assert.Matches(@"\rmodel\.safetensors: [0-9.]+ KiB / 116\.7 KiB \([0-9]+%\), [0-9.]+ (B|KiB|MiB)/s, ETA 00:00:0[0-9]", text);
        Assert.DoesNotContain("config.json", text);   // a small file is done before a line is worth drawing
        // The live line is cleared before the summary.
        Assert.Matches(@"\r\u001b\[K(\r\u001b\[K)?tiny/bert-mlm: downloaded 4 files \(117\.6 KiB\) in [0-9.]+ s -> ", text);
        Assert.DoesNotContain("\r", log.ToString());   // without a terminal: the summary only
    }

    [Fact]
    public void Hub_ids_are_told_from_paths()
    {
        Assert.Equal(new HubModelId("bert-base-uncased", "main"), HubModelId.Parse("bert-base-uncased"));
        Assert.Equal(new HubModelId("sentence-transformers/all-MiniLM-L6-v2", "v1.0"), HubModelId.Parse("sentence-transformers/all-MiniLM-L6-v2@v1.0"));
        Assert.Equal(new HubModelId("org/m", "refs/pr/1"), HubModelId.Parse("org/m@refs/pr/1"));
        Assert.True(HubModelId.Parse("org/m@0123456789abcdef0123456789abcdef01234567").PinnedToCommit);
        Assert.Equal("models--org--m", HubModelId.Parse("org/m").FolderName);
        foreach (var notAnId in new[] { "/abs/path", "a/b/c", "org--x/m", "org/m.git", "org/../m", "org/m@", "", "has space/m" })
            Assert.False(HubModelId.TryParse(notAnId, out _), notAnId);
        // A missing relative folder that cannot be an id is a plain "not found", with no network.
        var error = Assert.Throws<DirectoryNotFoundException>(() => ModelSource.Open("runs/x/checkpoints"));
        Assert.Contains("Model folder not found: runs/x/checkpoints", error.Message);
        Assert.Empty(hub.Log);
    }

    [Fact]
    public void The_cache_location_follows_huggingface_hubs_variables()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), HubSettings.FromEnvironment(_ => null).CacheDir);
        Assert.Equal("/x/hub", HubSettings.FromEnvironment(v => v == "XDG_CACHE_HOME" ? "/x" : null).CacheDir.Replace("huggingface/", ""));
        Assert.Equal("/h/hub", HubSettings.FromEnvironment(v => v == "HF_HOME" ? "/h" : null).CacheDir);
        Assert.Equal("/c", HubSettings.FromEnvironment(v => v switch { "HF_HOME" => "/h", "HF_HUB_CACHE" => "/c", _ => null }).CacheDir);
        Assert.Equal("https://mirror.example", HubSettings.FromEnvironment(v => v == "HF_ENDPOINT" ? "https://mirror.example/" : null).Endpoint);
        var tokenFile = Path.Combine(temp, "token");
        File.WriteAllText(tokenFile, "hf_saved\n");
        Assert.Equal("hf_saved", HubSettings.FromEnvironment(v => v == "HF_TOKEN_PATH" ? tokenFile : null).Token);
        Assert.Equal("hf_env", HubSettings.FromEnvironment(v => v switch { "HF_TOKEN_PATH" => tokenFile, "HF_TOKEN" => "hf_env", _ => null }).Token);
    }
}

/// <summary>What we download is found by the Hub's own JavaScript client (npm <c>@huggingface/hub</c>, pinned): its
/// cache scanner reads our layout, and its downloader answers from our cache without the network.</summary>
[Collection("Console")]
public sealed class HubCacheInteropTests : IAsyncLifetime
{
    private static readonly NpmPackage HubJs = new("@huggingface/hub", "2.17.5", ["Interop/Hub/scan-cache.mjs"]);
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-hubjs-").FullName;
    private LoopbackHub hub = null!;

    public async Task InitializeAsync() => hub = await LoopbackHub.StartAsync();

    public async Task DisposeAsync()
    {
        await hub.DisposeAsync();
        Directory.Delete(temp, recursive: true);
    }

    [NpmFact]
    public void The_hubs_javascript_client_reads_the_cache_we_write()
    {
        var cache = Path.Combine(temp, "hub");
        var commit = hub.AddFolder("tiny/bert-mlm", HuggingFaceImportTests.Folder("bert-mlm-safetensors"));
        var pulled = HubModels.Pull(HubModelId.Parse("tiny/bert-mlm"),
            new HubSettings { Endpoint = hub.Endpoint, CacheDir = cache, Progress = false, Log = TextWriter.Null });

        var output = HubJs.Run("scan-cache.mjs", System.Text.Json.JsonSerializer.Serialize(new
        {
            cacheDir = cache, repo = "tiny/bert-mlm", commit, path = "model.safetensors",
        }));

        var scan = System.Text.Json.Nodes.JsonNode.Parse(output)!;
        Assert.Empty(scan["warnings"]!.AsArray());
        var repo = Assert.Single(scan["repos"]!.AsArray())!;
        Assert.Equal("tiny/bert-mlm", repo["id"]!.GetValue<string>());
        Assert.Equal("model", repo["type"]!.GetValue<string>());
        var revision = Assert.Single(repo["revisions"]!.AsArray())!;
        Assert.Equal(commit, revision["commit"]!.GetValue<string>());
        Assert.Equal("main", Assert.Single(revision["refs"]!.AsArray())!.GetValue<string>());
        var files = revision["files"]!.AsArray().ToDictionary(f => Path.GetFileName(f!["path"]!.GetValue<string>()), f => f!["size"]!.GetValue<long>());
        Assert.Equal(pulled.Files.Order(StringComparer.Ordinal), files.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, size) in files)
            Assert.Equal(new FileInfo(Path.Combine(HuggingFaceImportTests.Folder("bert-mlm-safetensors"), name)).Length, size);
        Assert.Equal(Path.Combine(pulled.Folder, "model.safetensors"), scan["pointer"]!.GetValue<string>());
    }
}
