"""reportgen.search.TopK against a brute-force exact search over the same vectors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reportgen.analyses.search import Candidates, TopK, signed_key, tie_key

pytestmark = pytest.mark.unit

L, H, D_MODEL, D_HEAD = 2, 3, 6, 4
SPACES = H + 2  # embedding, one per head, whole layer
TOL = 1e-5


# ---- helpers ---------------------------------------------------------------------------------


def _batches(emb, ctx, max_att, sentence_id, token_idx, sizes):
    """Split flattened candidates [.., N, ..] into Candidates batches of the given sizes (in stream order)."""
    assert sum(sizes) == emb.shape[1]
    out, start = [], 0
    for size in sizes:
        sl = slice(start, start + size)
        out.append(Candidates(
            embedding=emb[:, sl], context=ctx[:, sl], max_attended=max_att[:, :, sl],
            sentence_id=sentence_id[sl], token_idx=token_idx[sl], order=np.arange(start, start + size)))
        start += size
    return out


def _unit(v):
    norm = math.sqrt(sum(float(x) * float(x) for x in v))
    return [float(x) / norm for x in v]


def _cos(a, b):
    return sum(x * y for x, y in zip(_unit(a), _unit(b)))


def _brute(probe_emb, probe_ctx, emb, ctx, max_att, sentence_id, token_idx, k):
    """(layer, space, probe) -> [(score, sentence_id, token_idx, max_attended), ...] best first.

    A plain Python loop: every candidate's cosine in float64, sorted by (-score, stream position).
    """
    n_layers, n_probe = probe_emb.shape[:2]
    n_heads = probe_ctx.shape[2]
    n = emb.shape[1]
    result = {}
    for layer in range(n_layers):
        for p in range(n_probe):
            per_space = {s: [] for s in range(n_heads + 2)}
            for c in range(n):
                e = _cos(probe_emb[layer, p], emb[layer, c])
                heads = [_cos(probe_ctx[layer, p, h], ctx[layer, c, h]) for h in range(n_heads)]
                norms = [math.sqrt(sum(float(x) ** 2 for x in probe_ctx[layer, p, h])) for h in range(n_heads)]
                per_space[0].append((e, c, int(max_att[layer, n_heads, c])))
                for h in range(n_heads):
                    per_space[h + 1].append((heads[h], c, int(max_att[layer, h, c])))
                # exBERT: the raw query's norm times the cosine, summed over heads
                per_space[n_heads + 1].append((sum(n * x for n, x in zip(norms, heads)), c,
                                               int(max_att[layer, n_heads, c])))
            for s, items in per_space.items():
                items.sort(key=lambda t: (-t[0], t[1]))
                result[(layer, s, p)] = [(score, int(sentence_id[c]), int(token_idx[c]), att)
                                         for score, c, att in items[:k]]  # k=None: every candidate
    return result


def _got(topk: TopK):
    """The same mapping, built from TopK.columns()."""
    cols = topk.columns()
    lengths = {len(v) for v in cols.values()}
    assert len(lengths) == 1
    grouped = {}
    for i in range(lengths.pop()):
        key = (int(cols["layer"][i]), int(cols["space"][i]), int(cols["probe"][i]))
        grouped.setdefault(key, []).append((int(cols["rank"][i]), float(cols["score"][i]),
                                            int(cols["sentence_id"][i]), int(cols["token_idx"][i]),
                                            int(cols["max_attended"][i])))
    out = {}
    for key, items in grouped.items():
        items.sort()
        assert [r for r, *_ in items] == list(range(len(items))), f"ranks of {key} are not 0..n-1"
        out[key] = [tuple(rest) for _, *rest in items]
    return out


def _assert_same(got, full, k):
    """`full` is the brute-force ranking of every candidate; `got` must be its first k, in order.

    Where two brute-force scores nearly tie (float32 noise), either order is accepted, but the match
    must still carry its own score and max-attended token.
    """
    assert sorted(got) == sorted(full)
    for key, ranking in full.items():
        mine, ref = got[key], ranking[:k]
        assert len(mine) == len(ref), key
        true_score = {(sid, tok): score for score, sid, tok, _ in ranking}
        true_att = {(sid, tok): att for _, sid, tok, att in ranking}
        scores = [s for s, *_ in ranking]
        assert len(set((sid, tok) for _, sid, tok, _ in mine)) == len(mine), f"duplicate match in {key}"
        for rank, (score, sid, tok, att) in enumerate(mine):
            assert score == pytest.approx(ref[rank][0], rel=1e-5, abs=TOL), (key, rank)
            assert score == pytest.approx(true_score[(sid, tok)], rel=1e-5, abs=TOL), (key, rank)
            assert att == true_att[(sid, tok)], (key, rank)
            near_tie = any(abs(scores[rank] - scores[j]) < 1e-4 for j in (rank - 1, rank + 1) if 0 <= j < len(scores))
            if not near_tie:
                assert (sid, tok) == ref[rank][1:3], (key, rank)


def _random_case(rng, n_probe, n_cand):
    # un-normalised vectors with very different scales: only the direction may matter
    probe_emb = rng.normal(size=(L, n_probe, D_MODEL)) * rng.uniform(0.1, 50, size=(L, n_probe, 1))
    probe_ctx = rng.normal(size=(L, n_probe, H, D_HEAD)) * rng.uniform(0.1, 50, size=(L, n_probe, H, 1))
    emb = rng.normal(size=(L, n_cand, D_MODEL)) * rng.uniform(0.1, 50, size=(L, n_cand, 1))
    ctx = rng.normal(size=(L, n_cand, H, D_HEAD)) * rng.uniform(0.1, 50, size=(L, n_cand, H, 1))
    # every (layer, row, candidate) gets a distinct max-attended value, so a wrong row or layer shows
    layer, row, cand = np.indices((L, H + 1, n_cand))
    max_att = 10_000 * layer + 1_000 * row + cand
    # candidates come from several sentences; token_idx restarts per sentence
    sentence_id = 100 + np.arange(n_cand) // 4
    token_idx = np.arange(n_cand) % 4
    return (probe_emb.astype(np.float32), probe_ctx.astype(np.float32), emb.astype(np.float32),
            ctx.astype(np.float32), max_att, sentence_id, token_idx)


def _run(probe_emb, probe_ctx, emb, ctx, max_att, sentence_id, token_idx, k, sizes):
    topk = TopK(probe_emb, probe_ctx, k)
    for batch in _batches(emb, ctx, max_att, sentence_id, token_idx, sizes):
        topk.add(batch)
    return topk


# ---- exact search against brute force -------------------------------------------------------

SPLITS = {
    "one batch": [37],
    "mixed sizes with a 1-token and an empty batch": [9, 1, 0, 14, 2, 11],
    "empty first, then single tokens": [0, *[1] * 37],
    "batches larger than k": [20, 17],
}


@pytest.mark.parametrize("k", [1, 5, 37, 100])
@pytest.mark.parametrize("split", list(SPLITS))
def test_matches_brute_force(k, split):
    rng = np.random.default_rng(k * 31 + len(split))
    case = _random_case(rng, n_probe=4, n_cand=37)
    topk = _run(*case, k=k, sizes=SPLITS[split])
    _assert_same(_got(topk), _brute(*case, k=None), k)


def test_k_larger_than_corpus_returns_every_token_once_per_space():
    rng = np.random.default_rng(1)
    case = _random_case(rng, n_probe=3, n_cand=7)
    topk = _run(*case, k=50, sizes=[3, 0, 4])
    got = _got(topk)
    assert len(got) == L * SPACES * 3
    every = {(int(s), int(t)) for s, t in zip(case[5], case[6])}
    for key, matches in got.items():
        assert len(matches) == 7, key
        assert {(sid, tok) for _, sid, tok, _ in matches} == every, key
    _assert_same(got, _brute(*case, k=None), 50)


def test_no_candidates_gives_no_matches():
    rng = np.random.default_rng(2)
    probe_emb, probe_ctx, emb, ctx, max_att, sid, tok = _random_case(rng, n_probe=2, n_cand=0)
    topk = _run(probe_emb, probe_ctx, emb, ctx, max_att, sid, tok, k=3, sizes=[0, 0])
    assert all(len(v) == 0 for v in topk.columns().values())


def test_whole_layer_score_is_the_query_norm_weighted_sum_of_head_cosines_as_exbert():
    # one probe, one candidate: head 0 identical (cos 1), head 1 opposite (cos -1), head 2 orthogonal (cos 0)
    probe_ctx = np.zeros((1, 1, 3, 2), np.float32)
    probe_ctx[0, 0] = [[1, 0], [0, 5], [3, 0]]
    cand_ctx = np.zeros((1, 1, 3, 2), np.float32)
    cand_ctx[0, 0] = [[2, 0], [0, -1], [0, 7]]
    probe_emb = np.array([[[1.0, 1.0]]], np.float32)
    cand_emb = np.array([[[1.0, 0.0]]], np.float32)
    topk = TopK(probe_emb, probe_ctx, k=2)
    topk.add(Candidates(cand_emb, cand_ctx, np.array([[[5], [6], [7], [8]]]), np.array([42]), np.array([3]),
                           np.array([0])))
    got = _got(topk)
    assert [m[0] for m in got[(0, 1, 0)]] == pytest.approx([1.0])
    assert [m[0] for m in got[(0, 2, 0)]] == pytest.approx([-1.0])
    assert [m[0] for m in got[(0, 3, 0)]] == pytest.approx([0.0], abs=1e-7)
    # sum_h |q_h| cos_h: 1 * 1 + 5 * (-1) + 3 * 0, not the cosine of the concatenations nor the plain sum
    assert [m[0] for m in got[(0, 4, 0)]] == pytest.approx([-4.0], abs=1e-5)
    assert [m[0] for m in got[(0, 0, 0)]] == pytest.approx([math.sqrt(0.5)])
    # max attended: embedding and whole layer take row H (the head mean), heads their own row
    assert [m[3] for key in sorted(got) for m in got[key]] == [8, 5, 6, 7, 8]


# ---- ties -----------------------------------------------------------------------------------


def _tie_case(n_cand=30, seed=3):
    """Candidates drawn from 3 distinct vectors, duplicated many times.

    Every vector has four entries of +-1 (norm exactly 2), so normalised entries are +-0.5 and every
    cosine is an exact multiple of 1/4 in float32: equal vectors give bit-identical scores whatever
    the batch, and the expected ranking is fixed by the stream order alone.
    """
    rng = np.random.default_rng(seed)

    def pm1(shape, dim):
        v = np.zeros((*shape, dim), np.float32)
        for idx in np.ndindex(*shape):
            v[idx][rng.choice(dim, 4, replace=False)] = rng.choice([-1.0, 1.0], 4)
        return v

    pool_emb, pool_ctx = pm1((3,), 8), pm1((3, H), 6)
    which = rng.integers(0, 3, size=n_cand)
    which[:3] = [2, 1, 0]  # every pool vector occurs
    emb = np.stack([pool_emb[which]] * L)  # [L, N, 8]
    ctx = np.stack([pool_ctx[which]] * L)  # [L, N, H, 6]
    probe_emb = np.stack([pool_emb[[0, 1, 2]]] * L)  # probe p is pool vector p: its duplicates all tie at 1.0
    probe_ctx = np.stack([pool_ctx[[0, 1, 2]]] * L)
    layer, row, cand = np.indices((L, H + 1, n_cand))
    max_att = 10_000 * layer + 1_000 * row + cand
    sentence_id = np.arange(n_cand) // 5
    token_idx = np.arange(n_cand) % 5
    return probe_emb, probe_ctx, emb, ctx, max_att, sentence_id, token_idx


def _exact_expected(case, k):
    """Brute force, with scores rounded to the exact multiples of 1/4 they are."""
    want = _brute(*case, k=k)
    return {key: [(round(s * 4) / 4, *rest) for s, *rest in v] for key, v in want.items()}


def _ids(mapping):
    return {key: [(sid, tok) for _, sid, tok, _ in v] for key, v in mapping.items()}


def test_tie_case_really_has_ties():
    case = _tie_case()
    want = _exact_expected(case, k=4)
    # probe p's own duplicates all score exactly 1 in the embedding space, more than k of them for some p
    dup = max(int((case[2][0] == case[0][0, p]).all(-1).sum()) for p in range(3))
    assert dup > 4
    assert any(len({s for s, *_ in v}) < len(v) for v in want.values())


@pytest.mark.parametrize("sizes", [[1] * 30, [3] * 10, [4, 0, 4, 4, 1, 4, 4, 4, 4, 1]],
                         ids=["one token per batch", "batches of 3", "batches of at most k"])
def test_ties_go_to_the_earlier_token_when_batches_are_small(sizes):
    case = _tie_case()
    topk = _run(*case, k=4, sizes=sizes)
    got = _got(topk)
    want = _exact_expected(case, k=4)
    assert {key: [s for s, *_ in v] for key, v in got.items()} == {key: [s for s, *_ in v] for key, v in want.items()}
    assert _ids(got) == _ids(want)


@pytest.mark.parametrize("sizes", [[30], [13, 17]], ids=["one batch", "two batches"])
def test_ties_go_to_the_earlier_token_when_batches_are_larger_than_k(sizes):
    case = _tie_case()
    topk = _run(*case, k=4, sizes=sizes)
    assert _ids(_got(topk)) == _ids(_exact_expected(case, k=4))


def test_results_identical_whatever_the_batch_split():
    case = _tie_case()
    results = []
    for sizes in ([30], [1] * 30, [7, 0, 13, 10], [29, 1]):
        topk = _run(*case, k=4, sizes=sizes)
        results.append({name: values.tolist() for name, values in topk.columns().items()})
    assert all(r == results[0] for r in results[1:])


def test_results_identical_whatever_the_batch_split_without_ties():
    rng = np.random.default_rng(4)
    case = _random_case(rng, n_probe=3, n_cand=30)
    results = []
    for sizes in ([30], [1] * 30, [7, 0, 13, 10]):
        topk = _run(*case, k=6, sizes=sizes)
        cols = topk.columns()
        results.append(({n: cols[n].tolist() for n in ("layer", "space", "probe", "rank", "sentence_id",
                                                        "token_idx", "max_attended")}, cols["score"]))
    for ids, scores in results[1:]:
        assert ids == results[0][0]
        np.testing.assert_allclose(scores, results[0][1], atol=1e-6)


# ---- exact ties: a pseudo-random sample of the tied contexts, the tie counted at the cut -----------


def _tied_case(rng, n_probe=3, n_cand=60, n_sentences=12):
    """Vectors drawn from a few basis directions: every cosine is exactly 0 or 1 whatever the batching, so
    many candidates tie exactly. Candidates come from `n_sentences` sentences, each contiguous."""
    def basis(shape, d):
        out = np.zeros((*shape, d), dtype=np.float32)
        idx = rng.integers(0, 2, size=shape)  # two directions only: ties everywhere
        np.put_along_axis(out, idx[..., None], 1.0, axis=-1)
        return out

    probe_emb, probe_ctx = basis((L, n_probe), D_MODEL), basis((L, n_probe, H), D_HEAD)
    emb, ctx = basis((L, n_cand), D_MODEL), basis((L, n_cand, H), D_HEAD)
    layer, row, cand = np.indices((L, H + 1, n_cand))
    max_att = 10_000 * layer + 1_000 * row + cand
    sentence_id = 100 + np.sort(rng.integers(0, n_sentences, size=n_cand))
    token_idx = np.concatenate([np.arange(c) for c in np.unique(sentence_id, return_counts=True)[1]])
    return probe_emb, probe_ctx, emb, ctx, max_att, sentence_id, token_idx


def _tied_brute(probe_emb, probe_ctx, emb, ctx, sentence_id, token_idx, k, cap=None):
    """(layer, space, probe) -> (kept [(score, sentence, token)], (kth score, tied kept, tied dropped)), with
    the exact 0/1 scores ordered by (-score, tie key of the corpus position), at most `cap` per sentence."""
    keys = tie_key((sentence_id.astype(np.int64) << 20) | token_idx)
    n_layers, n_probe = probe_emb.shape[:2]
    out = {}
    for layer in range(n_layers):
        for p in range(n_probe):
            heads = [[float(probe_ctx[layer, p, h] @ ctx[layer, c, h]) for c in range(emb.shape[1])]
                     for h in range(H)]
            spaces = [[float(probe_emb[layer, p] @ emb[layer, c]) for c in range(emb.shape[1])], *heads,
                      [sum(h[c] for h in heads) for c in range(emb.shape[1])]]
            for s, scores in enumerate(spaces):
                ranked = sorted(range(len(scores)), key=lambda c: (-scores[c], int(keys[c])))
                if cap is not None:
                    per: dict = {}
                    ranked = [c for c in ranked if per.setdefault(sentence_id[c], []).append(c) or
                              len(per[sentence_id[c]]) <= cap]
                kept = ranked[:k]
                cut = scores[kept[-1]]
                tied_kept = sum(1 for c in kept if scores[c] == cut)
                tied_all = sum(1 for c in ranked if scores[c] == cut) if len(kept) == k else tied_kept
                out[(layer, s, p)] = ([(scores[c], int(sentence_id[c]), int(token_idx[c])) for c in kept],
                                      (cut, tied_kept, tied_all - tied_kept))
    return out


def _tied_run(case, k, sizes, shuffle_rng=None, cap=None, shards=1):
    """Stream the batches through one search state, or with `shards`, through one state per contiguous group
    of batches, merged into the first in turn."""
    probe_emb, probe_ctx, emb, ctx, max_att, sentence_id, token_idx = case
    topk = TopK(probe_emb, probe_ctx, k, max_per_sentence=cap)
    batches, start = [], 0
    for size in sizes:  # batches of whole sentences
        sl = slice(start, start + size)
        batches.append(Candidates(embedding=emb[:, sl], context=ctx[:, sl], max_attended=max_att[:, :, sl],
                                  sentence_id=sentence_id[sl], token_idx=token_idx[sl],
                                  order=tie_key((sentence_id[sl].astype(np.int64) << 20) | token_idx[sl])))
        start += size
    if shuffle_rng is not None:
        shuffle_rng.shuffle(batches)
    states = [topk] + [TopK(probe_emb, probe_ctx, k, max_per_sentence=cap) for _ in range(shards - 1)]
    for i, batch in enumerate(batches):
        states[i * shards // len(batches)].add(batch)
    for other in states[1:]:
        topk.merge(other)
    got = {key: [(score, sid, tok) for score, sid, tok, _ in v] for key, v in _got(topk).items()}
    ties = topk.ties()
    cut = {(int(la), int(sp), int(pr)): (float(sc), int(kept), int(dropped)) for la, sp, pr, sc, kept, dropped in
           zip(ties["layer"], ties["space"], ties["probe"], ties["score"], ties["tied_kept"], ties["tied_dropped"])}
    return got, cut


def _sentence_sizes(sentence_id, per_batch):
    """Batch sizes that keep each sentence whole: `per_batch` sentences a batch."""
    counts = np.unique(sentence_id, return_counts=True)[1]
    return [int(counts[i:i + per_batch].sum()) for i in range(0, len(counts), per_batch)]


@pytest.mark.parametrize("cap", [None, 1, 2])
@pytest.mark.parametrize("per_batch,shuffled", [(1, False), (1, True), (3, True), (100, False)])
def test_ties_keep_a_hash_sample_and_are_counted_at_the_cut(per_batch, shuffled, cap):
    rng = np.random.default_rng(11)
    case = _tied_case(rng)
    k = 5
    want = _tied_brute(*case[:4], case[5], case[6], k, cap)
    got, cut = _tied_run(case, k, _sentence_sizes(case[5], per_batch),
                         np.random.default_rng(per_batch) if shuffled else None, cap)
    assert got == {key: kept for key, (kept, _) in want.items()}
    assert cut == {key: tie for key, (_, tie) in want.items() if tie[2] > 0}
    assert cut, "the case must have ties at the cut"
    # the kept tied matches are not simply the earliest corpus positions
    assert any([(sid, tok) for _, sid, tok in kept] != sorted((sid, tok) for _, sid, tok in kept)
               for kept in got.values())
    if cap is not None:
        assert all(max(np.unique([sid for _, sid, _ in kept], return_counts=True)[1]) <= cap for kept in got.values())


@pytest.mark.parametrize("cap", [None, 1])
@pytest.mark.parametrize("shards,per_batch,shuffled", [(2, 1, False), (3, 1, True), (4, 3, True), (2, 100, False)])
def test_merged_shards_equal_one_stream_with_ties_counted_at_the_cut(shards, per_batch, shuffled, cap):
    """Per-shard search states merged exactly: the same kept matches (tie sample included) and the same ties
    at the cut as the brute force over everything."""
    rng = np.random.default_rng(11)
    case = _tied_case(rng)
    k = 5
    want = _tied_brute(*case[:4], case[5], case[6], k, cap)
    got, cut = _tied_run(case, k, _sentence_sizes(case[5], per_batch),
                         np.random.default_rng(per_batch) if shuffled else None, cap, shards=shards)
    assert got == {key: kept for key, (kept, _) in want.items()}
    assert cut == {key: tie for key, (_, tie) in want.items() if tie[2] > 0}
    assert cut


def test_merging_an_empty_state_changes_nothing_and_a_small_corpus_keeps_fewer_than_k():
    rng = np.random.default_rng(3)
    case = _tied_case(rng, n_cand=4, n_sentences=2)
    k = 6  # more than the corpus has
    want = _tied_brute(*case[:4], case[5], case[6], k)
    got, cut = _tied_run(case, k, _sentence_sizes(case[5], 1), shards=3)  # more shards than batches: one empty
    assert got == {key: kept for key, (kept, _) in want.items()}
    assert cut == {}


def test_tie_key_is_a_bijection_on_positions():
    positions = np.arange(200_000, dtype=np.int64)
    keys = tie_key(positions)
    assert len(np.unique(keys)) == len(positions)
    assert not np.array_equal(np.argsort(keys), positions)  # not the corpus order


def test_scores_fewer_than_eight_float32_steps_apart_are_tied():
    """Scores are compared at 20 bits of mantissa (rounded to a multiple of 8 float32 steps): two contexts whose
    cosines differ only in the last float32 steps (the arithmetic's noise) tie, are ordered by the tie key and
    counted as ties at the cut; scores 8 steps or more apart never share a bucket."""
    import struct

    import torch

    from reportgen.analyses.search import quantise, quantise_, tie_key

    def by_hand(x: float) -> float:  # the float32 bits, rounded to a multiple of 8 (half up, in magnitude)
        bits = struct.unpack("<i", struct.pack("<f", x))[0]
        return struct.unpack("<f", struct.pack("<i", (bits + 4) & ~7))[0]

    values = np.array([1.0, 0.99999994, 0.9999997, 0.99999905, 0.5, -0.25000003, 0.123456, 0.0], dtype=np.float32)
    assert quantise(torch.tensor(values)).tolist() == [by_hand(float(v)) for v in values]
    given = torch.tensor(values)
    assert quantise(given).tolist() != given.tolist() and given.tolist() == values.tolist()  # a copy: input kept
    in_place = torch.tensor(values)
    assert quantise_(in_place) is not None and in_place.tolist() == [by_hand(float(v)) for v in values]  # no copy
    assert by_hand(1.0) == by_hand(0.99999994)  # 1 step below 1: the same bucket
    assert by_hand(0.9999997) != by_hand(1.0)  # 5 steps below: the next bucket down (a boundary between them)
    assert by_hand(0.99999905) != by_hand(1.0)  # 16 steps below: apart

    # a probe token and three candidates: two whose raw cosines differ by a few float32 steps, one far below
    probe = np.zeros((1, 1, 4), dtype=np.float32)
    probe[0, 0, 0] = 1.0
    topk = TopK(probe, np.zeros((1, 1, 1, 2), dtype=np.float32), k=1)
    emb = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 6e-4, 0.0, 0.0], [0.2, 1.0, 0.0, 0.0]])
    raw = (torch.tensor(probe[0]) @ (emb / emb.norm(dim=-1, keepdim=True)).T)[0]
    assert raw[0] != raw[1] and quantise(raw[0]) == quantise(raw[1])  # apart only in the last steps
    sid, tok = torch.tensor([7, 8, 9]), torch.tensor([0, 0, 0])
    keys = torch.tensor(signed_key(tie_key((np.array([7, 8, 9]) << 20))))
    topk.update_layer(0, sid, tok, keys, torch.zeros((2, 3), dtype=torch.int64), embedding=emb)
    ties = topk.ties()
    row = [i for i in range(len(ties["space"])) if ties["space"][i] == 0]
    assert len(row) == 1 and (ties["tied_kept"][row[0]], ties["tied_dropped"][row[0]]) == (1, 1)
    winner = int(topk.sentence_id[0, 0, 0, 0])
    by_key = min((7, 8), key=lambda s: int(tie_key(np.array([s << 20]))[0]))
    assert winner == by_key  # of the two tied, the smaller tie key, not the last float32 step


@pytest.mark.parametrize("cap", [None, 1])
def test_a_tie_count_the_cap_left_unfinished_is_marked_open_ended(cap):
    """With a cap per sentence, candidates past a sentence's cap are discarded before the ties are counted: the
    count is then only a lower bound of the corpus contexts with the cut's score (strictly, somewhere in this case),
    and every tie row says so (`open_ended`, 'at least' on the pages); without a cap the count is exact."""
    rng = np.random.default_rng(11)
    case = _tied_case(rng)
    k = 5
    exact = _tied_brute(*case[:4], case[5], case[6], k, None)
    topk = TopK(case[0], case[1], k, max_per_sentence=cap)
    topk.add(Candidates(embedding=case[2], context=case[3], max_attended=case[4], sentence_id=case[5],
                        token_idx=case[6], order=tie_key((case[5].astype(np.int64) << 20) | case[6])))
    ties = topk.ties()
    assert len(ties["layer"]) and list(ties["open_ended"]) == [cap is not None] * len(ties["layer"])
    short = 0
    for la, sp, pr, score, kept, dropped in zip(ties["layer"], ties["space"], ties["probe"], ties["score"],
                                                ties["tied_kept"], ties["tied_dropped"]):
        everything = exact[(int(la), int(sp), int(pr))]
        every_tied = sum(1 for s, _, _ in everything[0] if s == score) + (
            everything[1][2] if everything[1][0] == score else 0)
        assert kept + dropped <= every_tied  # a lower bound ...
        short += kept + dropped < every_tied
    assert (short > 0) == (cap is not None)  # ... that falls short only where a cap discarded tied candidates
