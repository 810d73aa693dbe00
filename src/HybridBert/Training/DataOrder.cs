using HybridBert.Reproducibility;

namespace HybridBert.Training;

/// <summary>
/// The order sequences are visited in: each epoch a fresh permutation seeded by (seed, epoch) through <see cref="Seeds"/>. The cursor
/// (epoch, position) is all a checkpoint needs to continue the same order.
/// </summary>
public sealed class DataOrder(long count, int seed, int epoch = 0, long position = 0)
{
    private int[] permutation = Permutation(count, seed, epoch);

    public int Epoch { get; private set; } = epoch;
    public long Position { get; private set; } = position;

    public long[] Next(int n)
    {
        var result = new long[n];
        for (var i = 0; i < n; i++)
        {
            if (Position == count)
            {
                Epoch++;
                Position = 0;
                permutation = Permutation(count, seed, Epoch);
            }
            result[i] = permutation[Position++];
        }
        return result;
    }

    private static int[] Permutation(long count, int seed, int epoch)
    {
        if (count > int.MaxValue) throw new NotSupportedException($"{count} sequences: more than one epoch order can hold");
        var order = Enumerable.Range(0, (int)count).ToArray();
        new Random(Seeds.Derive(seed, SeedPurpose.DataOrder, epoch)).Shuffle(order);
        return order;
    }
}
