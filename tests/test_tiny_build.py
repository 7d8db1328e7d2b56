"""The whole pipeline on tiny random-initialised models of each supported family."""

from __future__ import annotations

import duckdb
import pytest

from reportgen.build import build
from reportgen.config import load_config


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
    heads = sorted(p.name for p in (out / "heads").iterdir())
    assert heads == sorted(f"L{l}H{h}.html" for l in range(n_layers) for h in range(n_heads))
    assert summary.counts["sentences"] == 8
    # every non-special token is aligned to a word
    assert con.execute("SELECT count(*) FROM tokens WHERE NOT is_special AND word_idx IS NULL").fetchone()[0] == 0
    # 5 matches per probe token for every space: embedding, each head, the whole layer
    per_token = con.execute(
        "SELECT count(*) FROM neighbours GROUP BY sentence_id, token_idx").fetchall()
    assert {c for (c,) in per_token} == {5 * n_layers * (n_heads + 2)}
