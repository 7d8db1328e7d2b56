"""Tokenising, aligning model tokens to words, and batched forward passes that capture what search needs."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .align import align
from .annotate import Word
from .errors import InputError, ModelError
from .models import LoadedModel, device_of
from .store.rows import TokenRow

Token = TokenRow  # a model token of a sentence, as the `tokens` table holds it


@dataclass(frozen=True)
class Tokenized:
    input_ids: tuple[int, ...]
    tokens: tuple[Token, ...]
    truncated: bool



@dataclass(frozen=True)
class Encoded:
    """Everything a batch of sentences gives, as numpy arrays; T is the longest sentence in the batch.

    hidden:    [L, B, T, d_model]   each block's output hidden state
    context:   [L, B, T, H, d_head] each head's softmax(QK^T/sqrt(d))V, before the output projection
    attention: [L, B, H, T, T]      attention weights (rows: from token, columns: to token)
    mask:      [B, T]               True for real (non-padding) tokens
    """

    hidden: np.ndarray
    context: np.ndarray
    attention: np.ndarray
    mask: np.ndarray


def tokenize(loaded: LoadedModel, text: str, words: Sequence[Word], *, strict: bool, where: str,
             sentence_id: int = 0) -> Tokenized:
    """Tokenise one sentence (the sentence `sentence_id`). With `strict`, a sentence over the model's limit is an
    error, else it is truncated."""
    tok = loaded.tokenizer
    limit = loaded.info.max_length
    # split_special_tokens: literal "[CLS]" or "<|endoftext|>" in the text is text, not a control token.
    enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True,
              split_special_tokens=True, truncation=False)
    ids = list(enc["input_ids"])
    truncated = len(ids) > limit
    if truncated:
        if strict:
            raise InputError(f"{where}: {len(ids)} tokens, over the model's limit of {limit}; shorten the sentence")
        enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True,
                  split_special_tokens=True, truncation=True, max_length=limit)
        ids = list(enc["input_ids"])
    special = [bool(s) for s in enc["special_tokens_mask"]]
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    word_of = align(offsets, special, words)
    pieces = tok.convert_ids_to_tokens(ids)
    tokens = tuple(
        Token(sentence_id, i, piece, word_of[i], special[i], *(offsets[i] if not special[i] else (0, 0)))
        for i, piece in enumerate(pieces)
    )
    return Tokenized(tuple(ids), tokens, truncated)


def encode(loaded: LoadedModel, batch: Sequence[Tokenized]) -> Encoded:
    """One forward pass over a batch (right-padded), with a hook on every attention output projection."""
    info = loaded.info
    ids, mask = ids_and_mask(loaded, [t.input_ids for t in batch])
    captured: list[torch.Tensor] = []
    hooks = [
        loaded.adapter.out_proj(block).register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
        for block in loaded.adapter.blocks(loaded.model)
    ]
    try:
        with torch.inference_mode():
            out = loaded.model(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    finally:
        for h in hooks:
            h.remove()
    if not out.attentions or len(captured) != info.n_layers:
        raise ModelError(f"{info.name}: the model returned no attention weights; it must support eager attention")
    b, t = ids.shape
    # only the results come back to the CPU, as float32 whatever the model's precision
    hidden = torch.stack(out.hidden_states[1:]).float().cpu().numpy()
    context = torch.stack(captured).float().reshape(info.n_layers, b, t, info.n_heads, info.d_head).cpu().numpy()
    attention = torch.stack(out.attentions).float().cpu().numpy()
    return Encoded(hidden, context, attention, mask.bool().cpu().numpy())


def sequence_attention(loaded: LoadedModel, input_ids: Sequence[int]) -> np.ndarray:
    """The attention [L, H, T, T] of one sequence of token ids (a probe followed by its continuation), float32."""
    with torch.inference_mode():
        out = loaded.model(input_ids=torch.tensor([list(input_ids)], device=device_of(loaded)),
                           output_attentions=True)
    return torch.stack(out.attentions)[:, 0].float().cpu().numpy()


def ids_and_mask(loaded: LoadedModel, sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input ids and attention mask [B, T] of a batch of token id sequences, on the model's device."""
    length = max(len(x) for x in sequences)
    pad = loaded.tokenizer.pad_token_id or 0
    ids = torch.full((len(sequences), length), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, x in enumerate(sequences):
        ids[row, : len(x)] = torch.tensor(list(x))
        mask[row, : len(x)] = 1
    device = device_of(loaded)
    return ids.to(device), mask.to(device)


@contextlib.contextmanager
def _eager_attention(loaded: LoadedModel, name: str, make) -> Iterator[None]:
    """Run the model, inside the block, with the attention function `make(eager)` registered through transformers'
    AttentionInterface under `name` (with eager attention's masks, causal ones included), where `eager` is the
    architecture's own eager attention: a function that records what it needs and calls it."""
    import sys

    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(name, make(sys.modules[type(loaded.model).__module__].eager_attention_forward))
    AttentionMaskInterface.register(name, eager_mask)
    config = loaded.model.config
    before = config._attn_implementation
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = before


_LAYERS = "reportgen_layers"


def value_norms(value: torch.Tensor, out_proj, n_heads: int) -> torch.Tensor:
    """|f_h(x_j)| for every head h and key token j, [B, H, T] float32: the norm of what head h moves from token j
    into the output, f_h(x_j) = (x_j W_V^h + b_V^h) W_O^h (Kobayashi et al. 2020, "Attention is Not Only a Weight":
    the value vector, its bias included, through the head's slice of the output projection, whose bias is not
    part of any token's contribution). `value`: the attention function's values [B, H_kv, T, d_head] (grouped key
    and value heads are repeated for the query heads that share them); `out_proj`: the output projection, an
    nn.Linear ([out, in] weight) or GPT-2's Conv1D ([in, out] weight)."""
    v = value.detach().float()
    if v.shape[1] != n_heads:  # grouped-query attention: each value head serves n_heads / H_kv query heads
        v = v.repeat_interleave(n_heads // v.shape[1], dim=1)
    weight = out_proj.weight.detach().float()
    w = weight.T if isinstance(out_proj, torch.nn.Linear) else weight  # [H * d_head, d_model]
    d = v.shape[-1]
    w = w.reshape(n_heads, d, w.shape[-1])
    gram = w @ w.transpose(1, 2)  # [H, d, d]: |v W|^2 = v (W W^T) v^T
    return torch.einsum("bhtd,hde,bhte->bht", v, gram, v).clamp(min=0).sqrt()


def encode_layers(loaded: LoadedModel, batch: Sequence[Tokenized], on_attention, on_hidden) -> None:
    """One forward pass over a batch that hands each layer over as soon as it is computed, on the model's device
    (float32 tensors): `on_attention(layer, attention, context, norms)` with attention [B, H, T, T], context
    [B, T, H, d_head] (every head's softmax(QK^T/sqrt(d))V before the output projection) and norms [B, H, T] (the
    norm of what each head moves from each token, `value_norms`), then
    `on_hidden(layer, hidden)` with the block's output hidden state [B, T, d_model] (as `output_hidden_states`
    gives it: the last block's after the model's final norm, where it has one). Nothing comes back to the CPU,
    and no layer's tensors are kept once its calls return: memory holds one layer, not every layer.

    The attention weights come from an attention function registered through transformers' AttentionInterface
    that calls the architecture's own eager attention (with eager's masks) and keeps its weights for the output
    projection's hook; the hidden states from forward hooks on the blocks and the model's last hidden state."""
    info = loaded.info
    weights: list[torch.Tensor] = []

    def make(eager):
        def attend(module, query, key, value, attention_mask, *args, **kwargs):
            out, attention = eager(module, query, key, value, attention_mask, *args, **kwargs)
            weights.append((attention, value))
            return out, None  # the model keeps no attention of its own
        return attend

    def at_projection(layer: int):
        def hook(module, args):
            attention, value = weights.pop()
            b, t = attention.shape[0], attention.shape[-1]
            on_attention(layer, attention.float(),
                         args[0].detach().float().reshape(b, t, info.n_heads, info.d_head),
                         value_norms(value, module, info.n_heads))
        return hook

    def after_block(layer: int):
        def hook(_module, _args, output):
            on_hidden(layer, (output[0] if isinstance(output, tuple) else output).float())
        return hook

    ids, mask = ids_and_mask(loaded, [t.input_ids for t in batch])
    blocks = loaded.adapter.blocks(loaded.model)
    hooks = [loaded.adapter.out_proj(block).register_forward_pre_hook(at_projection(layer))
             for layer, block in enumerate(blocks)]
    # every block but the last: the last one's hidden state is the model's output (after a final norm)
    hooks += [block.register_forward_hook(after_block(layer)) for layer, block in enumerate(blocks[:-1])]
    try:
        with _eager_attention(loaded, _LAYERS, make), torch.inference_mode():
            out = loaded.model(input_ids=ids, attention_mask=mask)
            on_hidden(len(blocks) - 1, out.last_hidden_state.float())
    finally:
        for h in hooks:
            h.remove()


_CAPTURE = "reportgen_capture"


def queries_keys(loaded: LoadedModel, tokenized: Tokenized) -> tuple[np.ndarray, np.ndarray]:
    """The query and key vectors of one sentence as its attention uses them, [L, H, T, d_head] each:
    after rotary position embeddings (and QK-norm, where the family has it), with grouped key heads repeated for the
    query heads that share them. q.k / sqrt(d_head) is the head's score (the neuron view's): where the attention
    scales scores by another factor than d_head^-1/2 (Gemma's query_pre_attn_scalar^-1/2, GPT-2's
    scale_attn_by_inverse_layer_idx), the query is multiplied by scale x sqrt(d_head). A soft cap on the scores
    (Gemma 2's attn_logit_softcapping) and a sliding window are not in the vectors: the stored attention has them.

    The model runs once with an attention function registered through transformers' AttentionInterface
    that records its inputs and then calls the architecture's own eager attention, with eager's masks.
    """
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []

    def make(eager):
        def capture(module, query, key, value, attention_mask, *args, **kwargs):
            scaling = kwargs.get("scaling")
            factor = 1.0 if scaling is None else scaling * math.sqrt(query.shape[-1])
            captured.append((query.detach() * factor if not math.isclose(factor, 1.0) else query.detach(),
                             key.detach()))
            return eager(module, query, key, value, attention_mask, *args, **kwargs)
        return capture

    with _eager_attention(loaded, _CAPTURE, make), torch.inference_mode():
        loaded.model(input_ids=torch.tensor([tokenized.input_ids], device=device_of(loaded)))
    info = loaded.info
    if len(captured) != info.n_layers:
        raise ModelError(f"{info.name}: could not record the attention's queries and keys")
    queries = torch.stack([q[0] for q, _ in captured])  # [L, H, T, d]
    keys = torch.stack([k[0].repeat_interleave(info.n_heads // k.shape[1], dim=0) for _, k in captured])
    return queries.float().cpu().numpy(), keys.float().cpu().numpy()
