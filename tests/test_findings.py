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

from reportgen.site.views import summary
from reportgen.site.views.headanalysis import DepRow, HeadOverview, HeadSummary

pytestmark = pytest.mark.unit



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


@pytest.mark.build
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
    rhos = defaultdict(list)
    for l, h, rho, share in _rows(site, "SELECT layer, head, spearman, word_share FROM attribution_agreement "
                                        "WHERE method = 'attention'"):
        if rho is not None and share >= 0.10:
            rhos[(l, h)].append(rho)
    (best, values), = sorted(rhos.items(), key=lambda kv: (-np.mean(kv[1]), kv[0]))[:1]
    expected["agreement"] = {f"{np.mean(shares):.0%}", f"{np.mean(values):+.2f}", str(len(values))}
    assert f"L{best[0]}H{best[1]}'s" in found["agreement"]

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
    ablated = sorted(((v[0], l, h) for (m, l, h), v in imp.items() if m == "ablation" and h is not None),
                     key=lambda r: (-r[0], r[1], r[2]))
    (_, tl, th), (_, ll, lh) = ablated[0], ablated[-1]
    rho = spearmanr([v for v, _, _ in ablated], [imp[("gradient", l, h)][0] for _, l, h in ablated]).statistic
    expected["importance"] = set(_numbers(" ".join(
        f"{v:.3g} [{lo:.3g}, {hi:.3g}]" for v, lo, hi in (imp[("ablation", tl, th)], imp[("ablation", ll, lh)])))) | {
        f"{rho:.2f}", str(min(len(_corpus_ids(site)), 200))}
    assert f"removing L{tl}H{th} changes the output most" in found["importance"]
    assert f"the least important is L{ll}H{lh} " in found["importance"]

    for rule, text in found.items():
        text = text.replace(meta.get("importance_measure", "\0"), "")  # the measure in words: "1 - cos(...)"
        numbers = set(_numbers(text.replace(meta["model"], "").replace("Table 1", "")))
        if rule == "position" and not expected["position"]:
            assert not numbers, text  # no positional head, no number
            continue
        assert numbers and numbers <= expected[rule], (rule, text, numbers, expected[rule])
    assert set(found) >= {"kind", "sinks", "position", "syntax", "table1", "broad", "agreement", "map"}


def _corpus_ids(site: Path) -> list[tuple]:
    return _rows(site, "SELECT sentence_id FROM sentences WHERE role = 'corpus'")


@pytest.mark.build
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
