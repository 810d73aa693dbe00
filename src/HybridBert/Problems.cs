namespace HybridBert;

/// <summary>
/// The one shape of every options validator: check everything, collect each problem (naming the option and the
/// value it got), then throw once with all of them — a user fixes a command line in one try, not one error at a time.
/// </summary>
public sealed class Problems
{
    private readonly List<string> problems = [];

    public int Count => problems.Count;

    public void Add(string problem) => problems.Add(problem);

    /// <summary>Throws an <see cref="ArgumentException"/> (or what <paramref name="make"/> makes of the joined
    /// message) when there is any problem.</summary>
    public void ThrowIfAny(Func<string, Exception>? make = null)
    {
        if (problems.Count == 0) return;
        var message = string.Join("; ", problems);
        throw make?.Invoke(message) ?? new ArgumentException(message);
    }
}
