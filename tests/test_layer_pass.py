"""The corpus pass one layer at a time on the model's device: `encode_layers` hands each layer over as it is
computed (the same attention, contexts and hidden states as the whole-model `encode`), keeps no layer's attention
after its turn, and nothing of the model's output comes back to the CPU inside the corpus loop."""

from __future__ import annotations

import weakref

import duckdb
import numpy as np
import pytest
import torch
from conftest import build_small_site

from reportgen.annotate import annotate
from reportgen.encode import encode, encode_layers, tokenize
from reportgen.models import load_model

pytestmark = pytest.mark.unit

TEXTS = ["The cat sat on the mat.", "Birds sing early in the morning, and the dog barks.", "Rain."]


def _batch(loaded):
    words = list(annotate(TEXTS))
    return [tokenize(loaded, t, w, strict=True, where="test") for t, w in zip(TEXTS, words)]


@pytest.mark.parametrize("family", ["bert_dir", "gpt2_dir", "llama_dir"])
def test_each_layer_equals_the_whole_model_encoding(family, request):
    loaded = load_model(str(request.getfixturevalue(family)))
    batch = _batch(loaded)
    whole = encode(loaded, batch)
    seen = []

    def on_layer(layer, attention, context, norms):
        assert norms.dtype == torch.float32 and norms.shape == attention.shape[:3]
        assert attention.dtype == torch.float32 and context.dtype == torch.float32
        np.testing.assert_allclose(attention.numpy(), whole.attention[layer], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(context.numpy()[whole.mask], whole.context[layer][whole.mask], rtol=1e-5, atol=1e-6)
        seen.append(("attention", layer))

    def on_hidden(layer, hidden):
        assert hidden.dtype == torch.float32
        np.testing.assert_allclose(hidden.numpy()[whole.mask], whole.hidden[layer][whole.mask], rtol=1e-5, atol=1e-5)
        seen.append(("hidden", layer))

    encode_layers(loaded, batch, on_layer, on_hidden)
    # every layer once, in order, its attention before its hidden state (the last one after the final norm)
    assert seen == [e for layer in range(loaded.info.n_layers) for e in (("attention", layer), ("hidden", layer))]


def test_a_layer_is_handed_over_before_the_next_one_is_computed_and_not_kept(bert_dir):
    """Streaming: layer l's callbacks run before block l + 1 starts, and the model keeps no attention or hidden
    state of its own, so at most one layer's attention is alive at a time."""
    loaded = load_model(str(bert_dir))
    events = []
    blocks = loaded.adapter.blocks(loaded.model)
    hooks = [block.register_forward_pre_hook(lambda _m, _a, layer=layer: events.append(("block", layer)))
             for layer, block in enumerate(blocks)]
    gone = []  # per layer: whether the previous layer's attention had been freed when this one came
    previous = []

    def on_layer(layer, attention, _context, _norms):
        events.append(("layer", layer))
        gone.append(previous[-1]() is None if previous else None)
        previous.append(weakref.ref(attention))  # a weak reference: this test keeps nothing alive

    try:
        encode_layers(loaded, _batch(loaded), on_layer, lambda layer, hidden: events.append(("hidden", layer)))
    finally:
        for h in hooks:
            h.remove()
    n = loaded.info.n_layers
    assert events == [e for layer in range(n) for e in (("block", layer), ("layer", layer), ("hidden", layer))]
    assert gone == [None] + [True] * (n - 1)


@pytest.mark.build
def test_no_model_output_comes_back_to_the_cpu_inside_the_corpus_loop(tmp_path, bert_dir, monkeypatch):
    """While a corpus batch is searched, no tensor is turned into numpy, a Python number or list, or moved:
    the device-agnostic pass keeps everything on the model's device until the end of the corpus."""
    from reportgen.corpus_pass.spec import Tuning

    calls = []

    def guarded(run):
        def refuse(name):
            def method(self, *a, **k):
                raise AssertionError(f"Tensor.{name}() inside the corpus loop")
            return method

        with monkeypatch.context() as m:
            for name in ("numpy", "tolist", "item", "cpu"):
                m.setattr(torch.Tensor, name, refuse(name))
            calls.append(1)
            run()

    site = build_small_site(tmp_path, bert_dir, top_k=4, tuning=Tuning(on_batch=guarded))
    assert len(calls) >= 1
    with duckdb.connect(str(site / "report.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM neighbours").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM head_stats").fetchone()[0] > 0
