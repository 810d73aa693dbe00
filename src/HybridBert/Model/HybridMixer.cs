using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HybridBert.Model;

/// <summary>
/// The <c>H</c> mixer: inside one layer, <c>hybrid_attention_heads</c> heads do self-attention and the remaining
/// heads pool; the two outputs are concatenated (attention heads first) before the shared output dense. It holds
/// both parameter sets under their usual names, each sized for its share of the heads.
/// </summary>
public sealed class HybridMixer : nn.Module<Tensor, MixerContext, Tensor>
{
    private readonly Linear query;
    private readonly Linear key;
    private readonly Linear value;
    private readonly Linear dense_q;
    private readonly Linear dense_k;
    private readonly Linear dense_o;
    private readonly Linear dense_segment;
    private readonly Linear dense_local;
    private readonly int attentionHeads;
    private readonly int poolingHeads;
    private readonly double dropoutProb;

    public HybridMixer(EncoderConfig c) : base(nameof(HybridMixer))
    {
        attentionHeads = c.AttentionHeadsInHybridLayer;
        poolingHeads = c.NumAttentionHeads - attentionHeads;
        int attentionWidth = attentionHeads * c.HeadSize, poolingWidth = poolingHeads * c.HeadSize;
        query = nn.Linear(c.HiddenSize, attentionWidth);
        key = nn.Linear(c.HiddenSize, attentionWidth);
        value = nn.Linear(c.HiddenSize, attentionWidth);
        dense_q = nn.Linear(c.HiddenSize, poolingWidth);
        dense_k = nn.Linear(c.HiddenSize, poolingWidth);
        dense_o = nn.Linear(c.HiddenSize, poolingWidth);
        dense_segment = nn.Linear(c.HiddenSize, poolingWidth);
        dense_local = nn.Linear(c.HiddenSize, poolingWidth);
        dropoutProb = c.AttentionProbsDropoutProb;
        RegisterComponents();
    }

    public override Tensor forward(Tensor h, MixerContext context) => Scoped.Keep(() =>
    {
        var p = Projections.Apply(h, query, key, value, dense_o, dense_segment, dense_local);
        var attended = SelfAttention.Attend(p[0], p[1], p[2], attentionHeads, context, training ? dropoutProb : 0.0);
        var pooled = PoolingMixer.Pool(PoolingMixer.Global(h, dense_q, dense_k, poolingHeads, context), p[3], p[4], p[5], context);
        return torch.cat([attended, pooled], 2);
    });
}
