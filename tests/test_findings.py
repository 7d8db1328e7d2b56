"""The overview's Findings: every number in the section against the database (computed here with plain loops),
and each rule on hand-made heads where a tiny random model has nothing to report (sinks, positional heads, syntax
heads)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup
from conftest import site_rows
from scipy.stats import spearmanr

from reportgen.site.sections import roles as summary
from reportgen.site.views.headanalysis import DepRow, HeadOverview, HeadSummary, RoleCheck

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
    for threshold, heads in _rows(site, "SELECT threshold, heads FROM role_sensitivity WHERE rule = 'sink'"):
        if abs(threshold - 0.6) > 1e-9:  # the sink rule's sensitivity, beside the report's threshold
            expected["sinks"] |= {f"{threshold:.2f}", str(heads)}
            assert f"{threshold:.2f}: {heads}" in found["sinks"]
    by_layer = Counter(layer for layer, _ in sinks)
    most = re.search(r"most in layers? ([\d, and]+): (\d+)", found["sinks"])
    if most:  # a layer is named as having the most sinks only with every layer tied for the most
        named = {int(x) for x in re.findall(r"\d+", most.group(1))}
        top = max(by_layer.values())
        assert named == {layer for layer, n in by_layer.items() if n == top} and int(most.group(2)) == top
    elif len(by_layer) > 1:
        assert len(set(by_layer.values())) == 1  # "(N in each)": no layer has more
    claimed = {(l, h): c for l, h, c in _rows(site, "SELECT layer, head, claimed FROM head_roles")}
    control = {(l, h): r for l, h, r in _rows(site, "SELECT layer, head, role FROM control_roles")}
    assert control  # the report measured the control model
    for rule, members in (("sinks", sinks), ("position", [k for k, r in roles.items()
                                                         if r in ("previous", "next", "self")])):
        if members:  # how many of them are claimed against the random model
            expected[rule].add(str(sum(bool(claimed[k]) for k in members)))
    for role, count in Counter(roles[k] for k in sinks).items():
        expected["sinks"].add(str(count))
    moved = dict(((l, h, s), v) for l, h, s, v in _rows(site, "SELECT layer, head, stat, value FROM head_stats"))
    if sinks:  # how many take less than 0.10 of what their attention moves from the sink
        expected["sinks"] |= {"0.10", str(sum(moved[(*k, roles[k] + "_by_norm")] < 0.10 for k in sinks))}

    broad = sum(r == "broad" for r in roles.values())
    mixed = sum(r == "mixed" for r in roles.values())
    expected["broad"] = {str(broad), str(mixed), "0.85", str(sum(r == "broad" for r in control.values())),
                         str(len(control))}

    cells = defaultdict(list)
    for rel, direction, layer, head, acc, sig in _rows(site, "SELECT relation, direction, layer, head, accuracy, "
                                                            "significant FROM dep_accuracy"):
        cells[(rel, direction)].append((acc, -layer, -head, sig))
    table1 = [max(v) for (rel, _), v in cells.items() if rel not in ("ROOT", "punct", "all")]
    held = [r for r in _rows(site, "SELECT relation, held_out_significant, held_out_below, claimed FROM dep_table1")
            if r[0] not in ("ROOT", "punct", "all")]
    significant = sum(bool(r[1]) for r in held)
    expected["table1"] = {str(sum(c[3] for c in table1)), str(len(table1)), str(significant),
                          str(sum(bool(r[3]) for r in held)), str(sum(bool(r[2]) for r in held))}
    assert f"in {significant} of the {len(table1)} relation-direction cells" in found["table1"]
    assert f"scored on the sentences it was picked on: {sum(c[3] for c in table1)})" in found["table1"]

    shares = [s for (s,) in _rows(site, "SELECT word_share FROM attribution_agreement WHERE method = 'attention'")]
    expected["agreement"], expected["faithfulness"] = _attribution_numbers(site)
    expected["agreement"].add(f"{np.mean(shares):.0%}")
    heads = {f"L{l}H{h}" for l, h in roles}
    agreeing = _agreeing(site)
    assert {label for label in heads if label in found["agreement"]} <= agreeing  # only heads that beat the baselines
    # ... named by whole tie groups of agreement_ranks (no head ranked among heads tied with it), best first
    named = re.findall(r"\bL\d+H\d+\b", found["agreement"])
    groups = _agreeing_groups(site, agreeing)
    cut = []
    for group in groups:
        if len(cut) >= 5:
            break
        cut += group
    assert sorted(named) == sorted(cut)
    at = 0
    for group in groups[: len([g for g in groups if set(g) <= set(cut)])]:
        assert sorted(named[at : at + len(group)]) == sorted(group)
        at += len(group)
    if len(cut) < sum(map(len, groups)):
        assert f"and {sum(map(len, groups)) - len(cut)} more" in found["agreement"]
    for word in ("most", "best head", "leading", "first"):
        assert word not in found["agreement"]

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
    beat = {(l, h) for l, h in _rows(site, "SELECT DISTINCT layer, head FROM dep_accuracy WHERE significant AND "
                                          "relation != 'all'")}
    # what the count counts: the role's heads, and beside them every head with a significant cell
    expected["syntax"] = {str(len(syntax)), "0.10", "0.30", str(len(beat))}
    assert f"({len(beat)} head" in found["syntax"] and "at any margin" in found["syntax"]
    if syntax:
        expected["syntax"] |= {"3", str(sum(bool(claimed[k]) for k in syntax))}
    groups = {(l, h): g for l, h, g in _rows(site, "SELECT layer, head, rank_group FROM head_roles "
                                                   "WHERE role = 'syntax'")}
    margins = []
    for layer, head in syntax:
        best = max((acc - base, acc, base, rel) for l, h, rel, acc, base, sig in _rows(
            site, "SELECT layer, head, relation, accuracy, baseline_accuracy, significant FROM dep_accuracy")
            if (l, h) == (layer, head) and sig and rel != "all" and acc - base >= 0.10 - 1e-12 and acc >= 0.30)
        margins.append((groups[(layer, head)], -best[0], layer, head, best))
    named = []  # the largest margins: whole tie groups until at least 3 heads
    for group in sorted({m[0] for m in margins}):
        if len(named) >= 3:
            break
        named += [m for m in sorted(margins) if m[0] == group]
    for _, _, layer, head, best in named:
        assert f"L{layer}H{head} on {best[3]}" in found["syntax"]
        expected["syntax"] |= {f"{best[1]:.2f}", f"{best[2]:.2f}", str(len(named))}

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


def _agreeing_groups(site: Path, agreeing: set[str]) -> list[list[str]]:
    """The agreeing heads in the tie groups of agreement_ranks (a shared rank: tied), best first."""
    found = defaultdict(list)
    for l, h, r in _rows(site, "SELECT layer, head, rank FROM agreement_ranks WHERE method = 'attention' AND rank "
                               "IS NOT NULL"):
        if f"L{l}H{h}" in agreeing:
            found[r].append(f"L{l}H{h}")
    return [found[r] for r in sorted(found)]


def test_the_agreement_finding_names_whole_ties_and_cuts_over_them():
    """Hand-made agreeing heads: a leader, then five tied, then one: the cut at 5 takes the whole tie, marks it
    tied, counts the one left, and ranks no head among those tied with it."""
    from reportgen.site.sections.attribution import agreement
    from reportgen.site.views.attribution import Agreement, ModelAgreement

    def head(label, rho):
        return Agreement(label, f"heads/{label}.html", rho, low=rho - 0.1, high=rho + 0.1, n=6)

    groups = ((head("L0H0", 0.9),), tuple(head(f"L1H{i}", 0.7) for i in range(5)), (head("L2H0", 0.4),))
    best = (Agreement("word length", "", 0.2, low=0.1, high=0.3, n=6),)
    model = ModelAgreement(None, (), (), 6, (), 7, (), best, best, groups)
    text = agreement(model, 0.5).text
    assert re.findall(r"L\dH\d", text) == ["L0H0", "L1H0", "L1H1", "L1H2", "L1H3", "L1H4"]
    assert "L1H4 (+0.70 [+0.60, +0.80], n = 6) (tied)" in text and ", and 1 more" in text
    assert "7 heads agree" in text and "most" not in text


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


def _overview(heads, significant=0):
    return HeadOverview(tuple(heads), (), None, (), "100", "1,000", (), significant)


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


def _check(group, claimed=None, control="mixed"):
    return RoleCheck(0.95, 0.95, True, 0.3, 0.02, group, control, 0.01, claimed)


def test_the_syntax_rule_names_the_largest_margins_first():
    def row(relation, accuracy, baseline):
        return DepRow(relation, "dependent to head", 200, accuracy, -1, baseline, 0, 1, 0.1, 0.5, True)

    heads = [_head(3, 11, "syntax", row("punct", 0.47, 0.20)), _head(2, 0, "syntax", row("mark", 0.59, 0.27)),
             _head(4, 6, "syntax", row("dobj", 0.70, 0.55)), _head(5, 1, "syntax", row("amod", 0.90, 0.50)),
             _head(1, 1, "broad")]
    finding = summary.syntax(_overview(heads, significant=7))
    # the count says what it counts, and gives the heads with any significant cell beside it
    assert finding.text.startswith("4 heads have the syntax role: a margin over the best fixed offset of at least "
                                   "0.10, significant, at an accuracy of at least 0.30 (7 heads beat position "
                                   "significantly on some relation, at any margin)")
    one = summary.syntax(_overview(heads[:1], significant=1)).text
    assert one.startswith("1 head has the syntax role") and "(1 head beats position" in one
    assert "its margin: L3H11 on punct" in one
    order = [p.text for p in finding.parts if p.href.startswith("heads/") and "#" not in p.href]
    assert order == ["L5H1", "L2H0", "L3H11"]  # margins 0.40, 0.32, 0.27; L4H6's 0.15 is not among the largest 3
    assert "heads/L5H1.html#syntax" in [p.href for p in finding.parts]  # the head's dependency accuracy


def test_the_largest_margins_cut_extends_over_a_tie_and_names_tied_relations():
    def row(relation, accuracy, baseline):
        return DepRow(relation, "dependent to head", 200, accuracy, -1, baseline, 0, 1, 0.1, 0.5, True)

    # margins 0.40 | 0.32 and 0.30 tied | 0.27 and 0.26 tied | 0.15: the third head falls in a tie of two
    heads = [replace(_head(5, 1, "syntax", row("amod", 0.90, 0.50)), check=_check(1)),
             replace(_head(2, 0, "syntax", row("mark", 0.59, 0.27)), check=_check(2),
                     tied=(row("pobj", 0.58, 0.27), row("poss", 0.57, 0.27))),
             replace(_head(2, 5, "syntax", row("det", 0.80, 0.50)), check=_check(2)),
             replace(_head(3, 11, "syntax", row("punct", 0.47, 0.20)), check=_check(3)),
             replace(_head(0, 4, "syntax", row("nsubj", 0.46, 0.20)), check=_check(3)),
             replace(_head(4, 6, "syntax", row("dobj", 0.70, 0.55)), check=_check(4))]
    finding = summary.syntax(_overview(heads, significant=9))
    order = [p.text for p in finding.parts if p.href.startswith("heads/") and "#" not in p.href]
    assert order == ["L5H1", "L2H0", "L2H5"]  # the cut at 3 ends at a tie group's end
    assert "the largest margins:" in finding.text
    assert "mark (dependent to head, 0.59 against 0.27 for the best offset; tied with pobj and poss)" in finding.text
    # the third and fourth margins are tied: the cut takes both, and says so
    heads[2] = replace(heads[2], check=_check(3))
    finding = summary.syntax(_overview(heads, significant=9))
    order = [p.text for p in finding.parts if p.href.startswith("heads/") and "#" not in p.href]
    assert order == ["L5H1", "L2H0", "L2H5", "L3H11", "L0H4"]
    assert "the largest margins (the first 3, extended over a tie to 5):" in finding.text


def test_no_layer_is_named_as_having_the_most_sinks_among_tied_layers():
    heads = [_head(layer, head, "first") for layer in (1, 2, 3) for head in range(3)]
    text = summary.sinks(_overview(heads), {"first": "[CLS]"}).text
    assert "they sit in layers 1, 2 and 3 (3 in each)" in text and "most in layer" not in text
    heads = heads + [_head(0, 0, "punct")]
    text = summary.sinks(_overview(heads), {"first": "[CLS]"}).text
    assert "layers 0, 1, 2 and 3 (most in layers 1, 2 and 3: 3 each)" in text
    text = summary.sinks(_overview(heads[:3] + [_head(2, 0, "first")]), {"first": "[CLS]"}).text
    assert "(most in layer 1: 3)" in text


def test_the_sink_rule_states_the_thresholds_sensitivity_and_the_claims_against_the_control():
    heads = [replace(_head(0, 0, "first"), check=_check(1, True, "broad")),
             replace(_head(1, 0, "first"), check=_check(1, False, "first")), _head(1, 1, "broad")]
    overview = replace(_overview(heads), sinks_at=((0.55, 4), (0.6, 2), (0.65, 1)))
    text = summary.sinks(overview, {"first": "[CLS]"}).text
    assert text.startswith("2 of the 3 heads are sinks (sinks at the threshold 0.55: 4; at 0.65: 1), giving")
    assert "; 1 of them differ significantly from the random model's same heads (claimed)." in text


def test_the_sink_rule_counts_the_sinks_that_move_little_from_their_sink():
    heads = [_head(0, 0, "first"), _head(2, 1, "first"), _head(2, 3, "last")]
    stats = {(0, 0): {"first_by_norm": 0.08}, (2, 1): {"first_by_norm": 0.30}, (2, 3): {"last_by_norm": 0.099}}
    text = summary.sinks(_overview(heads), {"first": "[CLS]", "last": "[SEP]"}, stats).text
    assert "; 2 of them take less than 0.10 of what their attention moves from that place" in text
    assert "of what their attention moves" not in summary.sinks(_overview(heads), {}, {}).text  # no norms measured
