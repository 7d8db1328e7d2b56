"""The captured per-head context vectors are softmax(QK^T/sqrt(d))V, for each supported family."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reportgen.annotate import annotate
from reportgen.encode import encode, queries_keys, tokenize
from reportgen.models import load_model

pytestmark = pytest.mark.unit

TEXTS = ["The cat sat on the mat.", "Birds sing early in the morning, and the dog barks."]


def _values(loaded, layer: int, block_input: torch.Tensor) -> torch.Tensor:
    """Value vectors [B, T, H, d_head] of one block, computed independently from the model's weights."""
    info = loaded.info
    block = loaded.adapter.blocks(loaded.model)[layer]
    b, t, _ = block_input.shape
    if info.architecture == "bert":
        v = block.attention.self.value(block_input)
        return v.reshape(b, t, info.n_heads, info.d_head)
    if info.architecture == "gpt2":
        v = block.attn.c_attn(block.ln_1(block_input)).split(info.d_model, dim=-1)[2]
        return v.reshape(b, t, info.n_heads, info.d_head)
    if info.architecture == "llama":
        v = block.self_attn.v_proj(block.input_layernorm(block_input))
        n_kv = v.shape[-1] // info.d_head
        v = v.reshape(b, t, n_kv, info.d_head)
        return v.repeat_interleave(info.n_heads // n_kv, dim=2)  # grouped key/value heads
    raise AssertionError(info.architecture)


@pytest.mark.parametrize("family", ["bert_dir", "gpt2_dir", "llama_dir"])
def test_context_is_attention_weighted_values(family, request):
    loaded = load_model(str(request.getfixturevalue(family)))
    words = list(annotate(TEXTS))
    batch = [tokenize(loaded, t, w, strict=True, where="test") for t, w in zip(TEXTS, words)]
    enc = encode(loaded, batch)
    info = loaded.info
    assert enc.context.shape[:2] == (info.n_layers, 2) and enc.context.shape[3:] == (info.n_heads, info.d_head)
    assert enc.attention.shape[:3] == (info.n_layers, 2, info.n_heads)
    length = max(len(t.input_ids) for t in batch)
    ids = torch.full((2, length), loaded.tokenizer.pad_token_id)
    mask = torch.zeros((2, length), dtype=torch.long)
    for row, t in enumerate(batch):
        ids[row, : len(t.input_ids)] = torch.tensor(t.input_ids)
        mask[row, : len(t.input_ids)] = 1
    with torch.inference_mode():
        hidden = loaded.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        for layer in range(info.n_layers):
            v = _values(loaded, layer, hidden[layer]).numpy()
            expected = np.einsum("bhtj,bjhd->bthd", enc.attention[layer], v)
            real = enc.mask  # padding queries are not used
            np.testing.assert_allclose(enc.context[layer][real], expected[real], rtol=1e-4, atol=1e-5)
    # attention rows are distributions over real tokens only; causal models never look ahead
    for row, t in enumerate(batch):
        n = len(t.input_ids)
        att = enc.attention[:, row, :, :n, :]
        np.testing.assert_allclose(att.sum(-1), 1, atol=1e-5)
        assert np.abs(att[..., n:]).max(initial=0) < 1e-6
        if info.causal:
            assert np.abs(np.triu(att[..., :n], k=1)).max() < 1e-6
    # hidden states are the blocks' outputs
    np.testing.assert_allclose(enc.hidden[0][enc.mask], hidden[1].numpy()[enc.mask], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["bert_dir", "gpt2_dir", "llama_dir"])
def test_queries_and_keys_give_the_attention(family, request):
    """The neuron view's vectors: softmax(q.k / sqrt(d)) over the allowed keys is the model's attention."""
    loaded = load_model(str(request.getfixturevalue(family)))
    (words,) = annotate(TEXTS[:1])
    tok = tokenize(loaded, TEXTS[0], words, strict=True, where="test")
    queries, keys = queries_keys(loaded, tok)
    info = loaded.info
    n = len(tok.input_ids)
    assert queries.shape == keys.shape == (info.n_layers, info.n_heads, n, info.d_head)
    scores = np.einsum("lhid,lhjd->lhij", queries, keys) / np.sqrt(info.d_head)
    if info.causal:
        scores = np.where(np.tril(np.ones((n, n), dtype=bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, encode(loaded, [tok]).attention[:, 0], atol=1e-5)
    assert loaded.model.config._attn_implementation == "eager"  # left as it was


def test_a_model_that_returns_no_attention_is_a_model_error(bert_dir, monkeypatch):
    import types

    from reportgen.errors import ModelError

    loaded = load_model(str(bert_dir))
    (words,) = annotate(TEXTS[:1])
    tok = tokenize(loaded, TEXTS[0], words, strict=True, where="test")
    monkeypatch.setattr(type(loaded.model), "__call__",
                        lambda self, **kw: types.SimpleNamespace(attentions=None, hidden_states=None))
    with pytest.raises(ModelError, match="no attention weights"):
        encode(loaded, [tok])
