namespace HybridBert.FineTuning;

/// <summary>The tagging schemes entity-level scoring understands: BIO (= IOB2) and IOBES (BILOU's B/I/E/S spelling).</summary>
public enum TagScheme { Iob2, Iobes }

/// <summary>One entity: its type and the first and last token it spans (offsets into the sentences laid end to end).</summary>
public readonly record struct Entity(string Type, int Sentence, int Start, int End);

/// <summary>Precision, recall and F1 of one entity type (or of all, micro-averaged), with how many gold entities there were.</summary>
public sealed record EntityScore(double Precision, double Recall, double F1, int Support);

/// <summary>Entity-level precision/recall/F1 per type and micro-averaged, as seqeval reports them.</summary>
public sealed record EntityReport(IReadOnlyDictionary<string, EntityScore> PerType, EntityScore Micro);

/// <summary>
/// Entity-level scores as seqeval (the library every Hugging Face token-classification example reports with) defines
/// them, in its two modes. <b>Default</b> (conlleval-compatible): entities are read leniently from any B/I/E/S/O
/// sequence by seqeval's <c>start_of_chunk</c>/<c>end_of_chunk</c> rules (an <c>I-X</c> after <c>O</c> starts an entity;
/// a type change ends one), over the sentences laid end to end with an <c>O</c> between them. <b>Strict</b>: only
/// well-formed entities of the scheme count — IOB2: <c>B-X</c> then any <c>I-X</c>; IOBES: <c>S-X</c>, or <c>B-X</c>,
/// <c>I-X</c>…, <c>E-X</c>. A predicted entity is right when its type, start and end all match a gold one. Undefined
/// ratios are 0 (seqeval's zero_division default). Written by hand: no .NET port of seqeval is published.
/// </summary>
public static class EntityMetrics
{
    /// <summary>Entities of <paramref name="sentences"/> by seqeval's default (lenient) rules.</summary>
    public static List<Entity> Lenient(IReadOnlyList<IReadOnlyList<string>> sentences)
    {
        var flat = new List<(string Tag, int Sentence)>();
        for (var s = 0; s < sentences.Count; s++)
        {
            foreach (var tag in sentences[s]) flat.Add((tag, s));
            flat.Add(("O", s));
        }
        flat.Add(("O", sentences.Count));
        var entities = new List<Entity>();
        var (prevTag, prevType, begin) = ('O', "", 0);
        for (var i = 0; i < flat.Count; i++)
        {
            var (tag, type) = Split(flat[i].Tag);
            if (EndOfChunk(prevTag, tag, prevType, type)) entities.Add(new Entity(prevType, flat[begin].Sentence, begin, i - 1));
            if (StartOfChunk(prevTag, tag, prevType, type)) begin = i;
            (prevTag, prevType) = (tag, type);
        }
        return entities;
    }

    /// <summary>Entities of <paramref name="sentences"/> that are well formed in <paramref name="scheme"/> (seqeval's strict mode).</summary>
    public static List<Entity> Strict(IReadOnlyList<IReadOnlyList<string>> sentences, TagScheme scheme)
    {
        var entities = new List<Entity>();
        var offset = 0;
        for (var s = 0; s < sentences.Count; s++)
        {
            var tags = sentences[s].Select(Split).ToList();
            for (var i = 0; i < tags.Count; i++)
            {
                var (prefix, type) = tags[i];
                if (scheme == TagScheme.Iobes && prefix == 'S')
                {
                    entities.Add(new Entity(type, s, offset + i, offset + i));
                    continue;
                }
                if (prefix != 'B') continue;
                var end = i;
                while (end + 1 < tags.Count && tags[end + 1] == ('I', type)) end++;
                if (scheme == TagScheme.Iob2) entities.Add(new Entity(type, s, offset + i, offset + end));
                else if (end + 1 < tags.Count && tags[end + 1] == ('E', type)) entities.Add(new Entity(type, s, offset + i, offset + end + 1));
                i = end;
            }
            offset += tags.Count + 1;   // the same offsets as the lenient reading: sentences end to end, an O between
        }
        return entities;
    }

    /// <summary>The report of <paramref name="predicted"/> against <paramref name="gold"/>; strict when <paramref name="strict"/>
    /// names a scheme, else seqeval's default mode.</summary>
    public static EntityReport Score(IReadOnlyList<IReadOnlyList<string>> gold, IReadOnlyList<IReadOnlyList<string>> predicted,
        TagScheme? strict = null)
    {
        if (gold.Count != predicted.Count) throw new ArgumentException($"{gold.Count} gold sentences but {predicted.Count} predicted");
        for (var s = 0; s < gold.Count; s++)
            if (gold[s].Count != predicted[s].Count)
                throw new ArgumentException($"sentence {s}: {gold[s].Count} gold tags but {predicted[s].Count} predicted");
        var goldEntities = strict is { } scheme ? Strict(gold, scheme) : Lenient(gold);
        var predictedEntities = strict is { } again ? Strict(predicted, again) : Lenient(predicted);
        var goldSet = goldEntities.ToHashSet();
        var predictedSet = predictedEntities.ToHashSet();
        var types = goldSet.Concat(predictedSet).Select(e => e.Type).Distinct().Order(StringComparer.Ordinal);
        var perType = types.ToDictionary(t => t,
            t => Ratios(goldSet.Where(e => e.Type == t).ToHashSet(), predictedSet.Where(e => e.Type == t).ToHashSet()));
        return new EntityReport(perType, Ratios(goldSet, predictedSet));
    }

    /// <summary>The scheme <paramref name="tags"/> use: IOBES when any tag starts with E- or S-, IOB2 when they are B-/I-/O
    /// tags, null when they are not entity tags at all (part-of-speech tags: token accuracy is their metric).</summary>
    public static TagScheme? SchemeOf(IEnumerable<string> tags)
    {
        var list = tags.ToList();
        if (list.Count == 0 || !list.All(t => t == "O" || (t.Length > 2 && t[1] == '-' && "BIES".Contains(t[0])))) return null;
        if (!list.Any(t => t.StartsWith("B-", StringComparison.Ordinal) || t.StartsWith("I-", StringComparison.Ordinal))) return null;
        return list.Any(t => t.StartsWith("E-", StringComparison.Ordinal) || t.StartsWith("S-", StringComparison.Ordinal)) ? TagScheme.Iobes
            : TagScheme.Iob2;
    }

    private static EntityScore Ratios(HashSet<Entity> gold, HashSet<Entity> predicted)
    {
        var correct = gold.Count(predicted.Contains);
        var precision = predicted.Count == 0 ? 0 : correct / (double)predicted.Count;
        var recall = gold.Count == 0 ? 0 : correct / (double)gold.Count;
        var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new EntityScore(precision, recall, f1, gold.Count);
    }

    /// <summary>A tag's prefix and type as seqeval splits it: <c>B-PER</c> → (B, PER); <c>O</c> → (O, _); a bare <c>B</c> → (B, _).</summary>
    private static (char Prefix, string Type) Split(string tag)
    {
        var type = tag.Length > 1 ? tag[1..].Split('-', 2)[^1] : "";
        return (tag.Length == 0 ? 'O' : tag[0], type.Length == 0 ? "_" : type);
    }

    private static bool EndOfChunk(char prevTag, char tag, string prevType, string type) =>
        prevTag is 'E' or 'S'
        || (prevTag == 'B' && tag is 'B' or 'S' or 'O')
        || (prevTag == 'I' && tag is 'B' or 'S' or 'O')
        || (prevTag != 'O' && prevTag != '.' && prevType != type);

    private static bool StartOfChunk(char prevTag, char tag, string prevType, string type) =>
        tag is 'B' or 'S'
        || (prevTag is 'E' or 'S' or 'O' && tag is 'E' or 'I')
        || (tag != 'O' && tag != '.' && prevType != type);
}
