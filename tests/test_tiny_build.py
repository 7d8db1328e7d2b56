"""The whole pipeline on tiny random-initialised models of each supported family."""

from __future__ import annotations

import duckdb
import pytest

from reportgen.commands.build import build
from reportgen.analyses.registry import load_config

pytestmark = pytest.mark.build


@pytest.mark.parametrize("family", ["bert_dir", "gpt2_dir", "llama_dir"])
def test_build_on_tiny_model(family, request, tmp_path, corpus_file, probes_file):
    model_dir = request.getfixturevalue(family)
    out = tmp_path / "site"
    config = load_config(None, model=str(model_dir), corpus=(corpus_file,), probes=probes_file, out=out, top_k=5)
    summary = build(config)
    assert (out / "index.html").is_file()
    con = duckdb.connect(str(out / "report.duckdb"), read_only=True)
    n_layers, n_heads = (int(con.execute("SELECT value FROM meta WHERE key = ?", [k]).fetchone()[0])
                         for k in ("n_layers", "n_heads"))
    assert n_layers == 2
    heads = sorted(p.name for p in (out / "heads").glob("*.html"))
    assert heads == sorted(f"L{l}H{h}.html" for l in range(n_layers) for h in range(n_heads))
    # each head page's match lists beside it
    assert sorted(p.parent.name for p in (out / "heads").glob("*/matches.js")) == [h.removesuffix(".html")
                                                                                  for h in heads]
    assert summary.counts.sentences == 8
    # every non-special token is aligned to a word
    assert con.execute("SELECT count(*) FROM tokens WHERE NOT is_special AND word_idx IS NULL").fetchone()[0] == 0
    # 5 matches per probe token for every space: embedding, each head, the whole layer
    per_token = con.execute(
        "SELECT count(*) FROM neighbours GROUP BY sentence_id, token_idx").fetchall()
    assert {c for (c,) in per_token} == {5 * n_layers * (n_heads + 2)}


def test_corpus_copy_of_a_probe_is_its_best_match_and_probes_never_match(tmp_path, bert_dir, corpus_file):
    probe = "The dog sat on the table."
    probes = tmp_path / "probes.txt"
    probes.write_text(probe + "\n", encoding="utf-8")
    corpus = tmp_path / "with-copy.txt"
    corpus.write_text(corpus_file.read_text(encoding="utf-8") + probe + "\n", encoding="utf-8")
    out = tmp_path / "site"
    build(load_config(None, model=str(bert_dir), corpus=(corpus,), probes=probes, out=out, top_k=4))
    con = duckdb.connect(str(out / "report.duckdb"), read_only=True)
    copy_id = con.execute("SELECT sentence_id FROM sentences WHERE role = 'corpus' AND text = ?", [probe]).fetchone()[0]
    best = con.execute("SELECT token_idx, match_sentence_id, match_token_idx, score FROM neighbours "
                       "WHERE rank = 0 AND space = 'embedding'").fetchall()
    assert best and all(m_sid == copy_id and m_tok == tok and score == pytest.approx(1, abs=1e-5)
                        for tok, m_sid, m_tok, score in best)
    # the probe itself (sentence 0) is never among the matches
    assert con.execute("SELECT count(*) FROM neighbours WHERE match_sentence_id = 0").fetchone()[0] == 0


def test_a_rebuild_over_a_report_without_studies_warns_nothing(tmp_path, bert_dir, corpus_file, probes_file):
    config = load_config(None, model=str(bert_dir), corpus=(corpus_file,), probes=probes_file, out=tmp_path / "site",
                         top_k=2)
    assert build(config).warnings == []
    assert build(config).warnings == []  # the previous database is read for studies: it has none to carry over
