"""benchmarks/importance_subsets.py, whose figures justify the importance's default sample (docs/performance.md):
its reading of the per-sentence ablations and its rank correlations, on a hand-made database."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "importance_subsets.py"


def _script():
    spec = importlib.util.spec_from_file_location("importance_subsets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["importance_subsets"] = module
    spec.loader.exec_module(module)
    return module


def test_first_sentences_against_all_and_against_the_rest(tmp_path):
    """Six heads (2 layers x 3) and 2 layers over 4 sentences: the first 2 sentences order the heads 0 < 1 < ... < 5,
    the last 2 in reverse and more strongly, so the first 2 agree with the rest at rho -1 and with all 4 as the
    reversed order does; the layers agree everywhere. A 'flip' row and a probe row are not read."""
    script = _script()
    db = tmp_path / "r.duckdb"
    heads = [(l, h) for l in range(2) for h in range(3)]
    rows = []
    for sid in range(4):
        for i, (l, h) in enumerate(heads):
            rows.append((l, h, 10 + sid, "ablation", float(i + 1) if sid < 2 else float(10 * (6 - i))))
            rows.append((l, h, 10 + sid, "flip", 99.0))
        rows += [(l, None, 10 + sid, "ablation", float(l + 1)) for l in range(2)]
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE head_importance_sentences (layer INTEGER, head INTEGER, sentence_id INTEGER, "
                    "method VARCHAR, value DOUBLE)")
        con.executemany("INSERT INTO head_importance_sentences VALUES (?, ?, ?, ?, ?)", rows)
    values, keys = script.per_sentence(db)
    assert keys == heads + [(0, None), (1, None)]
    assert values.shape == (4, 8) and values[0, 0] == 1.0 and values[3, 0] == 60.0 and values[2, 7] == 2.0
    found = script.subset_figures(values, keys, 2)
    # all 4: head i's mean is (i + 1 + 10 (6 - i)) / 2, decreasing in i: the reverse of the first 2's order
    assert found["heads_rest"] == pytest.approx(-1.0)
    assert found["heads_all"] == pytest.approx(-1.0)
    assert found["layers_all"] == pytest.approx(1.0)
    whole = script.subset_figures(values, keys, 4)
    assert whole["heads_all"] == pytest.approx(1.0) and np.isnan(whole["heads_rest"])
    assert whole["top"] == whole["bottom"] == 6  # fewer than 10 heads: all of them
