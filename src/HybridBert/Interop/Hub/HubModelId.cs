using System.Text.RegularExpressions;

namespace HybridBert.Interop.Hub;

/// <summary>
/// A model on the Hugging Face Hub: <c>org/name</c> or <c>name</c>, with an optional revision after <c>@</c> (a branch,
/// a tag or a 40-character commit hash; <c>main</c> when none is given). Repository names follow the Hub's rules
/// (huggingface_hub's <c>validate_repo_id</c>): letters, digits, <c>-</c>, <c>_</c> and <c>.</c>, at most 96 characters a
/// part, no <c>--</c> or <c>..</c>, not ending in <c>.git</c>.
/// </summary>
public sealed partial record HubModelId(string Repo, string Revision)
{
    public const string DefaultRevision = "main";

    /// <summary>True when <see cref="Revision"/> is a commit hash, which never moves: its cached files need no network.</summary>
    public bool PinnedToCommit => IsCommitHash(Revision);

    /// <summary>The cache folder of the repository: <c>models--org--name</c>.</summary>
    public string FolderName => "models--" + Repo.Replace("/", "--", StringComparison.Ordinal);

    public override string ToString() => Revision == DefaultRevision ? Repo : $"{Repo}@{Revision}";

    public static bool IsCommitHash(string revision) => CommitHash().IsMatch(revision);

    /// <summary>
    /// Reads <paramref name="text"/> as a Hub id; false for anything that reads as a path (absolute, <c>./</c>,
    /// <c>../</c>, <c>~</c>, more than one <c>/</c>, a backslash) or breaks the Hub's naming rules.
    /// </summary>
    public static bool TryParse(string text, out HubModelId id)
    {
        id = null!;
        var at = text.IndexOf('@', StringComparison.Ordinal);
        var repo = at < 0 ? text : text[..at];
        var revision = at < 0 ? DefaultRevision : text[(at + 1)..];
        if (revision.Length == 0 || revision.Any(char.IsWhiteSpace) || revision.Contains("..", StringComparison.Ordinal)) return false;
        if (!RepoId().IsMatch(repo) || repo.Contains("--", StringComparison.Ordinal) || repo.Contains("..", StringComparison.Ordinal)
            || repo.EndsWith(".git", StringComparison.Ordinal)) return false;
        id = new HubModelId(repo, revision);
        return true;
    }

    /// <summary>Like <see cref="TryParse"/>, but a malformed id is an <see cref="ArgumentException"/> saying what is expected.</summary>
    public static HubModelId Parse(string text) => TryParse(text, out var id) ? id
        : throw new ArgumentException($"'{text}' is not a Hugging Face model id: expected org/name or name, optionally @revision " +
            "(letters, digits, '-', '_', '.'; e.g. sentence-transformers/all-MiniLM-L6-v2 or bert-base-uncased@main)");

    [GeneratedRegex(@"^([A-Za-z0-9_\-.]{1,96}/)?[A-Za-z0-9_\-.]{1,96}$")]
    private static partial Regex RepoId();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHash();
}
