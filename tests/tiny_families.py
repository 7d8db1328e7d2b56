"""Tiny random-initialised causal LMs of today's open families (no download): each a 2-layer, 4-query-head model
with the attention features of its family switched on at a size where they bite (windows of 4 tokens, a soft cap of
1, grouped key/value heads, QK-norm, partial rotary embeddings), saved with the tiny byte-level tokenizer of the
GPT-2 and Llama fixtures. Weights are drawn with initializer_range 0.2 so that attention is far from uniform, and
every norm gain and bias is drawn too (transformers sets them to 1 or 0, where a wrong gain or a forgotten bias
would go unseen)."""

from __future__ import annotations

from pathlib import Path

# model_type -> (config class, model class, the family's own settings, its attention features as the docs list them)
FAMILIES = {
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM",
              dict(num_key_value_heads=2, use_sliding_window=True, sliding_window=4, max_window_layers=1),
              "grouped-query attention, query/key/value biases, a sliding window on the layers from max_window_layers"),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(num_key_value_heads=2, head_dim=16),
              "grouped-query attention, QK-norm, head_dim apart from hidden_size / heads"),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM",
               dict(num_key_value_heads=2, head_dim=8, sliding_window=4, attn_logit_softcapping=1.0,
                    final_logit_softcapping=30.0, query_pre_attn_scalar=16),
               "grouped-query attention, soft-capped scores, alternating sliding-window layers, "
               "query_pre_attn_scalar scaling, norms on the attention's output, RMSNorm gains 1 + w"),
    "gemma3_text": ("Gemma3TextConfig", "Gemma3ForCausalLM",
                    dict(num_key_value_heads=2, head_dim=8, sliding_window=4, sliding_window_pattern=2,
                         query_pre_attn_scalar=16),
                    "grouped-query attention, QK-norm, sliding-window layers (5 of 6 in the real models), "
                    "query_pre_attn_scalar scaling, norms on the attention's output, RMSNorm gains 1 + w"),
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(num_key_value_heads=2, sliding_window=4),
                "grouped-query attention, a sliding window"),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(num_key_value_heads=2, sliding_window=4),
             "a fused qkv_proj, grouped-query attention, a sliding window"),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", dict(num_key_value_heads=2),
              "QK-norm (over all heads), norms on the attention's output instead of its input"),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", dict(rotary_pct=0.5),
                 "a fused query_key_value interleaved per head, partial rotary embeddings, parallel residual, "
                 "biases"),
}


def tiny_family(family: str, tokenizer):
    """The tiny causal LM of `family` (a model_type of FAMILIES), in eval mode, seeded."""
    import torch
    import transformers

    config_class, model_class, settings, _ = FAMILIES[family]
    eos = tokenizer.eos_token_id
    config = getattr(transformers, config_class)(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=64, initializer_range=0.2, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
        **settings)
    torch.manual_seed(0)
    model = getattr(transformers, model_class)(config)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):  # a gain: Gemma's RMSNorm multiplies by 1 + weight
                p.copy_((0.0 if family.startswith("gemma") else 1.0)
                        + 0.5 * torch.randn(p.shape, generator=generator))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))
    return model.eval()


def save_family(family: str, path: Path) -> Path:
    """The tiny model of `family` and the tiny tokenizer saved in `path`."""
    from conftest import _byte_level_tokenizer

    tokenizer = _byte_level_tokenizer()
    tiny_family(family, tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
