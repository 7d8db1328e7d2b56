"""The model families reportgen reads, one adapter per transformers `model_type`: where an architecture keeps its
blocks, each block's attention output projection (every head's output, head after head) and what the head
detectors' OV circuits read from its weights. Families that share the Llama layout share its adapter."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass


def _none(_module):
    return None


@dataclass(frozen=True)
class Adapter:
    """Where an architecture keeps its blocks and each block's attention output projection, and what the head
    detectors' OV circuits read from its weights (analyses/detector_weights.py).

    The input of the output projection is the concatenation of every head's context vector
    (softmax(QK^T/sqrt(d)) V), head after head: that is what the context search space hooks. The attention itself
    (grouped key/value heads, sliding windows, soft-capping, QK-norm, rotary embeddings) is the architecture's own
    eager attention in transformers, which encode.py calls through transformers' AttentionInterface: nothing of it
    is written here.
    """

    blocks: Callable  # base model -> sequence of blocks
    out_proj: Callable  # block -> the attention output projection module
    causal: bool
    value: Callable | None = None  # block -> the value projection's weight [n_kv_heads * d_head, d_model]
    input_norm: Callable = _none  # block -> the norm the attention reads its input through (None: none)
    output_norm: Callable = _none  # block -> a norm on the attention's output before the residual (None: none)
    final_norm: Callable = _none  # base model -> the norm before the unembedding (None: none)
    gain_offset: float = 0.0  # a norm's gain is offset + weight (Gemma's RMSNorm multiplies by 1 + weight)


def _fused_value(block):
    """Phi-3's fused qkv_proj: the query rows (n_heads * d_head, the output projection's input), then the key and
    the value rows (n_kv_heads * d_head each)."""
    weight = block.self_attn.qkv_proj.weight
    queries = block.self_attn.o_proj.in_features
    return weight[queries + (weight.shape[0] - queries) // 2:]


def _neox_value(block):
    """GPT-NeoX's fused query_key_value: per head, its query, key and value rows (d_head each), head after head."""
    attention = block.attention
    weight = attention.query_key_value.weight
    d = attention.head_size
    return weight.reshape(-1, 3 * d, weight.shape[-1])[:, 2 * d:].reshape(-1, weight.shape[-1])


def _gpt2_value(block):
    weight = block.attn.c_attn.weight  # Conv1D: [d_model, 3 * d_model], queries, keys, values
    return weight[:, 2 * weight.shape[0]:].T


# the Llama layout (model.layers[i].self_attn.{q,k,v,o}_proj, input_layernorm, a final `norm`), and what differs
LLAMA = Adapter(lambda m: m.layers, lambda b: b.self_attn.o_proj, causal=True,
                value=lambda b: b.self_attn.v_proj.weight, input_norm=lambda b: b.input_layernorm,
                final_norm=lambda m: m.norm)
# Gemma 2 and 3: a norm on the attention's output too, and RMSNorm gains of 1 + weight
GEMMA = dataclasses.replace(LLAMA, output_norm=lambda b: b.post_attention_layernorm, gain_offset=1.0)

ADAPTERS: dict[str, Adapter] = {
    "bert": Adapter(lambda m: m.encoder.layer, lambda b: b.attention.output.dense, causal=False),
    "roberta": Adapter(lambda m: m.encoder.layer, lambda b: b.attention.output.dense, causal=False),
    "distilbert": Adapter(lambda m: m.transformer.layer, lambda b: b.attention.out_lin, causal=False),
    "gpt2": Adapter(lambda m: m.h, lambda b: b.attn.c_proj, causal=True, value=_gpt2_value,
                    input_norm=lambda b: b.ln_1, final_norm=lambda m: m.ln_f),
    "llama": LLAMA,
    "mistral": LLAMA,
    "qwen2": LLAMA,
    "qwen3": LLAMA,
    "gemma2": GEMMA,
    "gemma3_text": GEMMA,
    # OLMo 2 normalises the attention's output instead of its input
    "olmo2": dataclasses.replace(LLAMA, input_norm=_none, output_norm=lambda b: b.post_attention_layernorm),
    "phi3": dataclasses.replace(LLAMA, value=_fused_value),
    "gpt_neox": Adapter(lambda m: m.layers, lambda b: b.attention.dense, causal=True, value=_neox_value,
                        input_norm=lambda b: b.input_layernorm, final_norm=lambda m: m.final_layer_norm),
}
