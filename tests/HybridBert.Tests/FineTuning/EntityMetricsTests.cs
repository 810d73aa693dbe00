using HybridBert.FineTuning;

namespace HybridBert.Tests.FineTuning;

/// <summary>Entity-level scores against seqeval's own documented examples (its README and docstrings, v1.2.2).</summary>
public sealed class EntityMetricsTests
{
    private static IReadOnlyList<IReadOnlyList<string>> S(params string[][] sentences) => sentences;

    [Fact]
    public void The_readme_example_scores_misc_0_per_1_and_micro_one_half()
    {
        var gold = S(["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]);
        var predicted = S(["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]);

        var report = EntityMetrics.Score(gold, predicted);

        Assert.Equal(new EntityScore(0, 0, 0, 1), report.PerType["MISC"]);
        Assert.Equal(new EntityScore(1, 1, 1, 1), report.PerType["PER"]);
        Assert.Equal(new EntityScore(0.5, 0.5, 0.5, 2), report.Micro);
        Assert.Equal(report.Micro, EntityMetrics.Score(gold, predicted, TagScheme.Iob2).Micro);   // all well formed: strict agrees
    }

    [Fact]
    public void The_get_entities_docstring_example_is_read_as_documented()
    {
        var entities = EntityMetrics.Lenient(S(["B-PER", "I-PER", "O", "B-LOC"]));
        Assert.Equal([new Entity("PER", 0, 0, 1), new Entity("LOC", 0, 3, 3)], entities);
    }

    [Fact]
    public void Strict_mode_refuses_an_entity_that_starts_with_I_where_the_default_mode_counts_it()
    {
        // seqeval's README: y_true [['B-NP', 'I-NP', 'O']], y_pred [['I-NP', 'I-NP', 'O']]: NP 1.00 by default, 0.00 strict IOB2.
        var gold = S(["B-NP", "I-NP", "O"]);
        var predicted = S(["I-NP", "I-NP", "O"]);
        Assert.Equal(new EntityScore(1, 1, 1, 1), EntityMetrics.Score(gold, predicted).PerType["NP"]);
        Assert.Equal(new EntityScore(0, 0, 0, 1), EntityMetrics.Score(gold, predicted, TagScheme.Iob2).PerType["NP"]);
    }

    [Fact]
    public void Iobes_entities_need_their_end_in_strict_mode()
    {
        var tags = S(["S-PER", "O", "B-LOC", "I-LOC", "E-LOC", "B-ORG", "I-ORG", "O"]);
        Assert.Equal([new Entity("PER", 0, 0, 0), new Entity("LOC", 0, 2, 4)], EntityMetrics.Strict(tags, TagScheme.Iobes));
        // The default mode reads the unfinished ORG as an entity, as conlleval does.
        Assert.Contains(new Entity("ORG", 0, 5, 6), EntityMetrics.Lenient(tags));
        Assert.Equal(TagScheme.Iobes, EntityMetrics.SchemeOf(tags.SelectMany(t => t)));
    }

    [Fact]
    public void A_type_change_ends_an_entity_and_sentences_never_join()
    {
        Assert.Equal([new Entity("PER", 0, 0, 0), new Entity("LOC", 0, 1, 1)], EntityMetrics.Lenient(S(["B-PER", "I-LOC"])));
        Assert.Equal([new Entity("PER", 0, 0, 0), new Entity("PER", 1, 2, 2)], EntityMetrics.Lenient(S(["B-PER"], ["I-PER"])));
    }

    [Fact]
    public void Part_of_speech_tags_are_no_entity_scheme()
    {
        Assert.Null(EntityMetrics.SchemeOf(["NOUN", "VERB", "DET"]));
        Assert.Null(EntityMetrics.SchemeOf(["O", "O"]));
        Assert.Equal(TagScheme.Iob2, EntityMetrics.SchemeOf(["O", "B-PER", "I-PER"]));
    }

    [Fact]
    public void Nothing_predicted_scores_zero_not_nan()
    {
        var report = EntityMetrics.Score(S(["B-PER", "O"]), S(["O", "O"]));
        Assert.Equal(new EntityScore(0, 0, 0, 1), report.Micro);
    }
}
