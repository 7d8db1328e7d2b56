"""Which heads matter: the change of the model's output when one head (or a whole layer) is removed
(analyses/ablation.py), and Michel et al.'s gradient proxy (2019, "Are Sixteen Heads Really Better than One?").

The gradient proxy: a mask xi at 1 multiplies every head's output at every token; Michel et al.'s importance is the
size of the derivative of a loss L by it, with L the classifier's cross-entropy against its intact prediction or the
LM's mean next-token loss. Their code (`classifier_eval.py` of their fork of pytorch-pretrained-BERT,
`calculate_head_importance`) takes the absolute value per token, |dL/dxi_h,t| = |<dL/dctx_h,t, ctx_h,t>|, sums it
over tokens and sentences, divides by the number of tokens, then divides each layer's importances by their L2 norm.
reportgen stores that ('gradient_token_normalised') beside its own |dL/dxi_h| per sentence, the derivative by one
factor for the whole sentence (the sum over its tokens of the per-token terms), averaged over sentences ('gradient'),
and each without or with the normalisation (importance_stats.proxy_rows): one backward pass gives all four.

For a model without a task head, 1 - cos has no gradient at the intact model (it is its minimum), so L is replaced
by the first-order size of the change of the pooled embedding e, |de/dxi| / |e|, estimated with one backward pass
per batch: each sentence gets its own random standard-normal direction z, and sqrt(pi/2) |z . de/dxi| / |e| has the
expectation |de/dxi| / |e| (for any fixed vector v, E |z . v| = sqrt(2/pi) |v|), per sentence or per token alike.
One sentence's value is noisy (a half-normal spread); the mean over the sample is not.

`scope = 'corpus'`: the mean over the first `importance_sentences` corpus sentences, with a 95% bootstrap interval
over sentences (importance_stats: the same resampled sentences for every head), and the heads' ranking with its ties;
each sentence's ablations (`head_importance_sentences`); the reference that gives them a scale
(`importance_reference`: the same measure between two different sentences). `scope = 'probe'`: each probe's value,
the drop of its attribution target (ablation.ProbeTarget).

The budget for large models: the exact ablation costs one masked pass per head and per layer, (heads + 1) x
layers x (layers + 1) / 2 layer passes a sentence (each group of masks runs from the first layer it changes). A model
with more than EXACT_LIMIT heads still has every head and layer ablated exactly, but only on the first sentences of
the sample that ABLATION_BUDGET layer passes pay for (MiniLM's 72 heads over 200 sentences, the default sample
before it was DEFAULT_SENTENCES), at least MIN_ABLATION; the proxy runs on the same sentences. An earlier design
ablated only the proxy's 16 highest and 16 lowest heads: on SmolLM2 the proxy ranked the heads against their full
ablation at Spearman's rho 0.13 to 0.18 and picked none of its 16 lowest (docs/performance.md). The budget depends
only on the model's shape, never on the device, so that the same inputs give the same report wherever it is built.
Up to EXACT_LIMIT heads nothing changes: every head is ablated on every sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..corpus import Sentence
from ..models import device_of
from ..options import option
from .ablation import ablate, head_mask, masks_for, model_output, token_losses
from .attribution import AttributionOptions, make_target
from .importance_stats import Proxy, corpus_rows, proxy_rows, reference_rows

EXACT_LIMIT = 144  # heads: up to this many, every head is ablated exactly on every sentence of the sample
ABLATION_BUDGET = 54_600  # above it, the layer passes of the corpus's ablation (MiniLM's 200 sentences: 200 x 13 x 21)
MIN_ABLATION = 8  # above it, the fewest sentences ablated whatever the budget (a bootstrap interval needs a few)
GRADIENT_BATCH = 8  # an encoder's or a causal LM's sentences per backward pass of the proxy


# the sample's default size: on the default MiniLM, the first 64 sentences' ablation ranks the 72 heads as the first
# 200 do at Spearman's rho 0.978 (the same 10 most and 10 least important heads) and as the other 136 at 0.959, where
# the two halves of the 200 agree at 0.939 (benchmarks/importance_subsets.py, docs/performance.md), for a third of
# the ablation's cost
DEFAULT_SENTENCES = 64


@dataclass(frozen=True)
class ImportanceOptions:
    importance_sentences: int = option(DEFAULT_SENTENCES, "Measure each head's importance (ablation) on the first N "
                                                          f"corpus sentences (default: {DEFAULT_SENTENCES}; 0: none).",
                                       minimum=0)



def projection(index: int, size: int) -> np.ndarray:
    """The random direction z [size] of the sample's sentence `index` for an encoder's proxy: standard normal, from
    a seed of its own, so that a sentence's value does not depend on the sentences batched with it."""
    return np.random.default_rng([0, index]).standard_normal(size)


def _pooled(loaded, ids, mask):
    """The mean-pooled last hidden state [B, D] of a padded batch, over each sentence's own tokens."""
    hidden = loaded.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
    weight = mask[..., None].to(hidden.dtype)
    return (hidden * weight).sum(1) / weight.sum(1)


def _losses(loaded, ids, mask):
    """A causal LM's mean next-token loss [B] of a right-padded batch, each over its own tokens: padding comes after a
    sentence's tokens, so causal attention keeps it out of their outputs (ablation.model_output's loss, batched)."""
    loss = token_losses(loaded.task(input_ids=ids, attention_mask=mask).logits.float(), ids)
    real = mask[:, 1:].to(loss.dtype)
    return (loss * real).sum(1) / real.sum(1)


def gradients(loaded, sentences: list[list[int]], indices: list[int] | None = None) -> Proxy:
    """Michel et al.'s proxy for each sentence, xi at 1 (see the module's docstring for L): |dL/dxi_h| and the sum
    over tokens of |dL/dxi_h,t| [S, L, H] and the tokens [S], one backward pass per batch of GRADIENT_BATCH
    sentences. `indices`: each sentence's index in the sample (its projection's seed; by default 0, 1, ...)."""
    import torch

    info = loaded.info
    device = device_of(loaded)
    shape = (len(sentences), info.n_layers, info.n_heads)
    per_sentence, per_token = np.zeros(shape), np.zeros(shape)
    # an encoder's and a causal LM's sentences go padded, several per pass (padding changes no real token's output
    # there: the encoder masks it, the LM's padding comes after every real token); a classifier's output reads a
    # particular row, so its sentences go one at a time
    size = 1 if info.kind == "classifier" else GRADIENT_BATCH
    for start in range(0, len(sentences), size):
        group = sentences[start:start + size]
        from ..encode import ids_and_mask  # torch: loaded only when the analysis runs

        ids, mask = ids_and_mask(loaded, group)
        xi = torch.ones(len(group), info.n_layers, info.n_heads, ids.shape[1], device=device, requires_grad=True)
        with torch.enable_grad(), head_mask(loaded, xi):
            if info.kind == "encoder":
                e = _pooled(loaded, ids, mask)
                seeds = indices[start:start + size] if indices is not None else range(start, start + len(group))
                z = torch.tensor(np.stack([projection(i, e.shape[-1]) for i in seeds]), device=device, dtype=e.dtype)
                (grad,) = torch.autograd.grad((e * z).sum(), xi)
                scale = np.sqrt(np.pi / 2) / e.detach().double().norm(dim=-1)[:, None, None]
            elif info.kind == "causal_lm":
                (grad,) = torch.autograd.grad(_losses(loaded, ids, mask).sum(), xi)
                scale = 1.0
            else:
                loss = model_output(loaded, ids)
                if info.kind == "classifier":
                    loss = torch.nn.functional.cross_entropy(loss, loss.argmax(-1).detach())
                (grad,) = torch.autograd.grad(loss.sum(), xi)
                scale = 1.0
        grad = grad.double() * mask[:, None, None, :].double()  # [B, L, H, T]: padding has no term
        per_sentence[start:start + len(group)] = (grad.sum(-1).abs() * scale).cpu().numpy()
        per_token[start:start + len(group)] = (grad.abs().sum(-1) * scale).cpu().numpy()
    return Proxy(per_sentence, per_token, np.array([len(x) for x in sentences], dtype=np.float64))


def ablation_sentences(n: int, n_layers: int, n_heads: int) -> int:
    """How many of the sample's n sentences the exact ablation (and the proxy) runs on: every one up to EXACT_LIMIT
    heads; above, as many as ABLATION_BUDGET layer passes pay for, a sentence costing (heads + 1) x layers x
    (layers + 1) / 2 (every head and the whole layer removed, each from its layer on), at least MIN_ABLATION."""
    if n_layers * n_heads <= EXACT_LIMIT:
        return n
    per_sentence = (n_heads + 1) * n_layers * (n_layers + 1) // 2
    return min(n, max(MIN_ABLATION, ABLATION_BUDGET // per_sentence))


def gradient(loaded, ids: list[int], index: int = 0) -> np.ndarray:
    """The proxy |dL/dxi_h| [L, H] of one sentence, the sample's sentence `index`."""
    return gradients(loaded, [ids], [index]).sentence[0]


class HeadImportance:
    """The registry's probe analysis that measures the heads' importance over the corpus's first sentences and on
    each probe (`head_importance` rows)."""

    stage = "head importance"

    def __init__(self, loaded, probes, config):
        self.loaded = loaded
        self.n = config.of(ImportanceOptions).importance_sentences
        self.measured = 0  # corpus sentences measured (fewer than n in a smaller corpus, or above EXACT_LIMIT heads)
        self.available = 0  # the corpus's sentences
        tok = loaded.tokenizer
        self.targets = [make_target(loaded, tuple(tok(s.text, split_special_tokens=True)["input_ids"]), s.extra,
                                    f"probe {s.source}", config.of(AttributionOptions).target_class) for s in probes]

    def meta(self) -> dict[str, str]:
        info = self.loaded.info
        exact = "every head"
        if self.measured < min(self.n, self.available):
            exact += (f", on the first {self.measured} of the {min(self.n, self.available)} sentences asked for (the "
                      f"budget of a model of more than {EXACT_LIMIT} heads: {ABLATION_BUDGET:,} layer passes, what "
                      f"200 sentences of the default model's ablation cost)")
        what = {"classifier": "the drop of the intact prediction's logit",
                "causal_lm": "the increase of the mean next-token loss (nats per token)"}.get(
            info.kind, "1 - cos(the mean-pooled last hidden state, the intact one)")
        return ({"importance_measure": what, "importance_exact": exact,
                 "importance_sentences_measured": str(self.measured)} if self.n else {})

    def _ids(self, text: str) -> list[int]:
        ids = self.loaded.tokenizer(text, split_special_tokens=True)["input_ids"]
        return list(ids[:self.loaded.info.max_length])

    def run(self, probes, progress, warned: list[str], corpus: list[Sentence] = (),
            store=None) -> dict[str, list[tuple]]:
        if not self.n:
            return {}
        info = self.loaded.info
        self.available = len(corpus)
        sample = list(corpus[:ablation_sentences(min(self.n, len(corpus)), info.n_layers, info.n_heads)])
        self.measured = len(sample)
        # the bar counts each corpus sentence twice (its gradient, then its ablations) and each probe once
        with progress.stage("importance", 2 * len(sample) + len(probes.sentences)) as advance:
            texts = [(s.sentence_id, self._ids(s.text)) for s in sample]
            proxy = self._proxy([ids for _, ids in texts], advance)
            heads = [(l, h) for l in range(info.n_layers) for h in range(info.n_heads)]
            masks, keys = masks_for(info.n_layers, info.n_heads, heads)
            values, flips, outputs = [], [], []
            for _, ids in texts:
                value, flip = ablate(self.loaded, ids, masks)
                values.append(value)
                if flip is not None:
                    flips.append(flip)
                outputs.append(self._intact(ids))
                advance(1)
            tables: dict[str, list[tuple]] = {"head_importance": [], "head_importance_sentences": [],
                                              "importance_reference": []}
            rows = tables["head_importance"]
            if texts:
                rows += corpus_rows(keys, np.stack(values), "ablation", ranked=True)
                if flips:
                    rows += corpus_rows(keys, np.stack(flips), "flip")
                rows += proxy_rows(proxy)
                tables["head_importance_sentences"] = [
                    (l, h, sid, "ablation", float(v)) for (sid, _), row in zip(texts, values)
                    for (l, h), v in zip(keys, row)]
                tables["importance_reference"] = reference_rows(self.loaded.info.kind, np.stack(outputs))
            for s, tok, target in zip(probes.sentences, probes.tokenized, self.targets):
                extra = list(target.extra_ids) if target.key == "continuation" else []
                value, flip = ablate(self.loaded, list(tok.input_ids) + extra, masks, target)
                rows += [(l, h, "probe", s.sentence_id, "ablation", float(v), None, None, None)
                         for (l, h), v in zip(keys, value)]
                if flip is not None:
                    rows += [(l, h, "probe", s.sentence_id, "flip", float(v), None, None, None)
                             for (l, h), v in zip(keys, flip)]
                advance(1)
        return tables

    def _proxy(self, sentences: list[list[int]], advance) -> Proxy:
        """The proxy of every sentence of the sample, computed in batches of similar lengths (little padding)."""
        info = self.loaded.info
        shape = (len(sentences), info.n_layers, info.n_heads)
        proxy = Proxy(np.zeros(shape), np.zeros(shape), np.zeros(len(sentences)))
        by_length = sorted(range(len(sentences)), key=lambda i: (len(sentences[i]), i))
        for start in range(0, len(sentences), GRADIENT_BATCH):
            part = by_length[start:start + GRADIENT_BATCH]
            found = gradients(self.loaded, [sentences[i] for i in part], part)
            for mine, theirs in zip(proxy, found):
                mine[part] = theirs
            advance(len(part))
        return proxy

    def _intact(self, ids: list[int]) -> np.ndarray:
        """The intact model's output on one sentence, as the ablation measures it (ablation.model_output)."""
        import torch

        with torch.inference_mode():
            out = model_output(self.loaded, torch.tensor([ids], device=device_of(self.loaded)))[0]
        return out.double().cpu().numpy()
