"""Today's open model families (Qwen2, Qwen3, Gemma 2, Gemma 3 text, Mistral, Phi-3, OLMo 2, GPT-NeoX), each a tiny
random-initialised causal LM (tiny_families.py), against computations written here from each definition:

- the attention the report stores is the model's own (transformers' eager attention), its rows sum to 1 over the
  keys a query may see (itself and earlier tokens, inside the layer's sliding window where it has one) and are 0
  elsewhere; it is softmax(cap(scale q.k) + mask) of the captured queries and keys with the family's scale and soft
  cap; each head's context vector is the attention-weighted sum of value vectors computed here from the layer's
  input and the model's own projections (fused ones sliced here);
- the value norms |f_h(x_j)| = |(x_j W_V^h + b_V^h) W_O^h| (Kobayashi et al. 2020) against a loop, and a built
  report's `<share>_by_norm` statistics against a direct loop over its sentences (tests/test_by_norm.py's pattern);
- removing one head (and one layer's heads) against a hook written here (tests/test_importance.py's pattern);
- the copying score against the eigenvalues of the whole V x V OV circuit made by calling the model's own modules;
- a whole tiny build per family (marker `build`)."""

from __future__ import annotations

import functools
import math
from collections import defaultdict

import numpy as np
import pytest
import torch
from conftest import build_small_site, site_rows
from tiny_families import FAMILIES, save_family

from reportgen.analyses import importance
from reportgen.analyses.detector_scores import copying_score
from reportgen.analyses.detector_weights import circuits
from reportgen.annotate import annotate
from reportgen.encode import encode, encode_layers, queries_keys, tokenize
from reportgen.models import load_model

pytestmark = pytest.mark.unit

ALL = list(FAMILIES)
# the second is longer than every window (4 tokens), so that windows mask keys a causal mask would let through
TEXTS = ["The cat sat on the mat.", "Birds sing early in the morning, and the dog barks."]


@pytest.fixture(scope="module")
def family_model(tmp_path_factory):
    """family -> (its saved folder, the model loaded from it by reportgen), made once per family."""
    made: dict = {}

    def get(family: str):
        if family not in made:
            folder = save_family(family, tmp_path_factory.mktemp(family))
            made[family] = (folder, load_model(str(folder)))
        return made[family]
    return get


def _config(loaded):
    return loaded.model.config


def _windows(loaded) -> list[int | None]:
    """Each layer's sliding window (a key j is seen from query i when i - j < window), None for full attention,
    from the configuration as the family's own code reads it."""
    cfg = _config(loaded)
    window = getattr(cfg, "sliding_window", None)
    types = getattr(cfg, "layer_types", None) or ["sliding_attention" if window else "full_attention"] * cfg.num_hidden_layers
    return [window if kind == "sliding_attention" else None for kind in types]


def _allowed(n: int, length: int, window: int | None) -> np.ndarray:
    """[length, length]: True where query i may see key j (a real token, causal, inside the window)."""
    i, j = np.indices((length, length))
    ok = (j <= i) & (j < n)
    return ok if window is None else ok & (i - j < window)


def _block(loaded, layer: int):
    return loaded.model.layers[layer]  # every family here keeps its blocks in `layers`


def _out_proj(loaded, layer: int):
    block = _block(loaded, layer)
    return block.attention.dense if loaded.info.architecture == "gpt_neox" else block.self_attn.o_proj


def _input_norm(loaded, layer: int):
    """The norm a block's attention reads its input through (OLMo 2 has none there)."""
    return None if loaded.info.architecture == "olmo2" else _block(loaded, layer).input_layernorm


@torch.no_grad()
def _project(loaded, layer: int, x: torch.Tensor) -> torch.Tensor:
    """Value vectors [B, T, H, d] of one block from its normed input x [B, T, D], each query head's (grouped
    key/value heads repeated), by the model's own projections, fused ones sliced as each family's code slices them."""
    info, cfg, block = loaded.info, _config(loaded), _block(loaded, layer)
    b, t, _ = x.shape
    h, d = info.n_heads, info.d_head
    if info.architecture == "gpt_neox":  # query_key_value: per head, d query, d key and d value outputs
        v = block.attention.query_key_value(x).view(b, t, h, 3 * d)[..., 2 * d:]
    elif info.architecture == "phi3":  # qkv_proj: every query head, then every key head, then every value head
        v = block.self_attn.qkv_proj(x)[..., (h + cfg.num_key_value_heads) * d:]
    else:
        v = block.self_attn.v_proj(x)
    v = v.reshape(b, t, -1, d)
    return v.repeat_interleave(h // v.shape[2], dim=2)


@torch.no_grad()
def _values(loaded, layer: int, x: torch.Tensor) -> torch.Tensor:
    """Value vectors [B, T, H, d] of one block from its input x [B, T, D]."""
    norm = _input_norm(loaded, layer)
    return _project(loaded, layer, x if norm is None else norm(x))


@functools.cache
def _words() -> tuple:
    return tuple(annotate(TEXTS))  # spaCy is loaded once, not per test


def _batch(loaded):
    return [tokenize(loaded, t, w, strict=True, where="test") for t, w in zip(TEXTS, _words())]


def _padded(loaded, batch):
    length = max(len(t.input_ids) for t in batch)
    ids = torch.full((len(batch), length), loaded.tokenizer.pad_token_id)
    mask = torch.zeros((len(batch), length), dtype=torch.long)
    for row, t in enumerate(batch):
        ids[row, :len(t.input_ids)] = torch.tensor(t.input_ids)
        mask[row, :len(t.input_ids)] = 1
    return ids, mask


@pytest.mark.parametrize("family", ALL)
def test_attention_is_the_models_own_with_its_windows_and_contexts_are_weighted_values(family, family_model):
    loaded = family_model(family)[1]
    info = loaded.info
    batch = _batch(loaded)
    enc = encode(loaded, batch)
    ids, mask = _padded(loaded, batch)
    with torch.inference_mode():
        out = loaded.model(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    windows = _windows(loaded)
    cut = 0  # entries a causal mask allows and a window masks
    for layer in range(info.n_layers):
        real = enc.mask[:, None, :, None]  # padding queries are not used
        np.testing.assert_allclose(np.where(real, enc.attention[layer], 0),
                                   np.where(real, out.attentions[layer].numpy(), 0), atol=1e-6)
        v = _values(loaded, layer, out.hidden_states[layer]).numpy()
        expected = np.einsum("bhtj,bjhd->bthd", enc.attention[layer], v)
        np.testing.assert_allclose(enc.context[layer][enc.mask], expected[enc.mask], rtol=1e-4, atol=1e-5)
        for row, t in enumerate(batch):
            n = len(t.input_ids)
            att = enc.attention[layer, row, :, :n]  # [H, n, T]: the real query rows
            allowed = _allowed(n, att.shape[-1], windows[layer])[:n]
            np.testing.assert_allclose(att.sum(-1), 1, atol=1e-5)
            assert np.abs(att[:, ~allowed]).max(initial=0) == 0  # exactly 0: eager's mask is the dtype's minimum
            assert att[:, allowed].min() > 0
            cut += int((_allowed(n, n, None) & ~_allowed(n, n, windows[layer])).sum())
    assert (cut > 0) == any(w is not None for w in windows)
    assert (family in ("qwen2", "gemma2", "gemma3_text", "mistral", "phi3")) == (cut > 0)
    # the hidden states are the blocks' outputs
    np.testing.assert_allclose(enc.hidden[0][enc.mask], out.hidden_states[1].numpy()[enc.mask], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ALL)
def test_queries_and_keys_give_the_attention_as_the_neuron_view_computes_it(family, family_model):
    """The neuron view's vectors: softmax over the allowed keys of cap(q.k / sqrt(d_head)), with the family's soft
    cap (Gemma 2's attn_logit_softcapping: c tanh(s / c)), is the model's attention; the captured queries and keys
    are after rotary embeddings and QK-norm, and a query carries the family's own scale (Gemma's
    query_pre_attn_scalar^-1/2 where it is not d_head^-1/2)."""
    loaded = family_model(family)[1]
    info, cfg = loaded.info, _config(loaded)
    tok = _batch(loaded)[1]
    queries, keys = queries_keys(loaded, tok)
    n = len(tok.input_ids)
    assert queries.shape == keys.shape == (info.n_layers, info.n_heads, n, info.d_head)
    cap = getattr(cfg, "attn_logit_softcapping", None)
    attention = encode(loaded, [tok]).attention[:, 0]
    for layer, window in enumerate(_windows(loaded)):
        scores = np.einsum("hid,hjd->hij", queries[layer].astype(np.float64), keys[layer]) / math.sqrt(info.d_head)
        capped = scores if cap is None else cap * np.tanh(scores / cap)
        capped = np.where(_allowed(n, n, window), capped, -np.inf)
        weights = np.exp(capped - capped.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        np.testing.assert_allclose(weights, attention[layer], atol=1e-5)
        if cap is not None:  # the cap bites on these weights
            plain = np.where(_allowed(n, n, window), scores, -np.inf)
            plain = np.exp(plain - plain.max(-1, keepdims=True))
            assert np.abs(plain / plain.sum(-1, keepdims=True) - weights).max() > 1e-2
    if family.startswith("gemma"):  # query_pre_attn_scalar (16) is not d_head (8): the scale bites
        assert cfg.query_pre_attn_scalar != info.d_head
    assert loaded.model.config._attn_implementation == "eager"


@pytest.mark.parametrize("family", ALL)
def test_value_norms_are_what_each_head_moves_from_each_token(family, family_model):
    """The corpus pass's layers (encode_layers): the attention of the whole-model encoding, and the value norms
    |f_h(x_j)| = |(x_j W_V^h + b_V^h) W_O^h|, the output projection's bias left out, by a loop over heads and
    tokens."""
    loaded = family_model(family)[1]
    info = loaded.info
    batch = _batch(loaded)
    found: dict[int, np.ndarray] = {}
    attention: dict[int, np.ndarray] = {}

    def on_attention(layer, att, _context, norms):
        found[layer], attention[layer] = norms.numpy(), att.numpy()
    encode_layers(loaded, batch, on_attention, lambda layer, hidden: None)
    # the corpus pass's attention (one layer at a time) is the whole-model encoding's, windows included
    whole = encode(loaded, batch)
    for layer in range(info.n_layers):
        real = whole.mask[:, None, :, None]
        np.testing.assert_allclose(np.where(real, attention[layer], 0), np.where(real, whole.attention[layer], 0),
                                   atol=1e-6)
    ids, mask = _padded(loaded, batch)
    with torch.inference_mode():
        hidden = loaded.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        for layer in range(info.n_layers):
            v = _values(loaded, layer, hidden[layer])
            w = _out_proj(loaded, layer).weight  # nn.Linear: [D, H * d]
            for row, t in enumerate(batch):
                for head in range(info.n_heads):
                    w_o = w[:, head * info.d_head:(head + 1) * info.d_head]
                    for j in range(len(t.input_ids)):
                        want = float(torch.linalg.vector_norm(w_o @ v[row, j, head]))
                        assert found[layer][row, head, j] == pytest.approx(want, rel=1e-4), (layer, head, j)


@pytest.mark.parametrize("family", ALL)
def test_removing_a_head_equals_a_hook_written_here(family, family_model):
    loaded = family_model(family)[1]
    info = loaded.info
    ids = list(_batch(loaded)[1].input_ids)
    one = torch.tensor([ids])
    heads = [(0, 1), (1, 2)]
    masks, keys = importance.masks_for(info.n_layers, info.n_heads, heads)
    found, flips = importance.ablate(loaded, ids, masks)

    def loss():
        with torch.no_grad():
            logits = loaded.task(input_ids=one).logits[0].double()
        return float(torch.nn.functional.cross_entropy(logits[:-1], one[0, 1:]))

    intact = loss()
    d = info.d_head
    for k, (layer, head) in enumerate(keys):
        removed = range(info.n_heads) if head is None else [head]

        def zero(_module, args, removed=removed):
            x = args[0].clone()
            for h in removed:
                x[..., h * d:(h + 1) * d] = 0
            return (x,)
        hook = _out_proj(loaded, layer).register_forward_pre_hook(zero)
        try:
            want = loss() - intact
        finally:
            hook.remove()
        assert found[k] == pytest.approx(want, rel=1e-4, abs=1e-5), (layer, head)
        assert abs(want) > 1e-4  # the head's removal changes the loss: the comparison can fail
    assert flips is None and len(keys) == len(heads) + info.n_layers


def _gain(norm, d_model: int) -> torch.Tensor:
    """A norm's per-dimension gain read by calling it: an RMSNorm maps sqrt(D) e_k (RMS 1) to gain_k e_k; a
    LayerNorm's (it centres, so a one-hot input does not show it) is its weight."""
    if isinstance(norm, torch.nn.LayerNorm):
        return norm.weight.detach().double()
    with torch.no_grad():
        return norm.double()(math.sqrt(d_model) * torch.eye(d_model, dtype=torch.float64)).diagonal()


@pytest.mark.parametrize("family", ALL)
def test_the_copying_score_is_the_eigenvalue_fraction_of_the_whole_ov_circuit(family, family_model):
    """The V x V circuit W_E diag(g_in) W_V^h W_O^h diag(g_out) diag(g_final) W_U made by calling the model's modules
    on every token's embedding (biases left out), against the factored circuit reportgen computes."""
    loaded = family_model(family)[1]
    info = loaded.info
    base = loaded.model
    found = circuits(base, loaded.task.get_output_embeddings().weight, info.n_heads, info.d_head)
    assert found is not None
    embed = base.get_input_embeddings().weight.detach().double()
    unembed = loaded.task.get_output_embeddings().weight.detach().double()
    final = _gain(base.final_layer_norm if family == "gpt_neox" else base.norm, info.d_model)
    d = info.d_head
    try:
        base.double()
        with torch.no_grad():
            for layer in range(info.n_layers):
                block = _block(loaded, layer)
                norm_in = _input_norm(loaded, layer)
                x = embed if norm_in is None else embed * _gain(norm_in, info.d_model)
                v = _project(loaded, layer, x[None])[0] - _project(loaded, layer, torch.zeros_like(x)[None])[0]
                proj = _out_proj(loaded, layer)
                out_gain = (_gain(block.post_attention_layernorm, info.d_model)
                            if family in ("gemma2", "gemma3_text", "olmo2") else torch.ones(info.d_model))
                for head in range(info.n_heads):
                    full = torch.zeros(len(embed), info.n_heads * d, dtype=torch.float64)
                    full[:, head * d:(head + 1) * d] = v[:, head]
                    out = (proj(full) - proj(torch.zeros_like(full))) * out_gain * final  # [V, D]
                    eig = np.linalg.eigvals((out @ unembed.T).numpy())
                    want = eig.sum().real / np.abs(eig).sum()
                    assert copying_score(found[layer, head]) == pytest.approx(want, abs=1e-6), (layer, head)
    finally:
        base.float()


# ---- a whole build per family ---------------------------------------------------------------------------------

SENTENCES = ["The cat sat on the mat.", "Birds sing, and the dog barks.", "Rain fell all night long!",
             "She gave him the keys to the old car."]
CHEAP = dict(top_k=2, importance_sentences=2, attribution_steps=4, control_sentences=0, detector_sequences=4,
             detector_min_tokens=4, detector_max_tokens=6, detector_sentences=4, detector_ablation_sequences=2,
             detector_draws=2, similarity_sentences=4)


def _shares_by_norm(loaded, site) -> dict:
    """(layer, head, share) -> the mean over the corpus sentences of each sentence's mean over its query tokens of
    alpha_ij |f(x_j)| / sum_j' alpha_ij' |f(x_j')|, by loops, with the model's own attention."""
    info = loaded.info
    punct_words = {(s, w) for s, w, p in site_rows(site, "SELECT sentence_id, word_idx, is_punct FROM words") if p}
    tokens = defaultdict(list)
    for sid, word, special in site_rows(site, "SELECT sentence_id, word_idx, is_special FROM tokens "
                                              "ORDER BY sentence_id, token_idx"):
        tokens[sid].append((word, special))
    per_sentence = defaultdict(list)
    for sid, text in site_rows(site, "SELECT sentence_id, text FROM sentences WHERE role = 'corpus'"):
        ids = torch.tensor([loaded.tokenizer(text)["input_ids"]])
        n = ids.shape[1]
        assert n == len(tokens[sid])
        special = [s for _, s in tokens[sid]]
        punct = [w is not None and (sid, w) in punct_words and not s for w, s in tokens[sid]]
        with torch.no_grad():
            out = loaded.model(input_ids=ids, output_attentions=True, output_hidden_states=True)
            for layer in range(info.n_layers):
                v = _values(loaded, layer, out.hidden_states[layer])[0]
                w = _out_proj(loaded, layer).weight
                for head in range(info.n_heads):
                    w_o = w[:, head * info.d_head:(head + 1) * info.d_head]
                    norm = [float(torch.linalg.vector_norm(w_o @ v[j, head])) for j in range(n)]
                    shares = defaultdict(list)
                    for i in range(n):
                        moved = [float(out.attentions[layer][0, head, i, j]) * norm[j] for j in range(n)]
                        row = [m / sum(moved) for m in moved]
                        shares["self"].append(row[i])
                        shares["first"].append(row[0])
                        shares["special"].append(sum(r for r, s in zip(row, special) if s))
                        shares["punct"].append(sum(r for r, p in zip(row, punct) if p))
                        if i > 0:
                            shares["prev"].append(row[i - 1])
                        if i < n - 1:
                            shares["next"].append(row[i + 1])
                    for stat, values in shares.items():
                        per_sentence[(layer, head, stat)].append(sum(values) / len(values))
    return {key: sum(v) / len(v) for key, v in per_sentence.items()}


@pytest.mark.build
@pytest.mark.parametrize("family", ALL)
def test_a_tiny_model_of_each_family_builds_end_to_end(family, family_model, tmp_path):
    folder, loaded = family_model(family)
    info = loaded.info
    site = build_small_site(tmp_path, folder, probes="The dog sat on the table.\n", sentences=SENTENCES, **CHEAP)
    meta = dict(site_rows(site, "SELECT key, value FROM meta"))
    assert (meta["architecture"], meta["n_layers"], meta["n_heads"]) == (family, "2", "4")
    heads = sorted(p.name for p in (site / "heads").glob("*.html"))
    assert heads == sorted(f"L{l}H{h}.html" for l in range(2) for h in range(4))
    assert (site / "index.html").is_file() and len(list((site / "sentences").glob("*.html"))) == 1
    # every probe token has top_k matches in every space: the embedding, each head, the whole layer
    per_token = site_rows(site, "SELECT count(*) FROM neighbours GROUP BY sentence_id, token_idx")
    assert {c for (c,) in per_token} == {2 * info.n_layers * (info.n_heads + 2)}
    # the causal LM's analyses: a copying score from the weights for every head, every head's importance
    copying = site_rows(site, "SELECT count(*) FROM head_detectors WHERE detector = 'copying' AND source = 'weights'")
    assert copying == [(info.n_layers * info.n_heads,)]
    assert site_rows(site, "SELECT count(*) FROM head_importance WHERE head IS NOT NULL")[0][0] >= 8
    # what attention moves, by norm, against loops over the corpus sentences
    stored = {(l, h, s): v for l, h, s, v in site_rows(site, "SELECT layer, head, stat, value FROM head_stats")}
    want = _shares_by_norm(loaded, site)
    assert len(want) == info.n_layers * info.n_heads * 6
    for (layer, head, stat), value in want.items():
        assert stored[(layer, head, f"{stat}_by_norm")] == pytest.approx(value, abs=2e-5), (layer, head, stat)
