"""exBERT's aggregates: the SQL of `store` and the views built on it, checked against counts computed
independently in Python on a small hand-built database."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema.core import load_schema

from reportgen.analyses.baserates import AttendedCounts
from reportgen.site.findings import Bar, Histogram, summarise
from reportgen.store import Store
from reportgen.site.charts import matches as charts
from reportgen.analyses.registry import UNITS
from reportgen.site.sections import sections_of
from reportgen.site.views.common import Report
from reportgen.site.views.layer import layer_page
from reportgen.site.sections.search import head_view as head_matches
from reportgen.site.sections.search import layer_view as layer_matches
from reportgen.site.views.matches import ALL_TOKENS as ALL
from reportgen.site.views.matches import contexts as page_contexts

pytestmark = pytest.mark.unit

POS = ["NOUN", "VERB", "DET", "ADJ", "ADP", "PROPN", "PUNCT", "PRON", "NUM", "ADV", "AUX", "CCONJ"]
DEP = ["nsubj", "dobj", "det", "amod", "prep", "pobj", "punct", "ROOT", "compound", "conj"]
ENT = [None, None, None, "PERSON", "GPE", "DATE"]
SPACES = [("context", 0, 0), ("context", 0, 1), ("context", 0, None), ("embedding", 0, None),
          ("context", 1, 0), ("context", 1, 1), ("context", 1, None), ("embedding", 1, None)]
K = 7
N_PROBES = 2


def _build(store: Store, seed: int = 7) -> dict:
    """A random but complete report: corpus sentences with words and word pieces, probes, and K matches of
    every probe token in every space. Returns the same data as Python dicts for the independent counts."""
    rnd = random.Random(seed)
    store.create()
    words, tokens, sentences = {}, {}, []
    n_probes, n_corpus = N_PROBES, 12
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
    store.fill_matched_base_counts()
    # attended base rates: here simply the matched ones, for every head and the head mean
    matched = store.base_counts("matched")
    offsets = [("offset", b, i + 1) for i, b in enumerate(("-3", "-2", "-1", "0", "+1", "+2", "+3", "further",
                                                             "special"))]
    store.insert("base_counts", [("attended", layer, head, facet, category, n) for layer in (0, 1)
                                 for head in (0, 1, None) for facet, category, n in matched + offsets])
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


@pytest.mark.parametrize("space,layer,head", SPACES)
def test_numpy_counts_are_the_sql_rows_in_their_order(report, space, layer, head):
    """The pages count each space's aggregates in numpy from its match columns (store/match_counts.py): the same
    rows as the SQL that defines them, in the same order (facets, counts largest first, names)."""
    from reportgen.store import match_counts

    store, _ = report
    found, categories = store.match_columns(space, layer, head), store.token_categories()
    for attended in (False, True):
        assert match_counts.as_rows(match_counts.annotation_counts(found, categories, attended)) == \
            store.annotation_counts(space, layer, head, attended=attended)
    assert match_counts.as_rows(match_counts.offset_counts(found, categories)) == \
        store.offset_counts(space, layer, head)


def test_numpy_counts_leave_out_matches_without_an_attended_token_as_the_sql_does(tmp_path):
    """Matches whose attended token is NULL are in the matched counts and in neither the attended nor the offset
    counts, in both ways of counting; a space whose every attended token is NULL has no attended rows."""
    from reportgen.store import match_counts

    store = Store(tmp_path / "report.duckdb")
    _build(store, seed=11)
    store.con.execute("UPDATE neighbours SET match_max_attended_token_idx = NULL WHERE rank % 3 = 1 "
                      "OR space = 'embedding'")
    categories = store.token_categories()
    for space, layer, head in SPACES:
        found = store.match_columns(space, layer, head)
        for attended in (False, True):
            sql = store.annotation_counts(space, layer, head, attended=attended)
            assert match_counts.as_rows(match_counts.annotation_counts(found, categories, attended)) == sql
            assert bool(sql) == (not attended or space == "context")
        assert match_counts.as_rows(match_counts.offset_counts(found, categories)) == \
            store.offset_counts(space, layer, head)
    store.close()


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


# ---- base rates -------------------------------------------------------------------------------


def _python_matched_base(data) -> Counter:
    """Categories of every non-special corpus token, counted here without SQL."""
    counts: Counter = Counter()
    for sid, toks in data["tokens"].items():
        if sid < N_PROBES:
            continue
        for tok in toks:
            if not tok[4]:
                for facet, category in zip(("pos", "tag", "dep", "ent"), _annotation(data, sid, tok[1])):
                    counts[(facet, category)] += 1
    return counts


def test_matched_base_counts_match_python(report):
    store, data = report
    got = {(facet, category): n for facet, category, n in store.base_counts("matched")}
    assert got == dict(_python_matched_base(data))


def test_captions_show_base_rates_and_lifts_computed_directly(report):
    store, data = report
    page = head_matches(Report(store, 3), 1, 0)
    matched = page.analyses[0].charts[0]
    want = _histogram_from(_python_annotation_counts(data, "context", 1, 0, attended=False), (None, None), "pos")
    base = _python_matched_base(data)
    population = sum(n for (f, _c), n in base.items() if f == "pos")
    total = sum(want.values())
    # the probe set's own mix: each probe token's own POS, once per match it has in this space
    own: Counter = Counter()
    for sid, idx, sp, la, he, *_ in data["neighbours"]:
        if (sp, la, he) == ("context", 1, 0):
            own[_annotation(data, sid, idx)[0]] += 1
    for cat, n in want.items():
        share, corpus, mine = n / total, base[("pos", cat)] / population, own[cat] / sum(own.values())
        lift = share / round(corpus, 5)
        mix = f"{int(100 * mine + 0.5)}%, ×{int(10 * share / round(mine, 5) + 0.5) / 10:.1f}" if mine else "0%, ×∞"
        assert (f" {cat} {n:,} ({int(100 * share + 0.5)}%; corpus {int(100 * corpus + 0.5)}%, "
                f"×{int(10 * lift + 0.5) / 10:.1f}; probes' own {mix})") in matched.captions[0]
    # the chart carries the same base rates for the page script
    names = {r["c"]: r["label"] for r in matched.spec["datasets"]["names"]}
    rates = {r["fc"]: r["b"] for r in matched.spec["datasets"]["base"]}
    for fc, b in rates.items():
        facet, c = fc.split(":")
        if facet == "0":
            assert b == round(base[("pos", names[int(c)])] / population, 5)


def test_attended_base_counts_match_a_direct_count():
    """The accumulator against a direct count over the same arrays, in two batches merged both ways."""
    rng = np.random.default_rng(3)
    from reportgen.vocab import OFFSETS

    def batch():
        n_layers, n_heads, b, t = 2, 3, 4, 7
        cats = rng.integers(0, 3, size=(4, b, t))
        special = np.zeros((b, t), dtype=bool)
        special[:, 0] = True
        rows, cols = np.nonzero(~special)
        max_att = rng.integers(0, t, size=(n_layers, n_heads + 1, len(rows)))
        return cats, special, rows, cols, max_att

    def direct(batches):
        counts: Counter = Counter()
        for cats, special, rows, cols, max_att in batches:
            for layer in range(max_att.shape[0]):
                for col in range(max_att.shape[1]):
                    for n, (r, c) in enumerate(zip(rows, cols)):
                        a = max_att[layer, col, n]
                        for f, facet in enumerate(("pos", "tag", "dep", "ent")):
                            counts[(layer, col, facet, f"{facet}{cats[f, r, a]}")] += 1
                        d = a - c
                        bucket = "special" if special[r, a] else "further" if abs(d) > 3 else f"{d:+d}" if d else "0"
                        counts[(layer, col, "offset", bucket)] += 1
        return counts

    def accumulate(batches):
        acc = AttendedCounts(2, 3)
        for cats, special, rows, cols, max_att in batches:
            ids = np.zeros_like(cats)
            for f, facet in enumerate(("pos", "tag", "dep", "ent")):
                for value in range(3):
                    ids[f][cats[f] == value] = acc.vocab[facet].setdefault(f"{facet}{value}", len(acc.vocab[facet]))
            acc.add(max_att, rows, cols, ids, special)
        return acc

    batches = [batch() for _ in range(3)]
    want = direct(batches)
    one = accumulate(batches)
    merged = accumulate(batches[:1])
    merged.merge(accumulate(batches[1:][::-1]))
    for acc in (one, merged):
        got = {(layer, 3 if head is None else head, facet, cat): n for _p, layer, head, facet, cat, n in acc.rows()}
        assert got == dict(want)
    assert {cat for (_l, _h, facet, cat) in want if facet == "offset"} <= set(OFFSETS)


# ---- views: the head and layer pages carry these aggregates ---------------------------------


def _histogram_from(counts: Counter, key: tuple, facet: str) -> dict[str, int]:
    return {cat: n for (s, i, f, cat), n in counts.items() if (s, i) == key and f == facet}


def test_head_page_histograms_and_captions_follow_the_counts(report):
    store, data = report
    page = head_matches(Report(store, 3), 1, 0)
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
    # the chart data hold the same numbers for all tokens (the page script counts single tokens)
    spec = matched.spec
    names = {r["c"]: r["label"] for r in spec["datasets"]["names"]}
    (row,) = spec["datasets"]["counts"]
    assert row["k"] == ALL
    pos_all = {names[c]: n for f, c, n in zip(row["f"], row["c"], row["n"]) if f == 0}
    assert pos_all == _histogram_from(want, (None, None), "pos")


def test_token_lines_share_of_own_pos_and_distinct_sentences(report):
    store, data = report
    page = head_matches(Report(store, 3), 0, 1)
    base = _python_matched_base(data)
    population = sum(n for (f, _c), n in base.items() if f == "pos")
    for probe in page.probes:
        for tok in probe.tokens:
            mine = [n for n in data["neighbours"] if (n[0], n[1], n[2], n[3], n[4]) ==
                    (probe.sentence_id, tok.token_idx, "context", 0, 1)]
            same = sum(1 for n in mine if _annotation(data, n[6], n[7])[0] == tok.pos)
            (line,) = tok.lines
            assert line.own.startswith(f"{int(100 * same / K + 0.5)}% ({same}/{K}) share its POS {tok.pos} "
                                       f"(corpus {int(100 * base[('pos', tok.pos)] / population + 0.5)}%)")
            sentences = len({n[6] for n in mine})
            assert line.matches == f"{K} matches from {sentences} corpus sentence{'s' if sentences > 1 else ''}"
            warned = any(w.startswith("Few distinct sentences") for w in line.warnings)
            assert warned == (sentences < K / 2)


def test_ties_at_the_cut_are_stated(report):
    store, _ = report
    store.insert("cut_ties", [(0, 1, "context", 1, 1, 0.5, K, 40, False), (1, 2, "context", 1, 1, 0.25, 3, 2, True)])
    try:
        page = head_matches(Report(store, 3), 1, 1)
    finally:
        store.con.execute("DELETE FROM cut_ties")
    lines = {(p.sentence_id, t.token_idx): t.lines[0] for p in page.probes for t in p.tokens}
    assert f"Ties at the cut: all {K} tie at 0.500 with 40 more corpus contexts" in " ".join(lines[(0, 1)].warnings)
    # a count the search could not finish (a cap per sentence discarded candidates first) is a lower bound
    assert "Ties at the cut: the last 3 tie at 0.250 with at least 2 more corpus contexts that were not kept" in (
        " ".join(lines[(1, 2)].warnings))
    assert "at least" not in " ".join(lines[(0, 1)].warnings)
    assert not any(w.startswith("Ties") for key, line in lines.items() if key not in {(0, 1), (1, 2)}
                   for w in line.warnings)
    assert any(n.startswith(f"2 of {len(lines)} probe tokens have ties at the cut") for n in page.analyses[0].notes)


def test_head_page_match_lists_hold_all_k(report):
    store, data = report
    page = head_matches(Report(store, 3), 0, 1)
    lists = page.lists["context"]  # written beside the page, in the file the page data names
    assert page.data["matches"] == "L0H1/matches.js" and "spaces" not in page.data
    for sid, idx, sp, la, he, rank, m_sid, m_tok, score, att in data["neighbours"]:
        if (sp, la, he) == ("context", 0, 1):
            flat = lists[f"{sid}:{idx}"]
            assert len(flat) == 4 * K
            assert flat[4 * rank:4 * rank + 4] == [m_sid, m_tok, att, round(score * 1000)]


def test_layer_page_has_embedding_and_whole_layer_analyses(report):
    store, data = report
    page = layer_matches(Report(store, 3), 1)
    assert [a.space for a in page.analyses] == ["embedding", "context"]
    want = _python_offset_counts(data, "embedding", 1, None)
    for bucket, n in _histogram_from(want, (None, None), "offset").items():
        assert f"{bucket} {n:,} (" in page.analyses[0].charts[2].captions[0]
    assert all([line.space for line in t.lines] == ["Embedding space: the layer's output", "Context space, all heads"]
               for p in page.probes for t in p.tokens)
    # the layer page places the search's section: its table of contents lists the spaces, then the probes
    whole = layer_page(Report(store, 3, sections_of(UNITS)), 1)
    assert [link.href for link in whole.toc] == ["#embedding", "#context", "#s0", "#s1"]


def test_page_charts_validate_against_the_vega_lite_schema(report):
    store, _ = report
    page = head_matches(Report(store, 3), 0, 0)
    schema = load_schema()
    for block in page.analyses[0].charts:
        validate_jsonschema(block.spec, schema)
        assert block.spec["description"]
    validate_jsonschema(page.data["strip"], schema)


def test_contexts_cover_every_matched_token(report):
    store, data = report
    contexts = page_contexts(Report(store, 3))
    for _sid, _idx, _sp, _la, _he, _rank, m_sid, m_tok, _score, att in data["neighbours"]:
        text, toks, words = contexts["sentences"][str(m_sid)]
        tok = data["tokens"][m_sid][m_tok]
        start, end, w = toks[m_tok]
        assert text[start:end] == text[tok[5]:tok[6]]
        word = words[w]
        assert word[0] <= start and end <= word[1]
        want = _annotation(data, m_sid, m_tok)
        assert [contexts[f][i] for f, i in zip(("pos", "tag", "dep", "ent"), word[2:])] == list(want)
        assert isinstance(toks[att], str) == data["tokens"][m_sid][att][4]


# ---- the summary lines -----------------------------------------------------------------------


def _h(*bars, base=None):
    """A histogram of (label, n) bars; base rates from `base` (label -> share), else every share 0.1."""
    return Histogram("t", tuple(Bar(label, n, (base or {}).get(label, 0.1)) for label, n in bars))


def test_summary_names_only_over_represented_categories():
    line = summarise(_h(("-2", 5), ("-1", 72), ("0", 3), ("further", 20), base={"-1": 0.2, "further": 0.5}),
                     _h(("NOUN", 64), ("VERB", 36), base={"NOUN": 0.2, "VERB": 0.3}),
                     _h(("DET", 58), ("ADJ", 42), base={"DET": 0.1, "ADJ": 0.05}))
    assert line == ("72% (72/100; corpus 20%) attend most to the previous token; NOUN (64% = 64/100; corpus 20%) is "
                    "over-represented among the matched tokens; DET (58% = 58/100; corpus 10%) and ADJ (42% = "
                    "42/100; corpus 5%) are over-represented among the tokens they attend to most.")


def test_summary_at_the_corpus_rate_says_no_clear_preference():
    # 21% NOUN when the corpus is 21% NOUN is no finding; 100% of one match is too few to be one
    line = summarise(_h(("-1", 1), base={"-1": 0.1}), _h(("SCONJ", 1), base={"SCONJ": 0.01}),
                     _h(("NOUN", 21), ("DET", 79), base={"NOUN": 0.214, "DET": 0.786}))
    assert line == ("No clear preference in where they attend; no clear POS preference among the matched tokens; "
                    "no clear POS preference among the tokens they attend to most.")


def test_over_represented_needs_lift_count_and_share():
    def found(*bars, base):
        return [b.label for b in _h(*bars, base=base).over_represented()]

    assert found(("A", 10), ("B", 90), base={"A": 0.02, "B": 0.98}) == ["A"]
    assert found(("A", 4), ("B", 6), base={"A": 0.02, "B": 0.98}) == []  # lift 20 but only 4 matches
    assert found(("A", 6), ("B", 94), base={"A": 0.001, "B": 0.999}) == []  # lift 60 but 6% of the matches
    assert found(("A", 30), ("B", 70), base={"A": 0.16, "B": 0.84}) == []  # lift 1.9


def test_page_summary_states_where_the_corpus_attends_in_this_head(report):
    store, _ = report
    store.con.execute("UPDATE base_counts SET n = 100 WHERE population = 'attended' AND layer = 1 AND head = 0 "
                      "AND facet = 'offset' AND category = '-1'")
    try:
        summary = head_matches(Report(store, 3), 1, 0).analyses[0].summary
    finally:
        store.con.execute("UPDATE base_counts SET n = 3 WHERE population = 'attended' AND layer = 1 AND head = 0 "
                          "AND facet = 'offset' AND category = '-1'")
    total = 100 + sum(range(1, 10)) - 3  # the offsets' base counts are 1..9, '-1' raised from 3 to 100
    assert summary.startswith(f"In this head, {int(100 * 100 / total + 0.5)}% of the {total:,} corpus tokens "
                              f"(special tokens left out) attend most to the previous token. Against that and the "
                              f"corpus, the matches of all probe tokens: ")


def test_summary_without_matches():
    assert summarise(_h(), _h(), _h()) == "No matches."


def test_caption_lists_every_bar_with_share_base_rate_and_lift():
    assert _h(("NOUN", 3), ("DET", 1), base={"NOUN": 0.25, "DET": 0.5}).caption() == (
        "t (4 matches): NOUN 3 (75%; corpus 25%, ×3.0), DET 1 (25%; corpus 50%, ×0.5).")
    assert _h(("A", 1), ("B", 7), base={"A": 0.004, "B": 0.2}).caption() == (
        "t (8 matches): A 1 (13%; corpus under 1%, ×31.3), B 7 (88%; corpus 20%, ×4.4).")  # halves round up
    assert _h(("A", 1)).caption() == "t (1 match): A 1 (100%; corpus 10%, ×10.0)."
    assert _h().caption() == "t: no matches."


def test_histogram_chart_of_no_matches_is_still_a_chart():
    spec = charts.histograms([])
    validate_jsonschema(spec, load_schema())


def test_the_share_of_matches_on_the_probe_tokens_own_word_form_is_stated(report):
    """Matches of the same word form say the space keeps the word: the page states their share, counted here
    from the hand-built words (case aside)."""
    store, data = report
    texts = {}
    for sid, toks in data["tokens"].items():
        sentence_words = {}
        for t in toks:
            if t[3] is not None:
                sentence_words[t[3]] = t[2]  # a piece's text is its word's text here
        texts[sid] = sentence_words
    for space, layer, head in (("embedding", 1, None), ("context", 0, 1)):
        same = every = 0
        for sid, idx, sp, la, he, _rank, m_sid, m_tok, *_ in data["neighbours"]:
            if (sp, la, he) != (space, layer, head):
                continue
            every += 1
            probe_word, match_word = data["tokens"][sid][idx][3], data["tokens"][m_sid][m_tok][3]
            same += (probe_word is not None and match_word is not None
                     and texts[sid][probe_word].lower() == texts[m_sid][match_word].lower())
        view = (layer_matches(Report(store, 3), layer) if head is None else head_matches(Report(store, 3), layer, head))
        analysis = view.analyses[0]
        assert same > 0
        assert f"{int(100 * same / every + 0.5)}% of these {every:,} matches ({same:,}) are the probe token's own word " \
               f"form" in " ".join(analysis.notes)
