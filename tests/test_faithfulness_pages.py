"""The agreement's baselines and the faithfulness test in a built report: the stored figures against direct
computations (the words, tokens and gradients of the database in plain loops; the model run here on a probe with
its top words removed), and the pages' numbers (BeautifulSoup) against the database."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from bs4 import BeautifulSoup
from conftest import ANALYSIS_SENTENCES, build_small_site, site_rows
from test_agreement_baselines import bootstrap_by_hand, rho_by_hand

pytestmark = pytest.mark.build

PROBES = "".join(s + "\n" for s in ANALYSIS_SENTENCES[:6])
BASELINE_WORDS = {"length": "word length", "rarity": "word rarity", "position": "word position",
                  "uniform": "tokens per word"}
RANKING_WORDS = {"integrated_gradients": "integrated gradients", "rollout": "rollout", "length": "word length",
                 "random": "random words"}


@pytest.fixture(scope="module")
def site(tmp_path_factory, bert_dir):
    return build_small_site(tmp_path_factory.mktemp("faithfulness"), bert_dir, probes=PROBES,
                            sentences=ANALYSIS_SENTENCES, top_k=3, min_dep_support=2, attribution_steps=8)


def _page(site, rel: str) -> BeautifulSoup:
    return BeautifulSoup((site / rel).read_text(encoding="utf-8"), "html.parser")


def _probe_words(site):
    """sentence id -> (word texts, tokens (token_idx, word_idx or None), |IG| per word)."""
    out = {}
    for (sid,) in site_rows(site, "SELECT sentence_id FROM sentences WHERE role = 'probe' ORDER BY 1"):
        words = [w for (w,) in site_rows(site, f"SELECT text FROM words WHERE sentence_id = {sid} ORDER BY word_idx")]
        tokens = site_rows(site, f"SELECT token_idx, CASE WHEN is_special THEN NULL ELSE word_idx END FROM tokens "
                                 f"WHERE sentence_id = {sid} ORDER BY token_idx")
        ig = dict(site_rows(site, f"SELECT token_idx, score FROM attributions WHERE sentence_id = {sid} "
                                  "AND method = 'integrated_gradients'"))
        per_word = [0.0] * len(words)
        for idx, word in tokens:
            if word is not None:
                per_word[word] += ig[idx]
        out[sid] = (words, tokens, [abs(v) for v in per_word])
    return out


def test_the_stored_baselines_are_rank_correlations_of_the_databases_words(site):
    counts = defaultdict(int)
    for (text,) in site_rows(site, "SELECT w.text FROM words w JOIN sentences s USING (sentence_id) "
                                   "WHERE s.role = 'corpus'"):
        counts[text.lower()] += 1
    total = sum(counts.values())
    stored = {(sid, b): (rho, n) for sid, b, rho, n in site_rows(site, "SELECT * FROM agreement_baselines")}
    probes = _probe_words(site)
    assert len(stored) == 4 * len(probes) == 24
    for sid, (words, tokens, importance) in probes.items():
        per_word = [sum(1 for _, w in tokens if w == i) for i in range(len(words))]
        values = {"length": [len(w) for w in words],
                  "rarity": [math.log((total + 1) / (counts[w.lower()] + 1)) for w in words],
                  "position": list(range(len(words))), "uniform": per_word}
        for name, value in values.items():
            rho, n = stored[(sid, name)]
            expected = rho_by_hand(importance, [float(v) for v in value])
            assert n == len(words)
            assert (rho is None and expected is None) or rho == pytest.approx(expected, abs=1e-9), (sid, name)


def _head_rho(site) -> dict[tuple[str, int, int | None], dict[int, float]]:
    found = defaultdict(dict)
    for sid, method, layer, head, rho, share in site_rows(
            site, "SELECT sentence_id, method, layer, head, spearman, word_share FROM attribution_agreement"):
        if rho is not None and (method == "rollout" or share >= 0.10):
            found[(method, layer, head)][sid] = rho
    return found


def test_each_head_against_each_baseline_is_a_paired_bootstrap_by_hand(site):
    baseline = defaultdict(dict)
    for sid, name, rho, _ in site_rows(site, "SELECT * FROM agreement_baselines"):
        if rho is not None:
            baseline[name][sid] = rho
    heads = _head_rho(site)
    rows = site_rows(site, "SELECT method, layer, head, baseline, n_probes, difference, ci_low, ci_high, beats "
                           "FROM agreement_tests")
    assert len(rows) == 4 * len(heads)
    for method, layer, head, name, n, difference, low, high, beats in rows:
        shared = sorted(set(heads[(method, layer, head)]) & set(baseline[name]))
        assert n == len(shared)
        if not shared:
            assert difference is None
            continue
        a = [heads[(method, layer, head)][s] for s in shared]
        b = [baseline[name][s] for s in shared]
        mean, lo, hi = bootstrap_by_hand(a, b)
        assert (difference, low, high) == (pytest.approx(mean), pytest.approx(lo), pytest.approx(hi))
        assert beats == (lo > 0 and n >= 5)


def _agreeing(site) -> set[str]:
    best = {b for (b,) in site_rows(site, "SELECT DISTINCT baseline FROM agreement_tests WHERE best")}
    beaten = defaultdict(set)
    for layer, head, name, beats in site_rows(site, "SELECT layer, head, baseline, beats FROM agreement_tests "
                                                    "WHERE method = 'attention'"):
        if beats:
            beaten[f"L{layer}H{head}"].add(name)
    return {label for label, names in beaten.items() if names >= best}


def test_the_pages_show_the_baselines_and_name_only_the_heads_that_beat_the_best(site):
    from scipy.stats import t

    page = _page(site, "index.html")
    means = page.select_one("#agreement-baseline-means").get_text(" ", strip=True)
    for name, words in BASELINE_WORDS.items():
        found = [r for (r,) in site_rows(site, f"SELECT spearman FROM agreement_baselines WHERE baseline = '{name}' "
                                               "AND spearman IS NOT NULL")]
        if len(found) < 2:
            continue
        mean = sum(found) / len(found)
        half = t.ppf(0.975, len(found) - 1) * np.std(found, ddof=1) / np.sqrt(len(found))
        assert f"{words} {mean:+.2f} [{mean - half:+.2f}, {mean + half:+.2f}], n = {len(found)}" in means
    shown = {a.get_text() for a in page.select("#agreement-agreeing a")}
    assert shown == _agreeing(site)
    findings = {li["data-rule"]: li.get_text() for li in page.select("#findings li")}
    for label in {f"L{l}H{h}" for l in range(2) for h in range(4)} - _agreeing(site):
        assert label not in findings["agreement"]
    # a head page: the head against each best baseline, as stored, and the verdict
    best = [b for (b,) in site_rows(site, "SELECT DISTINCT baseline FROM agreement_tests WHERE best ORDER BY 1")]
    for layer in range(2):
        for head in range(4):
            section = _page(site, f"heads/L{layer}H{head}.html").select_one("#agreement-baselines")
            text = section.get_text(" ", strip=True)
            for name, n, difference, low, high, beats in site_rows(
                    site, "SELECT baseline, n_probes, difference, ci_low, ci_high, beats FROM agreement_tests "
                          f"WHERE method = 'attention' AND layer = {layer} AND head = {head} AND best"):
                assert (f"{difference:+.2f} [{low:+.2f}, {high:+.2f}] over {n} probes against "
                        f"{BASELINE_WORDS[name]}") in text
            agrees = f"L{layer}H{head}" in _agreeing(site)
            verdict = section.select_one("#agreement-verdict").get_text()
            assert agrees == (verdict == "it agrees with the gradients more than any baseline that needs no attention")
            assert len(best) >= 1
    # a sentence page: each baseline's rho on that sentence
    for sid, name, rho, _ in site_rows(site, "SELECT * FROM agreement_baselines"):
        text = _page(site, f"sentences/{sid}.html").select_one("#agreement-baselines").get_text()
        assert f"{BASELINE_WORDS[name]} {'undefined' if rho is None else f'{rho:+.2f}'}" in text


# ---- faithfulness --------------------------------------------------------------------------------------------

def _word_scores(site, sid: int, method: str, tokens) -> dict[int, float]:
    scores = dict(site_rows(site, f"SELECT token_idx, score FROM attributions WHERE sentence_id = {sid} "
                                  f"AND method = '{method}'"))
    out = defaultdict(float)
    for idx, word in tokens:
        if word is not None:
            out[word] += scores[idx]
    return out


@pytest.mark.parametrize("ranking", ["length", "integrated_gradients", "rollout"])
def test_each_removal_measured_again_with_the_model(site, bert_dir, ranking):
    """Each probe's comprehensiveness and sufficiency at each bin of one ranking (word length, longest first; the
    integrated gradients' signed scores, highest first; the rollout): its top words' tokens replaced by [PAD] (the
    default baseline token), and the target (the cosine of the mean-pooled embedding with the intact probe's)
    computed here with transformers."""
    import torch
    from transformers import AutoTokenizer, BertModel

    model = BertModel.from_pretrained(bert_dir).eval()
    tok = AutoTokenizer.from_pretrained(bert_dir)
    for sid, (words, tokens, _) in _probe_words(site).items():
        ((text,),) = site_rows(site, f"SELECT text FROM sentences WHERE sentence_id = {sid}")
        ids = tok(text)["input_ids"]
        assert len(ids) == len(tokens)
        score = ({i: len(w) for i, w in enumerate(words)} if ranking == "length"
                 else _word_scores(site, sid, ranking, tokens))
        for k in (1, 5, 10, 20, 50):
            m = max(1, k * len(words) // 100)
            top = set(sorted(range(len(words)), key=lambda i: (-score[i], i))[:m])
            without = [tok.pad_token_id if w is not None and w in top else i for i, (_, w) in zip(ids, tokens)]
            only = [i if w is None or w in top else tok.pad_token_id for i, (_, w) in zip(ids, tokens)]
            with torch.no_grad():
                pooled = [model(input_ids=torch.tensor([x])).last_hidden_state[0].mean(0)
                          for x in (ids, without, only)]
            f = [float(torch.nn.functional.cosine_similarity(p, pooled[0], dim=0)) for p in pooled]
            ((words_removed, comprehensiveness, sufficiency),) = site_rows(
                site, "SELECT words, comprehensiveness, sufficiency FROM faithfulness WHERE sentence_id = "
                      f"{sid} AND ranking = '{ranking}' AND k = {k}")
            assert words_removed == m
            assert comprehensiveness == pytest.approx(f[0] - f[1], abs=2e-6), (sid, k)
            assert sufficiency == pytest.approx(f[0] - f[2], abs=2e-6), (sid, k)
        ((value,),) = site_rows(site, f"SELECT value FROM attribution_targets WHERE sentence_id = {sid}")
        assert value == pytest.approx(1.0, abs=1e-5)  # the target the attributions explain: 1 on the probe itself


def test_the_stored_rankings_and_the_aopc(site):
    rows = site_rows(site, "SELECT sentence_id, ranking, layer, head, k, words, comprehensiveness, sufficiency "
                           "FROM faithfulness")
    probes = _probe_words(site)
    head = min(((-np.mean(list(v.values())), k[1], k[2]) for k, v in _head_rho(site).items()
                if k[0] == "attention"))[1:]
    by = defaultdict(list)
    for sid, ranking, layer, h, k, words, comp, suff in rows:
        assert (layer, h) == (head if ranking == "attention" else (None, None))
        by[(sid, ranking)].append((k, words, comp, suff))
    assert {r for _, r in by} == {"integrated_gradients", "rollout", "attention", "length", "random"}
    for (sid, ranking), found in by.items():
        n = len(probes[sid][0])
        bins = sorted((r for r in found if r[0] is not None), key=lambda r: r[0])
        assert [(k, w) for k, w, _, _ in bins] == [(k, max(1, k * n // 100)) for k in (1, 5, 10, 20, 50)]
        (aopc,) = [r for r in found if r[0] is None]
        assert aopc[2] == pytest.approx(sum(r[2] for r in bins) / 5)
        assert aopc[3] == pytest.approx(sum(r[3] for r in bins) / 5)


def _aopc(site) -> dict[str, dict[int, float]]:
    found = defaultdict(dict)
    for sid, ranking, comp in site_rows(site, "SELECT sentence_id, ranking, comprehensiveness FROM faithfulness "
                                              "WHERE k IS NULL"):
        found[ranking][sid] = comp
    return found


def test_the_pages_show_the_stored_figures_and_the_verdict_rests_on_the_test(site):
    aopc = _aopc(site)
    probes = sorted(aopc["integrated_gradients"])
    index = _page(site, "index.html")
    table = {r.select_one("th").get_text(): [td.get_text() for td in r.select("td")]
             for r in index.select("#faithfulness-summary tbody tr")}
    ((layer, head),) = site_rows(site, "SELECT DISTINCT layer, head FROM faithfulness WHERE ranking = 'attention'")
    names = dict(RANKING_WORDS, attention=f"L{layer}H{head}'s attention")
    for ranking, values in aopc.items():
        v = [values[s] for s in probes]
        idx = np.random.default_rng(0).integers(0, len(v), size=(1000, len(v)))
        means = [sum(v[j] for j in row) / len(v) for row in idx]
        low, high = np.percentile(means, [2.5, 97.5])
        assert table[names[ranking]][0] == f"{sum(v) / len(v):+.3g} [{low:+.3g}, {high:+.3g}]"
        assert table[names[ranking]][2] == str(len(v))
    # integrated gradients against random words and word length: the verdict follows the paired test
    beaten = []
    for control in ("random", "length"):
        mean, low, high = bootstrap_by_hand([aopc["integrated_gradients"][s] for s in probes],
                                            [aopc[control][s] for s in probes])
        beaten.append(low > 0 and len(probes) >= 5)
        assert f"{mean:+.3g} [{low:+.3g}, {high:+.3g}]" in index.select_one("#faithfulness-verdict").get_text()
    verdict = index.select_one("#faithfulness-verdict").get_text()
    assert verdict.startswith("Removing the words integrated gradients rank highest lowers the target more") == all(
        beaten)
    assert verdict.startswith("Integrated gradients are not shown to point at") == (not all(beaten))
    # every sentence page says it, under "Which words drive the output", and shows its probe's figures
    for sid in probes:
        page = _page(site, f"sentences/{sid}.html")
        tested = " ".join(page.select_one("#attribution-tested").get_text().split())
        assert " ".join(verdict.split()) in tested
        for measure in ("comprehensiveness", "sufficiency"):
            cells = {r.select_one("th").get_text(): [td.get_text() for td in r.select("td")]
                     for r in page.select(f"#faithfulness-{measure} tbody tr")}
            for ranking, k, value in site_rows(site, f"SELECT ranking, k, {measure} FROM faithfulness "
                                                     f"WHERE sentence_id = {sid}"):
                column = 5 if k is None else (1, 5, 10, 20, 50).index(k)
                assert cells[names[ranking]][column] == f"{value:+.3g}"


def test_the_overview_orders_the_rankings_in_tie_groups_of_a_paired_bootstrap(site):
    from reportgen.ranking import rank

    aopc = {}
    for sid, ranking, comp, suff in site_rows(site, "SELECT sentence_id, ranking, comprehensiveness, sufficiency "
                                                    "FROM faithfulness WHERE k IS NULL"):
        aopc[(ranking, sid)] = (comp, suff)
    ((layer, head),) = site_rows(site, "SELECT DISTINCT layer, head FROM faithfulness WHERE ranking = 'attention'")
    names = dict(RANKING_WORDS, attention=f"L{layer}H{head}'s attention")
    order = ["integrated_gradients", "rollout", "attention", "length", "random"]
    probes = sorted({sid for _, sid in aopc})
    idx = np.random.default_rng(0).integers(0, len(probes), size=(1000, len(probes)))
    shown = _page(site, "index.html").select("#faithfulness-order dd")
    for measure, dd in zip((0, 1), shown):
        values = [[aopc[(r, s)][measure] for r in order] for s in probes]
        resampled = np.array([[sum(values[j][i] for j in row) / len(probes) for i in range(len(order))]
                              for row in idx])
        means = [sum(v[i] for v in values) / len(probes) for i in range(len(order))]
        groups = rank(means, resampled, descending=measure == 0).groups
        expected = "; ".join(", ".join(names[order[i]] for i in g) + (" (tied)" if len(g) > 1 else "")
                             for g in groups)
        assert dd.get_text() == expected


def test_a_layer_page_compares_the_rollout_with_the_best_baselines(site):
    for layer in range(2):
        text = _page(site, f"layers/L{layer}.html").select_one("#agreement-baselines").get_text(" ", strip=True)
        for name, n, difference, low, high in site_rows(
                site, "SELECT baseline, n_probes, difference, ci_low, ci_high FROM agreement_tests "
                      f"WHERE method = 'rollout' AND layer = {layer} AND best"):
            assert (f"{difference:+.2f} [{low:+.2f}, {high:+.2f}] over {n} probes against "
                    f"{BASELINE_WORDS[name]}") in text
