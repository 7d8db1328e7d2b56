"""Attributions: integrated gradients checked against the completeness axiom with f computed here by running
each kind of model directly, attention rollout and the head/gradient agreement checked against direct
computations on hand-made tensors, the `|||` probe syntax and its one-line errors through the command line, and
the attribution tables of small builds recomputed from the database's own attention and token tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import SENTENCES, assert_clean_failure

from reportgen.cli import main

pytestmark = pytest.mark.unit

BERT_PROBES = "The dog sat on the unbelievably comfortable table. ||| A cat lay on the sofa.\nShe gave him the keys.\n"
GPT2_PROBES = "The dog sat on the unbelievably comfortable table.\nShe gave him the keys. ||| She smiled at him.\n"
SENTENCE = "The dog sat on the unbelievably comfortable table."


# --------------------------------------------------------------------------------------------------- helpers

def _write_inputs(folder: Path, probes: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    corpus, probes_file = folder / "corpus.txt", folder / "probes.txt"
    corpus.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    probes_file.write_text(probes, encoding="utf-8")
    return corpus, probes_file


def _build(folder: Path, model_dir: Path, probes: str, **options):
    """Build a site and return (site folder, the build's Summary)."""
    from reportgen.commands.build import build
    from reportgen.analyses.registry import load_config

    corpus, probes_file = _write_inputs(folder, probes)
    out = folder / "site"
    summary = build(load_config(None, model=str(model_dir), corpus=(corpus,), probes=probes_file, out=out,
                                top_k=2, **options))
    return out, summary


def _query(out: Path, sql: str, *params) -> list[tuple]:
    import duckdb

    con = duckdb.connect(str(out / "report.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _probe_special(tokenizer, text: str) -> tuple[list[int], list[bool]]:
    enc = tokenizer(text, return_special_tokens_mask=True, split_special_tokens=True)
    return list(enc["input_ids"]), [bool(s) for s in enc["special_tokens_mask"]]


def _baseline_ids(ids: list[int], special: list[bool], baseline_id: int) -> list[int]:
    """The input with every non-special probe token replaced by the baseline token."""
    return [i if s else baseline_id for i, s in zip(ids, special)]


def _explicit_rollout(attention: np.ndarray) -> np.ndarray:
    """Rollout written out as an explicit product A_l ... A_1 A_0 with A = (W + I) / (row sum of W + 1), W the
    head mean: the (W + I) / 2 of the paper, renormalised where W's rows do not sum to 1."""
    n_layers, _, t, _ = attention.shape
    mixed = []
    for layer in range(n_layers):
        w = attention[layer].astype(np.float64).mean(0)
        mixed.append((w + np.eye(t)) / (w.sum(1, keepdims=True) + 1.0))
    out = []
    for layer in range(n_layers):
        factors = mixed[: layer + 1][::-1]  # A_l, A_(l-1), ..., A_0
        out.append(factors[0] if len(factors) == 1 else np.linalg.multi_dot(factors))
    return np.stack(out)


def _rho(x, y) -> float | None:
    """Spearman's rho by scipy, None where a side is constant or there are under 3 values."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or len(set(x.tolist())) == 1 or len(set(y.tolist())) == 1:
        return None
    return float(spearmanr(x, y).statistic)


def _same(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def _check_completeness(result, own_value: float, own_baseline_value: float, n_tokens: int,
                        special: list[bool]) -> None:
    diff = own_value - own_baseline_value
    assert result.value == pytest.approx(own_value, rel=1e-5, abs=1e-6)
    assert result.baseline_value == pytest.approx(own_baseline_value, rel=1e-5, abs=1e-6)
    assert result.scores.shape == (n_tokens,)  # the probe's tokens only, never the continuation's
    # Captum's delta is the sum of the scores minus f(input) - f(baseline)
    assert float(result.scores.sum()) - (result.value - result.baseline_value) == pytest.approx(
        result.delta, abs=2e-6 + 1e-6 * abs(result.value))
    assert diff != 0
    assert abs(result.delta) <= 0.01 * abs(diff), (result.delta, diff)
    assert float(result.scores.sum()) == pytest.approx(diff, rel=0.02)
    for score, is_special in zip(result.scores, special):
        if is_special:
            assert score == 0.0


# ---------------------------------------------------------------------- 1. completeness on each kind of model

def test_baseline_token_choices(bert_dir, gpt2_lm_dir):
    from reportgen.analyses.attribution import baseline_token
    from reportgen.errors import ConfigError
    from reportgen.models import load_model

    bert = load_model(str(bert_dir))
    tok = bert.tokenizer
    assert baseline_token(bert, "auto") == tok.pad_token_id
    assert baseline_token(bert, "pad") == tok.pad_token_id
    assert baseline_token(bert, "mask") == tok.mask_token_id
    assert baseline_token(bert, "unk") == tok.unk_token_id
    gpt2 = load_model(str(gpt2_lm_dir))
    # the tiny GPT-2 has no pad token of its own (wrap puts the end token there): auto falls back to the end token
    assert not gpt2.own_pad
    assert baseline_token(gpt2, "auto") == gpt2.tokenizer.eos_token_id
    for missing in ("pad", "mask"):
        with pytest.raises(ConfigError, match=f"attribution_baseline.*no {missing} token"):
            baseline_token(gpt2, missing)


def test_classifier_logit_completeness_predicted_and_named_class(bert_classifier_dir):
    import torch
    from transformers import AutoModelForSequenceClassification

    from reportgen.analyses.attribution import baseline_token, integrated_gradients, make_target
    from reportgen.models import load_model

    loaded = load_model(str(bert_classifier_dir))
    assert loaded.info.kind == "classifier"
    own = AutoModelForSequenceClassification.from_pretrained(bert_classifier_dir).eval()
    ids, special = _probe_special(loaded.tokenizer, SENTENCE)
    assert any(special)
    base = _baseline_ids(ids, special, loaded.tokenizer.pad_token_id)
    with torch.no_grad():
        logits = own(input_ids=torch.tensor([ids])).logits[0]
        base_logits = own(input_ids=torch.tensor([base])).logits[0]
    predicted = int(logits.argmax())
    labels = own.config.id2label

    target = make_target(loaded, tuple(ids), "", "probe", None)
    result = integrated_gradients(loaded, tuple(ids), target, baseline_token(loaded), special, n_steps=100)
    assert result.target == f"class:{labels[predicted]}"
    assert "predicted" in result.description and labels[predicted] in result.description
    _check_completeness(result, float(logits[predicted]), float(base_logits[predicted]), len(ids), special)

    named = next(i for i in labels if i != predicted)
    for given in (labels[named], named):  # by label and by index
        target = make_target(loaded, tuple(ids), "", "probe", given)
        assert target.class_index == named
        result = integrated_gradients(loaded, tuple(ids), target, baseline_token(loaded), special, n_steps=100)
        assert result.target == f"class:{labels[named]}"
        assert "chosen" in result.description
        _check_completeness(result, float(logits[named]), float(base_logits[named]), len(ids), special)


def test_causal_lm_next_token_and_continuation_completeness(gpt2_lm_dir):
    import torch
    from transformers import GPT2LMHeadModel

    from reportgen.analyses.attribution import baseline_token, integrated_gradients, make_target
    from reportgen.models import load_model

    loaded = load_model(str(gpt2_lm_dir))
    assert loaded.info.kind == "causal_lm"
    own = GPT2LMHeadModel.from_pretrained(gpt2_lm_dir).eval()
    tok = loaded.tokenizer
    ids, special = _probe_special(tok, SENTENCE)
    n = len(ids)
    base = _baseline_ids(ids, special, tok.eos_token_id)

    def log_probs(sequence):
        with torch.no_grad():
            return torch.log_softmax(own(input_ids=torch.tensor([sequence])).logits[0].double(), -1)

    # the next token the model predicts after the probe
    next_id = int(log_probs(ids)[n - 1].argmax())
    target = make_target(loaded, tuple(ids), "", "probe", None)
    assert target.key == "next_token" and target.readout == "last"
    result = integrated_gradients(loaded, tuple(ids), target, baseline_token(loaded), special, n_steps=100)
    assert result.target == "next_token"
    assert repr(tok.decode([next_id])) in result.description
    _check_completeness(result, float(log_probs(ids)[n - 1, next_id]), float(log_probs(base)[n - 1, next_id]),
                        n, special)

    # a continuation of several tokens, teacher-forced, its log-probabilities summed
    continuation = "The cat sat on the mat."
    cont = tok(" " + continuation, add_special_tokens=False)["input_ids"]
    assert len(cont) >= 2

    def summed(sequence):
        lp = log_probs(list(sequence) + cont)
        return sum(float(lp[n - 1 + j, c]) for j, c in enumerate(cont))

    target = make_target(loaded, tuple(ids), continuation, "probe", None)
    assert target.key == "continuation" and list(target.extra_ids) == cont and target.readout == "continuation"
    result = integrated_gradients(loaded, tuple(ids), target, baseline_token(loaded), special, n_steps=100)
    assert result.target == "continuation"
    assert f"{len(cont)} tokens" in result.description
    _check_completeness(result, summed(ids), summed(base), n, special)


def test_encoder_similarity_completeness_self_and_reference(bert_dir):
    import torch
    from transformers import BertModel

    from reportgen.analyses.attribution import baseline_token, integrated_gradients, make_target
    from reportgen.models import load_model

    loaded = load_model(str(bert_dir))
    assert loaded.info.kind == "encoder"
    own = BertModel.from_pretrained(bert_dir).eval()
    tok = loaded.tokenizer
    ids, special = _probe_special(tok, SENTENCE)
    assert special[0] and special[-1]
    base = _baseline_ids(ids, special, tok.pad_token_id)

    def pooled(sequence):
        with torch.no_grad():
            return own(input_ids=torch.tensor([list(sequence)])).last_hidden_state[0].double().mean(0)

    def cosine(a, b):
        return float(torch.dot(a, b) / (a.norm() * b.norm()))

    # no reference: the similarity with the probe's own embedding
    target = make_target(loaded, tuple(ids), "", "probe", None)
    assert target.key == "similarity:self" and target.readout == "mean"  # the pooling averages every row
    result = integrated_gradients(loaded, tuple(ids), target, baseline_token(loaded), special, n_steps=100)
    assert result.target == "similarity:self"
    _check_completeness(result, cosine(pooled(ids), pooled(ids)), cosine(pooled(base), pooled(ids)), len(ids),
                        special)
    assert result.value == pytest.approx(1.0, abs=1e-5)

    reference = "A cat lay on the sofa."
    ref = pooled(tok(reference)["input_ids"])
    target = make_target(loaded, tuple(ids), reference, "probe", None)
    assert target.key == "similarity:reference"
    result = integrated_gradients(loaded, tuple(ids), target, baseline_token(loaded), special, n_steps=100)
    assert result.target == "similarity:reference" and reference in result.description
    _check_completeness(result, cosine(pooled(ids), ref), cosine(pooled(base), ref), len(ids), special)


def test_make_target_rejects_what_the_model_cannot_explain(bert_dir, bert_classifier_dir, gpt2_lm_dir):
    from reportgen.analyses.attribution import make_target
    from reportgen.errors import ConfigError, InputError
    from reportgen.models import load_model

    cls = load_model(str(bert_classifier_dir))
    ids = tuple(cls.tokenizer(SENTENCE)["input_ids"])
    with pytest.raises(InputError, match="probes.txt:3"):
        make_target(cls, ids, "more text", "probes.txt:3", None)
    for bad in ("happy", 3, -1):
        with pytest.raises(ConfigError, match="target_class"):
            make_target(cls, ids, "", "probes.txt:1", bad)
    bert = load_model(str(bert_dir))
    with pytest.raises(ConfigError, match="not a sequence classifier"):
        make_target(bert, tuple(bert.tokenizer(SENTENCE)["input_ids"]), "", "probes.txt:1", "positive")
    lm = load_model(str(gpt2_lm_dir))
    lm_ids = tuple(lm.tokenizer(SENTENCE)["input_ids"])
    room = lm.info.max_length - len(lm_ids)
    # " the" is one token of the tiny byte-level vocabulary
    fits = make_target(lm, lm_ids, " ".join(["the"] * room), "probes.txt:1", None)  # exactly at the limit
    assert len(lm_ids) + len(fits.extra_ids) == lm.info.max_length
    with pytest.raises(InputError, match=f"probes.txt:1.*limit of {lm.info.max_length}"):
        make_target(lm, lm_ids, " ".join(["the"] * (room + 1)), "probes.txt:1", None)


# ------------------------------------------------------------------------------------------------- 2. rollout

def test_rollout_equals_the_explicit_product_of_layer_matrices():
    from reportgen.analyses.agreement import rollout

    rng = np.random.default_rng(7)
    logits = rng.normal(size=(3, 2, 4, 4))
    attention = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)  # rows sum to 1
    got = rollout(attention.astype(np.float32))
    # written out for the first two layers by hand
    a0 = 0.5 * (attention[0, 0] + attention[0, 1]) / 2 + 0.5 * np.eye(4)
    a1 = 0.5 * (attention[1, 0] + attention[1, 1]) / 2 + 0.5 * np.eye(4)
    a2 = 0.5 * (attention[2, 0] + attention[2, 1]) / 2 + 0.5 * np.eye(4)
    assert got.shape == (3, 4, 4)
    np.testing.assert_allclose(got[0], a0, atol=1e-6)
    np.testing.assert_allclose(got[1], a1 @ a0, atol=1e-6)
    np.testing.assert_allclose(got[2], a2 @ a1 @ a0, atol=1e-6)
    np.testing.assert_allclose(got, _explicit_rollout(attention), atol=1e-6)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-9)
    # the order matters: R_l = A_l R_(l-1), not R_(l-1) A_l
    assert not np.allclose(got[2], a0 @ a1 @ a2, atol=1e-4)


def test_rollout_renormalises_rows_that_do_not_sum_to_one():
    from reportgen.analyses.agreement import rollout

    rng = np.random.default_rng(3)
    attention = rng.uniform(size=(2, 3, 5, 5))
    attention /= attention.sum(-1, keepdims=True)
    attention *= rng.uniform(0.5, 0.9, size=(2, 3, 5, 1))  # rows summing to less than 1 (masked tokens)
    got = rollout(attention)
    np.testing.assert_allclose(got, _explicit_rollout(attention), atol=1e-12)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-12)
    assert (got >= 0).all()


def test_rollout_of_causal_attention_stays_causal():
    from reportgen.analyses.agreement import rollout

    rng = np.random.default_rng(5)
    scores = rng.normal(size=(2, 2, 4, 4)) + np.triu(np.full((4, 4), -np.inf), 1)
    attention = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    got = rollout(attention)
    np.testing.assert_allclose(got, _explicit_rollout(attention), atol=1e-12)
    assert np.all(np.triu(got, 1) == 0)  # no token draws on a later one
    np.testing.assert_allclose(got[:, 0], np.tile(np.eye(4)[0], (2, 1)))


# --------------------------------------------------------------------------------------- 3. agreement rows

# [CLS] un ##bel ##ievably dog ran very fast [SEP]: word 0 has three tokens, word 3 ('very fast' as one word
# for the test's sake) has two
WORD_OF = [None, 0, 0, 0, 1, 2, 3, 3, None]


def _expected_agreement(sid, attribution, attention, flow, word_of, n_words, left_out=()):
    """rho and word share of every head and rollout layer, from read-out attention [L, H, T] and flow [L, T], with
    loops over the words (but those `left_out`)."""
    compared = [word for word in range(n_words) if word not in left_out]
    importance = [abs(sum(a for a, w in zip(attribution, word_of) if w == word)) for word in compared]

    def received(row):
        return [sum(r for r, w in zip(row, word_of) if w == word) for word in compared]

    expected = {}
    n_layers, n_heads = attention.shape[:2]
    for layer in range(n_layers):
        for head in range(n_heads):
            words = received(attention[layer, head])
            expected[("attention", layer, head)] = (_rho(importance, words), sum(words))
        words = received(flow[layer])
        expected[("rollout", layer, None)] = (_rho(importance, words), sum(words))
    return expected


def _check_agreement(rows, expected, sid, n_words):
    assert len(rows) == len(expected)
    assert [r[1] for r in rows] == sorted((r[1] for r in rows))  # heads first, then the rollout
    got = {(r[1], r[2], r[3]): (r[4], r[6]) for r in rows}
    assert set(got) == set(expected)
    for key, (rho, share) in expected.items():
        assert _same(got[key][0], rho), (key, got[key], rho)
        assert got[key][1] == pytest.approx(share, abs=1e-12)
    assert all(r[0] == sid and r[5] == n_words for r in rows)


@pytest.mark.parametrize("rows", [[0], [8], [2, 5, 7], list(range(9))])
def test_agreement_rows_match_scipy_over_multi_token_words(rows):
    from reportgen.analyses.agreement import Readout, agreement_rows

    rng = np.random.default_rng(11 + len(rows))
    t = len(WORD_OF)
    attention = rng.dirichlet(np.ones(t), size=(2, 3, t))  # [L, H, T, T]
    attention[..., 0] += 2.0  # special tokens draw much attention; it must not count for any word
    attention /= attention.sum(-1, keepdims=True)
    read = Readout.of(attention, rows, t)
    # the read-out: the mean of the rows, of the attention and of its rollout
    np.testing.assert_allclose(read.attention, np.mean([attention[:, :, r] for r in rows], axis=0), atol=1e-12)
    np.testing.assert_allclose(read.flow, np.mean([_explicit_rollout(attention)[:, r] for r in rows], axis=0),
                               atol=1e-12)
    # signed scores whose per-token magnitudes would rank the words differently from the word sums' magnitudes
    attribution = np.array([0.0, 0.9, -0.8, -0.05, 0.3, -0.2, 0.6, -0.55, 0.0])
    got = agreement_rows(4, attribution, read, WORD_OF, 4)
    expected = _expected_agreement(4, attribution, read.attention, read.flow, WORD_OF, 4)
    assert sum(rho is not None for rho, _ in expected.values()) == len(expected)
    assert all(share < 0.5 for key, (_, share) in expected.items() if key[0] == "attention")  # [CLS] took most
    _check_agreement(got, expected, 4, 4)


def test_held_tokens_are_the_special_ones_and_a_causal_models_first():
    from reportgen.align import held, held_words

    assert held([True, False, False, True], causal=False) == [True, False, False, True]
    assert held([False, False, False], causal=True) == [True, False, False]
    assert held([True, False, False], causal=True) == [True, False, False]  # a BOS token: it is the first
    assert held([], causal=True) == []
    # a word is held where every one of its tokens is
    assert held_words([0, 1, 1, None], [True, False, False, True]) == frozenset({0})
    assert held_words([0, 0, 1], [True, False, False]) == frozenset()
    assert held_words([None, 0, 1], [True, False, False]) == frozenset()


def test_agreement_rows_leave_the_held_words_out():
    from reportgen.analyses.agreement import Readout, agreement_rows

    rng = np.random.default_rng(5)
    word_of = [0, 1, 1, 2, 3, 4, None]
    t = len(word_of)
    attention = rng.dirichlet(np.ones(t), size=(2, 3, t))
    attention[..., 0] += 3.0  # the first token draws most attention, as a causal model's sink does
    attention /= attention.sum(-1, keepdims=True)
    read = Readout.of(attention, [t - 1], t)
    attribution = np.array([0.0, 0.9, -0.8, 0.3, -0.2, 0.6, 0.0])
    got = agreement_rows(2, attribution, read, word_of, 5, frozenset({0}))
    expected = _expected_agreement(2, attribution, read.attention, read.flow, word_of, 5, left_out=(0,))
    _check_agreement(got, expected, 2, 4)
    # the held word would rank last on the gradients and first on the attention
    kept = agreement_rows(2, attribution, read, word_of, 5)
    assert [r[4] for r in kept] != [r[4] for r in got]


def test_a_causal_models_first_token_stays_in_the_baseline(gpt2_lm_dir):
    import torch
    from transformers import GPT2LMHeadModel

    from reportgen.align import held
    from reportgen.analyses.attribution import baseline_token, integrated_gradients, make_target
    from reportgen.models import load_model

    loaded = load_model(str(gpt2_lm_dir))
    own = GPT2LMHeadModel.from_pretrained(gpt2_lm_dir).eval()
    ids, special = _probe_special(loaded.tokenizer, SENTENCE)
    assert not special[0]  # GPT-2 adds no BOS: the first token is the first word's
    keep = held(special, loaded.info.causal)
    base = [ids[0]] + [baseline_token(loaded)] * (len(ids) - 1)
    target = make_target(loaded, tuple(ids), "", "probe", None)
    with torch.no_grad():
        logits = own(input_ids=torch.tensor([ids])).logits[0, -1]
        next_id = int(logits.argmax())
        value = float(torch.log_softmax(logits.double(), -1)[next_id])
        at_base = float(torch.log_softmax(own(input_ids=torch.tensor([base])).logits[0, -1].double(), -1)[next_id])
    result = integrated_gradients(loaded, tuple(ids), target, baseline_token(loaded), keep, n_steps=100)
    _check_completeness(result, value, at_base, len(ids), keep)
    assert result.scores[0] == 0.0 and all(result.scores[1:] != 0.0)


def test_a_continuations_readout_leaves_its_own_columns_out():
    from reportgen.analyses.agreement import Readout, readout_rows

    rng = np.random.default_rng(4)
    n, m = 5, 3  # a probe of 5 tokens, a continuation of 3
    attention = np.tril(rng.uniform(0.1, 1.0, size=(2, 2, n + m, n + m)))
    attention /= attention.sum(-1, keepdims=True)
    rows = readout_rows("continuation", n, m)
    assert rows == [4, 5, 6]  # the rows that predict the continuation's 3 tokens
    read = Readout.of(attention, rows, n)
    assert read.attention.shape == (2, 2, n) and read.flow.shape == (2, n)
    want = (attention[:, :, 4, :n] + attention[:, :, 5, :n] + attention[:, :, 6, :n]) / 3
    np.testing.assert_allclose(read.attention, want, atol=1e-12)
    assert (read.attention.sum(-1) < 1).all()  # some of it goes to the continuation's own tokens
    assert readout_rows("first", n) == [0] and readout_rows("last", n) == [4] and readout_rows("mean", n) == [0, 1,
                                                                                                        2, 3, 4]


def test_agreement_rows_are_none_where_spearman_is_undefined():
    from reportgen.analyses.agreement import Readout, agreement_rows

    rng = np.random.default_rng(2)
    t = len(WORD_OF)
    attention = rng.dirichlet(np.ones(t), size=(1, 2))  # the read-out [L, H, T]
    # head 1 gives every word the same attention (word 0 has 3 tokens, word 3 two)
    attention[0, 1] = np.array([0.2, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.2, 0.2, 0.1, 0.1, 0.0])
    flow = rng.dirichlet(np.ones(t), size=1)
    attribution = np.array([0.0, 0.1, 0.2, 0.3, -0.4, 0.5, 0.05, 0.0, 0.0])
    rows = {(r[1], r[3]): r[4] for r in agreement_rows(0, attribution, Readout(attention, flow), WORD_OF, 4)}
    assert rows[("attention", 0)] is not None
    assert rows[("attention", 1)] is None  # constant attention over the words
    assert rows[("rollout", None)] is not None

    # constant importance: all None
    rows = agreement_rows(0, np.zeros(t), Readout(attention, flow), WORD_OF, 4)
    assert [r[4] for r in rows] == [None, None, None]

    # two words: all None
    two = [None, 0, 0, 1, None]
    small = Readout(rng.dirichlet(np.ones(5), size=(1, 2)), rng.dirichlet(np.ones(5), size=1))
    rows = agreement_rows(0, np.array([0.0, 0.3, -0.1, 0.7, 0.0]), small, two, 2)
    assert [r[4] for r in rows] == [None, None, None]
    assert all(r[5] == 2 for r in rows)


# ------------------------------------------------------------------------- 4. one-line errors at the CLI

def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))




def _assert_untouched(out: Path) -> None:
    assert (out / "index.html").read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".site")) == []


def _cli_build(folder: Path, model_dir: Path, probes: str, out: Path, config: str | None = None):
    corpus, probes_file = _write_inputs(folder, probes)
    args = ["build", "--model", str(model_dir), "--corpus", str(corpus), "--probes", str(probes_file),
            "--out", str(out), "--top-k", "2"]
    if config is not None:
        config_file = folder / "report.toml"
        config_file.write_text(config, encoding="utf-8")
        args += ["--config", str(config_file)]
    return _invoke(*args), probes_file


@pytest.mark.parametrize("line,needle", [
    ("The cat sat. ||| on ||| the mat.", "more than one"),
    ("||| the mat.", "nothing before"),
    ("   |||   the mat.", "nothing before"),
    ("The cat sat. |||", "nothing after"),
    ("The cat sat. |||    ", "nothing after"),
])
def test_malformed_probe_lines_are_one_line_errors(line, needle, old_site, tmp_path, bert_dir):
    result, probes = _cli_build(tmp_path / "in", bert_dir, f"A fine probe.\n{line}\n", old_site)
    assert_clean_failure(result, f"{probes}:2", needle, "|||")
    _assert_untouched(old_site)


@pytest.mark.parametrize("value,needle", [('"happy"', "'happy'"), ("3", "3"), ("-1", "-1")])
def test_unknown_target_class_on_the_classifier(value, needle, old_site, tmp_path, bert_classifier_dir):
    result, _ = _cli_build(tmp_path / "in", bert_classifier_dir, "The dog sat on the table.\n", old_site,
                           f"target_class = {value}\n")
    line = assert_clean_failure(result, "target_class", needle)
    assert "negative" in line and "neutral" in line and "positive" in line  # the classes there are
    _assert_untouched(old_site)


@pytest.mark.parametrize("model", ["bert_dir", "gpt2_lm_dir"])
def test_target_class_on_a_model_that_is_not_a_classifier(model, old_site, tmp_path, request):
    model_dir = request.getfixturevalue(model)
    result, _ = _cli_build(tmp_path / "in", model_dir, "The dog sat on the table.\n", old_site,
                           'target_class = "positive"\n')
    assert_clean_failure(result, "target_class", "not a sequence classifier")
    _assert_untouched(old_site)


def test_continuation_over_the_model_limit(old_site, tmp_path, gpt2_lm_dir):
    probes = "The dog sat on the table.\nShe gave him the keys. ||| " + "and then " * 40 + "\n"
    result, _ = _cli_build(tmp_path / "in", gpt2_lm_dir, probes, old_site)
    assert_clean_failure(result, "probes.txt:2", "limit of 64", "continuation")
    _assert_untouched(old_site)


def test_reference_over_the_model_limit(old_site, tmp_path, bert_dir):
    probes = "The dog sat on the table. ||| " + "word " * 80 + "\n"
    result, _ = _cli_build(tmp_path / "in", bert_dir, probes, old_site)
    assert_clean_failure(result, "probes.txt:1", "limit of 64", "reference")
    _assert_untouched(old_site)


def test_separator_on_a_classifier_probe(old_site, tmp_path, bert_classifier_dir):
    probes = "The dog sat on the table.\nShe gave him the keys. ||| positive\n"
    result, _ = _cli_build(tmp_path / "in", bert_classifier_dir, probes, old_site)
    assert_clean_failure(result, "probes.txt:2", "|||", "target_class")
    _assert_untouched(old_site)


@pytest.mark.parametrize("config,needles", [
    ('attribution_baseline = "zero"\n', ("attribution_baseline", "'zero'", "auto, pad, mask, unk, eos, bos")),
    ("attribution_baseline = 0\n", ("attribution_baseline",)),
    ("attribution_steps = 0\n", ("attribution_steps", "at least 1")),
    ('attribution-steps = "many"\n', ("attribution_steps", "integer")),
    ("target_class = true\n", ("target_class",)),
])
def test_bad_attribution_options_in_the_config_file(config, needles, old_site, tmp_path, bert_dir):
    result, _ = _cli_build(tmp_path / "in", bert_dir, "The dog sat on the table.\n", old_site, config)
    assert_clean_failure(result, "report.toml", *needles)
    _assert_untouched(old_site)


def test_mask_baseline_on_gpt2_which_has_no_mask_token(old_site, tmp_path, gpt2_lm_dir):
    result, _ = _cli_build(tmp_path / "in", gpt2_lm_dir, "The dog sat on the table.\n", old_site,
                           'attribution_baseline = "mask"\n')
    line = assert_clean_failure(result, "attribution_baseline", "no mask token", "eos")
    assert "mask" not in line.split("choose one of", 1)[1]
    _assert_untouched(old_site)


# ------------------------------------------------------------------------------ 5. the tables of a build

@pytest.fixture(scope="module")
def bert_site(tmp_path_factory, bert_dir):
    return _build(tmp_path_factory.mktemp("attr-bert"), bert_dir, BERT_PROBES)


@pytest.fixture(scope="module")
def gpt2_site(tmp_path_factory, gpt2_lm_dir):
    """The GPT-2 LM with a single integrated-gradients step: too few for its log-probabilities to converge, so the
    steps are doubled (2 suffice on this model)."""
    return _build(tmp_path_factory.mktemp("attr-gpt2"), gpt2_lm_dir, GPT2_PROBES, attribution_steps=1)


@pytest.fixture(scope="module")
def unconverged_site(tmp_path_factory, sharp_gpt2_lm_dir):
    """The sharp GPT-2 LM with a single step: the doubling stops, not converged, on both probes, at 1 or 2 steps
    (where doubling no longer shrinks the delta)."""
    return _build(tmp_path_factory.mktemp("attr-sharp"), sharp_gpt2_lm_dir, GPT2_PROBES, attribution_steps=1)


def _attention_of(out: Path, sid: int, n_layers: int, n_heads: int, t: int) -> np.ndarray:
    att = np.full((n_layers, n_heads, t, t), np.nan)
    for layer, head, i, j, w in _query(out, "SELECT layer, head, from_token_idx, to_token_idx, weight FROM attention "
                                            "WHERE sentence_id = ?", sid):
        att[layer, head, i, j] = w
    assert not np.isnan(att).any()
    return att


def _check_site_tables(out: Path, n_layers: int, n_heads: int, readouts: dict[int, tuple[str, list[int]]],
                       attention_of=None) -> None:
    """Every probe's attribution rows against the tokens, attention and words tables of the same database:
    `readouts[sid]` is (the read-out, its rows); `attention_of(sid)` the attention they are read from where it is
    not the probe's stored attention (a continuation's)."""
    probes = [sid for (sid,) in _query(out, "SELECT sentence_id FROM sentences WHERE role = 'probe' ORDER BY 1")]
    assert probes == sorted(readouts)
    for sid in probes:
        tokens = _query(out, "SELECT token_idx, word_idx, is_special FROM tokens WHERE sentence_id = ? ORDER BY 1",
                        sid)
        t = len(tokens)
        assert [r[0] for r in tokens] == list(range(t))
        word_of = [r[1] for r in tokens]
        n_words = _query(out, "SELECT count(*) FROM words WHERE sentence_id = ?", sid)[0][0]

        targets = _query(out, "SELECT target, value, baseline_value, delta, readout FROM attribution_targets "
                              "WHERE sentence_id = ?", sid)
        assert len(targets) == 1
        target, value, baseline_value, delta, readout = targets[0]
        assert readout == readouts[sid][0]

        scores = {}
        for method in ("integrated_gradients", "rollout"):
            rows = _query(out, "SELECT a.token_idx, a.score, a.target FROM attributions a JOIN tokens t "
                               "ON t.sentence_id = a.sentence_id AND t.token_idx = a.token_idx "
                               "WHERE a.sentence_id = ? AND a.method = ? ORDER BY 1", sid, method)
            assert [r[0] for r in rows] == list(range(t)), method  # one score per token, joined to the tokens
            assert {r[2] for r in rows} == {target}
            scores[method] = np.array([r[1] for r in rows])
        assert _query(out, "SELECT count(*) FROM attributions WHERE sentence_id = ?", sid)[0][0] == 2 * t

        ig = scores["integrated_gradients"]
        assert float(ig.sum()) - (value - baseline_value) == pytest.approx(delta, abs=1e-5)
        assert all(s == 0.0 for s, (_, _, special) in zip(ig, tokens) if special)
        # a causal model's first token stays in the baseline: no attribution, and a word made of it alone is left
        # out of the agreement
        causal = _query(out, "SELECT value FROM meta WHERE key = 'causal'")[0][0] == "true"
        left_out = ()
        if causal:
            assert ig[0] == 0.0
            if not tokens[0][2] and word_of.count(word_of[0]) == 1:
                left_out = (word_of[0],)

        stored = _attention_of(out, sid, n_layers, n_heads, t)
        attention = stored if attention_of is None or readout != "continuation" else attention_of(sid)
        rows_read = readouts[sid][1]
        flow = _explicit_rollout(attention)
        # the read-out, written out: the mean over its rows, over the probe's tokens
        read_att = np.zeros((n_layers, n_heads, t))
        read_flow = np.zeros((n_layers, t))
        for r in rows_read:
            read_att += attention[:, :, r, :t] / len(rows_read)
            read_flow += flow[:, r, :t] / len(rows_read)
        if readout != "continuation":
            assert scores["rollout"].sum() == pytest.approx(1.0, abs=1e-9)
        np.testing.assert_allclose(scores["rollout"], read_flow[-1], atol=1e-6)

        rows = _query(out, "SELECT sentence_id, method, layer, head, spearman, n_words, word_share "
                           "FROM attribution_agreement WHERE sentence_id = ?", sid)
        assert sum(r[1] == "attention" for r in rows) == n_layers * n_heads
        assert sum(r[1] == "rollout" for r in rows) == n_layers
        assert all(r[3] is None for r in rows if r[1] == "rollout")
        expected = _expected_agreement(sid, ig, read_att, read_flow, word_of, n_words, left_out)
        got = {(r[1], r[2], r[3]): (r[4], r[6]) for r in rows}
        assert set(got) == set(expected)
        for key, (rho, share) in expected.items():
            assert _same(got[key][0], rho, tol=1e-6), (sid, key, got[key], rho)
            assert got[key][1] == pytest.approx(share, abs=1e-6), (sid, key)
        assert any(rho is not None for rho, _ in expected.values())
        assert all(r[5] == n_words - len(left_out) for r in rows)
    return causal


@pytest.mark.build
def test_bert_build_fills_the_attribution_tables(bert_site, bert_dir):
    from transformers import AutoTokenizer

    out, summary = bert_site
    texts = _query(out, "SELECT text FROM sentences WHERE role = 'probe' ORDER BY sentence_id")
    assert texts == [("The dog sat on the unbelievably comfortable table.",), ("She gave him the keys.",)]
    targets = _query(out, "SELECT sentence_id, target, description, value FROM attribution_targets ORDER BY 1")
    assert [r[:2] for r in targets] == [(0, "similarity:reference"), (1, "similarity:self")]
    assert "A cat lay on the sofa." in targets[0][2]
    assert targets[1][3] == pytest.approx(1.0, abs=1e-5)  # a sentence's similarity with itself
    # the reference's tokens are not the probe's
    n_tokens = _query(out, "SELECT count(*) FROM tokens WHERE sentence_id = 0")[0][0]
    assert n_tokens == len(AutoTokenizer.from_pretrained(bert_dir)(texts[0][0])["input_ids"])
    lengths = [n_tokens, _query(out, "SELECT count(*) FROM tokens WHERE sentence_id = 1")[0][0]]
    # a mean-pooled sentence embedding: the read-out is the mean of every row
    assert not _check_site_tables(out, 2, 4, {sid: ("mean", list(range(n))) for sid, n in enumerate(lengths)})
    assert summary.warnings == []  # 50 steps are plenty on the tiny BERT


@pytest.mark.build
def test_gpt2_lm_build_explains_the_next_token_and_the_continuation(gpt2_site, gpt2_lm_dir):
    from transformers import AutoTokenizer

    out, _ = gpt2_site
    tok = AutoTokenizer.from_pretrained(gpt2_lm_dir)
    targets = _query(out, "SELECT sentence_id, target, description FROM attribution_targets ORDER BY 1")
    assert [r[:2] for r in targets] == [(0, "next_token"), (1, "continuation")]
    assert "She smiled at him." in targets[1][2]
    lengths = [len(tok(text)["input_ids"]) for text in ("The dog sat on the unbelievably comfortable table.",
                                                        "She gave him the keys.")]
    stored = [_query(out, "SELECT count(*) FROM tokens WHERE sentence_id = ?", sid)[0][0] for sid in (0, 1)]
    assert stored == lengths  # the continuation is not part of the probe's tokens
    # the next token is computed from the last token's row; a continuation from the rows that predict its tokens,
    # in the attention over the probe and the continuation
    cont = tok(" She smiled at him.", add_special_tokens=False)["input_ids"]
    readouts = {0: ("last", [lengths[0] - 1]), 1: ("continuation", list(range(lengths[1] - 1,
                                                                              lengths[1] - 1 + len(cont))))}

    def attention_of(sid):
        import torch
        from transformers import GPT2LMHeadModel

        model = GPT2LMHeadModel.from_pretrained(gpt2_lm_dir, attn_implementation="eager").eval()
        ids = tok("She gave him the keys.")["input_ids"] + cont
        with torch.no_grad():
            found = model(input_ids=torch.tensor([ids]), output_attentions=True).attentions
        return np.stack([a[0].double().numpy() for a in found])

    assert _check_site_tables(out, 2, 2, readouts, attention_of)  # causal: the first token held
    # the sentence page says which token the baseline keeps, and why
    page = (out / "sentences" / "0.html").read_text(encoding="utf-8")
    assert '<q id="held-token">The</q>, which the baseline' in page and "leaves its word out" in page


@pytest.fixture(scope="module")
def gpt2_classifier_dir(tmp_path_factory):
    """The tiny GPT-2 as a sequence classifier: it pools the last non-pad token."""
    import torch
    from conftest import _byte_level_tokenizer
    from transformers import GPT2Config, GPT2ForSequenceClassification

    torch.manual_seed(0)
    tokenizer = _byte_level_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=2, n_head=2, n_positions=64, num_labels=2,
                        pad_token_id=tokenizer.eos_token_id)
    path = tmp_path_factory.mktemp("tiny-gpt2-cls")
    GPT2ForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.build
@pytest.mark.parametrize("model,options,target,readout", [
    ("bert_classifier_dir", {"target_class": "negative"}, "class:negative", "first"),  # [CLS]-pooled
    ("gpt2_classifier_dir", {"target_class": 1}, "class:LABEL_1", "last"),  # last-token pooled
    ("gpt2_dir", {}, "similarity:self", "mean"),  # causal, no LM head: a mean-pooled similarity
])
def test_classifier_and_headless_causal_builds(model, options, target, readout, tmp_path, request):
    from transformers import AutoTokenizer

    model_dir = request.getfixturevalue(model)
    out, _ = _build(tmp_path, model_dir, "The dog sat on the table.\nShe gave him the keys.\n", **options)
    assert _query(out, "SELECT DISTINCT target FROM attribution_targets") == [(target,)]
    tok = AutoTokenizer.from_pretrained(model_dir)
    lengths = [len(tok(text)["input_ids"]) for text in ("The dog sat on the table.", "She gave him the keys.")]
    rows = {"first": lambda n: [0], "last": lambda n: [n - 1], "mean": lambda n: list(range(n))}[readout]
    info = _query(out, "SELECT max(layer) + 1, max(head) + 1 FROM attention")[0]
    _check_site_tables(out, info[0], info[1], {sid: (readout, rows(n)) for sid, n in enumerate(lengths)})


# ------------------------------------------------------------------------------------------ 6. warnings

def _unconverged(out: Path) -> list[int]:
    rows = _query(out, "SELECT sentence_id, value, baseline_value, delta FROM attribution_targets ORDER BY 1")
    return [sid for sid, value, base, delta in rows if abs(delta) > max(0.05 * abs(value - base), 1e-3)]


def _probe(loaded, text: str = SENTENCE, continuation: str = ""):
    from reportgen.analyses.attribution import baseline_token, make_target

    ids, special = _probe_special(loaded.tokenizer, text)
    return tuple(ids), make_target(loaded, tuple(ids), continuation, "probe", None), baseline_token(loaded), special


def test_a_causal_lms_default_converges_by_doubling_the_steps(sharp_gpt2_lm_dir):
    """On a causal LM whose log-probability turns sharply along the path, 50 steps (an encoder's default) leave a
    delta over the convergence rule (vocab.converged); at a causal LM's default (100) the attributions are those of
    the first doubling that converges, and say how many steps they took."""
    from reportgen.analyses.attribution import AttributionOptions, converging_gradients, integrated_gradients, \
        start_steps
    from reportgen.models import load_model
    from reportgen.vocab import converged

    loaded = load_model(str(sharp_gpt2_lm_dir))
    ids, target, base, special = _probe(loaded)
    assert AttributionOptions().attribution_steps is None and loaded.info.kind == "causal_lm"
    default = start_steps(None, True)
    assert default == 100
    at_50 = integrated_gradients(loaded, ids, target, base, special, 50)
    assert not converged(at_50.delta, at_50.value, at_50.baseline_value)
    found = converging_gradients(loaded, ids, target, base, special, default)
    assert converged(found.delta, found.value, found.baseline_value)
    assert found.steps in (100, 200, 400)
    again = integrated_gradients(loaded, ids, target, base, special, found.steps)
    assert (found.delta, list(found.scores)) == (again.delta, list(again.scores))
    half = integrated_gradients(loaded, ids, target, base, special, found.steps // 2)
    assert found.steps == 100 or not converged(half.delta, half.value, half.baseline_value)  # the first that does


def test_the_doubling_stops_where_it_does_not_shrink_the_delta(sharp_gpt2_lm_dir):
    """A probe whose delta grows from 50 to 100 steps is not converging: the retries stop there and keep the smaller
    delta, instead of paying for 200 and 400 steps."""
    from reportgen.analyses.attribution import converging_gradients, integrated_gradients
    from reportgen.models import load_model

    loaded = load_model(str(sharp_gpt2_lm_dir))
    ids, target, base, special = _probe(loaded, "She gave him the keys.", "She smiled at him.")
    at = {n: integrated_gradients(loaded, ids, target, base, special, n) for n in (50, 100)}
    assert at[50].delta_too_large and abs(at[100].delta) > abs(at[50].delta)
    found = converging_gradients(loaded, ids, target, base, special, 50)
    assert (found.steps, found.delta) == (50, at[50].delta) and found.delta_too_large


@pytest.mark.build
def test_a_causal_lm_build_starts_at_100_steps_and_an_encoder_build_at_50(tmp_path, gpt2_lm_dir, bert_dir):
    """With attribution_steps unset, a causal LM's attributions start at 100 steps and an encoder's at 50 (the
    tiny models' probes converge at the first try: two do on the tiny GPT-2, test_too_few_steps_are_doubled...);
    the about page says what the unset option means."""
    for model, start in ((gpt2_lm_dir, 100), (bert_dir, 50)):
        out, summary = _build(tmp_path / str(start), model, GPT2_PROBES)
        steps = [n for (n,) in _query(out, "SELECT steps FROM attribution_targets ORDER BY sentence_id")]
        assert steps == [start] * len(GPT2_PROBES.splitlines()) and summary.warnings == [], steps
        about = (out / "about.html").read_text(encoding="utf-8")  # the value used, as for device and max_length
        assert f"<dt>attribution_steps</dt><dd>{start}</dd>" in about


@pytest.mark.build
def test_too_few_steps_are_doubled_and_the_page_says_how_many(gpt2_site):
    """One step does not converge on the tiny GPT-2; two do: the build keeps the attributions at 2 steps, stores the
    steps and the sentence pages name them."""
    from bs4 import BeautifulSoup

    out, summary = gpt2_site
    assert _unconverged(out) == [] and summary.warnings == []
    assert _query(out, "SELECT sentence_id, steps FROM attribution_targets ORDER BY 1") == [(0, 2), (1, 2)]
    for sid in (0, 1):
        page = BeautifulSoup((out / "sentences" / f"{sid}.html").read_text(encoding="utf-8"), "html.parser")
        text = " ".join(page.select_one("#attribution").get_text().split())
        assert "at 2 steps (at attribution_steps, the delta was larger than 5% of the difference" in text


@pytest.mark.build
def test_too_few_steps_warn_naming_the_probe(unconverged_site):
    out, summary = unconverged_site
    unconverged = _unconverged(out)
    assert unconverged == [0, 1], "1 and 2 steps should leave a large convergence delta on the sharp GPT-2"
    # the doubling stops where it does not shrink the delta, at 1 or 2 steps here, and keeps the smaller delta
    steps = dict(_query(out, "SELECT sentence_id, steps FROM attribution_targets"))
    assert set(steps.values()) <= {1, 2}
    assert len(summary.warnings) == len(unconverged)
    for sid, warning in zip(unconverged, summary.warnings):
        assert warning.startswith(f"probe probes.txt:{sid + 1}: integrated gradients did not converge at "
                                  f"{steps[sid]} steps")
        assert "attribution_steps" in warning and "\n" not in warning


@pytest.mark.build
def test_the_cli_prints_build_warnings(tmp_path, sharp_gpt2_lm_dir, unconverged_site):
    expected = [f"probe probes.txt:{sid + 1}: " for sid in _unconverged(unconverged_site[0])]
    out = tmp_path / "site"
    result, _ = _cli_build(tmp_path / "in", sharp_gpt2_lm_dir, GPT2_PROBES, out, "attribution_steps = 1\n")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("reportgen: warning: ")]
    assert [w[len("reportgen: warning: "):][: len(e)] for w, e in zip(warnings, expected)] == expected
    assert len(warnings) == len(expected)
    assert (out / "index.html").is_file()


@pytest.mark.build
def test_enough_steps_do_not_warn(tmp_path, gpt2_lm_dir):
    out, summary = _build(tmp_path, gpt2_lm_dir, GPT2_PROBES, attribution_steps=20)
    assert _unconverged(out) == []
    assert summary.warnings == []


# ------------------------------------------------------------------------------------------- 7. parsing

def test_split_probe():
    from reportgen.corpus import split_probe
    from reportgen.errors import InputError

    assert split_probe("The cat sat.", "p:1") == ("The cat sat.", "")
    assert split_probe("The cat sat.  |||  on the mat. ", "p:1") == ("The cat sat.", "on the mat.")
    assert split_probe("a|||b", "p:1") == ("a", "b")
    for bad in ("a ||| b ||| c", "||| b", "a |||", " ||| "):
        with pytest.raises(InputError, match="p:7"):
            split_probe(bad, "p:7")


def test_probe_lines_are_split_and_corpus_lines_are_not(tmp_path):
    from reportgen.corpus import read_sentences

    probes = tmp_path / "probes.txt"
    probes.write_text("  The cat sat on the mat.  \nShe gave him the keys. ||| She smiled.\n"
                      "Pipes | and || stay.\n", encoding="utf-8")
    sentences, _ = read_sentences((probes,), "probe")
    assert [(s.text, s.extra, s.role, s.source) for s in sentences] == [
        ("The cat sat on the mat.", "", "probe", "probes.txt:1"),
        ("She gave him the keys.", "She smiled.", "probe", "probes.txt:2"),
        ("Pipes | and || stay.", "", "probe", "probes.txt:3"),
    ]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("A ||| B ||| C\n||| nothing before\nnothing after |||\n", encoding="utf-8")
    sentences, _ = read_sentences((corpus,), "corpus")
    assert [(s.text, s.extra) for s in sentences] == [
        ("A ||| B ||| C", ""), ("||| nothing before", ""), ("nothing after |||", "")]


def test_probe_jsonl_lines_are_split_too(tmp_path):
    from reportgen.corpus import read_sentences
    from reportgen.errors import InputError

    probes = tmp_path / "probes.jsonl"
    probes.write_text('{"text": "The cat sat. ||| It purred."}\n', encoding="utf-8")
    sentences, _ = read_sentences((probes,), "probe")
    assert [(s.text, s.extra) for s in sentences] == [("The cat sat.", "It purred.")]
    probes.write_text('{"text": "ok"}\n{"text": "||| It purred."}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"probes.jsonl:2"):
        read_sentences((probes,), "probe")


def test_attribution_options_defaults_and_validation():
    from reportgen.analyses.attribution import AttributionOptions, start_steps
    from reportgen.analyses.registry import load_config
    from reportgen.errors import ConfigError

    defaults = load_config(None).of(AttributionOptions)
    assert (defaults.attribution_steps, defaults.attribution_baseline, defaults.target_class) == (None, "auto", None)
    # unset, the steps start at 50, or 100 on a causal LM; set, where the option says
    assert (start_steps(None, False), start_steps(None, True), start_steps(7, True), start_steps(7, False)) == (
        50, 100, 7, 7)
    config = load_config(None, attribution_steps=7, attribution_baseline="unk", target_class=2)
    assert (config["attribution_steps"], config["attribution_baseline"], config["target_class"]) == (7, "unk", 2)
    for bad in ({"attribution_steps": 0}, {"attribution_steps": 1.5}, {"attribution_baseline": "zeros"},
                {"target_class": ""}, {"target_class": 1.0}, {"target_class": False}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            load_config(None, **bad)
