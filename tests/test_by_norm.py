"""Attention weighted by what it moves (Kobayashi et al. 2020): the head statistics `<stat>_by_norm` of a built
site against a direct computation, written as plain loops from the definition, on tiny BERT, GPT-2 and Llama
(grouped key/value heads) models: the value vectors from the model's own projections of each layer's input, each
head's f(x_j) = (x_j W_V^h + b_V^h) W_O^h, the weights alpha_ij |f(x_j)| as shares of their row, each sentence's
mean over its query tokens, then the mean over sentences."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
import torch
from conftest import build_small_site, site_rows

from reportgen.vocab import BY_NORM

pytestmark = pytest.mark.unit

SENTENCES = ["The cat sat on the mat.", "Birds sing, and the dog barks.", "Rain fell all night long!",
             "She gave him the keys to the old car."]


def _values_and_out(model, family: str, layer: int, hidden: torch.Tensor):
    """(values [T, H, d] with grouped heads repeated, W_O^h [H, d, D]) of one layer from its input hidden state."""
    if family == "bert_dir":
        block = model.encoder.layer[layer]
        value = block.attention.self.value(hidden)
        out = block.attention.output.dense.weight.T  # [in, out]
        n_heads = model.config.num_attention_heads
    elif family == "gpt2_dir":
        block = model.h[layer]
        value = block.attn.c_attn(block.ln_1(hidden))[..., 2 * model.config.n_embd:]
        out = block.attn.c_proj.weight  # Conv1D: [in, out]
        n_heads = model.config.n_head
    else:
        block = model.layers[layer]
        value = block.self_attn.v_proj(block.input_layernorm(hidden))
        out = block.self_attn.o_proj.weight.T
        n_heads = model.config.num_attention_heads
    t = value.shape[0]
    d = out.shape[0] // n_heads
    value = value.reshape(t, -1, d)
    value = value.repeat_interleave(n_heads // value.shape[1], dim=1)  # grouped key/value heads
    return value, out.reshape(n_heads, d, -1)


@pytest.mark.build
@pytest.mark.parametrize("family", ["bert_dir", "gpt2_dir", "llama_dir"])
def test_shares_by_norm_equal_a_direct_loop(family, request, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    model_dir = request.getfixturevalue(family)
    site = build_small_site(tmp_path, model_dir, sentences=SENTENCES, top_k=2)
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    punct_words = {(s, w) for s, w, p in site_rows(site, "SELECT sentence_id, word_idx, is_punct FROM words") if p}
    tokens = defaultdict(list)
    for sid, idx, word, special in site_rows(site, "SELECT sentence_id, token_idx, word_idx, is_special FROM tokens "
                                                   "ORDER BY sentence_id, token_idx"):
        tokens[sid].append((word, special))
    corpus = site_rows(site, "SELECT sentence_id, text FROM sentences WHERE role = 'corpus' ORDER BY sentence_id")
    per_sentence = defaultdict(list)  # (layer, head, stat) -> each sentence's mean
    for sid, text in corpus:
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        assert ids.shape[1] == len(tokens[sid])
        with torch.no_grad():
            out = model(input_ids=ids, output_attentions=True, output_hidden_states=True)
        special = [s for _, s in tokens[sid]]
        punct = [w is not None and (sid, w) in punct_words and not s for w, s in tokens[sid]]
        n = len(special)
        last = max((j for j in range(1, n) if special[j]), default=0)
        for layer in range(model.config.num_hidden_layers):
            value, w_out = _values_and_out(model, family, layer, out.hidden_states[layer][0])
            attention = out.attentions[layer][0]
            for head in range(attention.shape[0]):
                norm = [float(torch.linalg.vector_norm(value[j, head] @ w_out[head]).detach()) for j in range(n)]
                shares = defaultdict(list)
                for i in range(n):
                    moved = [float(attention[head, i, j]) * norm[j] for j in range(n)]
                    total = sum(moved)
                    row = [m / total for m in moved]
                    shares["self"].append(row[i])
                    if i > 0:
                        shares["prev"].append(row[i - 1])
                    if i < n - 1:
                        shares["next"].append(row[i + 1])
                    shares["first"].append(row[0])
                    if last:
                        shares["last"].append(row[last])
                    shares["special"].append(sum(r for r, s in zip(row, special) if s))
                    shares["punct"].append(sum(r for r, p in zip(row, punct) if p))
                for stat, values in shares.items():
                    per_sentence[(layer, head, stat)].append(sum(values) / len(values))
    stored = {(l, h, s): v for l, h, s, v in site_rows(site, "SELECT layer, head, stat, value FROM head_stats")}
    checked = 0
    for (layer, head, stat), values in per_sentence.items():
        want = sum(values) / len(values)
        got = stored[(layer, head, f"{stat}_by_norm")]
        assert math.isclose(got, want, abs_tol=2e-5), (family, layer, head, stat, got, want)
        checked += 1
    assert {s for (_, _, s) in per_sentence} <= set(BY_NORM) and checked >= 2 * 2 * 6  # layers, heads, shares
    # attention and what it moves differ: the norms are not all alike
    assert any(abs(stored[(l, h, "first")] - stored[(l, h, "first_by_norm")]) > 1e-3 for l, h, _ in per_sentence)


def test_value_norms_of_grouped_heads_repeat_each_value_head():
    from reportgen.encode import value_norms

    torch.manual_seed(0)
    out = torch.nn.Linear(4 * 3, 5, bias=True)  # 4 query heads of 3 dims, 2 value heads
    value = torch.randn(1, 2, 6, 3)
    norms = value_norms(value, out, 4)
    w = out.weight.T.reshape(4, 3, 5)
    for head in range(4):
        for j in range(6):
            want = torch.linalg.vector_norm(value[0, head // 2, j] @ w[head])  # the output bias is not moved
            assert float(norms[0, head, j]) == pytest.approx(float(want.detach()), rel=1e-5)
    assert np.all(norms.numpy() >= 0)
