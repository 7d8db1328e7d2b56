"""What attention moves, in Kobayashi et al.'s own units (their `re-examine.py`): the head statistics `<share>_moved`
and `comma_period_moved` of a built site against a direct computation written as plain loops from the definition,
on tiny BERT and GPT-2 models: for each query token, the sum over a group's keys of |alpha_ij f(x_j)| (no division
by the row's total), each sentence's mean over its query tokens, then the mean over the sentences; their
punctuation is the tokens of "," and "." (a sentence without one counts 0)."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
import torch
from conftest import build_small_site, site_rows
from test_by_norm import _values_and_out

from reportgen.vocab import MOVED_GROUPS

pytestmark = pytest.mark.build

SENTENCES = ["The cat sat on the mat.", "Birds sing, and the dog barks.", "Rain fell all night long!",
             "She gave him the keys, the map and the old car."]


@pytest.mark.parametrize("family", ["bert_dir", "gpt2_dir"])
def test_the_norms_moved_equal_a_direct_loop(family, request, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    model_dir = request.getfixturevalue(family)
    site = build_small_site(tmp_path, model_dir, sentences=SENTENCES, top_k=2, importance_sentences=0)
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    words = {(s, w): (text, p) for s, w, text, p in site_rows(site, "SELECT sentence_id, word_idx, text, is_punct "
                                                                    "FROM words")}
    tokens = defaultdict(list)
    for sid, _, word, special in site_rows(site, "SELECT sentence_id, token_idx, word_idx, is_special FROM tokens "
                                                 "ORDER BY sentence_id, token_idx"):
        tokens[sid].append((word, special))
    corpus = site_rows(site, "SELECT sentence_id, text FROM sentences WHERE role = 'corpus' ORDER BY sentence_id")
    per_sentence = defaultdict(list)  # (layer, head, group) -> each sentence's mean
    theirs = 0
    for sid, text in corpus:
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            out = model(input_ids=ids, output_attentions=True, output_hidden_states=True)
        special = [s for _, s in tokens[sid]]
        of = [words.get((sid, w), ("", False)) if w is not None and not s else ("", False) for w, s in tokens[sid]]
        punct = [p for _, p in of]
        comma_period = [t in (",", ".") for t, _ in of]
        theirs += sum(comma_period)
        n = len(special)
        last = max((j for j in range(1, n) if special[j]), default=0)
        for layer in range(model.config.num_hidden_layers):
            value, w_out = _values_and_out(model, family, layer, out.hidden_states[layer][0])
            attention = out.attentions[layer][0]
            for head in range(attention.shape[0]):
                norm = [float(torch.linalg.vector_norm(value[j, head] @ w_out[head]).detach()) for j in range(n)]
                moved = defaultdict(list)
                for i in range(n):
                    row = [float(attention[head, i, j]) * norm[j] for j in range(n)]  # |alpha_ij f(x_j)|
                    moved["self"].append(row[i])
                    if i > 0:
                        moved["prev"].append(row[i - 1])
                    if i < n - 1:
                        moved["next"].append(row[i + 1])
                    moved["first"].append(row[0])
                    if last:
                        moved["last"].append(row[last])
                    moved["special"].append(sum(r for r, s in zip(row, special) if s))
                    moved["punct"].append(sum(r for r, p in zip(row, punct) if p))
                    moved["comma_period"].append(sum(r for r, c in zip(row, comma_period) if c))
                for group, values in moved.items():
                    per_sentence[(layer, head, group)].append(sum(values) / len(values))
    assert theirs >= 5  # the corpus has their punctuation, and a sentence without it ("!")
    stored = {(l, h, s): v for l, h, s, v in site_rows(site, "SELECT layer, head, stat, value FROM head_stats")}
    for (layer, head, group), values in per_sentence.items():
        want = sum(values) / len(values)
        got = stored[(layer, head, f"{group}_moved")]
        assert math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-6), (family, layer, head, group, got, want)
    # GPT-2 has no last special token, so no `last`
    assert set(MOVED_GROUPS) - {"last"} <= {g for (_, _, g) in per_sentence} <= set(MOVED_GROUPS)
    # ours ("punct": every punctuation word, "!" too) and theirs ("," and "." only) differ on this corpus
    assert any(abs(stored[(l, h, "punct_moved")] - stored[(l, h, "comma_period_moved")]) > 1e-6
               for l, h, _ in per_sentence)
    # a share divides by the row's total, a norm moved does not
    assert any(abs(stored[(l, h, "first_moved")] - stored[(l, h, "first_by_norm")]) > 1e-3 for l, h, _ in per_sentence)


def test_head_pages_show_the_norms_moved_from_the_database(analysis_site):
    from bs4 import BeautifulSoup

    stored = {(l, h, s): v for l, h, s, v in site_rows(analysis_site, "SELECT layer, head, stat, value FROM head_stats "
                                                                     "WHERE stat LIKE '%_moved'")}
    page = BeautifulSoup((analysis_site / "heads" / "L1H2.html").read_text(encoding="utf-8"), "html.parser")
    shown = {tr.select_one("code").get_text(): tr.select_one("td").get_text()
             for tr in page.select("table.moved tbody tr")}
    assert shown == {f"{g}_moved": f"{stored[(1, 2, f'{g}_moved')]:.4g}" for g in MOVED_GROUPS}
    assert '"," and "." only' in page.select_one("#moved").find_next("p").get_text()
