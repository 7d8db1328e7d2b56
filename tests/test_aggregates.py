"""exBERT's aggregates: the SQL of `store` and the views built on it, checked against counts computed
independently in Python on a small hand-built database."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema.core import load_schema

from reportgen import charts
from reportgen.store import Store
from reportgen.views import ALL, OTHER, TOKEN_BARS, Histogram, Views, summarise

POS = ["NOUN", "VERB", "DET", "ADJ", "ADP", "PROPN", "PUNCT", "PRON", "NUM", "ADV", "AUX", "CCONJ"]
DEP = ["nsubj", "dobj", "det", "amod", "prep", "pobj", "punct", "ROOT", "compound", "conj"]
ENT = [None, None, None, "PERSON", "GPE", "DATE"]
SPACES = [("context", 0, 0), ("context", 0, 1), ("context", 0, None), ("embedding", 0, None),
          ("context", 1, 0), ("context", 1, 1), ("context", 1, None), ("embedding", 1, None)]
K = 7


def _build(store: Store, seed: int = 7) -> dict:
    """A random but complete report: corpus sentences with words and word pieces, probes, and K matches of
    every probe token in every space. Returns the same data as Python dicts for the independent counts."""
    rnd = random.Random(seed)
    store.create()
    words, tokens, sentences = {}, {}, []
    n_probes, n_corpus = 2, 12
    for sid in range(n_probes + n_corpus):
        role = "probe" if sid < n_probes else "corpus"
        n_words = rnd.randint(3, 9)
        texts = [rnd.choice(["cat", "sat", "the", "on", "mat", "quickly", "Paris", ","]) for _ in range(n_words)]
        text = " ".join(texts)
        sentences.append((sid, role, f"{role}:{sid}", text, False))
        toks = [(sid, 0, "[CLS]", None, True, 0, 0)]
        at = 0
        for w, word in enumerate(texts):
            ann = (rnd.choice(POS), rnd.choice(POS).lower() + "_tag", rnd.choice(DEP), rnd.choice(ENT))
            words[(sid, w)] = ann
            store.insert("words", [(sid, w, word, word, ann[0], ann[1], ann[2], 0, ann[3], word == ",",
                                    at, at + len(word))])
            pieces = 2 if len(word) > 5 else 1  # long words are two model tokens
            cut = at + len(word) // pieces
            for p in range(pieces):
                start, end = (at, cut) if p == 0 and pieces == 2 else (cut if pieces == 2 else at, at + len(word))
                toks.append((sid, len(toks), word, w, False, start, end))
            at += len(word) + 1
        toks.append((sid, len(toks), "[SEP]", None, True, 0, 0))
        tokens[sid] = toks
        store.insert("tokens", toks)
    store.insert("sentences", sentences)
    neighbours = []
    corpus_tokens = [(sid, t[1]) for sid in range(n_probes, n_probes + n_corpus) for t in tokens[sid] if not t[4]]
    for sid in range(n_probes):
        for t in tokens[sid]:
            if t[4]:
                continue
            for space, layer, head in SPACES:
                for rank, (m_sid, m_tok) in enumerate(rnd.sample(corpus_tokens, K)):
                    # attend to a neighbour most of the time, sometimes to a special or a far token
                    att = rnd.choice([m_tok - 1, m_tok + 1, m_tok, 0, len(tokens[m_sid]) - 1,
                                      rnd.randrange(len(tokens[m_sid]))])
                    att = min(max(att, 0), len(tokens[m_sid]) - 1)
                    neighbours.append((sid, t[1], space, layer, head, rank, m_sid, m_tok, 1.0 - rank / 10, att))
    store.insert("neighbours", neighbours)
    store.set_meta({"n_layers": "2", "n_heads": "2", "model": "hand-built", "top_k": str(K)})
    return {"words": words, "tokens": tokens, "neighbours": neighbours}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("agg") / "report.duckdb")
    data = _build(store)
    yield store, data
    store.close()


def _annotation(data, token_sid, token_idx):
    """(pos, tag, dep, ent) of one corpus token, computed here without SQL."""
    tok = data["tokens"][token_sid][token_idx]
    if tok[4]:
        return ("special",) * 4
    pos, tag, dep, ent = data["words"][(token_sid, tok[3])]
    return pos, tag, dep, ent or "none"


def _python_annotation_counts(data, space, layer, head, attended):
    counts: Counter = Counter()
    for sid, idx, sp, la, he, _rank, m_sid, m_tok, _score, att in data["neighbours"]:
        if (sp, la, he) != (space, layer, head):
            continue
        ann = _annotation(data, m_sid, att if attended else m_tok)
        for facet, category in zip(("pos", "tag", "dep", "ent"), ann):
            counts[(sid, idx, facet, category)] += 1
            counts[(None, None, facet, category)] += 1
    return counts


def _python_offset_counts(data, space, layer, head):
    counts: Counter = Counter()
    for sid, idx, sp, la, he, _rank, m_sid, m_tok, _score, att in data["neighbours"]:
        if (sp, la, he) != (space, layer, head):
            continue
        d = att - m_tok
        if data["tokens"][m_sid][att][4]:
            bucket = "special"
        elif abs(d) > 3:
            bucket = "further"
        else:
            bucket = f"{d:+d}" if d else "0"
        counts[(sid, idx, "offset", bucket)] += 1
        counts[(None, None, "offset", bucket)] += 1
    return counts


@pytest.mark.parametrize("space,layer,head", SPACES)
@pytest.mark.parametrize("attended", [False, True])
def test_annotation_counts_match_python(report, space, layer, head, attended):
    store, data = report
    rows = store.annotation_counts(space, layer, head, attended=attended)
    got = {(sid, idx, facet, cat): n for sid, idx, facet, cat, n in rows}
    assert len(got) == len(rows)  # one row per group
    assert got == dict(_python_annotation_counts(data, space, layer, head, attended))


@pytest.mark.parametrize("space,layer,head", SPACES)
def test_offset_counts_match_python(report, space, layer, head):
    store, data = report
    rows = store.offset_counts(space, layer, head)
    got = {(sid, idx, facet, bucket): n for sid, idx, facet, bucket, n in rows}
    want = _python_offset_counts(data, space, layer, head)
    assert got == dict(want)
    assert {b for (_s, _i, _f, b) in want} <= {"-3", "-2", "-1", "0", "+1", "+2", "+3", "further", "special"}


def test_counts_sum_to_k_per_token_and_facet(report):
    store, data = report
    per: Counter = Counter()
    for sid, idx, facet, _cat, n in store.annotation_counts("context", 1, 0, attended=True):
        per[(sid, idx, facet)] += n
    n_tokens = len({(s, i) for s, i, *_ in data["neighbours"]})
    assert {v for (s, _i, _f), v in per.items() if s is not None} == {K}
    assert {v for (s, _i, _f), v in per.items() if s is None} == {K * n_tokens}


def test_annotation_rows_come_largest_first(report):
    store, _ = report
    rows = store.annotation_counts("context", 0, 1, attended=False)
    groups: dict = {}
    for sid, idx, facet, _cat, n in rows:
        groups.setdefault((sid, idx, facet), []).append(n)
    assert all(ns == sorted(ns, reverse=True) for ns in groups.values())


# ---- views: the head and layer pages carry these aggregates ---------------------------------


def _histogram_from(counts: Counter, key: tuple, facet: str) -> dict[str, int]:
    return {cat: n for (s, i, f, cat), n in counts.items() if (s, i) == key and f == facet}


def test_head_page_histograms_and_captions_follow_the_counts(report):
    store, data = report
    page = Views(store, shown=3).head(1, 0, {(1, 0): {}})
    (analysis,) = page.analyses
    matched, attended, offsets = analysis.charts
    want = _python_annotation_counts(data, "context", 1, 0, attended=False)
    for caption, facet in zip(matched.captions, ("pos", "tag", "dep", "ent")):
        bars = _histogram_from(want, (None, None), facet)
        assert f"({sum(bars.values()):,} matches)" in caption
        for cat, n in bars.items():
            assert f" {cat} {n:,} (" in caption
    want_att = _python_annotation_counts(data, "context", 1, 0, attended=True)
    assert f"special {_histogram_from(want_att, (None, None), 'pos')['special']:,} (" in attended.captions[0]
    want_off = _python_offset_counts(data, "context", 1, 0)
    for bucket, n in _histogram_from(want_off, (None, None), "offset").items():
        assert f"{bucket} {n:,} (" in offsets.captions[0]
    # the chart data hold the same numbers, for all tokens and per token
    spec = matched.spec
    names = {r["c"]: r["label"] for r in spec["datasets"]["names"]}
    rows = {r["k"]: r for r in spec["datasets"]["counts"]}
    pos_all = {names[c]: n for f, c, n in zip(rows[ALL]["f"], rows[ALL]["c"], rows[ALL]["n"]) if f == 0}
    assert pos_all == _histogram_from(want, (None, None), "pos")
    first = page.probes[0].tokens[0]
    key = (page.probes[0].sentence_id, first.token_idx)
    pos_one = {names[c]: n for f, c, n in zip(rows[first.key]["f"], rows[first.key]["c"], rows[first.key]["n"])
               if f == 0}
    assert sum(pos_one.values()) == K
    full = _histogram_from(want, key, "pos")
    if len(full) <= TOKEN_BARS:
        assert pos_one == full
    else:  # the largest categories, the rest summed as 'other'
        assert pos_one[OTHER] == K - sum(n for c, n in pos_one.items() if c != OTHER)


def test_head_page_match_lists_hold_all_k(report):
    store, data = report
    page = Views(store, shown=3).head(0, 1, {(0, 1): {}})
    lists = page.data["spaces"]["context"]
    for sid, idx, sp, la, he, rank, m_sid, m_tok, score, att in data["neighbours"]:
        if (sp, la, he) == ("context", 0, 1):
            flat = lists[f"{sid}:{idx}"]
            assert len(flat) == 4 * K
            assert flat[4 * rank:4 * rank + 4] == [m_sid, m_tok, att, round(score * 1000)]
    assert all(t.n_matches == K for p in page.probes for t in p.tokens)


def test_layer_page_has_embedding_and_whole_layer_analyses(report):
    store, data = report
    page = Views(store, shown=3).layer(1)
    assert [a.space for a in page.analyses] == ["embedding", "context"]
    want = _python_offset_counts(data, "embedding", 1, None)
    for bucket, n in _histogram_from(want, (None, None), "offset").items():
        assert f"{bucket} {n:,} (" in page.analyses[0].charts[2].captions[0]
    assert all(len(t.lines) == 2 for p in page.probes for t in p.tokens)


def test_page_charts_validate_against_the_vega_lite_schema(report):
    store, _ = report
    page = Views(store, shown=3).head(0, 0, {(0, 0): {}})
    schema = load_schema()
    for block in page.analyses[0].charts:
        validate_jsonschema(block.spec, schema)
    validate_jsonschema(page.data["strip"], schema)


def test_contexts_cover_every_matched_token(report):
    store, data = report
    contexts = Views(store, shown=3).contexts()
    for _sid, _idx, _sp, _la, _he, _rank, m_sid, m_tok, _score, att in data["neighbours"]:
        text, toks = contexts["sentences"][str(m_sid)]
        tok = data["tokens"][m_sid][m_tok]
        start, end, pos, dep = toks[m_tok]
        assert text[start:end] == text[tok[5]:tok[6]]
        assert contexts["pos"][pos] == _annotation(data, m_sid, m_tok)[0]
        assert contexts["dep"][dep] == _annotation(data, m_sid, m_tok)[2]
        assert isinstance(toks[att], str) == data["tokens"][m_sid][att][4]


# ---- the one-line summary --------------------------------------------------------------------


def _h(*bars):
    return Histogram("t", tuple(bars))


def test_summary_names_the_dominant_offset_and_pos():
    line = summarise(_h(("-2", 5), ("-1", 72), ("0", 3), ("further", 20)), _h(("NOUN", 64), ("VERB", 36)),
                     _h(("DET", 58), ("ADJ", 42)))
    assert line == ("72% of matches attend most to the previous token; the matched tokens are 64% NOUN; "
                    "the tokens they attend to are 58% DET.")


def test_summary_of_special_attention_describes_the_other_tokens():
    line = summarise(_h(("+1", 10), ("special", 90)), _h(("PUNCT", 5), ("NOUN", 5)),
                     _h(("special", 90), ("NOUN", 6), ("DET", 4)))
    assert line.startswith("90% of matches attend most to a special token;")
    assert line.endswith("the other tokens they attend to are 60% NOUN.")


def test_summary_without_matches():
    assert summarise(_h(), _h(), _h()) == "No matches."


def test_caption_lists_every_bar_with_share():
    assert _h(("NOUN", 3), ("DET", 1)).caption() == "t (4 matches): NOUN 3 (75%), DET 1 (25%)."
    assert _h(("A", 1), ("B", 1), ("C", 1)).caption() == "t (3 matches): A 1 (33%), B 1 (33%), C 1 (33%)."
    assert _h(("A", 1), ("B", 7)).caption() == "t (8 matches): A 1 (13%), B 7 (88%)."  # halves round up
    assert _h().caption() == "t: no matches."


def test_histogram_chart_of_no_matches_is_still_a_chart():
    spec = charts.histograms({})
    validate_jsonschema(spec, load_schema())
