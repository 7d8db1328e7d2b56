"""The attribution parts of the pages: coloured words, the heads that agree most (sentence page, head page,
overview), each checked against a direct computation from the database's attention and scores."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest
from bs4 import BeautifulSoup
from scipy.stats import spearmanr

from conftest import build_small_site

pytestmark = pytest.mark.build

PROBES = ("The cat sat on the ||| <b>mat</b> <script>alert(1)</script>\n"
          "She gave him the keys to the old cabinet.\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory, gpt2_lm_dir):
    return build_small_site(tmp_path_factory.mktemp("attr-pages"), gpt2_lm_dir, probes=PROBES, top_k=3,
                            attribution_steps=20)


def _query(site, sql):
    with duckdb.connect(str(site / "report.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _page(site, rel):
    return BeautifulSoup((site / rel).read_text(encoding="utf-8"), "html.parser")


def _direct(site, model_dir):
    """Per probe: word texts, word IG scores, and (rho, word share) per head computed here: the attention of the
    rows the target is computed from (the last token's for the next token; for a continuation, the rows that predict
    its tokens, from the model run here over the probe and the continuation), over the probe's tokens."""
    import torch
    from transformers import AutoTokenizer, GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    out = {}
    for sid, text in _query(site, "SELECT sentence_id, text FROM sentences WHERE role = 'probe' ORDER BY 1"):
        words = [w for (w,) in _query(site, f"SELECT text FROM words WHERE sentence_id = {sid} ORDER BY word_idx")]
        tokens = _query(site, f"SELECT token_idx, word_idx FROM tokens WHERE sentence_id = {sid} ORDER BY 1")
        ig = dict(_query(site, f"SELECT token_idx, score FROM attributions WHERE sentence_id = {sid} "
                               f"AND method = 'integrated_gradients'"))
        word_ig = np.zeros(len(words))
        for idx, word in tokens:
            if word is not None:
                word_ig[word] += ig[idx]
        n = len(tokens)
        ids = tok(text)["input_ids"]
        assert len(ids) == n
        (target,) = _query(site, f"SELECT target FROM attribution_targets WHERE sentence_id = {sid}")[0]
        if target == "continuation":
            cont = tok(" <b>mat</b> <script>alert(1)</script>", add_special_tokens=False)["input_ids"]
            ids, rows = ids + cont, list(range(n - 1, n - 1 + len(cont)))
        else:
            rows = [n - 1]
        with torch.no_grad():
            attention = model(input_ids=torch.tensor([ids]), output_attentions=True).attentions
        # GPT-2's first token stays in the attributions' baseline: a word made of it alone is not compared
        first = tokens[0][1]
        compared = [w for w in range(len(words)) if w != first or sum(t[1] == first for t in tokens) > 1]
        assert ig[0] == 0.0 and len(compared) == len(words) - 1
        found = {}
        for layer, layer_attention in enumerate(attention):
            for head in range(layer_attention.shape[1]):
                received = np.zeros(len(words))
                for r in rows:
                    for j in range(n):
                        if tokens[j][1] is not None:
                            received[tokens[j][1]] += float(layer_attention[0, head, r, j]) / len(rows)
                value = spearmanr(np.abs(word_ig[compared]), received[compared]).statistic
                found[(layer, head)] = (None if math.isnan(value) else value, received[compared].sum())
        out[sid] = (words, word_ig, found)
    return out


def test_sentence_page_colours_each_word_by_the_sign_and_size_of_its_attribution(site, gpt2_lm_dir):
    for sid, (words, word_ig, _) in _direct(site, gpt2_lm_dir).items():
        page = _page(site, f"sentences/{sid}.html")
        spans = page.select("#attributed-text span")
        assert [s.get_text() for s in spans] == words
        top = np.abs(word_ig).max()
        for span, score in zip(spans, word_ig):
            (cls,) = span["class"]
            if abs(score) < 0.05 * top:  # under 5% of the sentence's largest |attribution|: untinted
                assert cls == "attr-0"
            else:
                step = min(5, max(1, math.ceil(5 * abs(score) / top)))
                assert cls == f"attr-{'p' if score > 0 else 'n'}{step}", (span.get_text(), score)
        # the legend shows every colour, most negative first
        assert [s["class"][0] for s in page.select(".attr-legend span")] == (
            [f"attr-n{i}" for i in range(5, 0, -1)] + ["attr-0"] + [f"attr-p{i}" for i in range(1, 6)])
        # ... with the shares of the sentence's largest |attribution| each covers, and that largest value
        assert [s.get_text() for s in page.select(".attr-legend span")] == (
            ["−80–100%", "−60–80%", "−40–60%", "−20–40%", "−5–20%", "under 5%: untinted", "+5–20%", "+20–40%",
             "+40–60%", "+60–80%", "+80–100%"])
        assert f"({top:.3g})" in page.select_one(".attr-legend").get_text()
        # the table lists every word's score
        cells = [r.select("td")[0].get_text() for r in page.select("table.attributions tbody tr")]
        assert cells == [f"{v:+.4f}" for v in word_ig]


def test_the_target_is_stated_in_words_and_untrusted_text_stays_text(site):
    targets = dict(_query(site, "SELECT sentence_id, target FROM attribution_targets"))
    assert sorted(targets.values()) == ["continuation", "next_token"]
    page = _page(site, "sentences/0.html")
    section = page.select_one("#attribution")
    assert section.find("b") is None
    assert [s.get("type") for s in section.find_all("script")] == ["application/json"]  # the chart's spec only
    assert "<script" not in section.find("script").string and "<b>" not in section.find("script").string
    assert "<script>alert(1)</script>" in section.get_text()
    value = _query(site, "SELECT value FROM attribution_targets WHERE sentence_id = 0")[0][0]
    assert f"{value:.3g}" in section.select_one("p").get_text()


def test_sentence_page_names_the_heads_that_agree_most(site, gpt2_lm_dir):
    from reportgen.vocab import WORD_SHARE_FLOOR

    for sid, (_, _, found) in _direct(site, gpt2_lm_dir).items():
        ranked = sorted(((v, l, h, share) for (l, h), (v, share) in found.items()
                         if v is not None and share >= WORD_SHARE_FLOOR), key=lambda r: (-r[0], r[1], r[2]))
        groups = []  # equal rho on the sentence: tied (nothing to resample on one sentence)
        for r in ranked:
            if groups and abs(groups[-1][-1][0] - r[0]) <= 1e-9:
                groups[-1].append(r)
            elif sum(map(len, groups)) < 5:
                groups.append([r])
            else:
                break
        expected = [(f"L{l}H{h}", f"{v:+.2f} ({share:.0%} of the read-out on the words)"
                     + (" (tied)" if len(g) > 1 and i == len(g) - 1 else ""))
                    for g in groups for i, (v, l, h, share) in enumerate(g)][:10]
        links = _page(site, f"sentences/{sid}.html").select("#agreement-heads dd")[0]
        shown = [(a.get_text(), a.next_sibling.strip(" ,;")) for a in links.select("a")]
        assert shown == expected


def test_head_page_and_overview_show_the_mean_agreement_over_the_probes(site, gpt2_lm_dir):
    from scipy.stats import t

    from reportgen.vocab import WORD_SHARE_FLOOR

    direct = _direct(site, gpt2_lm_dir)
    heads = sorted(next(iter(direct.values()))[2])
    means = {}
    for key in heads:
        found = [d[2][key][0] for d in direct.values() if d[2][key][0] is not None
                 and d[2][key][1] >= WORD_SHARE_FLOOR]
        if not found:
            means[key] = None
        elif len(found) == 1:
            means[key] = (found[0], f"{found[0]:+.2f}")
        else:
            mean = float(np.mean(found))
            half = t.ppf(0.975, len(found) - 1) * np.std(found, ddof=1) / np.sqrt(len(found))
            means[key] = (mean, f"{mean:+.2f} [{mean - half:+.2f}, {mean + half:+.2f}], n = {len(found)}")
    for (layer, head), mean in means.items():
        section = _page(site, f"heads/L{layer}H{head}.html").select_one("#agreement")
        text = section.select_one("strong").get_text()
        assert text == ("undefined" if mean is None else mean[1])
    # the stored ranks (their paired bootstrap is checked against loops in test_agreement_baselines.py) hold these
    # means, and the overview names the heads of the first tie groups until at least 5, the cut never inside a tie
    ranks = {(l, h): (m, r) for l, h, m, r in _query(site, "SELECT layer, head, mean, rank FROM agreement_ranks "
                                                          "WHERE method = 'attention'")}
    assert {k for k, v in means.items() if v is not None} == {k for k, (_, r) in ranks.items() if r is not None}
    for key, (mean, r) in ranks.items():
        assert mean == (None if means[key] is None else pytest.approx(means[key][0]))
    by_rank = sorted({r for _, r in ranks.values() if r is not None})
    named, groups = [], []
    for r in by_rank:
        if len(named) >= 5:
            break
        group = sorted((k for k, v in ranks.items() if v[1] == r), key=lambda k: (-ranks[k][0], k))
        named += group
        groups.append(group)
    best = _page(site, "index.html").select("#agreement-best dd")[0]
    assert [a.get_text() for a in best.select("a")] == [f"L{l}H{h}" for l, h in named][:10]
    assert best.get_text().count("(tied)") == sum(len(g) > 1 for g in groups)
    for l, h in ranks:  # the head page's place: its rank and its tie, in words
        text = _page(site, f"heads/L{l}H{h}.html").select_one("#agreement p").get_text(" ", strip=True)
        r = ranks[(l, h)][1]
        if r is None:
            continue
        tied = sum(1 for v in ranks.values() if v[1] == r) - 1
        n = sum(1 for v in ranks.values() if v[1] is not None)
        assert "1st highest" not in text and f"of the {n} heads compared" in text
        assert ("tied" in text) == bool(tied)
        if not tied:
            assert (("the highest" in text) if r == 1 else ("the lowest" in text) if r == n
                    else f"the {r}" in text), text

def test_classifier_pages_name_the_baseline_token_and_the_top_classes(tmp_path, bert_classifier_dir):
    """A classifier's sentence page names the baseline token ([PAD], not 'auto') and shows its three most probable
    classes, each probability equal to a softmax of the model's logits computed here."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    site = build_small_site(tmp_path, bert_classifier_dir, probes="The cat sat on the mat.\n", top_k=3,
                            attribution_steps=8)
    model = AutoModelForSequenceClassification.from_pretrained(bert_classifier_dir).eval()
    tok = AutoTokenizer.from_pretrained(bert_classifier_dir)
    ((text,),) = _query(site, "SELECT text FROM sentences WHERE sentence_id = 0")
    with torch.inference_mode():
        p = torch.softmax(model(**tok(text, return_tensors="pt")).logits[0].double(), -1).tolist()
    stored = _query(site, "SELECT class_index, probability FROM class_probabilities WHERE sentence_id = 0 "
                          "ORDER BY class_index")
    assert [i for i, _ in stored] == list(range(len(p)))
    assert [v for _, v in stored] == pytest.approx(p, abs=1e-6)
    section = _page(site, "sentences/0.html").select_one("#attribution")
    assert f"<code>{tok.pad_token}</code>" in str(section.select_one("p")) and "auto" not in section.get_text()
    best = sorted(range(len(p)), key=lambda i: -p[i])[:3]
    shown = [(s.get_text(), s.next_sibling.strip(" ,")) for s in section.select("#top-classes strong")]
    assert shown == [(model.config.id2label[i], f"{p[i]:.3f}") for i in best]
