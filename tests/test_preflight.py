"""The memory preflight: the weights' bytes counted exactly from the configuration, the corpus pass's estimate for
one layer against the tensors the pass actually hands over, a build that will not fit refused with one line and exit
code 2 before any weight is read, and `--dry-run` printing the estimate and writing nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SENTENCES, assert_clean_failure

from reportgen.analyses.registry import load_config
from reportgen.cli import main
from reportgen.models import load_model, place, read_architecture
from reportgen.preflight import (
    BYTES,
    corpus_layer,
    estimate,
    held_by_layer,
    shape_of,
    token_lengths,
    worst_batch,
)

pytestmark = pytest.mark.unit

# The corpus pass's estimate for a layer is at least the tensors it hands over and at most this many times them
# (the rest: the model's own activations, the statistics' temporaries, the search's scores; with the head map's
# sample, every layer's attention besides). On these tiny models (d_model 16-32, 2-4 heads) the activations and the
# search dominate and the estimate is 10-13 times what is handed over; for the default MiniLM on the shipped corpus
# (32 sentences of 128 tokens, 208 probe tokens) it is 13 too
LAYER_FACTOR = 16


def loaded_bytes(loaded) -> int:
    """The bytes of every parameter and buffer of a loaded model (its task model: tied weights once)."""
    model = loaded.task
    return (sum(p.numel() * p.element_size() for p in model.parameters())
            + sum(b.numel() * b.element_size() for b in model.buffers()))


@pytest.mark.parametrize("fixture", ["bert_dir", "gpt2_lm_dir", "llama_dir", "bert_classifier_dir"])
def test_weights_counted_exactly(fixture, request):
    folder = request.getfixturevalue(fixture)
    shape = shape_of(read_architecture(str(folder)), str(folder))
    loaded = load_model(str(folder))
    assert shape.weights("float32", "cuda") == loaded_bytes(loaded)
    assert shape.weights("bfloat16", "cuda") == loaded_bytes(place(loaded, "cpu", "bfloat16"))
    # on the CPU the weights are read in their stored precision (float32 here) before they are converted
    assert shape.weights("bfloat16", "cpu") == shape.weights("float32", "cpu")
    info = loaded.info
    assert (shape.n_layers, shape.n_heads, shape.d_model, shape.d_head, shape.max_length) == (
        info.n_layers, info.n_heads, info.d_model, info.d_head, info.max_length)


def test_token_lengths_as_the_build_tokenises(bert_dir):
    from reportgen.encode import tokenize

    loaded = load_model(str(bert_dir))
    texts = SENTENCES + ["A [CLS] literal is text.", "word " * 100]
    expected = [len(tokenize(loaded, t, (), strict=False, where="x").input_ids) for t in texts]
    assert token_lengths(loaded.tokenizer, texts, loaded.info.max_length) == expected
    assert max(expected) == loaded.info.max_length  # the long line is truncated to the model's limit


def test_worst_batch():
    assert worst_batch([5, 9, 7], 32, None) == (3, 9)
    assert worst_batch([5, 9, 7] * 20, 32, None) == (32, 9)
    assert worst_batch([5, 9, 7] * 20, 32, 40) == (4, 9)  # 4 x 9 <= 40 tokens
    assert worst_batch([50], 32, 40) == (1, 50)  # a sentence over the budget goes alone
    assert worst_batch([], 32, None) == (0, 0)


class Recorder:
    """An accumulator that records what one layer of each batch hands over: (sentences, tokens, bytes, layer)."""

    timing = ""

    def __init__(self):
        self.seen = []

    def update(self, batch) -> None:
        tensors = (batch.attention, batch.context, batch.hidden, batch.value_norms)
        b, t = batch.info.mask.shape
        self.seen.append((b, t, sum(x.numel() * x.element_size() for x in tensors), batch.layer))


@pytest.mark.parametrize("fixture", ["bert_dir", "gpt2_dir", "llama_dir"])
def test_corpus_layer_estimate_against_the_tensors_held(fixture, request):
    from reportgen.corpus_pass.batches import run_batch
    from reportgen.encode import tokenize
    from reportgen.progress import Clock

    folder = request.getfixturevalue(fixture)
    loaded = load_model(str(folder))
    shape = shape_of(read_architecture(str(folder)), str(folder))
    tokenized = [tokenize(loaded, s, (), strict=False, where="x", sentence_id=i) for i, s in enumerate(SENTENCES)]
    recorder = Recorder()
    run_batch(loaded, tokenized, list(range(len(SENTENCES))), {i: () for i in range(len(SENTENCES))}, [recorder],
              Clock())
    lengths = token_lengths(loaded.tokenizer, SENTENCES, shape.max_length)
    b, t = worst_batch(lengths, len(SENTENCES), None)
    assert [(bb, tt) for bb, tt, _, _ in recorder.seen] == [(b, t)] * shape.n_layers  # the batch it sized
    held = max(n for _, _, n, _ in recorder.seen)
    assert held == held_by_layer(shape, b, t)
    probe_tokens = 12
    s = BYTES["float32"]
    alone = corpus_layer(shape, b, t, probe_tokens, s, sample=False)
    assert held <= alone <= LAYER_FACTOR * held, alone / held
    # with the head map's sample every layer's attention is kept until the batch's last layer
    every_layer = sum(4 * b * shape.n_heads * t * t for _ in range(shape.n_layers))
    with_sample = corpus_layer(shape, b, t, probe_tokens, s, sample=True)
    assert with_sample - alone == every_layer
    assert held + every_layer <= with_sample <= LAYER_FACTOR * (held + every_layer)


def test_estimate_sizes_the_largest_pass(bert_dir, tmp_path):
    shape = shape_of(read_architecture(str(bert_dir)), str(bert_dir))
    config = load_config(None, model=str(bert_dir), out=tmp_path / "site", batch_size=8)
    lengths = [10] * 30 + [40]
    found = estimate(shape, config, [12, 9], lengths, "cpu", "float32", (None, "unknown"))
    corpus = next(p for p in found.passes if p.name == "corpus pass")
    assert corpus.bytes == corpus_layer(shape, 8, 40, 21, 4, sample=True)
    assert found.total == found.model.bytes + max(p.bytes for p in found.passes)
    assert found.model.bytes == 2 * shape.weights("float32", "cpu")  # the control model's copy beside it
    found.check()  # nothing known: nothing refused
    bounded = estimate(shape, load_config(None, model=str(bert_dir), out=tmp_path / "site", batch_size=8,
                                          max_batch_tokens=80, control_sentences=0), [12, 9], lengths, "cpu",
                       "float32", (None, "unknown"))
    assert next(p for p in bounded.passes if p.name == "corpus pass").bytes == corpus_layer(shape, 2, 40, 21, 4, True)
    assert bounded.model.bytes == shape.weights("float32", "cpu")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def weightless_bert(bert_dir, tmp_path) -> Path:
    """The tiny BERT with its weights file replaced by junk: a build that reads the weights fails on them."""
    folder = tmp_path / "weightless"
    shutil.copytree(bert_dir, folder)
    for weights in folder.glob("*.safetensors"):
        weights.write_bytes(b"not weights")
    return folder


def test_a_build_that_will_not_fit_is_refused_before_loading(weightless_bert, corpus_file, probes_file, old_site):
    result = invoke("build", "--model", str(weightless_bert), "--corpus", str(corpus_file), "--probes",
                    str(probes_file), "--out", str(old_site), "--memory-limit", "1")
    assert_clean_failure(result, "1.0 MiB is available (--memory-limit)", "--dtype bfloat16")
    assert "needs about" in result.output
    assert (old_site / "index.html").read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in old_site.parent.iterdir()) == sorted(
        p.name for p in old_site.parent.iterdir() if not p.name.startswith(".site"))
    # with room enough, the same build goes on to read the weights (and fails on them, which proves the order)
    result = invoke("build", "--model", str(weightless_bert), "--corpus", str(corpus_file), "--probes",
                    str(probes_file), "--out", str(old_site), "--memory-limit", "100000")
    assert result.exit_code == 2 and "cannot load the model" in result.output


def test_dry_run_prints_the_estimate_and_writes_nothing(weightless_bert, corpus_file, probes_file, tmp_path):
    out = tmp_path / "new-site"
    result = invoke("build", "--model", str(weightless_bert), "--corpus", str(corpus_file), "--probes",
                    str(probes_file), "--out", str(out), "--dry-run", "--memory-limit", "1")
    assert result.exit_code == 0, result.output
    for line in ("model", "corpus pass", "attributions", "importance", "peak", "available"):
        assert f"  {line}" in result.output
    assert "does not fit" in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["weightless", "corpus.txt", "probes.txt"])
