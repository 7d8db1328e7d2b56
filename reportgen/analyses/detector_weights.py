"""The OV circuit of each head of a causal LM, W_E W_V^h W_O^h W_U (Elhage et al. 2021, "A Mathematical Framework
for Transformer Circuits"), in the factored form whose eigenvalues are the circuit's nonzero ones.

The circuit is a [V, V] matrix of rank d_head at most; by the cyclic property, its nonzero eigenvalues are those of
W_O^h W_U W_E W_V^h [d_head, d_head], so the whole vocabulary is used without forming a V x V matrix (W_U W_E
[d_model, d_model] is computed once). The norms: the gain of the block's input norm (LayerNorm or RMSNorm) is folded
into W_V and the gain of the final norm into W_U, as TransformerLens's fold_ln does; the normalisation itself (the
division by each token's norm, and LayerNorm's centring) and every bias are left out, as in Elhage et al.'s
circuits. Grouped-query attention (Llama, SmolLM2: fewer key/value heads than query heads) is read as
transformers' repeat_kv repeats it: query head h uses value head h // (n_heads / n_kv_heads).

Supported: GPT-2 and the Llama layout (self_attn.v_proj / o_proj, input_layernorm, a final `norm`); other
architectures get no copying score (`circuits` returns None).
"""

from __future__ import annotations

import numpy as np


def _gain(norm, d_model: int):
    import torch

    weight = getattr(norm, "weight", None)
    return torch.ones(d_model) if weight is None else weight.detach().double().cpu()


def head_weights(model, n_heads: int, d_head: int) -> list[list[tuple]] | None:
    """Per layer and head, (W_V^h [D, d] with the input norm's gain folded in, W_O^h [d, D]) as float64 CPU tensors,
    from a base model (GPT-2's or the Llama layout's); None for another layout."""
    out = []
    if hasattr(model, "h"):  # GPT-2: Conv1D weights [in, out]
        for block in model.h:
            d_model = block.attn.c_attn.weight.shape[0]
            w = block.attn.c_attn.weight.detach().double().cpu()
            gain = _gain(block.ln_1, d_model)[:, None]
            value = (gain * w[:, 2 * d_model:])  # [D, H * d]
            proj = block.attn.c_proj.weight.detach().double().cpu()  # [H * d, D]
            out.append([(value[:, h * d_head:(h + 1) * d_head], proj[h * d_head:(h + 1) * d_head])
                        for h in range(n_heads)])
        return out
    if hasattr(model, "layers") and all(hasattr(b, "self_attn") and hasattr(b.self_attn, "v_proj")
                                        for b in model.layers):
        for block in model.layers:
            v = block.self_attn.v_proj.weight.detach().double().cpu()  # [n_kv * d, D] (nn.Linear: [out, in])
            o = block.self_attn.o_proj.weight.detach().double().cpu()  # [D, H * d]
            gain = _gain(block.input_layernorm, v.shape[1])[:, None]
            group = n_heads // (v.shape[0] // d_head)  # query heads per value head (repeat_kv)
            out.append([(gain * v[(h // group) * d_head:(h // group + 1) * d_head].T,
                         o[:, h * d_head:(h + 1) * d_head].T) for h in range(n_heads)])
        return out
    return None


def final_gain(model, d_model: int):
    """The final norm's gain [D] (ones where the model has none)."""
    norm = getattr(model, "ln_f", None)
    return _gain(getattr(model, "norm", None) if norm is None else norm, d_model)


def circuits(model, unembedding, n_heads: int, d_head: int) -> np.ndarray | None:
    """[L, H, d_head, d_head] W_O^h diag(g_final) W_U W_E W_V^h for every head (see the module's docstring): its
    eigenvalues are the nonzero eigenvalues of the OV circuit. `unembedding` [V, D] (the LM head's weight, or the
    embedding where the model ties them)."""
    import torch

    heads = head_weights(model, n_heads, d_head)
    if heads is None:
        return None
    with torch.no_grad():
        embed = model.get_input_embeddings().weight.detach().double().cpu()  # [V, D]
        unembed = torch.as_tensor(unembedding).detach().double().cpu()  # [V, D]
        vocab = min(len(embed), len(unembed))
        gain = final_gain(model, embed.shape[1])
        # [D, D]: diag(g) W_U W_E, a sum over the vocabulary, in float32 (the costly product), then float64
        inner = gain[:, None] * (unembed[:vocab].T.float() @ embed[:vocab].float()).double()
        return np.stack([np.stack([(o @ inner @ v).numpy() for v, o in layer]) for layer in heads])
