"""Clark et al.'s head analysis: dependency accuracy against the positional baseline, head distances and roles,
on hand-made attention, checked against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from reportgen.analyses import BatchInfo, LayerBatch, feed
from reportgen.analyses.depacc import OFFSETS, DepAccuracy
from reportgen.analyses.roles import role
from reportgen.analyses.similarity import HeadDistances, js_distances
from reportgen.headstats import HeadStats


def _info(sentences, causal=False):
    """sentences: lists of (dep, head word) per word; tokens: [CLS], one token per word, [SEP]."""
    b = len(sentences)
    t = max(len(s) for s in sentences) + 2
    w = max(len(s) for s in sentences)
    mask = np.zeros((b, t), bool)
    special = np.zeros((b, t), bool)
    word_of = np.full((b, t), -1)
    heads = np.full((b, w), -1)
    deps = np.full((b, w), "", dtype=object)
    for row, words in enumerate(sentences):
        n = len(words)
        mask[row, : n + 2] = True
        special[row, 0] = special[row, n + 1] = True
        word_of[row, 1 : n + 1] = np.arange(n)
        for i, (dep, head) in enumerate(words):
            heads[row, i], deps[row, i] = head, dep
    return BatchInfo(np.arange(b), mask, special, np.zeros((b, t), bool), word_of, heads, deps, causal)


def _previous_word_attention(info, n_heads=2):
    """[1, B, H, T, T]: head 0 attends to the previous word (the first word to [CLS]), head 1 to [CLS]."""
    b, t = info.mask.shape
    att = np.zeros((1, b, n_heads, t, t), np.float32)
    for row in range(b):
        n = int(info.mask[row].sum())
        for q in range(n):
            att[0, row, 0, q, max(q - 1, 0)] = 1.0
            att[0, row, 1:, q, 0] = 1.0
    return att


# "the big dog barks": the <- dog (det), big <- dog (amod), dog <- barks (nsubj), barks root
SENTENCE = [("det", 2), ("amod", 2), ("nsubj", 3), ("ROOT", 3)]
# "cats eat fish": cats <- eat (nsubj), eat root, fish <- eat (dobj)
OTHER = [("nsubj", 1), ("ROOT", 1), ("dobj", 1)]


def _results(sentences, att, min_support=1):
    info = _info(sentences)
    dep = DepAccuracy(1, att.shape[2], min_support)
    stats = HeadStats(1, att.shape[2])
    feed([dep, stats], att, info)
    return dep.results(), stats.means()


def test_a_previous_word_head_scores_where_the_head_is_the_previous_word_and_so_does_offset_minus_1():
    # a chain in which each word's head is the previous word
    chain = [("ROOT", 0), ("dobj", 0), ("dobj", 1), ("dobj", 2)]
    info = _info([chain])
    att = _previous_word_attention(info)
    results, stats = _results([chain], att)
    assert stats["prev"][0, 0] == pytest.approx(1.0)
    support, acc, base, best = results["dobj"]
    assert support == 3  # the root is no arc
    assert acc[0, 0, 0] == pytest.approx(1.0)  # dependent to head
    assert OFFSETS[best[0]] == -1 and base[0, best[0]] == pytest.approx(1.0)
    # head 1 only attends to [CLS]: special tokens are never predicted, so it predicts some word, never [CLS]
    assert acc[0, 1, 0] < 1.0


def test_head_to_dependent_counts_any_dependent_of_that_relation():
    # 'dog' (word 2) has two dependents: det 'the' (0) and amod 'big' (1); head 0 attends from 'dog' to 'big'
    info = _info([SENTENCE])
    t = info.mask.shape[1]
    att = np.full((1, 1, 1, t, t), 1.0 / t, np.float32)
    att[0, 0, 0, 3] = 0.0
    att[0, 0, 0, 3, 2] = 1.0  # token 3 = word 2 'dog' -> token 2 = word 1 'big'
    dep = DepAccuracy(1, 1, 1)
    feed([dep], att, info)
    results = dep.results()
    assert results["amod"][1][0, 0, 1] == pytest.approx(1.0)  # head to dependent: 'big' is an amod of 'dog'
    assert results["det"][1][0, 0, 1] == pytest.approx(0.0)  # 'big' is not a det
    # a relation with two arcs of the same head: both correct when either dependent is predicted
    two = [("amod", 2), ("amod", 2), ("ROOT", 2)]
    info = _info([two])
    t = info.mask.shape[1]
    att = np.full((1, 1, 1, t, t), 1.0 / t, np.float32)
    att[0, 0, 0, 3] = 0.0
    att[0, 0, 0, 3, 1] = 1.0  # 'head' word 2 -> word 0
    dep = DepAccuracy(1, 1, 1)
    feed([dep], att, info)
    support, acc, _, _ = dep.results()["amod"]
    assert support == 2 and acc[0, 0, 1] == pytest.approx(1.0)


def test_word_attention_sums_over_attended_pieces_and_averages_over_attending_ones():
    info = _info([[("nsubj", 1), ("ROOT", 1)]])
    # split word 0 into two tokens: tokens [CLS] w0a w0b w1 [SEP]
    info = BatchInfo(info.sentence_ids, np.ones((1, 5), bool), np.array([[1, 0, 0, 0, 1]], bool),
                     np.zeros((1, 5), bool), np.array([[-1, 0, 0, 1, -1]]), info.heads, info.deps)
    rng = np.random.default_rng(0)
    att = rng.random((1, 2, 5, 5)).astype(np.float32)
    att /= att.sum(-1, keepdims=True)
    words = LayerBatch(0, att, info).word_attention()
    members = {0: [1, 2], 1: [3]}
    for u in (0, 1):
        for v in (0, 1):
            want = np.mean([att[0][:, i][:, members[v]].sum(-1) for i in members[u]], axis=0)
            np.testing.assert_allclose(words[0, :, u, v], want, rtol=1e-6)


def test_merge_and_batching_give_the_same_tables():
    sentences = [SENTENCE, OTHER, SENTENCE[:2] + [("nsubj", 3), ("ROOT", 3)], OTHER]
    rng = np.random.default_rng(1)

    def attention(info):
        b, t = info.mask.shape
        logits = rng.normal(size=(2, b, 3, t, t)).astype(np.float32)
        logits = np.where(info.mask[None, :, None, None, :], logits, -np.inf)
        att = np.exp(logits - logits.max(-1, keepdims=True))
        return att / att.sum(-1, keepdims=True)

    whole_info = _info(sentences)
    whole_att = attention(whole_info)
    whole = DepAccuracy(2, 3, 1)
    feed([whole], whole_att, whole_info)
    # the same sentences one per batch (each unpadded), merged in reverse order
    parts = []
    for row, words in enumerate(sentences):
        info = _info([words])
        n = info.mask.shape[1]
        part = DepAccuracy(2, 3, 1)
        feed([part], whole_att[:, row : row + 1, :, :n, :n], info)
        parts.append(part)
    total = parts.pop()
    for part in reversed(parts):
        total.merge(part)
    assert total.tables() == whole.tables()
    assert {r[2] for r in whole.tables()["dep_accuracy"]} == {"all", "det", "amod", "nsubj", "dobj"}


def test_min_support_keeps_all():
    info = _info([SENTENCE])
    dep = DepAccuracy(1, 1, min_support=2)
    feed([dep], _previous_word_attention(info, 1), info)
    assert set(dep.results()) == {"all"}  # every relation has one arc


def test_js_distances_match_scipy_and_ignore_padding():
    rng = np.random.default_rng(2)
    b, n, t = 2, 3, 5
    att = rng.random((b, n, t, t)).astype(np.float32) ** 3
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    att[1, :, :, 3:] = 0
    att /= att.sum(-1, keepdims=True)
    att[1, :, 3:] = 7.0  # garbage in the padding rows
    sums, tokens = js_distances(att, mask)
    assert tokens == 8
    for a in range(n):
        for c in range(n):
            want = sum(jensenshannon(att[r, a, q], att[r, c, q], base=2) for r in range(b) for q in range(t)
                       if mask[r, q])
            assert sums[a, c] == pytest.approx(want, abs=1e-4)


def test_head_distances_use_only_the_sample():
    rng = np.random.default_rng(3)
    info = _info([SENTENCE, OTHER])
    att = rng.random((2, 2, 2, 6, 6)).astype(np.float32)
    att /= att.sum(-1, keepdims=True)
    only_first = HeadDistances(2, 2, {0})
    feed([only_first], att, info)
    assert only_first.tokens == int(info.mask[0].sum())
    d = only_first.distances()
    np.testing.assert_allclose(d, d.T)
    assert np.all(np.diag(d) == 0) and np.all(d[~np.eye(4, dtype=bool)] > 0)


def _dep(relation, acc, base):
    """DepAccuracy.results() of one head for one relation, the same in both directions."""
    return {relation: (100, np.full((1, 1, 2), acc), np.array([[base] + [0.0] * 7] * 2), np.array([0, 0]))}


STATS = {"entropy": 1.0, "entropy_norm": 0.5, "distance": 1.0, "self": 0.1, "prev": 0.2, "next": 0.1,
         "first": 0.1, "last": 0.1, "special": 0.2, "punct": 0.1}


def _stats(**changed):
    return {k: np.array([[v]]) for k, v in {**STATS, **changed}.items()}


def test_roles_follow_the_documented_rules():
    names = {"first": "[CLS]", "last": "[SEP]"}
    assert role(_stats(), _dep("det", 0.92, 0.61), 0, 0, names) == (
        "syntax", "syntax: det, dependent to head, 0.92 vs 0.61 for the best offset")
    # a previous-token head is as good as offset -1: no syntax, a positional role
    assert role(_stats(prev=0.81), _dep("det", 0.81, 0.81), 0, 0, names) == (
        "previous", "previous token (0.81 of attention)")
    assert role(_stats(), _dep("det", 0.65, 0.56), 0, 0, names)[0] == "mixed"  # under the 0.10 margin
    assert role(_stats(last=0.74), {}, 0, 0, names) == ("last", "[SEP] sink (0.74 of attention)")
    assert role(_stats(first=0.6), {}, 0, 0, {}) == ("first", "first-token sink (0.60 of attention)")
    assert role(_stats(entropy_norm=0.93), {}, 0, 0, names) == ("broad", "broad (normalised entropy 0.93)")
    assert role(_stats(), {}, 0, 0, names) == ("mixed", "mixed (largest share: prev 0.20)")


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, bert_dir):
    from conftest import build_small_site

    return [build_small_site(tmp_path_factory.mktemp(f"batch{b}"), bert_dir, top_k=2, batch_size=b,
                             min_dep_support=1) for b in (1, 32)]


def _table(site, sql):
    import duckdb

    with duckdb.connect(str(site / "report.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_statistics_do_not_depend_on_the_batch_size(two_builds):
    for sql in ("SELECT layer, head, stat, value FROM head_stats ORDER BY ALL",
                "SELECT layer, head, relation, direction, support, accuracy, baseline_offset, baseline_accuracy "
                "FROM dep_accuracy ORDER BY ALL",
                "SELECT layer_a, head_a, layer_b, head_b, distance FROM head_distance ORDER BY ALL"):
        one, many = (_table(site, sql) for site in two_builds)
        assert len(one) == len(many) > 0
        for a, b in zip(one, many):
            for x, y in zip(a, b):
                assert x == (pytest.approx(y, abs=1e-5) if isinstance(y, float) else y), (sql, a, b)


def test_one_heads_dep_accuracy_against_a_direct_computation(two_builds, bert_dir):
    """Word-level attention and predictions by loops, from the model's attention on each corpus sentence."""
    from reportgen.encode import Token, Tokenized, encode
    from reportgen.models import load_model

    site = two_builds[1]
    loaded = load_model(str(bert_dir), None)
    layer, head = 1, 2
    tokens = _table(site, "SELECT t.sentence_id, t.token_idx, t.word_idx, t.is_special FROM tokens t JOIN sentences "
                          "s USING (sentence_id) WHERE s.role = 'corpus' ORDER BY ALL")
    words = _table(site, "SELECT w.sentence_id, w.word_idx, w.dep, w.head_word_idx FROM words w JOIN sentences s "
                         "USING (sentence_id) WHERE s.role = 'corpus' ORDER BY ALL")
    texts = dict(_table(site, "SELECT sentence_id, text FROM sentences WHERE role = 'corpus'"))
    correct: dict[tuple[str, str], int] = {}
    support: dict[str, int] = {}
    for sid, text in sorted(texts.items()):
        ids = loaded.tokenizer(text, split_special_tokens=True)["input_ids"]
        toks = [(i, w, sp) for s, i, w, sp in tokens if s == sid]
        assert len(toks) == len(ids)
        att = encode(loaded, [Tokenized(tuple(ids), tuple(Token(i, "", w, sp, 0, 0) for i, w, sp in toks),
                                        False)]).attention[layer, 0, head]
        arcs = [(w, d, h) for s, w, d, h in words if s == sid]
        pieces = {w: [i for i, tw, sp in toks if tw == w and not sp] for w, _, _ in arcs}

        def predict(u):
            scores = {v: np.mean([sum(att[i, j] for j in pieces[v]) for i in pieces[u]])
                      for v in pieces if v != u and pieces[v]}
            return max(scores, key=lambda v: (scores[v], -v))

        for w, dep, h in arcs:
            if h == w or not pieces[w] or not pieces[h]:
                continue
            support[dep] = support.get(dep, 0) + 1
            correct[(dep, "dependent_to_head")] = correct.get((dep, "dependent_to_head"), 0) + (predict(w) == h)
            p = predict(h)
            hit = any(x == p and d2 == dep and h2 == h for x, d2, h2 in arcs)
            correct[(dep, "head_to_dependent")] = correct.get((dep, "head_to_dependent"), 0) + hit
    stored = {(r, d): (n, acc) for r, d, n, acc in _table(
        site, f"SELECT relation, direction, support, accuracy FROM dep_accuracy WHERE layer = {layer} "
              f"AND head = {head}")}
    assert {r for r, _ in stored} == set(support) | {"all"}
    for (relation, direction), (n, acc) in stored.items():
        if relation == "all":
            want = sum(v for (r, d), v in correct.items() if d == direction) / sum(support.values())
            assert n == sum(support.values())
        else:
            want = correct[(relation, direction)] / support[relation]
            assert n == support[relation]
        assert acc == pytest.approx(want), (relation, direction)
