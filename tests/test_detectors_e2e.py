"""The head detectors on the real SmolLM2-135M (GGUF; marker e2e), their own run on the model, not a whole build:
induction heads are found, claimed against the random model, and removing them together raises the in-context
loss on repeated random tokens more than removing as many random heads of the same layers does."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from test_gguf import _gguf

from reportgen.analyses.detectors import HeadDetectors
from reportgen.analyses.registry import load_config
from reportgen.corpus import Sentence

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).resolve().parent.parent / "corpora" / "wikipedia.txt"


class Quiet:
    @contextlib.contextmanager
    def stage(self, name, total):
        yield lambda n: None


def test_smollm2_has_induction_heads_confirmed_by_their_ablation():
    from reportgen.models import load_model

    loaded = load_model(str(_gguf()))
    lines = CORPUS.read_text(encoding="utf-8").splitlines()[:50]
    corpus = [Sentence(i, "corpus", "wikipedia.txt", text) for i, text in enumerate(lines)]
    detectors = HeadDetectors(loaded, None, load_config(None))
    start = time.perf_counter()
    tables = detectors.run(None, Quiet(), [], corpus)
    print(f"detectors on SmolLM2: {time.perf_counter() - start:.1f} s")
    induction = [r for r in tables["detector_roles"] if r[2] == "induction" and r[7]]
    assert induction, "SmolLM2 has induction heads: a report that finds none is wrong"
    assert max(r[3] for r in induction) > 0.6
    rows = {r[0]: r for r in tables["detector_ablation"]}
    together, random = rows["candidates"], rows["random"]
    assert together[8] > 0  # the increase's lower bound: removing them raises the loss
    assert together[7] > random[9]  # more than the random heads' largest mean increase over the draws
    corpus_scores = [r for r in tables["head_detectors"] if r[3] == "corpus"]
    assert corpus_scores and detectors.meta()["detector_sentences_measured"] != "0"
