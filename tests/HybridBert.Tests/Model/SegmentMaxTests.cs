using HybridBert.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridBert.Tests.Model;

public sealed class SegmentMaxTests
{
    // The slow, obvious version: for every token, loop over every token of the batch row.
    private static float[,,] BruteForceSegmentMax(float[,,] v, long[,] seg, bool[,] candidate)
    {
        int b = v.GetLength(0), l = v.GetLength(1), d = v.GetLength(2);
        var result = new float[b, l, d];
        for (var i = 0; i < b; i++)
        for (var t = 0; t < l; t++)
        for (var k = 0; k < d; k++)
        {
            var best = float.NegativeInfinity;
            for (var u = 0; u < l; u++)
                if (seg[i, u] == seg[i, t] && candidate[i, u]) best = Math.Max(best, v[i, u, k]);
            result[i, t, k] = float.IsNegativeInfinity(best) ? 0 : best;
        }
        return result;
    }

    private static float[,,] BruteForceLocalMax(float[,,] v, bool[,] candidate)
    {
        int b = v.GetLength(0), l = v.GetLength(1), d = v.GetLength(2);
        var result = new float[b, l, d];
        for (var i = 0; i < b; i++)
        for (var t = 0; t < l; t++)
        for (var k = 0; k < d; k++)
        {
            var best = float.NegativeInfinity;
            for (var u = Math.Max(0, t - 1); u <= Math.Min(l - 1, t + 1); u++)
                if (candidate[i, u]) best = Math.Max(best, v[i, u, k]);
            result[i, t, k] = float.IsNegativeInfinity(best) ? 0 : best;
        }
        return result;
    }

    private static T[,] To2D<T>(Tensor t) where T : unmanaged
    {
        var flat = t.data<T>().ToArray();
        var r = new T[t.shape[0], t.shape[1]];
        for (var i = 0; i < r.GetLength(0); i++)
        for (var j = 0; j < r.GetLength(1); j++) r[i, j] = flat[i * r.GetLength(1) + j];
        return r;
    }

    private static float[,,] To3D(Tensor t)
    {
        var flat = t.data<float>().ToArray();
        var r = new float[t.shape[0], t.shape[1], t.shape[2]];
        Buffer.BlockCopy(flat, 0, r, 0, flat.Length * sizeof(float));
        return r;
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    public void Segment_max_equals_a_brute_force_loop_on_random_segment_layouts(int seed, bool training)
    {
        torch.manual_seed(seed);
        const int batch = 3, seq = 17, dim = 5;
        var values = torch.randn(batch, seq, dim).requires_grad_(training);   // training runs its own code
        // Random, non-contiguous segment ids, some segments with no candidate at all.
        var segments = torch.randint(0, 6, [batch, seq]);
        var candidate = torch.rand(batch, seq) > 0.4;
        var flat = (segments + torch.arange(batch).unsqueeze(1) * seq).reshape(-1);

        var actual = To3D(SegmentMax.Apply(values, flat, candidate).detach());

        var expected = BruteForceSegmentMax(To3D(values.detach()), To2D<long>(segments), To2D<bool>(candidate));
        Assert.Equal(expected.Cast<float>(), actual.Cast<float>());
    }

    [Theory]
    [InlineData(1, 13, false)]
    [InlineData(2, 13, false)]
    [InlineData(1, 13, true)]
    [InlineData(3, 1, false)]   // inference has its own code from 3 tokens on: the short rows take the general one
    [InlineData(3, 2, false)]
    [InlineData(3, 3, false)]
    public void Local_window_max_equals_a_brute_force_loop_and_empty_windows_give_zero(int seed, int seq, bool training)
    {
        torch.manual_seed(seed);
        const int batch = 2, dim = 4;
        var values = torch.randn(batch, seq, dim).requires_grad_(training);
        var candidate = torch.rand(batch, seq) > 0.6;   // sparse: some windows are empty
        candidate[0] = torch.zeros(seq, dtype: ScalarType.Bool);   // an empty window in every shape

        var actual = To3D(SegmentMax.LocalWindow(values, candidate.unsqueeze(1).to_type(ScalarType.Float32)).detach());

        var expected = BruteForceLocalMax(To3D(values.detach()), To2D<bool>(candidate));
        Assert.Equal(expected.Cast<float>(), actual.Cast<float>());
        Assert.Contains(0f, actual.Cast<float>());
    }

    [Fact]
    public void Segment_max_gradient_reaches_only_the_maximum_of_each_segment()
    {
        var values = torch.tensor(new float[] { 1, 5, 2, 7, 3 }).view(1, 5, 1).requires_grad_(true);
        var segments = torch.tensor(new long[] { 0, 0, 0, 1, 1 }).view(1, 5);
        var candidate = torch.ones(1, 5, dtype: ScalarType.Bool);

        SegmentMax.Apply(values, segments.reshape(-1), candidate).sum().backward();

        // Segment 0's max (5) is copied to 3 tokens, segment 1's (7) to 2.
        Assert.Equal([0f, 3f, 0f, 2f, 0f], values.grad!.reshape(-1).data<float>().ToArray());
    }

    // Which token each output copies: the first maximum among the window's / segment's candidates, or -1 (output 0).
    private static float[,,] BruteForceGradient(float[,,] v, float[,,] weight, bool[,] candidate, Func<int, int, int, bool> inGroup)
    {
        int b = v.GetLength(0), l = v.GetLength(1), d = v.GetLength(2);
        var grad = new float[b, l, d];
        for (var i = 0; i < b; i++)
        for (var t = 0; t < l; t++)
        for (var k = 0; k < d; k++)
        {
            var source = -1;
            for (var u = 0; u < l; u++)
                if (inGroup(i, t, u) && candidate[i, u] && (source < 0 || v[i, u, k] > v[i, source, k])) source = u;
            if (source >= 0) grad[i, source, k] += weight[i, t, k];
        }
        return grad;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Segment_and_local_max_gradients_equal_a_brute_force_loop(int seed)
    {
        torch.manual_seed(seed);
        const int batch = 2, seq = 15, dim = 3;
        var segments = torch.randint(0, 5, [batch, seq]);
        var candidate = torch.rand(batch, seq) > 0.5;
        var weight = torch.randn(batch, seq, dim);
        var flat = (segments + torch.arange(batch).unsqueeze(1) * seq).reshape(-1);
        var (seg, cand, w) = (To2D<long>(segments), To2D<bool>(candidate), To3D(weight));

        var values = torch.randn(batch, seq, dim).requires_grad_(true);
        (SegmentMax.Apply(values, flat, candidate) * weight).sum().backward();
        var expected = BruteForceGradient(To3D(values.detach()), w, cand, (i, t, u) => seg[i, u] == seg[i, t]);
        AssertClose(expected, To3D(values.grad!));   // sums of several weights: the order of addition differs

        var local = torch.randn(batch, seq, dim).requires_grad_(true);
        (SegmentMax.LocalWindow(local, candidate.unsqueeze(1).to_type(ScalarType.Float32)) * weight).sum().backward();
        expected = BruteForceGradient(To3D(local.detach()), w, cand, (_, t, u) => Math.Abs(u - t) <= 1);
        AssertClose(expected, To3D(local.grad!));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void Tokens_zeroed_by_the_caller_pass_no_gradient_but_may_be_a_segments_maximum(int seed)
    {
        // As [CLS]/[SEP] sharing a segment with words (explicit segment ids): candidates, output 0.
        torch.manual_seed(seed);
        const int batch = 2, seq = 15, dim = 3;
        var segments = torch.randint(0, 4, [batch, seq]);
        var candidate = torch.rand(batch, seq) > 0.3;
        var zeroed = torch.rand(batch, seq) > 0.7;
        var weight = torch.randn(batch, seq, dim);
        var flat = (segments + torch.arange(batch).unsqueeze(1) * seq).reshape(-1);
        var layout = SegmentLayout.Build(flat, candidate, alsoZero: zeroed.unsqueeze(-1));
        var (seg, cand, zero) = (To2D<long>(segments), To2D<bool>(candidate), To2D<bool>(zeroed));

        var values = torch.randn(batch, seq, dim).requires_grad_(true);
        var output = SegmentMax.Apply(values, layout);
        (output * weight).sum().backward();

        var expectedValues = BruteForceSegmentMax(To3D(values.detach()), seg, cand);
        var w = To3D(weight);
        for (var i = 0; i < batch; i++)
        for (var t = 0; t < seq; t++)
            if (zero[i, t])
                for (var k = 0; k < dim; k++) (expectedValues[i, t, k], w[i, t, k]) = (0, 0);   // output 0: its weight reaches nobody
        Assert.Equal(expectedValues.Cast<float>(), To3D(output.detach()).Cast<float>());
        var expected = BruteForceGradient(To3D(values.detach()), w, cand, (i, t, u) => seg[i, u] == seg[i, t]);
        AssertClose(expected, To3D(values.grad!));
        Assert.Contains(Enumerable.Range(0, batch * seq), n => zero[n / seq, n % seq] && cand[n / seq, n % seq]
            && Enumerable.Range(0, dim).Any(k => expected[n / seq, n % seq, k] != 0));   // a zeroed maximum got gradient
    }

    private static void AssertClose(float[,,] expected, float[,,] actual)
    {
        foreach (var (e, a) in expected.Cast<float>().Zip(actual.Cast<float>()))
            Assert.True(Math.Abs(e - a) <= 1e-5f * Math.Max(1, Math.Abs(e)), $"expected {e}, got {a}");
    }

    [Fact]
    public void Tied_segment_maxima_keep_the_exact_value_and_share_the_gradient()
    {
        var values = torch.tensor(new float[] { 1, 5, 5, 7, 3 }).view(1, 5, 1).requires_grad_(true);
        var segments = torch.tensor(new long[] { 0, 0, 0, 1, 1 }).view(1, 5);

        var output = SegmentMax.Apply(values, segments.reshape(-1), torch.ones(1, 5, dtype: ScalarType.Bool));
        output.sum().backward();

        Assert.Equal([5f, 5f, 5f, 7f, 7f], output.detach().reshape(-1).data<float>().ToArray());
        Assert.Equal([0f, 1.5f, 1.5f, 2f, 0f], values.grad!.reshape(-1).data<float>().ToArray());
    }

    [Fact]
    public void Local_window_ties_go_to_the_leftmost_token()
    {
        var values = torch.tensor(new float[] { 4, 4, 1 }).view(1, 3, 1).requires_grad_(true);
        SegmentMax.LocalWindow(values, torch.ones(1, 1, 3)).sum().backward();
        // Windows {0,1}, {0,1,2}, {1,2}: the first two take token 0 (tied with 1), the last token 1.
        Assert.Equal([2f, 1f, 0f], values.grad!.reshape(-1).data<float>().ToArray());
    }

    [Fact]
    public void Default_segments_give_cls_and_each_sep_a_segment_of_their_own()
    {
        //                 [CLS] a  b [SEP] c [SEP] pad pad
        var ids = torch.tensor(new long[] { 101, 7, 8, 102, 9, 102, 0, 0 }).view(1, 8);
        var special = ids.eq(101) | ids.eq(102);

        var segments = SegmentMax.SegmentsFromSpecialTokens(special).reshape(-1).data<long>().ToArray();

        Assert.Equal([0L, 1, 1, 2, 3, 4, 5, 5], segments);
    }

    [Fact]
    public void Explicit_segment_ids_out_of_range_are_rejected_by_name()
    {
        var error = Assert.Throws<ArgumentException>(() => SegmentMax.CheckSegmentIds(torch.tensor(new long[] { 0, 1, 9 }).view(1, 3)));
        Assert.Contains("segment_ids", error.Message);
    }
}
