"""The same training step as `hybridbert bench --mode train` in PyTorch, for a side-by-side on one machine.

Textbook BERT (post-LayerNorm, erf GELU) and PoNet pooling layers (segment max via index_reduce 'amax', local max
via max_pool1d), sparse MLM head tied to the word embeddings, AdamW. Random token ids laid out as
[CLS] words [SEP] words [SEP], 15% of positions predicted. Initialized as BERT (and ours) are: weights N(0, 0.02),
biases 0 — PyTorch's default N(0, 1) embeddings give logits whose softmax underflows into denormals, and on Intel
CPUs OpenBLAS multiplies denormals ~40x slower (the vocabulary projection's backward: 1.6 s instead of 40 ms, measured
2026-12-07). Prints one JSON line per configuration with the same fields as `hybridbert bench --json`. Usage:

    python3 mini_train_step.py --pattern PPAA --seq 128 --batch 32 --threads 2 --steps 10 --warmup 3 [--mode infer]
"""
import argparse, json, math, resource, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

CLS, SEP = 2, 3


def segment_max(values, flat_index, candidate):
    b, l, d = values.shape
    masked = values.masked_fill(~candidate.unsqueeze(-1), float("-inf")).reshape(-1, d)
    table = torch.zeros(b * l, d, dtype=values.dtype).index_reduce(0, flat_index, masked, "amax", include_self=False)
    per_token = table.index_select(0, flat_index).view(b, l, d)
    return per_token.masked_fill(torch.isneginf(per_token), 0.0)


def local_max(values, candidate):
    masked = values.transpose(1, 2).masked_fill(candidate == 0, float("-inf"))
    pooled = F.max_pool1d(masked, 3, stride=1, padding=1)
    anyc = F.max_pool1d(candidate, 3, stride=1, padding=1)
    return pooled.masked_fill(anyc == 0, 0.0).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.heads = heads

    def forward(self, x, ctx):
        b, l, h = x.shape
        split = lambda t: t.view(b, l, self.heads, h // self.heads).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads)
        scores = scores.masked_fill(~ctx["key_visible"], torch.finfo(scores.dtype).min)
        return (F.dropout(scores.softmax(-1), 0.1, self.training) @ v).transpose(1, 2).reshape(b, l, h)


class Pooling(nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.dense_q, self.dense_k, self.dense_o = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.dense_segment, self.dense_local = nn.Linear(h, h), nn.Linear(h, h)
        self.heads = heads

    def forward(self, x, ctx):
        b, l, h = x.shape
        d = h // self.heads
        split = lambda t: t.view(b, l, self.heads, d).transpose(1, 2)
        elig = ctx["eligible"].view(b, 1, l, 1)
        q = split(self.dense_q(x)).masked_fill(~elig, 0.0).sum(2) / elig.sum(2).clamp_min(1)
        k = split(self.dense_k(x))
        scores = torch.einsum("bhd,bhld->bhl", q, k) / math.sqrt(d)
        scores = scores.masked_fill(~ctx["eligible"].view(b, 1, l), float("-inf"))
        g = torch.einsum("bhl,bhld->bhd", scores.softmax(-1).nan_to_num(0.0), k)
        special = ctx["special"].unsqueeze(-1)
        smp = segment_max(self.dense_segment(x), ctx["flat_segments"], ctx["eligible"]).masked_fill(special, 0.0)
        lmp = local_max(self.dense_local(x), ctx["local_candidate"]).masked_fill(special, 0.0)
        out = (g.unsqueeze(2) + split(smp)) * split(self.dense_o(x)) + split(lmp)
        return out.transpose(1, 2).reshape(b, l, h)


class Layer(nn.Module):
    def __init__(self, kind, h, heads, ffn):
        super().__init__()
        self.mixer = Attention(h, heads) if kind == "A" else Pooling(h, heads)
        self.attn_out, self.ln1 = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12)
        self.inter, self.out, self.ln2 = nn.Linear(h, ffn), nn.Linear(ffn, h), nn.LayerNorm(h, eps=1e-12)

    def forward(self, x, ctx):
        x = self.ln1(F.dropout(self.attn_out(self.mixer(x, ctx)), 0.1, self.training) + x)
        return self.ln2(F.dropout(self.out(F.gelu(self.inter(x))), 0.1, self.training) + x)


class Model(nn.Module):
    def __init__(self, pattern, vocab, h, heads, ffn, max_pos):
        super().__init__()
        self.word, self.pos, self.token_type = nn.Embedding(vocab, h), nn.Embedding(max_pos, h), nn.Embedding(2, h)
        self.ln = nn.LayerNorm(h, eps=1e-12)
        self.layers = nn.ModuleList(Layer(k, h, heads, ffn) for k in pattern)
        self.transform, self.tln, self.bias = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12), nn.Parameter(torch.zeros(vocab))

    def forward(self, ids, positions):
        x = self.encode(ids)
        rows = x.reshape(-1, x.shape[-1]).index_select(0, positions)
        return F.linear(self.tln(F.gelu(self.transform(rows))), self.word.weight, self.bias)

    def encode(self, ids):
        b, l = ids.shape
        real = torch.ones_like(ids, dtype=torch.bool)
        special = (ids == CLS) | (ids == SEP)
        prev = F.pad(special[:, :-1], (1, 0))
        starts = special | prev
        starts[:, 0] = False
        segments = starts.long().cumsum(1)
        ctx = dict(eligible=real, key_visible=real.view(b, 1, 1, l), special=special,
                   local_candidate=(real & ~special).unsqueeze(1).float(),
                   flat_segments=(segments + torch.arange(b).unsqueeze(1) * l).reshape(-1))
        x = F.dropout(self.ln(self.word(ids) + self.pos(torch.arange(l)).unsqueeze(0) + self.token_type(torch.zeros_like(ids))), 0.1, self.training)
        for layer in self.layers:
            x = layer(x, ctx)
        return x


def bert_init(module):
    """BERT's initialization (Hugging Face's BertPreTrainedModel._init_weights; ours is the same): N(0, 0.02) weights,
    zero biases; LayerNorms keep PyTorch's ones and zeros."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pattern", default="AAAA")
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--mode", choices=["train", "infer"], default="train")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = Model(a.pattern, a.vocab, 256, 4, 1024, max(512, a.seq))
    model.apply(bert_init)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    ids = torch.randint(5, a.vocab, (a.batch, a.seq))
    ids[:, 0], ids[:, a.seq // 2], ids[:, -1] = CLS, SEP, SEP
    positions = torch.randperm(a.batch * a.seq)[: int(0.15 * a.batch * a.seq)]
    labels = ids.reshape(-1)[positions]

    def train_step():
        opt.zero_grad()
        F.cross_entropy(model(ids, positions), labels).backward()
        opt.step()

    def infer_step():
        # As `hybridbert bench --mode infer`: the encoder forward in eval mode without autograd (no MLM head).
        with torch.no_grad():
            model.encode(ids)

    if a.mode == "infer":
        model.eval()
    step = train_step if a.mode == "train" else infer_step

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1000)
    median = statistics.median(times)
    print(json.dumps(dict(framework=f"pytorch {torch.__version__}", layer_pattern=a.pattern, seq=a.seq, batch=a.batch, threads=a.threads,
                          mode=a.mode, median_ms=round(median, 2), min_ms=round(min(times), 2), max_ms=round(max(times), 2),
                          tokens_per_s=round(a.batch * a.seq / median * 1000), peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                          params=sum(p.numel() for p in model.parameters()))))


if __name__ == "__main__":
    main()
