namespace HybridBert.Text;

/// <summary>
/// Rule-based English sentence splitter. A sentence ends at <c>.</c>, <c>!</c>, <c>?</c> or <c>…</c> (possibly
/// followed by closing quotes or brackets) when whitespace and then a likely sentence start follow: an upper-case
/// letter, a digit, or an opening quote/bracket.
/// <list type="bullet">
/// <item>Decimals and dotted numbers never split ("3.14", "1.5 million"): no whitespace follows the dot.</item>
/// <item>No split after a known abbreviation ("Mr. Smith", "Dr.", "St.", "Gen.", "Jan.", "No. 5"), an upper-case
/// initial ("J. Smith") or a dotted run ("U.S. Senate", "e.g. This"). The cost: a sentence that really ends in "U.S." runs on into the
/// next one.</item>
/// <item>A lower-case word after the full stop never starts a sentence ("etc. and so on").</item>
/// </list>
/// </summary>
public static class SentenceSplitter
{
    private static readonly HashSet<string> Abbreviations = new(StringComparer.OrdinalIgnoreCase)
    {
        "mr", "mrs", "ms", "messrs", "dr", "prof", "rev", "hon", "sr", "jr", "st", "mt", "ft", "gen", "gov", "sen",
        "rep", "col", "capt", "lt", "sgt", "maj", "adm", "cmdr", "pres", "supt", "vs", "etc", "viz", "cf", "al", "ca",
        "no", "nos", "vol", "pp", "art", "sec", "ch", "fig", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec", "inc", "ltd", "co", "corp", "bros", "dept", "univ", "assn", "approx", "est",
    };

    private const string Closers = "\"')]}»”’";
    private const string Openers = "\"'([{«“‘";

    public static List<string> Split(string paragraph)
    {
        var sentences = new List<string>();
        var start = 0;
        for (var i = 0; i < paragraph.Length; i++)
        {
            var c = paragraph[i];
            if (c is not ('.' or '!' or '?' or '…')) continue;
            var end = i + 1;
            while (end < paragraph.Length && (Closers.Contains(paragraph[end]) || paragraph[end] is '.' or '!' or '?')) end++;
            var next = end;
            while (next < paragraph.Length && char.IsWhiteSpace(paragraph[next])) next++;
            if (next == end || next >= paragraph.Length) continue;       // no whitespace after, or end of text
            var starter = paragraph[next];
            if (!(char.IsUpper(starter) || char.IsDigit(starter) || Openers.Contains(starter))) continue;
            if (c == '.' && end == i + 1 && IsAbbreviation(paragraph, i)) continue;
            sentences.Add(paragraph[start..end].Trim());
            start = next;
            i = next - 1;
        }
        if (start < paragraph.Length && paragraph[start..].Trim() is { Length: > 0 } last) sentences.Add(last);
        return sentences;
    }

    // The word right before the dot at `dot`: an abbreviation or a single letter (an initial, "U.S").
    private static bool IsAbbreviation(string text, int dot)
    {
        var begin = dot;
        while (begin > 0 && (char.IsLetter(text[begin - 1]) || text[begin - 1] == '.')) begin--;
        var word = text[begin..dot];
        if (word.Length == 0) return false;
        var lastPart = word[(word.LastIndexOf('.') + 1)..];
        // An upper-case initial ("J."), a dotted run ("U.S.", "e.g.", "a.m."), or a listed abbreviation. A lone
        // lower-case letter is no initial: "Paul's." ends a sentence.
        return (lastPart.Length == 1 && char.IsUpper(lastPart[0])) || word.Contains('.') || Abbreviations.Contains(lastPart);
    }
}
