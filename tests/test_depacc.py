"""reportgen.analyses.depacc.DepAccuracy (Clark et al. 2019 dependency accuracy) and the word-level attention it
uses, against direct computations with Python loops: on hand-made attention over word-level sentences, on random
attention with words of several tokens, and on a tiny BERT's attention over a built site's corpus."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.analyses.base import BatchInfo, LayerBatch, feed
from reportgen.analyses.depacc import DepAccuracy
from reportgen.vocab import ALL_RELATIONS as ALL
from reportgen.vocab import DIRECTIONS
from reportgen.analyses.headstats import HeadStats

# the baseline's offsets as documented, in their order of preference on ties: nearest first, left first
OFFSETS = (-1, 1, -2, 2, -3, 3, -4, 4)


# ---------------------------------------------------------------------------------------------------------------
# hand-made sentences: [CLS], the tokens of each word, [SEP]


def _info(sentences, pieces=None, ids=None, width=None, causal=False):
    """sentences: per sentence, a list of (relation, head word) per word; pieces: per sentence, the number of
    tokens of each word (default 1; 0: a word that lost its tokens); width: pad to this many tokens."""
    pieces = pieces or [[1] * len(s) for s in sentences]
    lengths = [sum(p) + 2 for p in pieces]
    b, t, w = len(sentences), max(lengths + [width or 0]), max(len(s) for s in sentences)
    mask = np.zeros((b, t), bool)
    special = np.zeros((b, t), bool)
    word_of = np.full((b, t), -1)
    heads = np.full((b, w), -1)
    deps = np.full((b, w), "", dtype=object)
    for row, (words, counts) in enumerate(zip(sentences, pieces)):
        mask[row, : lengths[row]] = True
        special[row, 0] = special[row, lengths[row] - 1] = True
        word_of[row, 1 : lengths[row] - 1] = np.repeat(np.arange(len(words)), counts)
        for i, (dep, head) in enumerate(words):
            heads[row, i], deps[row, i] = head, dep
    ids = np.arange(b) if ids is None else np.asarray(ids)
    return BatchInfo(ids, mask, special, np.zeros((b, t), bool), word_of, heads, deps, causal)


def _tokens_of(info, row):
    """word -> its token positions, for one row."""
    out: dict[int, list[int]] = {}
    for t, w in enumerate(info.word_of[row]):
        if w >= 0:
            out.setdefault(int(w), []).append(t)
    return out


def _random_attention(rng, info, n_layers, n_heads, garbage=True):
    """[L, B, H, T, T] softmax attention over each row's real keys; padding query rows hold garbage."""
    b, t = info.mask.shape
    logits = rng.normal(scale=2.0, size=(n_layers, b, n_heads, t, t))
    logits = np.where(info.mask[None, :, None, None, :], logits, -np.inf)
    att = np.exp(logits - logits.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    if garbage:
        pad_rows = ~info.mask[None, :, None, :, None] & np.ones((1, 1, 1, 1, t), bool)
        att = np.where(pad_rows, rng.uniform(0, 5, size=att.shape), att)
    return att.astype(np.float32)


def _naive_tables(att, info, min_support=1):
    """dep_accuracy rows computed with loops: word-level attention, predictions, arcs and the baseline."""
    n_layers, b, n_heads = att.shape[:3]
    correct: dict[tuple, int] = {}
    support: dict[str, int] = {}
    base: dict[tuple, int] = {}
    for row in range(b):
        toks = _tokens_of(info, row)
        n_words = int((info.heads[row] >= 0).sum())
        arcs = [(w, int(info.heads[row, w]), info.deps[row, w]) for w in range(n_words)
                if info.heads[row, w] != w and w in toks and int(info.heads[row, w]) in toks]

        def is_dep(word, head, rel):
            return (0 <= word < n_words and word != head and info.heads[row, word] == head
                    and info.deps[row, word] == rel)

        for w, h, rel in arcs:
            support[rel] = support.get(rel, 0) + 1
            for o, offset in enumerate(OFFSETS):
                base[(rel, 0, o)] = base.get((rel, 0, o), 0) + (h == w + offset)
                base[(rel, 1, o)] = base.get((rel, 1, o), 0) + is_dep(h + offset, h, rel)
        for layer in range(n_layers):
            for head in range(n_heads):
                a = att[layer, row, head].astype(np.float64)

                def predict(u):
                    scores = {v: np.mean([sum(a[i, j] for j in toks[v]) for i in toks[u]]) for v in toks if v != u}
                    return max(scores, key=lambda v: (scores[v], -v))

                for w, h, rel in arcs:
                    key = (layer, head, rel)
                    hits = (predict(w) == h, is_dep(predict(h), h, rel))
                    for d, hit in enumerate(hits):
                        correct[(*key, d)] = correct.get((*key, d), 0) + int(hit)
    total = sum(support.values())
    relations = ([ALL] if total else []) + sorted(r for r, n in support.items() if n >= min_support)
    rows = []
    for layer in range(n_layers):
        for head in range(n_heads):
            for rel in relations:
                rels = list(support) if rel == ALL else [rel]
                n = sum(support[r] for r in rels)
                for d, direction in enumerate(DIRECTIONS):
                    acc = sum(correct.get((layer, head, r, d), 0) for r in rels) / n
                    rates = [sum(base.get((r, d, o), 0) for r in rels) / n for o in range(len(OFFSETS))]
                    best = max(range(len(OFFSETS)), key=lambda o: (rates[o], -o))  # ties: first in OFFSETS
                    rows.append((layer, head, rel, direction, n, acc, OFFSETS[best], rates[best]))
    return rows


def _assert_tables_close(got, want):
    assert [r[:5] for r in got] == [r[:5] for r in want]
    assert [r[6] for r in got] == [r[6] for r in want]
    np.testing.assert_allclose([r[5] for r in got], [r[5] for r in want], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose([r[7] for r in got], [r[7] for r in want], rtol=1e-12, atol=1e-12)


def _dep(att, info, min_support=1):
    dep = DepAccuracy(att.shape[0], att.shape[2], min_support)
    feed([dep], att, info)
    return dep


def _accuracy(dep, relation, direction, layer=0, head=0):
    support, acc, _, _ = dep.results()[relation]
    return support, float(acc[layer, head, DIRECTIONS.index(direction)])


# "w0 w1 w2 w3": w0 root; w1 <- w0 (nmod, head the previous word); w2 <- w3 (det, head the next word);
# w3 <- w2 (nmod, previous word)
CHAIN = [("ROOT", 0), ("nmod", 0), ("det", 3), ("nmod", 2)]
# "w0 w1 w2": w0 root, w1 <- w0 (nmod), w2 <- w1 (nmod)
SHORT = [("ROOT", 0), ("nmod", 0), ("nmod", 1)]


def _previous_token_attention(info):
    """[1, B, 1, T, T]: every token attends to the previous token; the first token to itself."""
    b, t = info.mask.shape
    att = np.zeros((1, b, 1, t, t), np.float32)
    for row in range(b):
        for q in range(int(info.mask[row].sum())):
            att[0, row, 0, q, max(q - 1, 0)] = 1.0
    return att


def test_a_previous_word_head_is_right_where_the_head_is_the_previous_word_and_so_is_offset_minus_1():
    info = _info([CHAIN, SHORT])
    att = _previous_token_attention(info)
    stats, dep = HeadStats(1, 1), DepAccuracy(1, 1, 1)
    feed([stats, dep], att, info)
    assert stats.means()["prev"][0, 0] == pytest.approx(1.0)
    results = dep.results()
    support, acc, base, best = results["nmod"]
    assert support == 4  # (1->0), (3->2), (1->0), (2->1); roots are no arcs
    assert acc[0, 0, 0] == pytest.approx(1.0)  # dependent to head
    assert OFFSETS[best[0]] == -1 and base[0, best[0]] == pytest.approx(1.0)
    # det: the dependent w2 predicts w1, never its head w3; the baseline's best offset is +1
    support, acc, base, best = results["det"]
    assert support == 1 and acc[0, 0, 0] == 0.0
    assert OFFSETS[best[0]] == 1 and base[0, best[0]] == 1.0
    # head to dependent: the head w3 predicts w2, its det dependent
    assert acc[0, 0, 1] == 1.0 and OFFSETS[best[1]] == -1 and base[1, best[1]] == 1.0
    # the table rows say the same
    rows = {(r[2], r[3]): r[4:] for r in dep.tables()["dep_accuracy"]}
    assert rows[("nmod", "dependent_to_head")] == (4, 1.0, -1, 1.0)
    assert rows[("det", "dependent_to_head")] == (1, 0.0, 1, 1.0)
    assert rows[(ALL, "dependent_to_head")][0] == 5


def test_word_attention_sums_over_attended_tokens_and_averages_over_attending_ones():
    # words of 1, 3 and 2 tokens, a second sentence of one-token words, and padding
    info = _info([[("ROOT", 0), ("obj", 0), ("nmod", 1)], [("ROOT", 0), ("obj", 0)]],
                 pieces=[[1, 3, 2], [1, 1]], width=10)
    rng = np.random.default_rng(0)
    att = _random_attention(rng, info, 1, 3)[0]
    words = LayerBatch(0, att, info).word_attention()
    assert words.shape == (2, 3, 3, 3)
    for row in range(2):
        toks = _tokens_of(info, row)
        for h in range(3):
            for u in range(3):
                for v in range(3):
                    if u in toks and v in toks:
                        want = sum(sum(float(att[row, h, i, j]) for j in toks[v]) for i in toks[u]) / len(toks[u])
                    else:
                        want = 0.0  # a word the sentence does not have
                    assert words[row, h, u, v] == pytest.approx(want, rel=1e-5, abs=1e-7)


def test_special_tokens_are_never_predicted_and_a_word_never_predicts_itself():
    info = _info([CHAIN, SHORT])
    b, t = info.mask.shape
    att = np.zeros((1, b, 2, t, t), np.float32)
    for row in range(b):
        toks = _tokens_of(info, row)
        n = int(info.mask[row].sum())
        att[0, row, :, :, 0] = 1.0  # anything not set below: all on [CLS]
        for w, positions in toks.items():
            h = int(info.heads[row, w])
            (q,) = positions
            if h == w:
                continue
            att[0, row, :, q] = 0.0
            # head 0: 0.9 on [CLS], 0.1 on the head word; head 1: 0.6 on itself, 0.3 on [SEP], 0.1 on the head
            att[0, row, 0, q, 0], att[0, row, 0, q, toks[h][0]] = 0.9, 0.1
            att[0, row, 1, q, q], att[0, row, 1, q, n - 1], att[0, row, 1, q, toks[h][0]] = 0.6, 0.3, 0.1
    dep = _dep(att, info)
    for relation in ("nmod", "det", ALL):
        for head in (0, 1):
            assert _accuracy(dep, relation, "dependent_to_head", head=head)[1] == 1.0, (relation, head)
    # roots are no arcs: 3 + 2 non-root words
    assert dep.results()[ALL][0] == 5
    assert "ROOT" not in dep.results()


def test_a_head_on_cls_only_still_predicts_a_word():
    # all weight on [CLS]: every other word scores 0 and one of them is predicted (the first, as argmax does),
    # never [CLS] nor a padding word
    info = _info([CHAIN, SHORT], width=9)
    t = info.mask.shape[1]
    att = np.zeros((1, 2, 1, t, t), np.float32)
    att[..., 0] = 1.0
    dep = _dep(att, info)
    assert dep.results()[ALL][0] == 5
    _assert_tables_close(dep.tables()["dep_accuracy"], _naive_tables(att, info))
    # CHAIN: w1 -> w0 right (w0 is the first other word), w2 -> w0 and w3 -> w0 wrong; SHORT: w1 right, w2 wrong
    assert _accuracy(dep, ALL, "dependent_to_head") == (5, pytest.approx(2 / 5))


def test_words_that_lost_their_tokens_give_no_arcs():
    # word 3 has no tokens (truncated away): its arc (3 -> 2) and any arc to it (2 -> 3) are dropped
    info = _info([CHAIN], pieces=[[1, 1, 1, 0]])
    rng = np.random.default_rng(1)
    att = _random_attention(rng, info, 1, 2)
    dep = _dep(att, info)
    assert dep.results()[ALL][0] == 1  # only (1 -> 0)
    assert set(dep.results()) == {ALL, "nmod"}
    _assert_tables_close(dep.tables()["dep_accuracy"], _naive_tables(att, info))


def test_head_to_dependent_accepts_any_dependent_of_the_arcs_relation():
    # "w0 w1 w2 w3": w0 <- w2 (amod), w1 <- w2 (amod), w2 root, w3 <- w2 (nsubj)
    words = [("amod", 2), ("amod", 2), ("ROOT", 2), ("nsubj", 2)]
    info = _info([words])
    t = info.mask.shape[1]
    for target in (0, 1):  # the head word attends to the first or the second amod dependent
        att = np.full((1, 1, 1, t, t), 1.0 / t, np.float32)
        att[0, 0, 0, 3] = 0.0
        att[0, 0, 0, 3, 1 + target] = 1.0  # token 3 = word 2
        dep = _dep(att, info)
        assert _accuracy(dep, "amod", "head_to_dependent") == (2, 1.0)  # both amod arcs are right
        assert _accuracy(dep, "nsubj", "head_to_dependent") == (1, 0.0)  # an amod dependent is no nsubj
        assert _accuracy(dep, ALL, "head_to_dependent") == (3, pytest.approx(2 / 3))
    # attending to the nsubj dependent: right for nsubj only
    att = np.full((1, 1, 1, t, t), 1.0 / t, np.float32)
    att[0, 0, 0, 3] = 0.0
    att[0, 0, 0, 3, 4] = 1.0
    dep = _dep(att, info)
    assert _accuracy(dep, "amod", "head_to_dependent") == (2, 0.0)
    assert _accuracy(dep, "nsubj", "head_to_dependent") == (1, 1.0)


def test_baseline_ties_go_to_the_nearest_offset_left_first():
    # "w0 w1 w2 w3 w4": w0 <- w1 and w2 <- w1 (amod), w1 root, w3 <- w1 and w4 <- w1 (obl)
    words = [("amod", 1), ("ROOT", 1), ("amod", 1), ("obl", 1), ("obl", 1)]
    info = _info([words])
    dep = _dep(_previous_token_attention(info), info)
    _, _, base, best = dep.results()["amod"]
    # dependent to head: +1 for w0, -1 for w2: a tie at 0.5, to -1
    assert base[0].tolist() == [0.5, 0.5, 0, 0, 0, 0, 0, 0] and OFFSETS[best[0]] == -1
    # head to dependent: from w1, -1 (w0) and +1 (w2) are both amod dependents: a tie at 1.0, to -1
    assert base[1].tolist() == [1.0, 1.0, 0, 0, 0, 0, 0, 0] and OFFSETS[best[1]] == -1
    _, _, base, best = dep.results()["obl"]
    # dependent to head: -2 for w3, -3 for w4; head to dependent: +2 (w3) and +3 (w4) from w1 both right: +2
    assert base[0].tolist() == [0, 0, 0.5, 0, 0.5, 0, 0, 0] and OFFSETS[best[0]] == -2
    assert base[1].tolist() == [0, 0, 0, 1.0, 0, 1.0, 0, 0] and OFFSETS[best[1]] == 2
    rows = {(r[2], r[3]): (r[6], r[7]) for r in dep.tables()["dep_accuracy"]}
    assert rows[("amod", "dependent_to_head")] == (-1, 0.5) and rows[("obl", "head_to_dependent")] == (2, 1.0)
    _assert_tables_close(dep.tables()["dep_accuracy"], _naive_tables(_previous_token_attention(info), info))


def test_min_support_keeps_all_and_relations_with_enough_arcs():
    info = _info([CHAIN, SHORT])  # nmod: 4 arcs, det: 1
    att = _previous_token_attention(info)
    for min_support, relations in ((1, {ALL, "nmod", "det"}), (4, {ALL, "nmod"}), (5, {ALL})):
        dep = _dep(att, info, min_support)
        assert set(dep.results()) == relations
        assert {r[2] for r in dep.tables()["dep_accuracy"]} == relations
        assert dep.results()[ALL][0] == 5  # `all` counts every arc, filtered relations included
        _assert_tables_close(dep.tables()["dep_accuracy"], _naive_tables(att, info, min_support))


# sentences whose relations first appear in different orders
SENTENCES = [
    [("det", 1), ("nsubj", 2), ("ROOT", 2), ("obj", 2), ("punct", 2)],
    [("ROOT", 0), ("obj", 0), ("prep", 1), ("pobj", 2)],
    [("nsubj", 1), ("ROOT", 1), ("det", 3), ("obj", 1)],
    [("amod", 1), ("nsubj", 2), ("ROOT", 2), ("advmod", 2), ("punct", 2)],
    [("ROOT", 0), ("punct", 0)],
]
PIECES = [[1, 2, 1, 3, 1], [2, 1, 1, 1], [1, 1, 1, 2], [1, 1, 2, 1, 1], [3, 1]]


def test_random_attention_matches_the_loops():
    rng = np.random.default_rng(2)
    info = _info(SENTENCES, PIECES)
    att = _random_attention(rng, info, 2, 3)
    dep = _dep(att, info)
    _assert_tables_close(dep.tables()["dep_accuracy"], _naive_tables(att, info))
    assert {r[2] for r in dep.tables()["dep_accuracy"]} == {ALL, "det", "nsubj", "obj", "punct", "prep", "pobj",
                                                             "amod", "advmod"}


def test_merge_of_two_halves_equals_one_pass():
    rng = np.random.default_rng(3)
    info = _info(SENTENCES, PIECES)
    att = _random_attention(rng, info, 2, 3)
    whole = _dep(att, info, min_support=2)

    def part(rows):
        sub = _info([SENTENCES[r] for r in rows], [PIECES[r] for r in rows], ids=rows)
        t = sub.mask.shape[1]
        return _dep(np.ascontiguousarray(att[:, rows, :, :t, :t]), sub, min_support=2)

    for first_rows, second_rows in (([3, 4], [0, 1, 2]), ([1, 2], [4, 0, 3])):
        first, second = part(first_rows), part(second_rows)
        assert first.relations != second.relations[: len(first.relations)]  # relations in different orders
        first.merge(second)
        assert first.tables() == whole.tables()
    # both orders of merging
    a, b = part([0, 2]), part([1, 3, 4])
    b.merge(a)
    assert b.tables() == whole.tables()


def test_one_batch_or_one_sentence_per_batch_give_equal_tables():
    rng = np.random.default_rng(4)
    info = _info(SENTENCES, PIECES, width=14)  # extra padding
    att = _random_attention(rng, info, 2, 3)
    whole = _dep(att, info)
    alone = DepAccuracy(2, 3, 1)
    for row in reversed(range(len(SENTENCES))):
        sub = _info([SENTENCES[row]], [PIECES[row]], ids=[row])
        t = sub.mask.shape[1]
        feed([alone], np.ascontiguousarray(att[:, row : row + 1, :, :t, :t]), sub)
    assert alone.tables() == whole.tables()
    # and in batches of two with their own padding
    pairs = DepAccuracy(2, 3, 1)
    for rows in ([4, 1], [0, 3], [2]):
        sub = _info([SENTENCES[r] for r in rows], [PIECES[r] for r in rows], ids=rows, width=11)
        batch = np.zeros((2, len(rows), 3, 11, 11), np.float32) + 3.0  # garbage beyond the sentences
        for i, r in enumerate(rows):
            n = int(info.mask[r].sum())
            batch[:, i, :, :n, :n] = att[:, r, :, :n, :n]
            batch[:, i, :, :n, n:] = 0.0
        feed([pairs], batch, sub)
    assert pairs.tables() == whole.tables()


# ---------------------------------------------------------------------------------------------------------------
# a built site: BatchInfo from reportgen.build._batch_info, the tiny BERT's attention recomputed here


@pytest.fixture(scope="module")
def sites(tmp_path_factory, bert_dir):
    from conftest import build_small_site

    return {b: build_small_site(tmp_path_factory.mktemp(f"depacc-batch{b}"), bert_dir, top_k=3, batch_size=b,
                                min_dep_support=1) for b in (1, 32)}


def _query(site, sql):
    import duckdb

    with duckdb.connect(str(site / "report.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_built_dep_accuracy_and_head_stats_match_a_direct_computation(sites, bert_dir):
    import torch
    from transformers import AutoModel, AutoTokenizer

    site = sites[32]
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    model = AutoModel.from_pretrained(bert_dir, attn_implementation="eager").eval()
    texts = dict(_query(site, "SELECT sentence_id, text FROM sentences WHERE role = 'corpus'"))
    assert len(texts) == 8
    tokens: dict[int, list[tuple]] = {}
    for sid, idx, text, word, special in _query(site, "SELECT sentence_id, token_idx, text, word_idx, is_special "
                                                      "FROM tokens ORDER BY sentence_id, token_idx"):
        tokens.setdefault(sid, []).append((idx, text, word, special))
    words: dict[int, list[tuple]] = {}
    for sid, idx, dep, head, punct in _query(site, "SELECT sentence_id, word_idx, dep, head_word_idx, is_punct "
                                                   "FROM words ORDER BY sentence_id, word_idx"):
        words.setdefault(sid, []).append((idx, dep, head, punct))

    n_layers, n_heads = 2, 4
    correct: dict[tuple, int] = {}
    support: dict[str, int] = {}
    base: dict[tuple, int] = {}
    stat_sums: dict[tuple, float] = {}
    stat_counts: dict[str, int] = {}
    for sid, text in sorted(texts.items()):
        ids = tokenizer(text, split_special_tokens=True)["input_ids"]
        toks = tokens[sid]
        assert [t[0] for t in toks] == list(range(len(ids)))
        assert [t[1] for t in toks] == tokenizer.convert_ids_to_tokens(ids)
        with torch.no_grad():
            attention = model(input_ids=torch.tensor([ids]), output_attentions=True).attentions
        attention = np.stack([a[0].double().numpy() for a in attention])  # [L, H, T, T]
        members: dict[int, list[int]] = {}
        for idx, _, word, special in toks:
            if not special:
                members.setdefault(word, []).append(idx)
        heads = {w: h for w, _, h, _ in words[sid]}
        labels = {w: d for w, d, _, _ in words[sid]}
        arcs = [(w, h, d) for w, d, h, _ in words[sid] if h != w and w in members and h in members]

        def is_dep(word, head, rel):
            return word in heads and word != head and heads[word] == head and labels[word] == rel

        for w, h, rel in arcs:
            support[rel] = support.get(rel, 0) + 1
            for o, offset in enumerate(OFFSETS):
                base[(rel, 0, o)] = base.get((rel, 0, o), 0) + (h == w + offset)
                base[(rel, 1, o)] = base.get((rel, 1, o), 0) + is_dep(h + offset, h, rel)
        n = len(ids)
        last = max(i for i, _, _, special in toks if special)
        punct_words = {w for w, _, _, p in words[sid] if p}
        for layer in range(n_layers):
            for head in range(n_heads):
                a = attention[layer, head]
                for q in range(n):
                    for stat, value in (("self", a[q, q]), ("first", a[q, 0]), ("last", a[q, last]),
                                        ("distance", sum(a[q, k] * abs(q - k) for k in range(n))),
                                        ("special", sum(a[q, k] for k, _, _, s in toks if s)),
                                        ("punct", sum(a[q, k] for k, _, w, s in toks if not s and w in punct_words)),
                                        ("entropy_norm", -sum(p * np.log(p) for p in a[q] if p > 0) / np.log(n))):
                        stat_sums[(layer, head, stat)] = stat_sums.get((layer, head, stat), 0.0) + value
                    if q > 0:
                        stat_sums[(layer, head, "prev")] = stat_sums.get((layer, head, "prev"), 0.0) + a[q, q - 1]

                def predict(u):
                    scores = {v: np.mean([sum(a[i, j] for j in members[v]) for i in members[u]])
                              for v in members if v != u}
                    return max(scores, key=lambda v: (scores[v], -v))

                for w, h, rel in arcs:
                    for d, hit in enumerate((predict(w) == h, is_dep(predict(h), h, rel))):
                        correct[(layer, head, rel, d)] = correct.get((layer, head, rel, d), 0) + int(hit)
        for stat in ("self", "first", "last", "distance", "special", "punct", "entropy_norm"):
            stat_counts[stat] = stat_counts.get(stat, 0) + n
        stat_counts["prev"] = stat_counts.get("prev", 0) + n - 1

    stored = {(r[0], r[1], r[2], r[3]): r[4:] for r in _query(
        site, "SELECT layer, head, relation, direction, support, accuracy, baseline_offset, baseline_accuracy "
              "FROM dep_accuracy")}
    assert len(support) > 3 and {k[2] for k in stored} == set(support) | {ALL}
    assert len(stored) == n_layers * n_heads * (len(support) + 1) * 2
    total = sum(support.values())
    for (layer, head, rel, direction), (n, acc, offset, base_acc) in stored.items():
        d = DIRECTIONS.index(direction)
        rels = list(support) if rel == ALL else [rel]
        assert n == sum(support[r] for r in rels) == (total if rel == ALL else support[rel])
        want = sum(correct[(layer, head, r, d)] for r in rels) / n
        assert acc == pytest.approx(want, abs=1e-12), (layer, head, rel, direction)
        rates = [sum(base[(r, d, o)] for r in rels) / n for o in range(len(OFFSETS))]
        best = max(range(len(OFFSETS)), key=lambda o: (rates[o], -o))
        assert (offset, base_acc) == (OFFSETS[best], pytest.approx(rates[best])), (rel, direction)
    # a head with something to find: not every accuracy is the same
    assert len({round(v[1], 9) for v in stored.values()}) > 5

    stats = {(layer, head, stat): value for layer, head, stat, value in _query(
        site, "SELECT layer, head, stat, value FROM head_stats")}
    for (layer, head, stat), value in stat_sums.items():
        assert stats[(layer, head, stat)] == pytest.approx(value / stat_counts[stat], rel=1e-4, abs=1e-6), \
            (layer, head, stat)


def test_built_statistics_do_not_depend_on_the_batch_size(sites):
    for sql in ("SELECT layer, head, stat, value FROM head_stats ORDER BY layer, head, stat",
                "SELECT layer, head, relation, direction, support, accuracy, baseline_offset, baseline_accuracy "
                "FROM dep_accuracy ORDER BY layer, head, relation, direction",
                "SELECT layer_a, head_a, layer_b, head_b, distance FROM head_distance "
                "ORDER BY layer_a, head_a, layer_b, head_b"):
        one, many = (_query(sites[b], sql) for b in (1, 32))
        assert len(one) == len(many) > 0
        for a, b in zip(one, many):
            assert [x for x in a if not isinstance(x, float)] == [y for y in b if not isinstance(y, float)], sql
            np.testing.assert_allclose([x for x in a if isinstance(x, float)],
                                       [y for y in b if isinstance(y, float)], rtol=0, atol=1e-6, err_msg=sql)
