using HybridBert.Inference;
using HybridBert.Tests.Interop;

namespace HybridBert.Tests.Inference;

/// <summary>Fill-mask on rows given as ids: a row without [MASK] has nothing to fill, beside rows that do.</summary>
public sealed class FillMaskRowsTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("hybridbert-fillmask-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public void A_row_without_a_mask_gets_no_candidates_and_the_others_theirs()
    {
        var (folder, _, _) = HuggingFaceExportTests.Source("bert_2l", temp);
        using var model = InferenceModel.Load(folder);
        var v = model.Tokenizer.Vocabulary;
        var rows = new[]
        {
            model.EncodeIds([v.ClsId, 110, 111, v.SepId], truncate: false, 0),          // no mask, alone in its batch
            model.EncodeIds([v.ClsId, 110, 111, 112, v.SepId], truncate: false, 1),     // no mask, batched with the next
            model.EncodeIds([v.ClsId, 110, v.MaskId, 112, v.SepId], truncate: false, 2),
        };
        var results = new FillMask(model).Predict(rows, 2);
        Assert.Empty(results[0]);
        Assert.Empty(results[1]);
        Assert.Single(results[2]);
        Assert.Equal(2, results[2][0].Count);
    }
}
