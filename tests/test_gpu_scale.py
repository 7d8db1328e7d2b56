"""benchmarks/gpu_scale.py on the CPU with its tiny shape, so that the GPU benchmark cannot rot: a random Llama made
in memory, built through the build's own code into a report of that shape, with the lines the script prints."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.build

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_scale.py"


def _script():
    spec = importlib.util.spec_from_file_location("gpu_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_scale"] = module  # its dataclass resolves its annotations through it
    spec.loader.exec_module(module)
    return module


def test_published_shapes():
    gpu_scale = _script()
    eight = gpu_scale.SHAPES["8b"]
    assert (eight["num_hidden_layers"], eight["num_attention_heads"], eight["num_key_value_heads"],
            eight["hidden_size"], eight["intermediate_size"], eight["vocab_size"], eight["rope_theta"]) == (
        32, 32, 8, 4096, 14336, 128256, 500000.0)
    assert gpu_scale.main(["--shape", "70b"]) == 2


def test_tiny_shape_builds_a_report_and_prints_its_costs(tmp_path, capsys):
    from reportgen.models import default_model_path

    gpu_scale = _script()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model_path())  # a shipped tokenizer, quick to read
    probes = tmp_path / "probes.txt"
    probes.write_text("The dog sat on the table.\nShe gave him the keys.\n", encoding="utf-8")
    out = tmp_path / "site"
    result = gpu_scale.run("tiny", 12, "cpu", "float32", out, tok, probes=probes, attribution_steps=4,
                           importance_sentences=4, control_sentences=8, similarity_sentences=8)
    with duckdb.connect(str(out / "report.duckdb"), read_only=True) as con:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        assert con.execute("SELECT count(*) FROM sentences WHERE role = 'corpus'").fetchone()[0] == 12
        assert con.execute("SELECT count(*) FROM head_importance").fetchone()[0] > 0
    tiny = gpu_scale.SHAPES["tiny"]
    assert (meta["architecture"], meta["n_layers"], meta["n_heads"], meta["causal"]) == (
        "llama", str(tiny["num_hidden_layers"]), str(tiny["num_attention_heads"]), "true")
    assert result.parameters > 0 and result.forward > 0 and result.peak is None
    assert result.estimate > 0 and result.timings["encode and search corpus"] > 0
    lines = gpu_scale.report(result)
    assert lines[0].startswith("tiny: ") and "bare forward pass" in lines[0]
    assert "where the time goes" in lines[2] and "estimated by the preflight" in lines[3]
    assert "costs" in gpu_scale.NOTE and "not findings" in gpu_scale.NOTE
