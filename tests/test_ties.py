"""Exact ties in a real build: a tiny BERT whose heads all give the same (zero) context vector, so every corpus
token ties in every head's context space. The kept matches are a pseudo-random sample of the tied contexts,
the same whatever the batch size, and the head pages say that they tie."""

from __future__ import annotations

import duckdb
import pytest
from bs4 import BeautifulSoup
from conftest import SENTENCES, build_small_site

pytestmark = pytest.mark.build

K = 5


@pytest.fixture(scope="module")
def tied_model(tmp_path_factory, bert_dir):
    import torch
    from transformers import AutoTokenizer, BertModel

    model = BertModel.from_pretrained(bert_dir, attn_implementation="eager")
    with torch.no_grad():
        for layer in model.encoder.layer:  # softmax(QK^T)V with V = 0: every context is the zero vector
            layer.attention.self.value.weight.zero_()
            layer.attention.self.value.bias.zero_()
    path = tmp_path_factory.mktemp("tied-bert")
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(bert_dir).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def sites(tmp_path_factory, tied_model):
    return {size: build_small_site(tmp_path_factory.mktemp(f"tied-{size}"), tied_model, top_k=K, batch_size=size)
            for size in (1, 32)}


def _rows(site, sql):
    with duckdb.connect(str(site / "report.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_tie_sample_is_the_same_for_batch_sizes_1_and_32(sites):
    # the context spaces, whose vectors are exactly zero (the embedding space's float noise may depend on the
    # padding of a batch, as in any build)
    for table in ("neighbours", "cut_ties"):
        sql = f"SELECT * FROM {table} WHERE space = 'context' ORDER BY ALL"
        assert _rows(sites[1], sql) == _rows(sites[32], sql)
        assert len(_rows(sites[1], sql)) > 0


def test_every_head_space_ties_at_the_cut_and_the_sample_is_not_corpus_order(sites):
    site = sites[32]
    corpus_tokens = _rows(site, "SELECT count(*) FROM tokens JOIN sentences USING (sentence_id) "
                                "WHERE role = 'corpus' AND NOT is_special")[0][0]
    probe_tokens = _rows(site, "SELECT count(*) FROM tokens JOIN sentences USING (sentence_id) "
                               "WHERE role = 'probe' AND NOT is_special")[0][0]
    ties = _rows(site, "SELECT score, tied_kept, tied_dropped, count(*) FROM cut_ties "
                       "WHERE space = 'context' AND head IS NOT NULL GROUP BY ALL")
    assert ties == [(0.0, K, corpus_tokens - K, 2 * 4 * probe_tokens)]  # 2 layers x 4 heads x every probe token
    first = _rows(site, "SELECT sentence_id, token_idx FROM tokens JOIN sentences USING (sentence_id) "
                        "WHERE role = 'corpus' AND NOT is_special ORDER BY sentence_id, token_idx LIMIT 5")
    kept = _rows(site, "SELECT match_sentence_id, match_token_idx FROM neighbours WHERE space = 'context' "
                       "AND layer = 0 AND head = 0 AND sentence_id = 0 AND token_idx = 1 ORDER BY rank")
    assert sorted(kept) != first


def test_head_page_says_the_matches_tie(sites):
    site = sites[32]
    page = BeautifulSoup((site / "heads" / "L1H3.html").read_text(encoding="utf-8"), "html.parser")
    corpus_tokens = _rows(site, "SELECT count(*) FROM tokens JOIN sentences USING (sentence_id) "
                                "WHERE role = 'corpus' AND NOT is_special")[0][0]
    warnings = [w.get_text() for w in page.select("details.token .line.warning")]
    tie = [w for w in warnings if w.startswith("Ties at the cut")]
    assert len(tie) == len(page.select("details.token"))
    assert tie[0].startswith(f"Ties at the cut: all {K} tie at 0.000 with {corpus_tokens - K:,} more corpus contexts")
    notes = [p.get_text() for p in page.select("section.analysis p.warning")]
    assert any("probe tokens have ties at the cut" in n for n in notes)


def test_max_matches_per_sentence_caps_every_list(tmp_path, tied_model):
    site = build_small_site(tmp_path, tied_model, top_k=K, max_matches_per_sentence=1)
    per = _rows(site, "SELECT max(c) FROM (SELECT count(*) AS c FROM neighbours "
                      "GROUP BY sentence_id, token_idx, space, layer, head, match_sentence_id)")
    assert per == [(1,)]
    assert len(SENTENCES) >= K  # so that K distinct sentences exist
    assert _rows(site, "SELECT DISTINCT n FROM (SELECT count(*) AS n FROM neighbours "
                       "GROUP BY sentence_id, token_idx, space, layer, head)") == [(K,)]
