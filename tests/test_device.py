"""--device and --dtype: the build runs where and in the precision it is asked to, and bfloat16 finds the same
matches as float32 up to a documented tolerance."""

from __future__ import annotations

from collections import defaultdict

import duckdb
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import assert_clean_failure, build_small_site

from reportgen.cli import main

pytestmark = pytest.mark.unit

# bfloat16 keeps 8 bits of mantissa (a relative error of 2^-8 per operation): through the tiny model's two layers
# the cosine scores of the matches move by at most this much (README, "Devices and precision")
BF16_SCORE_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def sites(tmp_path_factory, bert_dir):
    return {dtype: build_small_site(tmp_path_factory.mktemp(f"dtype-{dtype}"), bert_dir, top_k=4, device="cpu",
                                    dtype=dtype) for dtype in ("float32", "bfloat16")}


def _ranked(site) -> dict[tuple, list[float]]:
    out: dict[tuple, list[float]] = defaultdict(list)
    with duckdb.connect(str(site / "report.duckdb"), read_only=True) as con:
        for sid, tok, space, layer, head, score in con.execute(
                "SELECT sentence_id, token_idx, space, layer, head, score FROM neighbours "
                "ORDER BY sentence_id, token_idx, space, layer, head, rank").fetchall():
            out[(sid, tok, space, layer, head)].append(score)
    return out


@pytest.mark.build
def test_bfloat16_matches_score_like_float32_within_the_tolerance(sites):
    f32, bf16 = _ranked(sites["float32"]), _ranked(sites["bfloat16"])
    assert f32.keys() == bf16.keys() and len(f32) > 50
    worst = max(float(np.max(np.abs(np.array(f32[k]) - np.array(bf16[k])))) for k in f32)
    assert worst <= BF16_SCORE_TOLERANCE
    # and the precision really changed something: the scores are not bit-identical
    assert worst > 0


@pytest.mark.build
def test_the_about_page_and_meta_name_the_device_and_precision(sites):
    for dtype, site in sites.items():
        with duckdb.connect(str(site / "report.duckdb"), read_only=True) as con:
            meta = dict(con.execute("SELECT key, value FROM meta WHERE key LIKE 'option.d%'").fetchall())
        assert meta["option.device"] == "cpu" and meta["option.dtype"] == dtype
        about = (site / "about.html").read_text(encoding="utf-8")
        assert f"<dt>dtype</dt><dd>{dtype}</dd>" in about and "<dt>device</dt><dd>cpu</dd>" in about


@pytest.mark.parametrize("option,value,needle", [("--device", "gpu", "device: expected auto, cpu, cuda"),
                                                  ("--device", "cuda:x", "device: expected"),
                                                  ("--dtype", "float8", "dtype: expected one of")])
def test_bad_values_are_one_line_errors(old_site, option, value, needle):
    assert_clean_failure(CliRunner().invoke(main, ["build", option, value, "--out", str(old_site)]), needle)
    assert (old_site / "index.html").read_text(encoding="utf-8") == "previous report"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_a_device_torch_does_not_see_is_a_one_line_error(old_site, corpus_file, probes_file, bert_dir):
    result = CliRunner().invoke(main, ["build", "--model", str(bert_dir), "--corpus", str(corpus_file), "--probes",
                                       str(probes_file), "--out", str(old_site), "--device", "cuda:1"])
    assert_clean_failure(result, "--device cuda:1", "torch sees 0 CUDA devices")
    assert (old_site / "index.html").read_text(encoding="utf-8") == "previous report"
