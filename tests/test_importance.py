"""Head importance: ablation against a direct recomputation (each head removed by a hook written here, on the
model's own output projection), the gradient proxy against finite differences of the head mask, and a built
site's figures against both, on tiny BERT, BERT-classifier and GPT-2-LM models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import build_small_site, site_rows

from reportgen.analyses import ablation, importance
from reportgen.models import load_model

pytestmark = pytest.mark.unit

TEXT = "The cat sat on the mat, and the dog slept."


def _scaled(loaded, layer: int, head: int, factor: float):
    """A hook (written here) that multiplies one head's slice of the output projection's input by `factor`."""
    d = loaded.info.d_head
    block = loaded.adapter.blocks(loaded.model)[layer]

    def pre(_module, args):
        x = args[0].clone()
        x[..., head * d:(head + 1) * d] *= factor
        return (x,)
    return loaded.adapter.out_proj(block).register_forward_pre_hook(pre)


def _target(loaded, ids):
    """The model's target on one sentence, computed here: pooled embedding, logits, or mean next-token loss."""
    with torch.no_grad():
        if loaded.info.kind == "classifier":
            return loaded.task(input_ids=ids).logits[0]
        if loaded.info.kind == "causal_lm":
            logits = loaded.task(input_ids=ids).logits[0]
            return torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:])
        return loaded.model(input_ids=ids).last_hidden_state[0].mean(0)


def _nudged(loaded, one, layer: int, head: int, eps: float) -> list:
    """The target with one head's output scaled by 1 + eps, then by 1 - eps (for finite differences)."""
    outs = []
    for factor in (1 + eps, 1 - eps):
        hook = _scaled(loaded, layer, head, factor)
        try:
            outs.append(_target(loaded, one).double())
        finally:
            hook.remove()
    return outs


def _change(loaded, intact, changed):
    if loaded.info.kind == "classifier":
        c = int(intact.argmax())
        return float(intact[c] - changed[c]), float(changed.argmax() != c)
    if loaded.info.kind == "causal_lm":
        return float(changed - intact), None
    return float(1 - torch.nn.functional.cosine_similarity(changed, intact, dim=0)), None


def _without(loaded, one, intact, layer: int, heads) -> tuple:
    """The change of the target (and a classifier's flip) with `heads` of `layer` removed by hooks written here."""
    hooks = [_scaled(loaded, layer, h, 0.0) for h in heads]
    try:
        return _change(loaded, intact, _target(loaded, one))
    finally:
        for hook in hooks:
            hook.remove()


@pytest.mark.parametrize("family", ["bert_dir", "bert_classifier_dir", "gpt2_lm_dir", "llama_dir", "gpt2_dir"])
def test_ablation_equals_removing_the_head_by_hand(family, request):
    loaded = load_model(str(request.getfixturevalue(family)))
    ids = loaded.tokenizer(TEXT)["input_ids"]
    one = torch.tensor([ids])
    heads = [(l, h) for l in range(loaded.info.n_layers) for h in range(loaded.info.n_heads)]
    masks, keys = importance.masks_for(loaded.info.n_layers, loaded.info.n_heads, heads)
    values, flips = importance.ablate(loaded, ids, masks)
    intact = _target(loaded, one)
    for i, (layer, head) in enumerate(keys):
        want, flip = _without(loaded, one, intact, layer, range(loaded.info.n_heads) if head is None else [head])
        assert values[i] == pytest.approx(want, rel=1e-4, abs=5e-6), (family, layer, head)  # float32 model
        if flip is not None:
            assert flips[i] == flip
    assert (flips is None) == (loaded.info.kind != "classifier")
    assert len(keys) == len(heads) + loaded.info.n_layers  # every head, then every layer


@pytest.mark.parametrize("family", ["bert_classifier_dir", "gpt2_lm_dir", "bert_dir"])
def test_the_gradient_proxy_equals_finite_differences_of_the_head_mask(family, request):
    loaded = load_model(str(request.getfixturevalue(family)))
    loaded.task.double()  # in float64, so that finite differences are exact enough (the base model shares it)
    loaded.model.double()
    ids = loaded.tokenizer(TEXT)["input_ids"]
    one = torch.tensor([ids])
    found = importance.gradient(loaded, ids)
    intact = _target(loaded, one)
    eps = 1e-5
    # the sentence's own standard-normal direction (seeded by its index in the sample, here 0)
    z = np.random.default_rng([0, 0]).standard_normal(intact.shape[-1]) if loaded.info.kind == "encoder" else None
    for layer in range(loaded.info.n_layers):
        for head in range(loaded.info.n_heads):
            outs = _nudged(loaded, one, layer, head, eps)
            if loaded.info.kind == "classifier":  # cross-entropy against the intact prediction
                c = int(intact.argmax())
                loss = [-torch.log_softmax(o, -1)[c] for o in outs]
                want = abs(float(loss[0] - loss[1]) / (2 * eps))
            elif loaded.info.kind == "causal_lm":
                want = abs(float(outs[0] - outs[1]) / (2 * eps))
            else:  # the pooled embedding's first-order change along z, scaled so its expectation is |de| / |e|
                de = ((outs[0] - outs[1]) / (2 * eps)).numpy()
                want = float(np.sqrt(np.pi / 2) * abs(z @ de) / float(intact.norm()))
            assert found[layer, head] == pytest.approx(want, rel=1e-3, abs=1e-7), (family, layer, head)


def _outputs(loaded, ids):
    """What a probe's attribution target is read from, computed here: a classifier's logits, an LM's
    log-probabilities at every position, an encoder's mean-pooled embedding."""
    with torch.no_grad():
        if loaded.info.kind == "classifier":
            return loaded.task(input_ids=ids).logits[0]
        if loaded.info.kind == "causal_lm":
            return torch.log_softmax(loaded.task(input_ids=ids).logits[0].double(), -1)
        return loaded.model(input_ids=ids).last_hidden_state[0].mean(0)


CASES = [("bert_classifier_dir", "", None), ("bert_classifier_dir", "", 1), ("gpt2_lm_dir", "", None),
         ("gpt2_lm_dir", "sat down", None), ("bert_dir", "", None), ("bert_dir", "A dog slept.", None)]


@pytest.mark.parametrize(("family", "extra", "target_class"), CASES)
def test_a_probes_ablation_is_the_drop_of_its_attribution_target(family, extra, target_class, request):
    from reportgen.analyses.attribution import make_target

    loaded = load_model(str(request.getfixturevalue(family)))
    text = "The cat sat on the mat."
    probe = list(loaded.tokenizer(text, split_special_tokens=True)["input_ids"])
    target = make_target(loaded, tuple(probe), extra, "probe test", target_class)
    extra_ids = list(target.extra_ids)
    ids = probe + (extra_ids if target.key == "continuation" else [])
    heads = [(0, 0), (1, 1)]
    masks, keys = importance.masks_for(loaded.info.n_layers, loaded.info.n_heads, heads)
    values, flips = importance.ablate(loaded, ids, masks, target)
    one = torch.tensor([ids])
    n = len(probe)

    def value(out):
        # the target from its definition: the chosen (or predicted) class's logit, the predicted next token's
        # or the continuation's summed log-probability, the cosine similarity with a fixed reference embedding
        kind = loaded.info.kind
        if kind == "classifier":
            c = target_class if target_class is not None else int(intact.argmax())
            return float(out[c])
        if kind == "causal_lm":
            if extra_ids:
                return float(sum(out[n - 1 + i, t] for i, t in enumerate(extra_ids)))
            return float(out[n - 1, int(intact[n - 1].argmax())])
        if extra:
            with torch.no_grad():
                ref = loaded.model(input_ids=torch.tensor([extra_ids])).last_hidden_state[0].mean(0)
        else:
            ref = intact
        return float(torch.nn.functional.cosine_similarity(out, ref, dim=0))

    intact = _outputs(loaded, one)
    for i, (layer, head) in enumerate(keys):
        removed = range(loaded.info.n_heads) if head is None else [head]
        hooks = [_scaled(loaded, layer, h, 0.0) for h in removed]
        try:
            changed = _outputs(loaded, one)
        finally:
            for hook in hooks:
                hook.remove()
        assert values[i] == pytest.approx(value(intact) - value(changed), rel=1e-4, abs=5e-6), (family, layer, head)
        if flips is not None:
            assert flips[i] == float(changed.argmax() != intact.argmax())
    assert (flips is None) == (loaded.info.kind != "classifier")


@pytest.mark.parametrize("family", ["bert_dir", "gpt2_lm_dir"])
def test_the_proxy_of_a_batch_of_sentences_of_different_lengths_is_each_sentences_own(family, request):
    loaded = load_model(str(request.getfixturevalue(family)))
    texts = ["The cat sat on the mat.", "Birds sing.", "A dog chased the red ball across the wide green park.",
             "It rained all night.", "She gave him the keys to the old house by the river."]
    sentences = [loaded.tokenizer(t)["input_ids"] for t in texts]
    indices = [4, 0, 3, 1, 2]
    together = importance.gradients(loaded, sentences, indices).sentence
    for ids, index, found in zip(sentences, indices, together):
        alone = importance.gradient(loaded, ids, index)
        assert found == pytest.approx(alone, rel=1e-4, abs=1e-7)
    # a sentence's own direction: another index gives an encoder another value
    if loaded.info.kind == "encoder":
        assert not np.allclose(importance.gradient(loaded, sentences[0], 1), together[0])


def test_the_encoders_proxy_averages_to_the_size_of_the_embeddings_change(bert_dir):
    """Each sentence index's proxy is exactly sqrt(pi/2) |z . de| / |e|, z its own direction and de the change of
    the pooled embedding (finite differences of the head's output); and over the directions, sqrt(pi/2) |z . v|
    averages to |v|. So the proxy averages to |de| / |e|, the finite-difference size (checked exactly here, where a
    mean over 400 backward passes checked it to 10%)."""
    loaded = load_model(str(bert_dir))
    ids = loaded.tokenizer(TEXT)["input_ids"]
    indices = list(range(8))
    proxies = importance.gradients(loaded, [ids] * len(indices), indices).sentence  # one sentence, 8 directions
    reference = load_model(str(bert_dir))  # the finite differences in float64: exact to about 1e-7 of |de| / |e|
    reference.task.double()
    one = torch.tensor([ids])
    intact = _target(reference, one)
    eps = 1e-4
    for layer, head in [(0, 0), (1, 1)]:
        outs = _nudged(reference, one, layer, head, eps)
        de = ((outs[0] - outs[1]) / (2 * eps)).numpy()
        size = float(np.linalg.norm(de) / intact.norm())
        for i in indices:
            z = importance.projection(i, len(de))
            want = np.sqrt(np.pi / 2) * abs(z @ de) / float(intact.norm())
            assert proxies[i, layer, head] == pytest.approx(want, abs=1e-4 * size), (layer, head, i)
    # the directions are standard normal: E |z . v| = sqrt(2/pi) |v| for any fixed v
    v = np.random.default_rng(1).standard_normal(len(de))
    draws = [abs(importance.projection(i, len(v)) @ v) for i in range(4000)]
    assert np.sqrt(np.pi / 2) * np.mean(draws) == pytest.approx(np.linalg.norm(v), rel=0.05)


@pytest.mark.build
def test_a_built_sites_importance_is_the_mean_over_its_first_sentences_with_a_bootstrap(tmp_path, bert_classifier_dir):
    sentences = ["The cat sat on the mat.", "A dog chased the red ball.", "She gave him the keys.",
                 "Birds sing in the morning.", "It rained all night."]
    site = build_small_site(tmp_path, bert_classifier_dir, sentences=sentences, top_k=2, importance_sentences=4,
                            attribution_steps=4)
    loaded = load_model(str(bert_classifier_dir))
    corpus = site_rows(site, "SELECT text FROM sentences WHERE role = 'corpus' ORDER BY sentence_id")[:4]
    per = {}
    for layer, head in ((0, 1), (1, 3), (1, None)):
        values, flips = [], []
        for (text,) in corpus:
            ids = torch.tensor([loaded.tokenizer(text, split_special_tokens=True)["input_ids"]])
            intact = _target(loaded, ids)
            value, flip = _without(loaded, ids, intact, layer, range(loaded.info.n_heads) if head is None else [head])
            values.append(value)
            flips.append(flip)
        per[(layer, head)] = (np.array(values), np.array(flips))
    rows = {(l, h, m): (v, lo, hi) for l, h, m, v, lo, hi in site_rows(
        site, "SELECT layer, head, method, value, ci_low, ci_high FROM head_importance WHERE scope = 'corpus'")}
    idx = np.random.default_rng(0).integers(0, 4, size=(1000, 4))  # the documented bootstrap: seed 0, 1,000
    for (layer, head), (values, flips) in per.items():
        value, low, high = rows[(layer, head, "ablation")]
        assert value == pytest.approx(values.mean(), rel=1e-4, abs=1e-6)
        means = values[idx].mean(1)
        assert (low, high) == pytest.approx((np.percentile(means, 2.5), np.percentile(means, 97.5)), rel=1e-3,
                                            abs=1e-6)
        assert rows[(layer, head, "flip")][0] == pytest.approx(flips.mean())
    n_heads = loaded.info.n_layers * loaded.info.n_heads
    assert sum(1 for (_, h, m) in rows if m == "gradient" and h is not None) == n_heads
    probes = site_rows(site, "SELECT count(DISTINCT sentence_id) FROM head_importance WHERE scope = 'probe'")[0][0]
    assert probes == len(site_rows(site, "SELECT * FROM sentences WHERE role = 'probe'"))
    assert dict(site_rows(site, "SELECT key, value FROM meta"))["option.importance_sentences"] == "4"


@pytest.mark.build
def test_importance_sentences_zero_measures_nothing(tmp_path, bert_dir):
    site = build_small_site(tmp_path, bert_dir, top_k=2, importance_sentences=0)
    assert site_rows(site, "SELECT count(*) FROM head_importance")[0][0] == 0


@pytest.mark.build
def test_the_overview_and_head_pages_show_the_databases_importance(analysis_site):
    from bs4 import BeautifulSoup
    from scipy.stats import spearmanr

    site = analysis_site

    def page(rel):
        return BeautifulSoup((site / rel).read_text(encoding="utf-8"), "html.parser")

    def text(v, lo, hi):
        return f"{v:.3g} [{lo:.3g}, {hi:.3g}]"

    rows = {(m, l, h): (v, lo, hi) for m, l, h, v, lo, hi in site_rows(
        site, "SELECT method, layer, head, value, ci_low, ci_high FROM head_importance WHERE scope = 'corpus'")}
    ranks = dict(((l, h), r) for l, h, r in site_rows(
        site, "SELECT layer, head, rank FROM head_importance WHERE scope = 'corpus' AND method = 'ablation' AND "
              "head IS NOT NULL"))
    ablated = sorted(((v[0], l, h) for (m, l, h), v in rows.items() if m == "ablation" and h is not None),
                     key=lambda r: (ranks[(r[1], r[2])], -r[0], r[1], r[2]))
    groups = [[(l, h) for _, l, h in ablated if ranks[(l, h)] == r] for r in sorted(set(ranks.values()))]

    def listed(groups):  # the groups up to the one holding the fifth head, a tie marked as one
        out, count = [], 0
        for g in groups:
            if count >= 5:
                break
            entries = ", ".join(f"L{l}H{h} {text(*rows[('ablation', l, h)])}" for l, h in g)
            out.append(("tied: " if len(g) > 1 else "") + entries)
            count += len(g)
        return "; ".join(out)

    index = page("index.html")
    facts = dict(zip([dt.get_text() for dt in index.select("#importance-facts dt")],
                     [dd.get_text() for dd in index.select("#importance-facts dd")]))
    assert len(groups) > 1  # the tiny model's heads are told apart somewhere
    assert facts["most important"] == listed(groups)
    top = {k for g in groups if ranks[g[0]] <= 5 for k in g}  # the groups listed as most important
    assert facts["least important"] == listed([list(reversed(g)) for g in reversed(groups) if not set(g) & top])
    proxies = {tr.select_one("th").get_text(): tr.select("td")[-1].get_text()
               for tr in index.select("#importance-proxies tbody tr")}
    for method in ("gradient_token_normalised", "gradient_token", "gradient", "gradient_normalised"):
        rho = spearmanr([v for v, _, _ in ablated], [rows[(method, l, h)][0] for _, l, h in ablated]).statistic
        assert proxies[method] == f"{rho:.2f}"
    # the heatmap's tooltip names the statistic once, as its legend does, which says its scale is logarithmic
    spec = json.loads(index.select_one('script[data-chart="importance-chart"]').get_text())
    legend = spec["layer"][0]["encoding"]["color"]["title"]
    named = {t["as"]: t["calculate"] for t in spec["layer"][0]["transform"]}["statistic"]
    assert legend == json.loads(named) + " (logarithmic scale)" and legend.startswith("importance: ")
    assert legend.count("importance") == 1 and spec["layer"][0]["encoding"]["color"]["scale"]["type"] == "log"
    grid = index.select_one("table#head-grid")
    at = [th.get_text() for th in grid.select("thead th")].index("importance [95%]") - 1
    for tr in grid.select("tbody tr"):
        layer, head = map(int, tr.select_one("th").get_text()[1:].split("H"))
        assert tr.select("td")[at].get_text() == text(*rows[("ablation", layer, head)])
    n = site_rows(site, "SELECT count(*) FROM sentences WHERE role = 'corpus'")[0][0]
    assert f"the first {min(n, 200)} corpus sentences" in index.select_one("#importance").get_text()
    for _, layer, head in ablated:
        head_page = page(f"heads/L{layer}H{head}.html")
        assert head_page.select_one("#importance-value").get_text() == text(*rows[("ablation", layer, head)])
        rank, group = ranks[(layer, head)], next(g for g in groups if (layer, head) in g)
        words = head_page.select_one("#importance-rank").get_text()
        if len(group) == 1:
            assert words.endswith(f"most important of the {len(ablated)} heads ablated") or \
                words == f"the least important of the {len(ablated)} heads ablated"
            assert (rank == 1) == (words == f"the most important of the {len(ablated)} heads ablated")
        else:
            assert words.startswith("tied with ") and f"for places {rank} to {rank + len(group) - 1} of" in words
            assert all(f"L{l}H{h}" in words for l, h in group if (l, h) != (layer, head))
        probes = dict(site_rows(site, f"SELECT sentence_id, value FROM head_importance WHERE scope = 'probe' AND "
                                      f"method = 'ablation' AND layer = {layer} AND head = {head}"))
        shown = [dd.get_text() for dd in head_page.select("#importance-probes dd")]
        assert shown == [f"{probes[s]:.3g}" for s in sorted(probes)]


def test_a_constant_importance_has_no_rank_correlation():
    """Heads whose removal changes nothing alike (a corpus of one repeated sentence, say): Spearman's rho is
    undefined, and the overview says the proxy could not be compared instead of printing nan."""
    from reportgen.site.views.importance import ImportanceViews
    from reportgen.store.rows import ImportanceRow

    class Store:
        def has_table(self, name):
            return True

        def rows(self, table, **equal):
            return []

        def head_importance(self):
            return ([ImportanceRow(l, h, "corpus", None, "ablation", 0.5, 0.5, 0.5) for l in range(2) for h in range(2)]
                    + [ImportanceRow(l, h, "corpus", None, "gradient", 0.1 * (2 * l + h), 0, 1)
                       for l in range(2) for h in range(2)])

    model = ImportanceViews(Store(), {"importance_measure": "m"}, 2, 2, {}).model()
    assert all(p.correlation is None for p in model.proxies) and model.compared == 4


def test_one_minus_cos_is_exact_where_the_vectors_nearly_agree():
    rng = np.random.default_rng(1)
    v = rng.standard_normal(384)
    rows = np.stack([v + eps * rng.standard_normal(384) for eps in (1e-5, 1e-4, 1e-2)])
    want = [1 - float(np.dot(r, v) / np.sqrt(np.dot(r, r) * np.dot(v, v))) for r in rows]  # float64, by hand
    found = ablation.one_minus_cos(torch.tensor(rows, dtype=torch.float32), torch.tensor(v, dtype=torch.float32))
    # float32 inputs: the vectors themselves are rounded at 6e-8, which bounds the agreement
    assert found.numpy() == pytest.approx(want, rel=0.05, abs=1e-10)
    float32 = 1 - torch.nn.functional.cosine_similarity(torch.tensor(rows[:1], dtype=torch.float32),
                                                         torch.tensor(v[None], dtype=torch.float32), dim=-1)
    assert float(found[0]) > 0 and float(found[0]) == pytest.approx(want[0], rel=0.05)
    assert abs(float(float32[0]) - want[0]) > abs(float(found[0]) - want[0])  # the plain float32 form is off


@pytest.mark.parametrize("n_layers,n_heads", [(6, 12), (12, 12), (30, 9), (32, 32), (80, 64)])
def test_the_budget_bites_only_above_the_exact_limit_and_keeps_within_its_layer_passes(n_layers, n_heads):
    """Up to EXACT_LIMIT heads every sentence of the sample is ablated; above it, as many as ABLATION_BUDGET layer
    passes pay for, a sentence costing every head's and layer's mask from its layer on (counted here by a loop over
    the masks), unless at the floor MIN_ABLATION; never more than the sample. The budget is MiniLM's 72 heads over 200
    sentences (the default report's sample before it was 64)."""
    masks = [(layer, head) for layer in range(n_layers) for head in list(range(n_heads)) + [None]]
    per_sentence = sum(n_layers - layer for layer, _ in masks)  # each mask runs from its layer to the last
    minilm = 200 * sum(6 - layer for layer in range(6) for _ in range(12 + 1))
    assert importance.ABLATION_BUDGET == minilm
    for n in (1, 5, 200, 10_000):
        ablated = importance.ablation_sentences(n, n_layers, n_heads)
        if n_layers * n_heads <= importance.EXACT_LIMIT:
            assert ablated == n
            continue
        assert ablated <= n
        assert ablated * per_sentence <= importance.ABLATION_BUDGET or ablated == min(n, importance.MIN_ABLATION)
        assert (ablated + 1) * per_sentence > importance.ABLATION_BUDGET or ablated == n  # as many as it pays for
    if (n_layers, n_heads) == (30, 9):  # SmolLM2-135M at the default 200 sentences
        assert importance.ablation_sentences(200, 30, 9) == 11


@pytest.mark.unit
def test_token_losses_are_the_cross_entropy_of_each_next_token():
    """ablation.token_losses against the definition written out with plain loops: -log softmax(row)[next token]."""
    import math

    from reportgen.analyses.ablation import token_losses

    torch.manual_seed(3)
    logits = torch.randn(2, 5, 7, dtype=torch.float64) * 4
    ids = torch.randint(0, 7, (2, 5))
    got = token_losses(logits, ids)
    assert got.shape == (2, 4)
    for n in range(2):
        for t in range(4):
            row = logits[n, t].tolist()
            want = math.log(sum(math.exp(v) for v in row)) - row[int(ids[n, t + 1])]
            assert float(got[n, t]) == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.unit
def test_a_model_of_more_than_exact_limit_heads_has_every_head_ablated_within_the_budget(tmp_path, monkeypatch):
    """A causal LM of SmolLM2-135M's shape (30 layers x 9 query heads, 3 key/value heads; tiny widths): more heads
    than EXACT_LIMIT, so of the corpus sentences asked for only those the budget pays for are measured (a budget of
    two such sentences here, and no floor: 2 of 3, as SmolLM2's real budget measures 11 of 200); on those, every one
    of the 270 heads and 30 layers is ablated and scored by the proxy, each probe has every head's drop, and the
    meta says so. One head's and one layer's per-sentence values equal a hook written here."""
    from types import SimpleNamespace

    from conftest import SENTENCES, _byte_level_tokenizer, _save
    from transformers import LlamaConfig, LlamaForCausalLM

    from reportgen.analyses.registry import load_config
    from reportgen.corpus import Sentence
    from reportgen.progress import Progress

    torch.manual_seed(0)
    tokenizer = _byte_level_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=18, intermediate_size=16, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=64,
                         initializer_range=0.2)  # heads that matter: changes well above float32's rounding
    loaded = load_model(str(_save(LlamaForCausalLM(config), tokenizer, tmp_path / "llama-30x9")))
    assert loaded.info.kind == "causal_lm" and 30 * 9 > importance.EXACT_LIMIT
    per_sentence = (9 + 1) * 30 * 31 // 2  # every head's and layer's mask, each from its layer on
    monkeypatch.setattr(importance, "ABLATION_BUDGET", 2 * per_sentence)
    monkeypatch.setattr(importance, "MIN_ABLATION", 1)
    corpus = [Sentence(1 + i, "corpus", f"c:{i}", SENTENCES[i % len(SENTENCES)]) for i in range(3)]
    probe = Sentence(0, "probe", "p:1", "The cat sat on the mat.")
    probes = SimpleNamespace(sentences=[probe], tokenized=[SimpleNamespace(
        input_ids=tokenizer(probe.text, split_special_tokens=True)["input_ids"])])
    analysis = importance.HeadImportance(loaded, [probe], load_config(None, importance_sentences=3))
    tables = analysis.run(probes, Progress(), [], corpus)
    assert importance.ablation_sentences(3, 30, 9) == 2 and analysis.measured == 2
    rows = tables["head_importance"]
    for method in ("gradient", "ablation"):
        assert sorted((l, h) for l, h, scope, _, m, *_ in rows if scope == "corpus" and m == method
                      and h is not None) == [(l, h) for l in range(30) for h in range(9)], method
    assert sorted(l for l, h, scope, _, m, *_ in rows if scope == "corpus" and m == "ablation" and h is None) == \
        list(range(30))
    assert len([r for r in rows if r[2] == "probe" and r[4] == "ablation"]) == 270 + 30
    meta = analysis.meta()
    assert meta["importance_sentences_measured"] == "2"
    assert meta["importance_exact"].startswith("every head, on the first 2 of the 3 sentences asked for")
    assert meta["importance_measure"].startswith("the increase of the mean next-token loss")
    per = {(l, h, sid): v for l, h, sid, m, v in tables["head_importance_sentences"] if m == "ablation"}
    assert {sid for *_, sid in per} == {s.sentence_id for s in corpus[:2]}
    s = corpus[1]
    ids = torch.tensor([loaded.tokenizer(s.text, split_special_tokens=True)["input_ids"]])
    intact = _target(loaded, ids)
    for layer, heads in ((17, [5]), (29, range(9))):
        want, _ = _without(loaded, ids, intact, layer, heads)
        got = per[(layer, heads[0] if len(heads) == 1 else None, s.sentence_id)]
        assert abs(want) > 1e-4 and got == pytest.approx(want, rel=1e-4, abs=1e-6)
