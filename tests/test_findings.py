"""The overview's Findings: every number in the section against the database (computed here with plain loops),
and each rule on hand-made heads where a tiny random model has nothing to report (sinks, positional heads, syntax
heads)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup
from conftest import site_rows
from scipy.stats import spearmanr

from reportgen.site.sections import roles as summary
from reportgen.site.views.headanalysis import DepRow, HeadOverview, HeadSummary



@pytest.fixture(scope="module")
def site(analysis_site) -> Path:
    return analysis_site


def _rows(site: Path, sql: str) -> list[tuple]:
    return site_rows(site, sql)


def _findings(site: Path) -> dict[str, str]:
    page = BeautifulSoup((site / "index.html").read_text(encoding="utf-8"), "html.parser")
    return {li["data-rule"]: li.get_text() for li in page.select("#findings li")}


def _numbers(text: str) -> list[str]:
    """Every number written in a sentence (counts, shares, rho), the model's name and shape left out."""
    return re.findall(r"(?<![\w.])[+-]?\d+(?:\.\d+)?%?", text)


def test_every_number_in_the_findings_is_the_databases(site):
    found = _findings(site)
    roles = {(l, h): r for l, h, r in _rows(site, "SELECT layer, head, role FROM head_roles")}
    n = len(roles)
    meta = dict(_rows(site, "SELECT key, value FROM meta"))
    expected: dict[str, set[str]] = defaultdict(set)

    expected["kind"] = {meta["n_layers"], meta["n_heads"]}
    assert "mean-pooled" in found["kind"]  # the tiny BERT's target is the similarity of mean-pooled embeddings
    assert {r for (r,) in _rows(site, "SELECT DISTINCT readout FROM attribution_targets")} == {"mean"}

    sinks = [k for k, r in roles.items() if r in ("first", "last", "special", "punct")]
    expected["sinks"] = {str(len(sinks)), str(n), "0.6"}
    for role, count in Counter(roles[k] for k in sinks).items():
        expected["sinks"].add(str(count))
    moved = dict(((l, h, s), v) for l, h, s, v in _rows(site, "SELECT layer, head, stat, value FROM head_stats"))
    if sinks:  # how many take less than 0.10 of what their attention moves from the sink
        expected["sinks"] |= {"0.10", str(sum(moved[(*k, roles[k] + "_by_norm")] < 0.10 for k in sinks))}

    broad = sum(r == "broad" for r in roles.values())
    mixed = sum(r == "mixed" for r in roles.values())
    expected["broad"] = {str(broad), str(mixed), "0.85"}

    cells = defaultdict(list)
    for rel, direction, layer, head, acc, sig in _rows(site, "SELECT relation, direction, layer, head, accuracy, "
                                                            "significant FROM dep_accuracy"):
        cells[(rel, direction)].append((acc, -layer, -head, sig))
    table1 = [max(v) for (rel, _), v in cells.items() if rel not in ("ROOT", "punct", "all")]
    expected["table1"] = {str(sum(c[3] for c in table1)), str(len(table1))}
    assert f"in {sum(c[3] for c in table1)} of the {len(table1)} relation-direction cells" in found["table1"]

    shares = [s for (s,) in _rows(site, "SELECT word_share FROM attribution_agreement WHERE method = 'attention'")]
    expected["agreement"], expected["faithfulness"] = _attribution_numbers(site)
    expected["agreement"].add(f"{np.mean(shares):.0%}")
    heads = {f"L{l}H{h}" for l, h in roles}
    agreeing = _agreeing(site)
    assert {label for label in heads if label in found["agreement"]} <= agreeing  # only heads that beat the baselines

    points = _rows(site, "SELECT layer, head, x, y FROM head_map ORDER BY layer, head")
    at = {(l, h): i for i, (l, h, _, _) in enumerate(points)}
    measured = np.zeros((len(points), len(points)))
    for la, ha, lb, hb, d in _rows(site, "SELECT layer_a, head_a, layer_b, head_b, distance FROM head_distance"):
        measured[at[(la, ha)], at[(lb, hb)]] = d
    drawn, truth, err, total = [], [], 0.0, 0.0
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            d = float(np.hypot(points[i][2] - points[j][2], points[i][3] - points[j][3]))
            drawn.append(d)
            truth.append(measured[i, j])
            err, total = err + (d - measured[i, j]) ** 2, total + measured[i, j] ** 2
    expected["map"] = {f"{spearmanr(drawn, truth).statistic:.2f}", f"{(err / total) ** 0.5:.2f}"}

    stats = {(l, h, s): v for l, h, s, v in _rows(site, "SELECT layer, head, stat, value FROM head_stats")}
    expected["position"] = {f"{stats[(l, h, {'previous': 'prev'}.get(r, r))]:.2f}" for (l, h), r in roles.items()
                            if r in ("previous", "next", "self")}
    syntax = [k for k, r in roles.items() if r == "syntax"]
    expected["syntax"] = {str(len(syntax)), "0.10"}
    margins = []
    for layer, head in syntax:
        best = max((acc - base, acc, base, rel) for l, h, rel, acc, base, sig in _rows(
            site, "SELECT layer, head, relation, accuracy, baseline_accuracy, significant FROM dep_accuracy")
            if (l, h) == (layer, head) and sig and rel != "all" and acc - base >= 0.10 - 1e-12 and acc >= 0.30)
        margins.append((-best[0], layer, head, best))
        expected["syntax"] |= {f"{best[1]:.2f}", f"{best[2]:.2f}"}
    for _, layer, head, best in sorted(margins)[:3]:
        assert f"L{layer}H{head} on {best[3]}" in found["syntax"]

    imp = {(m, l, h): (v, lo, hi) for m, l, h, v, lo, hi in _rows(
        site, "SELECT method, layer, head, value, ci_low, ci_high FROM head_importance WHERE scope = 'corpus'")}
    ranks = {(l, h): r for l, h, r in _rows(site, "SELECT layer, head, rank FROM head_importance WHERE scope = "
                                                  "'corpus' AND method = 'ablation' AND head IS NOT NULL")}
    ablated = sorted(((v[0], l, h) for (m, l, h), v in imp.items() if m == "ablation" and h is not None),
                     key=lambda r: (-r[0], r[1], r[2]))
    numbers = [str(min(len(_corpus_ids(site)), 200))]
    for group, words in (([k for k, r in ranks.items() if r == 1], ("changes the output most", "the most important")),
                         ([k for k, r in ranks.items() if r == max(ranks.values())], ("changes it least",
                                                                                    "least important"))):
        values = [imp[("ablation", *k)] for k in group]
        if len(group) == 1:  # a leader only where the paired test separates it (ranks are checked elsewhere)
            assert f"L{group[0][0]}H{group[0][1]} {words[0]}" in found["importance"]
            numbers += _numbers("{:.3g} [{:.3g}, {:.3g}]".format(*values[0]))
        else:  # a tie is named as one
            assert all(f"L{l}H{h}" in found["importance"] for l, h in group)
            assert f" are tied as {words[1]} (" in found["importance"]
            numbers += _numbers(f"{min(v for v, _, _ in values):.3g} {max(v for v, _, _ in values):.3g}")
    assert "most" not in found["importance"].replace("the most important", "").replace("output most", "")
    for v in _rows(site, "SELECT value, ci_low, ci_high FROM importance_reference"):
        numbers += _numbers("{:.3g} [{:.3g}, {:.3g}]".format(*v))
    for method in ("gradient_token_normalised", "gradient"):
        rho = spearmanr([v for v, _, _ in ablated], [imp[(method, l, h)][0] for _, l, h in ablated]).statistic
        numbers.append(f"{rho:.2f}")
    expected["importance"] = set(numbers)

    for rule, text in found.items():
        text = text.replace(meta.get("importance_measure", "\0"), "")  # the measure in words: "1 - cos(...)"
        numbers = set(_numbers(text.replace(meta["model"], "").replace("Table 1", "")))
        if rule == "position" and not expected["position"]:
            assert not numbers, text  # no positional head, no number
            continue
        assert numbers and numbers <= expected[rule], (rule, text, numbers, expected[rule])
    assert set(found) >= {"kind", "sinks", "position", "syntax", "table1", "broad", "agreement", "faithfulness", "map"}


def _t_interval(values: list[float]) -> set[str]:
    from scipy.stats import t

    mean = sum(values) / len(values)
    found = {f"{mean:+.2f}", str(len(values))}
    if len(values) > 1:
        half = t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values))
        found |= {f"{mean - half:+.2f}", f"{mean + half:+.2f}"}
    return found


def _bootstrap(values: list[float], fmt: str) -> set[str]:
    """The mean and its 95% percentile interval over 1,000 resamples (seed 0), in plain loops."""
    idx = np.random.default_rng(0).integers(0, len(values), size=(1000, len(values)))
    means = [sum(values[j] for j in row) / len(values) for row in idx]
    ends = np.quantile(means, [0.025, 0.975])
    return {format(sum(values) / len(values), fmt)} | {format(float(v), fmt) for v in ends}


def _agreeing(site: Path) -> set[str]:
    """The heads that beat every best baseline (agreement_tests)."""
    best = {b for (b,) in _rows(site, "SELECT DISTINCT baseline FROM agreement_tests WHERE best")}
    beaten = defaultdict(set)
    for l, h, b in _rows(site, "SELECT layer, head, baseline FROM agreement_tests "
                               "WHERE method = 'attention' AND beats"):
        beaten[f"L{l}H{h}"].add(b)
    return {label for label, found in beaten.items() if best and found >= best}


def _attribution_numbers(site: Path) -> tuple[set[str], set[str]]:
    """The numbers the agreement and faithfulness Findings may state: the best baselines' mean rho with its t
    interval, the agreeing heads' means, the count of baselines and probes; each ranking's mean AOPC with its
    bootstrap interval, integrated gradients against random words and word length, the bins and the 95%."""
    probes = len(_rows(site, "SELECT sentence_id FROM attribution_targets"))
    agreement = {"4", str(probes), "5"}
    for (name,) in _rows(site, "SELECT DISTINCT baseline FROM agreement_tests WHERE best"):
        agreement |= _t_interval([r for (r,) in _rows(site, "SELECT spearman FROM agreement_baselines WHERE "
                                                            f"baseline = '{name}' AND spearman IS NOT NULL")])
    for label in _agreeing(site):
        layer, head = label[1:].split("H")
        agreement |= _t_interval([r for (r,) in _rows(site, "SELECT spearman FROM attribution_agreement WHERE "
                                                            f"method = 'attention' AND layer = {layer} AND head = "
                                                            f"{head} AND spearman IS NOT NULL AND word_share >= 0.1")])
    aopc = defaultdict(dict)
    for sid, ranking, comp in _rows(site, "SELECT sentence_id, ranking, comprehensiveness FROM faithfulness "
                                          "WHERE k IS NULL"):
        aopc[ranking][sid] = comp
    faithful = {str(probes), "1", "50%", "95%", "5"}
    for values in aopc.values():
        faithful |= _bootstrap([values[s] for s in sorted(values)], "+.3g")
    ig = aopc["integrated_gradients"]
    for control in ("random", "length"):
        faithful |= _bootstrap([ig[s] - aopc[control][s] for s in sorted(ig)], "+.3g")
    return agreement, faithful


def _corpus_ids(site: Path) -> list[tuple]:
    return _rows(site, "SELECT sentence_id FROM sentences WHERE role = 'corpus'")


def test_every_link_in_the_findings_lands_on_a_page_or_a_section(site):
    page = BeautifulSoup((site / "index.html").read_text(encoding="utf-8"), "html.parser")
    links = [a["href"] for a in page.select("#findings a")]
    assert links
    for href in links:
        if href.startswith("#"):
            assert page.select_one(f"[id='{href[1:]}']") is not None, href
        else:
            assert (site / href.split("#")[0]).is_file(), href


def _head(layer, head, role, best=None):
    return HeadSummary(f"L{layer}H{head}", f"heads/L{layer}H{head}.html", layer, head, role, "", (), best, None)


def _overview(heads):
    return HeadOverview(tuple(heads), (), None, (), "100", "1,000")


def test_the_sink_rule_counts_each_sink_and_names_their_layers():
    heads = [_head(0, 0, "first"), _head(2, 1, "first"), _head(2, 3, "last"), _head(3, 0, "punct"),
             _head(1, 0, "broad")]
    text = summary.sinks(_overview(heads), {"first": "[CLS]", "last": "[SEP]"}).text
    assert text.startswith("4 of the 5 heads are sinks")
    assert "2 to [CLS], 1 to [SEP] and 1 to punctuation" in text
    assert "layers 0, 2 and 3 (most in layer 2: 2)" in text


def test_the_positional_rule_names_each_head_with_its_share():
    heads = [_head(0, 2, "previous"), _head(1, 8, "next"), _head(1, 9, "next"), _head(2, 0, "broad")]
    stats = {(0, 2): {"prev": 0.998}, (1, 8): {"next": 0.662}, (1, 9): {"next": 0.51}}
    finding = summary.positional(_overview(heads), stats)
    assert finding.text == ("Positional: previous-token head L0H2 (1.00 of its attention); and next-token heads "
                            "L1H8 (0.66 of its attention) and L1H9 (0.51 of its attention).")
    assert [p.href for p in finding.parts if p.href] == ["heads/L0H2.html", "heads/L1H8.html", "heads/L1H9.html"]


def test_the_syntax_rule_names_the_largest_margins_first():
    def row(relation, accuracy, baseline):
        return DepRow(relation, "dependent to head", 200, accuracy, -1, baseline, 0, 1, 0.1, 0.5, True)

    heads = [_head(3, 11, "syntax", row("punct", 0.47, 0.20)), _head(2, 0, "syntax", row("mark", 0.59, 0.27)),
             _head(4, 6, "syntax", row("dobj", 0.70, 0.55)), _head(5, 1, "syntax", row("amod", 0.90, 0.50)),
             _head(1, 1, "broad")]
    finding = summary.syntax(_overview(heads))
    assert finding.text.startswith("4 heads beat position significantly")
    one = summary.syntax(_overview(heads[:1])).text
    assert one.startswith("1 head beats position significantly") and "its margin: L3H11 on punct" in one
    order = [p.text for p in finding.parts if p.href.startswith("heads/") and "#" not in p.href]
    assert order == ["L5H1", "L2H0", "L3H11"]  # margins 0.40, 0.32, 0.27; L4H6's 0.15 is not among the largest 3
    assert "heads/L5H1.html#syntax" in [p.href for p in finding.parts]  # the head's dependency accuracy


def test_the_sink_rule_counts_the_sinks_that_move_little_from_their_sink():
    heads = [_head(0, 0, "first"), _head(2, 1, "first"), _head(2, 3, "last")]
    stats = {(0, 0): {"first_by_norm": 0.08}, (2, 1): {"first_by_norm": 0.30}, (2, 3): {"last_by_norm": 0.099}}
    text = summary.sinks(_overview(heads), {"first": "[CLS]", "last": "[SEP]"}, stats).text
    assert "; 2 of them take less than 0.10 of what their attention moves from that place" in text
    assert "of what their attention moves" not in summary.sinks(_overview(heads), {}, {}).text  # no norms measured
