"""What the importance pages may claim: the heads' ranking with its ties (a paired bootstrap over the same sentences,
written here as plain loops, on hand-made heads with a tie at the cut, at the top and at the bottom), Michel et
al.'s per-layer normalisation and per-token proxy (plain loops; finite differences of a per-token head mask), and
the reference that gives the ablation a scale (by hand), each against the code and, on a built site, against the
database and the pages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reportgen.analyses import importance_stats as stats
from reportgen.site.sections.importance import importance_finding
from reportgen.site.views.importance import ImportanceViews
from reportgen.store.rows import ImportanceRow

pytestmark = pytest.mark.unit

LEVEL_TAIL = 2.5  # percent: the lower end of the paired difference's 95% interval


def direct_ranks(values: np.ndarray) -> list[int]:
    """Each item's rank from its definition: items by mean, highest first; walking down, an item starts a new
    group only where the 2.5th percentile of its paired difference with the item before it, over the documented
    resamples of the sentences (seed 0, 1,000), is above 0; a rank is 1 + the items of the groups above."""
    s, k = values.shape
    idx = np.random.default_rng(0).integers(0, s, size=(1000, s))
    means = np.zeros((1000, k))
    for r in range(1000):
        for item in range(k):
            means[r, item] = sum(values[i, item] for i in idx[r]) / s
    point = [sum(values[:, item]) / s for item in range(k)]
    order = sorted(range(k), key=lambda i: (-point[i], i))
    groups = [[order[0]]]
    for before, item in zip(order, order[1:]):
        diff = [means[r, before] - means[r, item] for r in range(1000)]
        if np.percentile(diff, LEVEL_TAIL) > 0:
            groups.append([item])
        else:
            groups[-1].append(item)
    rank, above = {}, 0
    for group in groups:
        for item in group:
            rank[item] = above + 1
        above += len(group)
    return [rank[i] for i in range(k)]


def heads(means: list[float], tied: list[tuple[int, int]], sentences: int = 40, seed: int = 1) -> np.ndarray:
    """[sentences, heads] per-sentence changes: each head's mean, a noise every head shares on a sentence (which a
    paired test removes), a small noise of its own, and for each pair in `tied` a large noise of their own (their
    paired difference is then mostly noise around the gap between their means)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 3, size=(sentences, 1))
    values = np.array(means)[None, :] + shared + rng.normal(0, 0.05, size=(sentences, len(means)))
    for a, b in tied:
        values[:, [a, b]] += rng.normal(0, 1.5, size=(sentences, 2))
    return values


KEYS = [(l, h) for l in range(2) for h in range(4)]


class FakeStore:
    """The importance rows of hand-made per-sentence values, as a report's database would hold them."""

    def __init__(self, values: np.ndarray, layers: np.ndarray, reference: list[tuple] = ()):
        keys = KEYS + [(0, None), (1, None)]
        rows = stats.corpus_rows(keys, np.concatenate([values, layers], axis=1), "ablation", ranked=True)
        self.importance = [ImportanceRow(*r) for r in rows]
        self.reference = list(reference)

    def has_table(self, name):
        return True

    def head_importance(self):
        return self.importance

    def rows(self, table, **equal):
        from collections import namedtuple

        row = namedtuple("R", ["reference", "value", "ci_low", "ci_high", "definition"])
        return [row(*r) for r in self.reference] if table.name == "importance_reference" else []


def _views(values, reference=()):
    layers = np.stack([values[:, :4].sum(1), values[:, 4:].sum(1)], axis=1)
    return ImportanceViews(FakeStore(values, layers, reference), {"importance_measure": "the change",
                                                                  "importance_sentences_measured": "40"}, 2, 4, {})


def test_the_ranks_are_the_paired_bootstraps_tie_groups_written_as_loops():
    # the 5th and 6th heads tied (the cut of five falls inside their tie); so are the last two
    values = heads([10, 8, 6, 4, 2.0, 1.9, 1.0, 0.95], tied=[(4, 5), (6, 7)])
    found = stats.ranks(values)
    assert found == direct_ranks(values)
    assert found == [1, 2, 3, 4, 5, 5, 7, 7]  # the hand-made ties, told apart where the design separates them
    rows = stats.corpus_rows(KEYS, values, "ablation", ranked=True)
    assert [r[-1] for r in rows] == found
    assert all(r[-1] is None for r in stats.corpus_rows(KEYS, values, "flip"))


def test_a_cut_of_five_extends_over_the_tie_that_holds_the_fifth():
    values = heads([10, 8, 6, 4, 2.0, 1.9, 1.0, 0.95], tied=[(4, 5), (6, 7)])
    model = _views(values).model()
    most = [sorted(e.label for e in group) for group in model.most]
    assert most == [["L0H0"], ["L0H1"], ["L0H2"], ["L0H3"], ["L1H0", "L1H1"]]  # six heads: the tie is not cut
    assert [sorted(e.label for e in group) for group in model.least] == [["L1H2", "L1H3"]]
    for group in model.most + model.least:  # within a tie, by value (the least important list from the bottom)
        shown = [e.value for e in group]
        assert shown in (sorted(shown), sorted(shown, reverse=True))
    text = importance_finding(model).text
    assert "L0H0 changes the output most (" in text
    assert any(f"{a} and {b} are tied as least important (from " in text for a, b in (("L1H3", "L1H2"),
                                                                                       ("L1H2", "L1H3")))
    assert "changes it least" not in text


def test_a_tie_at_the_top_is_named_as_a_tie_and_no_leader():
    values = heads([10, 9.9, 6, 4, 3, 2, 1.0, 0.1], tied=[(0, 1)])
    assert stats.ranks(values)[:3] == [1, 1, 3] == direct_ranks(values)[:3]
    model = _views(values).model()
    text = importance_finding(model).text
    assert any(f"{a} and {b} are tied as the most important (from " in text for a, b in (("L0H0", "L0H1"),
                                                                                          ("L0H1", "L0H0")))
    assert "changes the output most" not in text and "L1H3 changes it least (" in text
    head = _views(values).head(0, 1)
    assert head.rank == ("tied with L0H0 for places 1 to 2 of the 8 heads ablated (the most important): no paired "
                         "test over the same sentences separates them")
    assert _views(values).head(0, 2).rank == "the 3rd most important of the 8 heads ablated"
    assert _views(values).head(1, 3).rank == "the least important of the 8 heads ablated"


def test_heads_no_test_separates_are_not_ranked_at_all():
    rng = np.random.default_rng(3)
    values = 1.0 + rng.normal(0, 1, size=(30, 8))  # one distribution for every head
    assert set(stats.ranks(values)) == {1} == set(direct_ranks(values))
    model = _views(values).model()
    assert not model.separated and model.most == () and model.least == ()
    text = importance_finding(model).text
    assert "no paired test over the same sentences separates any two of the 8 heads" in text
    assert "most" not in text and "least" not in text


def test_the_per_layer_normalisation_and_the_per_token_proxy_are_plain_loops():
    rng = np.random.default_rng(5)
    s, n_layers, n_heads = 6, 2, 3
    proxy = stats.Proxy(rng.random((s, n_layers, n_heads)), 5 * rng.random((s, n_layers, n_heads)),
                        rng.integers(3, 9, size=s).astype(float))
    rows = {(l, h, m): (v, lo, hi) for l, h, _, _, m, v, lo, hi, _ in stats.proxy_rows(proxy)}
    idx = np.random.default_rng(0).integers(0, s, size=(1000, s))

    def reduced(sample, method):  # a variant over the sentences `sample`, [L][H], by loops
        out = [[0.0] * n_heads for _ in range(n_layers)]
        for l in range(n_layers):
            for h in range(n_heads):
                if method.startswith("gradient_token"):
                    out[l][h] = sum(proxy.token[i, l, h] for i in sample) / sum(proxy.tokens[i] for i in sample)
                else:
                    out[l][h] = sum(proxy.sentence[i, l, h] for i in sample) / len(sample)
            if method.endswith("_normalised"):  # their `head_importance /= norm_by_layer.unsqueeze(-1) + 1e-20`
                norm = sum(v ** 2 for v in out[l]) ** 0.5
                out[l] = [v / (norm + 1e-20) for v in out[l]]
        return out

    for method in stats.PROXY_METHODS:
        point = reduced(range(s), method)
        drawn = [reduced(list(i), method) for i in idx]
        for l in range(n_layers):
            for h in range(n_heads):
                value, low, high = rows[(l, h, method)]
                assert value == pytest.approx(point[l][h], rel=1e-12)
                spread = [d[l][h] for d in drawn]
                assert (low, high) == pytest.approx((np.percentile(spread, 2.5), np.percentile(spread, 97.5)),
                                                    rel=1e-12)
    for l in range(n_layers):  # a normalised layer has unit length
        assert sum(rows[(l, h, "gradient_token_normalised")][0] ** 2 for h in range(n_heads)) == pytest.approx(1)


def _per_token_scaled(loaded, layer: int, head: int, token: int, factor: float):
    """A hook (written here) that multiplies one head's output at one token by `factor`."""
    d = loaded.info.d_head
    block = loaded.adapter.blocks(loaded.model)[layer]

    def pre(_module, args):
        x = args[0].clone()
        x[:, token, head * d:(head + 1) * d] *= factor
        return (x,)
    return loaded.adapter.out_proj(block).register_forward_pre_hook(pre)


def _loss(loaded, one, intact_class):
    with torch.no_grad():
        if loaded.info.kind == "classifier":
            return float(-torch.log_softmax(loaded.task(input_ids=one).logits[0], -1)[intact_class])
        logits = loaded.task(input_ids=one).logits[0]
        return float(torch.nn.functional.cross_entropy(logits[:-1], one[0, 1:]))


@pytest.mark.parametrize("family", ["bert_classifier_dir", "gpt2_lm_dir"])
def test_the_per_token_proxy_is_the_sum_of_each_tokens_derivative_by_finite_differences(family, request):
    """Michel et al.'s code takes |dL/dxi| per token (|<dL/dctx, ctx>| at each position); the derivative by one
    token's factor of one head, by central differences, summed in absolute value over the tokens, is the stored
    per-token term, and its sum before the absolute value the per-sentence one."""
    from reportgen.analyses import importance
    from reportgen.models import load_model

    loaded = load_model(str(request.getfixturevalue(family)))
    loaded.task.double()
    loaded.model.double()
    ids = loaded.tokenizer("The cat sat on the mat.")["input_ids"]
    one = torch.tensor([ids])
    with torch.no_grad():
        intact_class = int(loaded.task(input_ids=one).logits[0].argmax()) if loaded.info.kind == "classifier" else 0
    found = importance.gradients(loaded, [ids])
    assert list(found.tokens) == [len(ids)]
    eps = 1e-5
    for layer in range(loaded.info.n_layers):
        for head in range(loaded.info.n_heads):
            per_token = []
            for t in range(len(ids)):
                sides = []
                for factor in (1 + eps, 1 - eps):
                    hook = _per_token_scaled(loaded, layer, head, t, factor)
                    try:
                        sides.append(_loss(loaded, one, intact_class))
                    finally:
                        hook.remove()
                per_token.append((sides[0] - sides[1]) / (2 * eps))
            assert found.token[0, layer, head] == pytest.approx(sum(abs(g) for g in per_token), rel=1e-3, abs=1e-7)
            assert found.sentence[0, layer, head] == pytest.approx(abs(sum(per_token)), rel=1e-3, abs=1e-7)


def _by_hand(kind: str, outputs: np.ndarray) -> np.ndarray:
    s = len(outputs)
    d = np.zeros((s, s))
    for i in range(s):
        for j in range(s):
            if kind == "encoder":
                dot = sum(a * b for a, b in zip(outputs[i], outputs[j]))
                norms = sum(a * a for a in outputs[i]) ** 0.5 * sum(b * b for b in outputs[j]) ** 0.5
                d[i, j] = 1 - dot / norms
            elif kind == "classifier":
                c = max(range(outputs.shape[1]), key=lambda k: outputs[i, k])
                d[i, j] = outputs[i, c] - outputs[j, c]
            else:
                d[i, j] = abs(outputs[i] - outputs[j])
    return d


@pytest.mark.parametrize(("kind", "shape"), [("encoder", (6, 5)), ("classifier", (6, 3)), ("causal_lm", (6,))])
def test_the_reference_is_the_measure_between_two_different_sentences_by_hand(kind, shape):
    outputs = np.random.default_rng(7).normal(size=shape)
    d = _by_hand(kind, outputs)
    assert stats.pairwise(kind, outputs) == pytest.approx(d, abs=1e-12)
    s = shape[0]
    pairs = [d[i, j] for i in range(s) for j in range(s) if i != j]
    drawn = []
    for idx in np.random.default_rng(0).integers(0, s, size=(1000, s)):
        kept = [d[idx[a], idx[b]] for a in range(s) for b in range(s) if idx[a] != idx[b]]
        if kept:
            drawn.append(sum(kept) / len(kept))
    (name, value, low, high, words), = stats.reference_rows(kind, outputs)
    assert name == "between_sentences" and words == stats.REFERENCE_WORDS[kind]
    assert value == pytest.approx(sum(pairs) / len(pairs), rel=1e-12)
    assert (low, high) == pytest.approx((np.percentile(drawn, 2.5), np.percentile(drawn, 97.5)), rel=1e-12)
    assert stats.reference_rows(kind, outputs[:1]) == []  # one sentence: no pair


def test_the_reference_and_the_layers_are_on_the_overview_and_head_pages_beside_the_heads():
    values = heads([10, 8, 6, 4, 2.0, 1.9, 1.0, 0.95], tied=[(4, 5), (6, 7)])
    reference = [("between_sentences", 0.31, 0.29, 0.33, "1 - cos between two sentences")]
    views = _views(values, reference)
    model, head = views.model(), views.head(1, 2)
    assert [(r.value.text, r.definition) for r in model.references] == [("0.31 [0.29, 0.33]",
                                                                          "1 - cos between two sentences")]
    assert head.references == model.references and head.layer.label == "layer 1"
    assert head.layer.value == pytest.approx(values[:, 4:].sum(1).mean())
    assert "two different sentences of the sample differ by 0.31 [0.29, 0.33] on the same measure" in \
        importance_finding(model).text
