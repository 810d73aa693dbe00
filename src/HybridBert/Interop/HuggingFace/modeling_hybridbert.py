# Written by HybridBert's `hybridbert export hf` (the C# toolkit's Interop/HuggingFace).
# A BERT whose layers mix tokens by self-attention (A), PoNet's multi-granularity pooling (P; Tan et al., ICLR 2022)
# or both within one layer (H; HybridBERT, Chen et al., 2023). Parameter names are Hugging Face BERT's, and the
# pooling ones the PoNet authors' (dense_q, dense_k, dense_o, dense_segment, dense_local), so an all-attention model
# is a plain BertModel. Load with trust_remote_code=True. Pre-training's DropMask is not part of this forward.
import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import PreTrainedModel
from transformers.modeling_outputs import (BaseModelOutputWithPooling, MaskedLMOutput, SequenceClassifierOutput,
                                           TokenClassifierOutput, ModelOutput)

from .configuration_hybridbert import HybridBertConfig

ACT = {"gelu": F.gelu, "relu": F.relu, "gelu_new": lambda x: F.gelu(x, approximate="tanh")}


class HybridBertEmbeddings(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class MixerContext:
    """The masks every mixer of one forward pass shares. Eligible tokens (real ones) may be keys and pooling
    candidates; [CLS]/[SEP] get 0 from the segment and local maxima; by default [CLS] and each [SEP] are segments of
    their own and each span between them is one segment."""

    def __init__(self, config, input_ids, attention_mask, segment_ids=None):
        b, n = input_ids.shape
        self.real = attention_mask.bool()
        self.eligible = self.real
        self.key_visible = self.eligible[:, None, None, :]
        self.special = (input_ids == config.cls_token_id) | (input_ids == config.sep_token_id)
        if segment_ids is None:
            starts = self.special | F.pad(self.special[:, :-1], (1, 0))
            starts[:, 0] = False
            segment_ids = starts.long().cumsum(1)
        self.flat_segment = (segment_ids + torch.arange(b, device=input_ids.device).unsqueeze(1) * n).reshape(-1)
        self.local_candidate = (self.eligible & ~self.special).unsqueeze(1).float()
        self.segment_candidate = self.eligible


def segment_max(values, ctx):
    b, n, d = values.shape
    masked = values.masked_fill(~ctx.segment_candidate.unsqueeze(-1), float("-inf")).reshape(-1, d)
    index = ctx.flat_segment.unsqueeze(-1).expand(-1, d)
    table = torch.zeros(b * n, d, dtype=values.dtype, device=values.device).scatter_reduce(0, index, masked, "amax", include_self=False)
    per_token = table.index_select(0, ctx.flat_segment).view(b, n, d)
    return per_token.masked_fill(torch.isneginf(per_token), 0.0)


def local_max(values, ctx):
    masked = values.transpose(1, 2).masked_fill(ctx.local_candidate == 0, float("-inf"))
    pooled = F.max_pool1d(masked, 3, stride=1, padding=1)
    any_candidate = F.max_pool1d(ctx.local_candidate, 3, stride=1, padding=1)
    return pooled.masked_fill(any_candidate == 0, 0.0).transpose(1, 2)


def attend(q, k, v, heads, ctx, dropout):
    b, n, width = q.shape
    split = lambda x: x.view(b, n, heads, width // heads).transpose(1, 2)
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-1, -2) / math.sqrt(width // heads)
    scores = scores.masked_fill(~ctx.key_visible, torch.finfo(scores.dtype).min)
    probs = F.dropout(scores.softmax(-1), dropout)
    return (probs @ v).transpose(1, 2).reshape(b, n, width)


def pool(q, k, o, segment, local, heads, ctx):
    """(g + segment max) * O + local max, per head; g: one mean query over the eligible tokens attending over K."""
    b, n, width = q.shape
    size = width // heads
    split = lambda x: x.view(b, n, heads, size).transpose(1, 2)
    eligible = ctx.eligible.view(b, 1, n, 1)
    qh = split(q).masked_fill(~eligible, 0.0)
    count = eligible.sum(2, dtype=torch.float32).clamp_min(1.0)
    mean_query = (qh.sum(2, dtype=torch.float32) / count).to(q.dtype)
    kh = split(k)
    scores = torch.einsum("bhd,bhld->bhl", mean_query, kh) / math.sqrt(size)
    scores = scores.masked_fill(~ctx.eligible.view(b, 1, n), float("-inf"))
    g = torch.einsum("bhl,bhld->bhd", scores.softmax(-1).nan_to_num(0.0), kh)
    special = ctx.special.unsqueeze(-1)
    smp = segment_max(segment, ctx).masked_fill(special, 0.0)
    lmp = local_max(local, ctx).masked_fill(special, 0.0)
    mixed = (g.unsqueeze(2) + split(smp)) * split(o) + split(lmp)
    return mixed.transpose(1, 2).reshape(b, n, width).masked_fill(~ctx.real.unsqueeze(-1), 0.0)


class SelfAttentionMixer(nn.Module):
    """A: BERT's self-attention (attention.self.{query,key,value})."""

    def __init__(self, config, heads):
        super().__init__()
        width = heads * (config.hidden_size // config.num_attention_heads)
        self.heads, self.dropout = heads, config.attention_probs_dropout_prob
        self.query, self.key, self.value = (nn.Linear(config.hidden_size, width) for _ in range(3))

    def forward(self, h, ctx):
        return attend(self.query(h), self.key(h), self.value(h), self.heads, ctx, self.dropout if self.training else 0.0)


class PoolingMixer(nn.Module):
    """P: PoNet's pooling network (attention.self.{dense_q,dense_k,dense_o,dense_segment,dense_local})."""

    def __init__(self, config, heads):
        super().__init__()
        width = heads * (config.hidden_size // config.num_attention_heads)
        self.heads = heads
        self.dense_q, self.dense_k, self.dense_o, self.dense_segment, self.dense_local = (nn.Linear(config.hidden_size, width) for _ in range(5))

    def forward(self, h, ctx):
        return pool(self.dense_q(h), self.dense_k(h), self.dense_o(h), self.dense_segment(h), self.dense_local(h), self.heads, ctx)


class HybridMixer(nn.Module):
    """H: hybrid_attention_heads heads attend, the rest pool; outputs concatenated, attention first."""

    def __init__(self, config):
        super().__init__()
        a = config.hybrid_attention_heads if config.hybrid_attention_heads is not None else config.num_attention_heads // 2
        size = config.hidden_size // config.num_attention_heads
        p = config.num_attention_heads - a
        self.attention_heads, self.pooling_heads, self.dropout = a, p, config.attention_probs_dropout_prob
        self.query, self.key, self.value = (nn.Linear(config.hidden_size, a * size) for _ in range(3))
        self.dense_q, self.dense_k, self.dense_o, self.dense_segment, self.dense_local = (nn.Linear(config.hidden_size, p * size) for _ in range(5))

    def forward(self, h, ctx):
        attended = attend(self.query(h), self.key(h), self.value(h), self.attention_heads, ctx, self.dropout if self.training else 0.0)
        pooled = pool(self.dense_q(h), self.dense_k(h), self.dense_o(h), self.dense_segment(h), self.dense_local(h), self.pooling_heads, ctx)
        return torch.cat([attended, pooled], 2)


class AddNorm(nn.Module):
    def __init__(self, config, inner):
        super().__init__()
        self.dense = nn.Linear(inner, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class HybridBertAttention(nn.Module):
    def __init__(self, config, letter):
        super().__init__()
        heads = config.num_attention_heads
        self.self = {"A": lambda: SelfAttentionMixer(config, heads), "P": lambda: PoolingMixer(config, heads), "H": lambda: HybridMixer(config)}[letter]()
        self.output = AddNorm(config, config.hidden_size)

    def forward(self, h, ctx):
        return self.output(self.self(h, ctx), h)


class HybridBertIntermediate(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT[config.hidden_act]

    def forward(self, x):
        return self.act(self.dense(x))


class HybridBertLayer(nn.Module):
    def __init__(self, config, letter):
        super().__init__()
        self.attention = HybridBertAttention(config, letter)
        self.intermediate = HybridBertIntermediate(config)
        self.output = AddNorm(config, config.intermediate_size)

    def forward(self, h, ctx):
        mixed = self.attention(h, ctx)
        return self.output(self.intermediate(mixed), mixed)


class HybridBertEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList(HybridBertLayer(config, letter) for letter in config.layer_pattern)

    def forward(self, h, ctx, output_hidden_states=False):
        states = [h]
        for layer in self.layer:
            h = layer(h, ctx)
            states.append(h)
        return h, (tuple(states) if output_hidden_states else None)


class HybridBertPooler(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))


class HybridBertPreTrainedModel(PreTrainedModel):
    config_class = HybridBertConfig
    base_model_prefix = "bert"

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(0.0, self.config.initializer_range)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(0.0, self.config.initializer_range)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()


class HybridBertModel(HybridBertPreTrainedModel):
    def __init__(self, config, add_pooling_layer=True):
        super().__init__(config)
        self.embeddings = HybridBertEmbeddings(config)
        self.encoder = HybridBertEncoder(config)
        self.pooler = HybridBertPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, segment_ids=None,
                output_hidden_states=None, return_dict=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        ctx = MixerContext(self.config, input_ids, attention_mask, segment_ids)
        hidden, states = self.encoder(self.embeddings(input_ids, token_type_ids), ctx, bool(output_hidden_states))
        pooled = self.pooler(hidden) if self.pooler is not None else None
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled, hidden_states=states)


class HybridBertPredictionHeadTransform(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(self.act(self.dense(x)))


class HybridBertLMPredictionHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.transform = HybridBertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, hidden):
        return self.decoder(self.transform(hidden))


class HybridBertPreTrainingHeads(nn.Module):
    def __init__(self, config, sentence_classes):
        super().__init__()
        self.predictions = HybridBertLMPredictionHead(config)
        if sentence_classes:
            self.seq_relationship = nn.Linear(config.hidden_size, sentence_classes)


class _TiedDecoder:
    """The MLM decoder is the word embedding matrix (transformers ties them through these two methods)."""
    _tied_weights_keys = ["cls.predictions.decoder.weight", "cls.predictions.decoder.bias"]

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def set_output_embeddings(self, value):
        self.cls.predictions.decoder = value


class HybridBertForMaskedLM(_TiedDecoder, HybridBertPreTrainedModel):

    def __init__(self, config):
        super().__init__(config)
        self.bert = HybridBertModel(config, add_pooling_layer=False)
        self.cls = HybridBertPreTrainingHeads(config, 0)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, segment_ids=None, labels=None,
                output_hidden_states=None, return_dict=None, **kwargs):
        out = self.bert(input_ids, attention_mask, token_type_ids, segment_ids, output_hidden_states)
        logits = self.cls.predictions(out.last_hidden_state)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1)) if labels is not None else None
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


@dataclass
class HybridBertForPreTrainingOutput(ModelOutput):
    loss: Optional[torch.FloatTensor] = None
    prediction_logits: Optional[torch.FloatTensor] = None
    seq_relationship_logits: Optional[torch.FloatTensor] = None
    hidden_states: Optional[Tuple[torch.FloatTensor, ...]] = None


class HybridBertForPreTraining(_TiedDecoder, HybridBertPreTrainedModel):
    """MLM plus the sentence head over the pooled [CLS] (num_sentence_classes: 2 NSP, 3 PoNet's sentence structure)."""

    def __init__(self, config):
        super().__init__(config)
        self.bert = HybridBertModel(config, add_pooling_layer=True)
        self.cls = HybridBertPreTrainingHeads(config, config.num_sentence_classes)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, segment_ids=None, labels=None,
                next_sentence_label=None, output_hidden_states=None, return_dict=None, **kwargs):
        out = self.bert(input_ids, attention_mask, token_type_ids, segment_ids, output_hidden_states)
        logits = self.cls.predictions(out.last_hidden_state)
        sentence = self.cls.seq_relationship(out.pooler_output)
        loss = None
        if labels is not None and next_sentence_label is not None:
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1)) + F.cross_entropy(sentence, next_sentence_label.view(-1))
        return HybridBertForPreTrainingOutput(loss=loss, prediction_logits=logits, seq_relationship_logits=sentence, hidden_states=out.hidden_states)


class HybridBertForSequenceClassification(HybridBertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = HybridBertModel(config, add_pooling_layer=True)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, segment_ids=None, labels=None,
                output_hidden_states=None, return_dict=None, **kwargs):
        out = self.bert(input_ids, attention_mask, token_type_ids, segment_ids, output_hidden_states)
        if self.config.classifier_pooling == "mean":
            real = (attention_mask if attention_mask is not None else torch.ones_like(input_ids)).unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * real).sum(1) / real.sum(1).clamp_min(1)
        else:
            pooled = out.pooler_output
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            if self.config.problem_type == "regression" or self.num_labels == 1:
                loss = F.mse_loss(logits.squeeze(-1), labels.float())
            else:
                loss = F.cross_entropy(logits, labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)


class HybridBertForTokenClassification(HybridBertPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = HybridBertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, segment_ids=None, labels=None,
                output_hidden_states=None, return_dict=None, **kwargs):
        out = self.bert(input_ids, attention_mask, token_type_ids, segment_ids, output_hidden_states)
        logits = self.classifier(self.dropout(out.last_hidden_state))
        loss = None
        if labels is not None:   # -100 marks the positions the loss skips (every piece but a word's first)
            loss = F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1), ignore_index=-100)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)
