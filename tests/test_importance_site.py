"""A built site's importance against the database and the model: each sentence's ablations make the stored means
and ranks (the ranks recomputed here by the paired bootstrap as plain loops), the reference between two sentences
recomputed from the model's own outputs, and the pages' scale, ranks and proxies against the database."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import torch
from bs4 import BeautifulSoup
from conftest import site_rows
from test_importance_claims import direct_ranks

pytestmark = pytest.mark.build


def _page(site, rel):
    return BeautifulSoup((site / rel).read_text(encoding="utf-8"), "html.parser")


def _text(v, lo, hi):
    return f"{v:.3g} [{lo:.3g}, {hi:.3g}]"


def test_each_sentences_ablations_make_the_means_and_the_ranks(analysis_site):
    site = analysis_site
    per = defaultdict(dict)
    for l, h, sid, v in site_rows(site, "SELECT layer, head, sentence_id, value FROM head_importance_sentences "
                                        "WHERE method = 'ablation'"):
        per[(l, h)][sid] = v
    stored = {(l, h): (v, r) for l, h, v, r in site_rows(
        site, "SELECT layer, head, value, rank FROM head_importance WHERE scope = 'corpus' AND method = 'ablation'")}
    corpus = [sid for (sid,) in site_rows(site, "SELECT sentence_id FROM sentences WHERE role = 'corpus' "
                                                "ORDER BY sentence_id")][:200]
    assert set(per) == set(stored) and all(sorted(v) == corpus for v in per.values())
    for key, values in per.items():
        assert stored[key][0] == pytest.approx(sum(values.values()) / len(values), rel=1e-9)
    for whole in (False, True):  # heads among heads, layers among layers
        keys = sorted(k for k in per if (k[1] is None) == whole)
        matrix = np.array([[per[k][sid] for k in keys] for sid in corpus])
        assert [stored[k][1] for k in keys] == direct_ranks(matrix)


def test_the_reference_is_two_sentences_pooled_outputs_apart(analysis_site, bert_dir):
    from transformers import AutoModel, AutoTokenizer

    site = analysis_site
    model = AutoModel.from_pretrained(bert_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    texts = [t for (t,) in site_rows(site, "SELECT text FROM sentences WHERE role = 'corpus' ORDER BY sentence_id")]
    pooled = []
    for text in texts[:200]:
        ids = torch.tensor([tokenizer(text, split_special_tokens=True)["input_ids"]])
        with torch.no_grad():
            pooled.append(model(input_ids=ids).last_hidden_state[0].mean(0).double().numpy())
    pairs = []
    for i, a in enumerate(pooled):
        for j, b in enumerate(pooled):
            if i != j:
                pairs.append(1 - float(a @ b) / float(np.linalg.norm(a) * np.linalg.norm(b)))
    (name, value, low, high, words), = site_rows(site, "SELECT * FROM importance_reference")
    assert name == "between_sentences" and value == pytest.approx(sum(pairs) / len(pairs), rel=1e-4)
    assert low < value < high
    largest = max(v for (v,) in site_rows(site, "SELECT value FROM head_importance WHERE scope = 'corpus' AND "
                                                "method = 'ablation'"))
    assert largest < value  # a random model's single head moves its output less than another sentence does

    shown = f"{_text(value, low, high)}: {words}"
    index = _page(site, "index.html")
    scale = dict(zip([dt.get_text() for dt in index.select("#importance-scale dt")],
                     [dd.get_text() for dd in index.select("#importance-scale dd")]))
    assert scale["two different sentences"] == shown
    layers = site_rows(site, "SELECT layer, value, ci_low, ci_high FROM head_importance WHERE scope = 'corpus' AND "
                             "method = 'ablation' AND head IS NULL ORDER BY layer")
    assert scale["a whole layer removed"] == "; ".join(f"layer {l} {_text(*v)}" for l, *v in layers)
    for layer, head in ((0, 1), (1, 3)):
        page = _page(site, f"heads/L{layer}H{head}.html")
        facts = dict(zip([dt.get_text() for dt in page.select("#importance-scale dt")],
                         [dd.get_text() for dd in page.select("#importance-scale dd")]))
        assert facts == {f"its whole layer removed (layer {layer})": _text(*layers[layer][1:]),
                         "two different sentences": shown}


def test_head_pages_show_both_proxies_from_the_database(analysis_site):
    site = analysis_site
    rows = {(m, l, h): (v, lo, hi) for m, l, h, v, lo, hi in site_rows(
        site, "SELECT method, layer, head, value, ci_low, ci_high FROM head_importance WHERE scope = 'corpus' AND "
              "method LIKE 'gradient%'")}
    assert {m for m, _, _ in rows} == {"gradient", "gradient_normalised", "gradient_token",
                                       "gradient_token_normalised"}
    for layer in range(2):
        for head in range(4):
            page = _page(site, f"heads/L{layer}H{head}.html")
            shown = [dd.get_text() for dd in page.select("#importance-proxy dd")]
            assert shown == [_text(*rows[("gradient_token_normalised", layer, head)]),
                             _text(*rows[("gradient", layer, head)])]
            text = page.select_one("#importance").get_text()
            assert "offset.The" not in text and ".Its role" not in text and ".The" not in text
