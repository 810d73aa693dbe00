# Written by HybridBert's `hybridbert export hf` (https://github.com/...; the C# toolkit's Interop/HuggingFace).
# Configuration of a BERT whose layers mix tokens by self-attention (A), PoNet's pooling network (P) or both (H).
from transformers import PretrainedConfig


class HybridBertConfig(PretrainedConfig):
    """BertConfig fields plus `layer_pattern` (one letter per layer: A self-attention, P pooling network, H both within
    the layer), `hybrid_attention_heads` (attention heads of an H layer; the rest pool; default half), the [CLS]/[SEP]
    ids the pooling layers segment by, `classifier_pooling` ("cls": BERT's pooler; "mean": mean of the real tokens)
    and `num_sentence_classes` of the pre-training sentence head (2 next-sentence prediction, 3 sentence structure)."""

    model_type = "hybridbert"

    def __init__(self, vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                 max_position_embeddings=512, type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12,
                 pad_token_id=0, layer_pattern=None, hybrid_attention_heads=None, cls_token_id=101, sep_token_id=102,
                 classifier_pooling="cls", num_sentence_classes=2, **kwargs):
        super().__init__(pad_token_id=pad_token_id, sep_token_id=sep_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.layer_pattern = layer_pattern or "A" * num_hidden_layers
        self.hybrid_attention_heads = hybrid_attention_heads
        self.cls_token_id = cls_token_id
        self.classifier_pooling = classifier_pooling
        self.num_sentence_classes = num_sentence_classes
        if len(self.layer_pattern) != num_hidden_layers or set(self.layer_pattern) - set("APH"):
            raise ValueError(f"layer_pattern {self.layer_pattern!r} must have one of A, P, H per layer ({num_hidden_layers})")
