using HybridBert.Text;

namespace HybridBert.Tests.Text;

public sealed class SentenceSplitterTests
{
    [Theory]
    [InlineData("Call me Ishmael. Some years ago I went to sea.", new[] { "Call me Ishmael.", "Some years ago I went to sea." })]
    [InlineData("Is it? Yes! \"Indeed.\" (Quite.) Done", new[] { "Is it?", "Yes!", "\"Indeed.\"", "(Quite.)", "Done" })]
    [InlineData("Mr. Smith met Dr. Jones at St. Paul's. They talked.", new[] { "Mr. Smith met Dr. Jones at St. Paul's.", "They talked." })]
    [InlineData("Prices rose 3.5 percent in 1920. Wages fell 1.2 percent.", new[] { "Prices rose 3.5 percent in 1920.", "Wages fell 1.2 percent." })]
    [InlineData("J. Q. Adams spoke to the U.S. Senate. It listened.", new[] { "J. Q. Adams spoke to the U.S. Senate.", "It listened." })]
    [InlineData("We need ships, guns, etc. and men. Also money.", new[] { "We need ships, guns, etc. and men.", "Also money." })]
    [InlineData("no terminal punctuation at all", new[] { "no terminal punctuation at all" })]
    [InlineData("Wait... What now?", new[] { "Wait...", "What now?" })]
    public void Splits_at_sentence_ends_but_not_at_abbreviations_initials_or_decimals(string text, string[] expected) =>
        Assert.Equal(expected, SentenceSplitter.Split(text));

    [Fact]
    public void An_empty_paragraph_has_no_sentences() => Assert.Empty(SentenceSplitter.Split("   "));
}
