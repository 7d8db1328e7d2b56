"""The head analysis's claims as the reader sees them, every number against the database: the verdicts beside the
intervals they rest on (head pages' dependency accuracy, Table 1's line on head pages), each role's stability and
the control model's figures (head pages, the overview's table of heads and roles section), the sink threshold's
sensitivity; and the control model itself: a seeded random copy of the model, measured on the first corpus
sentences, whose roles the model's must beat."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup
from conftest import site_rows

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def site(analysis_site) -> Path:
    return analysis_site


def _page(site: Path, rel: str) -> BeautifulSoup:
    return BeautifulSoup((site / rel).read_text(encoding="utf-8"), "html.parser")


def _heads(site: Path) -> list[tuple[int, int]]:
    return site_rows(site, "SELECT layer, head FROM head_roles ORDER BY layer, head")


def test_head_pages_show_the_corrected_interval_beside_each_verdict(site):
    rows = defaultdict(list)
    for r in site_rows(site, "SELECT layer, head, relation, direction, accuracy, baseline_accuracy, "
                             "margin_low_corrected, margin_high_corrected, significant, below FROM dep_accuracy "
                             "ORDER BY layer, head, relation = 'all' DESC, relation, direction"):
        rows[(r[0], r[1])].append(r)
    verdicts = set()
    for layer, head in _heads(site):
        table = _page(site, f"heads/L{layer}H{head}.html").select_one("table.dep-accuracy")
        assert [th.get_text() for th in table.select("thead th")][-2:] == ["margin [corrected interval]", "verdict"]
        shown = [[c.get_text() for c in tr.select("th, td")] for tr in table.select("tbody tr")]
        assert len(shown) == len(rows[(layer, head)])
        for cells, (_, _, relation, direction, acc, base, low, high, significant, below) in zip(
                shown, rows[(layer, head)]):
            assert cells[:2] == [relation, direction.replace("_", " ")]
            assert cells[6] == f"{acc - base:+.2f} [{low:+.2f}, {high:+.2f}]"
            assert significant == (low > 0) and below == (high < 0)
            want = "significantly above" if significant else "significantly below" if below else "not significant"
            assert cells[7] == want
            verdicts.add(want)
    assert "significantly below" in verdicts  # a cell below its offset reads so, not "not significantly above"


def test_head_pages_name_their_table1_cells_with_the_held_out_verdict_and_its_interval(site):
    leads = defaultdict(list)
    for relation, direction, layer, head in site_rows(site, "SELECT relation, direction, layer, head FROM "
                                                            "dep_accuracy WHERE table1_lead"):
        leads[(relation, direction)].append((layer, head))
    held = {(r[0], r[1]): r[2:] for r in site_rows(
        site, "SELECT relation, direction, selected_layer, selected_head, held_out_margin, held_out_low_corrected, "
              "held_out_high_corrected, held_out_significant, held_out_below, claimed FROM dep_table1")}
    checked = 0
    for layer, head in _heads(site):
        line = _page(site, f"heads/L{layer}H{head}.html").select_one("#table1-best")
        text = " ".join(line.get_text().split()) if line else ""
        for (relation, direction), heads in leads.items():
            if relation in ("ROOT", "punct"):
                continue
            h = held.get((relation, direction))
            names = (layer, head) in heads or (h is not None and (h[0], h[1]) == (layer, head))
            words = direction.replace("_", " ")
            if not names:
                continue
            assert f"{words}:" in text
            if h is None:
                continue
            verdict = ("beats position" if h[5] else "significantly below position" if h[6] else "not significant")
            interval = f"held-out margin {h[2]:+.2f} [{h[3]:+.2f}, {h[4]:+.2f}] (corrected): {verdict}"
            assert interval in text, (layer, head, relation, direction)
            checked += 1
    assert checked


def test_head_pages_show_the_roles_stability_and_the_control_models_same_head(site):
    roles = {(r[0], r[1]): r[2:] for r in site_rows(site, "SELECT layer, head, role, evidence, stability, "
                                                         "control_role, value, control_value, claimed FROM head_roles")}
    control = {(l, h, s): v for l, h, s, v in site_rows(site, "SELECT layer, head, stat, value FROM "
                                                              "control_head_stats")}
    for (layer, head), (role, evidence, stability, control_role, value, control_value, claimed) in roles.items():
        page = _page(site, f"heads/L{layer}H{head}.html")
        assert evidence in page.select_one("#role").get_text()
        checks = " ".join(page.select_one("#role-checks").get_text().split())
        assert checks.startswith(f"Stability {stability:.2f}")
        assert ("unstable" in checks) == (stability < 0.8)
        assert f"The random model's same head is {control_role}" in checks
        if value is not None and control_value is not None:
            assert f"{value:.2f} here, {control_value:.2f} there" in checks
            assert ("role is claimed" in checks) == bool(claimed)
        for dd, dt in zip(page.select("#statistics dl.facts dd"), page.select("#statistics dl.facts dt")):
            stat = dt.get_text().split(":")[0]
            assert dd.get_text().endswith(f"; the random model's same head: {control[(layer, head, stat)]:.3f}")


def test_the_overview_states_stability_the_control_and_the_sink_thresholds_sensitivity(site):
    page = _page(site, "index.html")
    sensitivity = site_rows(site, "SELECT threshold, heads FROM role_sensitivity WHERE rule = 'sink' "
                                  "ORDER BY threshold")
    assert [t for t, _ in sensitivity] == [0.55, 0.6, 0.65]
    text = " ".join(page.select_one("#sink-sensitivity").get_text().split())
    assert text.startswith("The sink threshold's sensitivity: " + ", ".join(
        f"{n} sink{'s' if n != 1 else ''} at {t:.2f}" for t, n in sensitivity))
    sinks = site_rows(site, "SELECT count(*) FROM head_roles WHERE role IN ('first', 'last', 'special', 'punct')")
    assert dict(sensitivity)[0.6] == sinks[0][0]  # the report's threshold gives the report's sinks
    roles = site_rows(site, "SELECT role, count(*), count(*) FILTER (WHERE claimed) FROM head_roles GROUP BY role")
    counts = [" ".join(li.get_text().split()) for li in page.select("ul.role-counts li")]
    for role, n, claimed in roles:
        want = f"{role} ({n} head{'s' if n != 1 else ''}" + (
            f"; {claimed} claimed against the random model" if role != "mixed" else "")
        assert any(c.startswith(want + ")") for c in counts), (want, counts)
    control = dict(site_rows(site, "SELECT role, count(*) FROM control_roles GROUP BY role"))
    shown = {tr.select_one("th").get_text(): [td.get_text() for td in tr.select("td")]
             for tr in page.select("table.control-roles tbody tr")}
    for role, n, claimed in roles:
        assert shown[role] == [str(n), "–" if role == "mixed" else str(claimed), str(control.get(role, 0))]
    meta = dict(site_rows(site, "SELECT key, value FROM meta"))
    about = " ".join(page.select_one("#control").get_text().split())
    assert f"over the first {int(meta['control_sentences_measured']):,} corpus sentences" in about
    assert meta["control_init"] in about
    # the table of heads: the stability and the random model's column
    table = page.select_one("table#head-grid")
    columns = [th.get_text() for th in table.select("thead th")]
    stored = {f"L{r[0]}H{r[1]}": r[2:] for r in site_rows(
        site, "SELECT layer, head, stability, control_role, value, control_value, claimed FROM head_roles")}
    for tr in table.select("tbody tr"):
        cells = {c: td.get_text() for c, td in zip(columns[1:], tr.select("td"))}
        stability, control_role, value, control_value, claimed = stored[tr.select_one("th").get_text()]
        assert cells["stability"].startswith(f"{stability:.2f}")
        assert cells["random model"] == (f"{control_role}, {control_value:.2f} against {value:.2f}: "
                                         f"{'claimed' if claimed else 'not claimed'}")


def test_a_control_with_the_models_own_weights_has_every_role_too_and_none_is_claimed(site):
    # the tiny test BERT is itself a seeded random initialisation, the control's (seed 0) included: the control's
    # figures equal the model's over the same sentences, so no role may be claimed
    model = {(l, h, s): v for l, h, s, v in site_rows(site, "SELECT layer, head, stat, value FROM head_stats")}
    control = {(l, h, s): v for l, h, s, v in site_rows(site, "SELECT layer, head, stat, value FROM "
                                                              "control_head_stats")}
    assert control.keys() == model.keys()
    assert all(abs(control[k] - model[k]) < 1e-9 for k in model)
    rows = site_rows(site, "SELECT role, control_role, claimed FROM head_roles")
    assert all(role == control_role for role, control_role, _ in rows)
    assert all(claimed is False for role, _, claimed in rows if role != "mixed")


def test_the_control_is_a_seeded_random_copy_of_the_models_architecture(bert_dir):
    import torch
    from transformers import AutoConfig, BertModel

    from reportgen.models import load_model, randomised

    loaded = load_model(str(bert_dir))
    state = torch.random.get_rng_state()
    first, again, other = randomised(loaded, 0), randomised(loaded, 0), randomised(loaded, 1)
    assert torch.equal(state, torch.random.get_rng_state())  # the build's random state is left alone
    assert first.tokenizer is loaded.tokenizer and first.info == loaded.info
    assert type(first.model) is type(loaded.model)
    torch.manual_seed(0)
    by_hand = BertModel(AutoConfig.from_pretrained(bert_dir))  # transformers' own initialisation, seed 0
    for (name, a), b, c in zip(first.model.state_dict().items(), again.model.state_dict().values(),
                               other.model.state_dict().values()):
        assert torch.equal(a, b) and torch.equal(a, by_hand.state_dict()[name])
        if name.endswith("query.weight"):
            assert not torch.equal(a, c)  # another seed, other weights
    assert not np.allclose(first.model.embeddings.word_embeddings.weight.detach().numpy(),
                           other.model.embeddings.word_embeddings.weight.detach().numpy())
