"""The OV circuit of each head of a causal LM, W_E W_V^h W_O^h W_U (Elhage et al. 2021, "A Mathematical Framework
for Transformer Circuits"), in the factored form whose eigenvalues are the circuit's nonzero ones.

The circuit is a [V, V] matrix of rank d_head at most; by the cyclic property, its nonzero eigenvalues are those of
W_O^h W_U W_E W_V^h [d_head, d_head], so the whole vocabulary is used without forming a V x V matrix (W_U W_E
[d_model, d_model] is computed once). The norms: the gain of the block's input norm (LayerNorm or RMSNorm) is folded
into W_V, the gain of a norm on the attention's output (Gemma 2 and 3, OLMo 2: it normalises the sum of the heads'
outputs before the residual) into W_O, and the gain of the final norm into W_U, as TransformerLens's fold_ln does
(Gemma's RMSNorm multiplies by 1 + weight: that is its gain); the normalisation itself (the division by each
token's norm, and LayerNorm's centring), every bias, Gemma's scaling of the embeddings by sqrt(d_model) and its
final logit soft-capping are left out, as in Elhage et al.'s circuits (the positive-eigenvalue fraction does not
change with a positive scale). Grouped-query attention (fewer key/value heads than query heads) is read as
transformers' repeat_kv repeats it: query head h uses value head h // (n_heads / n_kv_heads). Fused projections
(Phi-3's qkv_proj, GPT-NeoX's query_key_value) are sliced as their attention slices them (families.py).

Supported: every causal family of families.ADAPTERS; another model gets no copying score (`circuits` returns
None).
"""

from __future__ import annotations

import numpy as np

from ..families import ADAPTERS


def _gain(norm, d_model: int, offset: float = 0.0):
    """A norm's gain [D] as float64 on the CPU: offset + its weight (ones where there is no norm or no weight)."""
    import torch

    weight = getattr(norm, "weight", None)
    return torch.ones(d_model, dtype=torch.float64) if weight is None else offset + weight.detach().double().cpu()


def _adapter(model):
    return ADAPTERS.get(getattr(getattr(model, "config", None), "model_type", None))


def head_weights(model, n_heads: int, d_head: int) -> list[list[tuple]] | None:
    """Per layer and head, (W_V^h [D, d] with the input norm's gain folded in, W_O^h [d, D] with the gain of a norm
    on the attention's output folded in) as float64 CPU tensors, from a base model whose family (families.ADAPTERS)
    says where its value weights are; None for another model."""
    import torch

    adapter = _adapter(model)
    if adapter is None or adapter.value is None:
        return None
    out = []
    for block in adapter.blocks(model):
        v = adapter.value(block).detach().double().cpu()  # [n_kv * d, D] (nn.Linear's [out, in])
        module = adapter.out_proj(block)
        o = module.weight.detach().double().cpu()
        o = o.T if isinstance(module, torch.nn.Linear) else o  # [H * d, D] (GPT-2's Conv1D is [in, out] already)
        d_model = v.shape[1]
        gain_in = _gain(adapter.input_norm(block), d_model, adapter.gain_offset)[:, None]
        gain_out = _gain(adapter.output_norm(block), d_model, adapter.gain_offset)[None, :]
        group = n_heads // (v.shape[0] // d_head)  # query heads per value head (repeat_kv)
        out.append([(gain_in * v[(h // group) * d_head:(h // group + 1) * d_head].T,
                     o[h * d_head:(h + 1) * d_head] * gain_out) for h in range(n_heads)])
    return out


def final_gain(model, d_model: int):
    """The final norm's gain [D] (ones where the model has none)."""
    adapter = _adapter(model)
    norm = None if adapter is None else adapter.final_norm(model)
    return _gain(norm, d_model, 0.0 if adapter is None else adapter.gain_offset)


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
