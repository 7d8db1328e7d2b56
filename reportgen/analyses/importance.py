"""Which heads matter: the change of the model's output when one head (or a whole layer) is removed, and Michel et
al.'s gradient proxy (2019, "Are Sixteen Heads Really Better than One?").

Removing a head: its slice of the attention output, the input of the output projection (every head's context
vector, head after head: models.Adapter.out_proj), is multiplied by 0; a forward pre-hook on that projection does
it, so one module serves every architecture, and a batch of copies of one sentence removes a different head in
each copy: one forward pass measures many ablations. Copies of one sentence need no padding, so every ablation
sees exactly the sentence the intact model sees; and the blocks below the first layer a mask changes give their
outputs from the intact pass instead of computing them again.

What is measured, per sentence, against the intact model (`measure` below):
- a model without a task head (a sentence encoder such as the default MiniLM): 1 - cos(the mean-pooled last hidden
  state with the head removed, the intact one);
- a sequence classifier: the drop of the intact prediction's logit (`ablation`), and whether the prediction
  changes (`flip`, a share over sentences);
- a causal LM: the increase of the mean next-token loss over the sentence's tokens (nats per token).

The gradient proxy (`gradient`): a mask xi [L, H] at 1 multiplies every head's output; Michel et al.'s importance
is |dL/dxi_h|, here per sentence, then averaged, with L the classifier's cross-entropy against its intact
prediction or the LM's mean next-token loss. For a model without a task head, 1 - cos has no gradient at the intact
model (it is its minimum), so the proxy is the first-order size of the change of the pooled embedding e, |de/dxi_h|
/ |e|, averaged over the sentences, estimated like Michel et al.'s with one backward pass per batch: each sentence
gets its own random standard-normal direction z, and sqrt(pi/2) |z . de/dxi_h| / |e| has the expectation
|de/dxi_h| / |e| (for any fixed vector v, E |z . v| = sqrt(2/pi) |v|). One sentence's value is noisy (a half-normal
spread); the mean over the sample is not.

`scope = 'corpus'`: the mean over the first `importance_sentences` corpus sentences, with a 95% bootstrap interval
over sentences (RESAMPLES resamples, seed 0: the same in every build); `scope = 'probe'`: each probe's value, the
drop of its attribution target (`ProbeTarget`). A model with more than EXACT_LIMIT heads is ablated exactly only
on the EXTREMES heads the proxy ranks highest and lowest (and every layer).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..corpus import Sentence
from ..models import device_of
from ..options import option
from .attribution import AttributionOptions, make_target

EXACT_LIMIT = 144  # heads: up to this many, every head is ablated exactly
EXTREMES = 16  # above it, the proxy's this many highest and lowest heads are
ROWS = 64  # copies of a sentence per forward pass
RESAMPLES = 1000
GRADIENT_BATCH = 8  # an encoder's sentences per backward pass of the proxy


@contextmanager
def head_mask(loaded, mask):
    """Multiply every head's output by `mask` [N, L, H] (a tensor: N copies of the input in the batch) while the
    block is active."""
    info = loaded.info
    blocks = loaded.adapter.blocks(loaded.model)

    def hook(layer: int):
        def scale(_module, args):
            x = args[0]
            m = mask[:, layer].to(x.dtype).repeat_interleave(info.d_head, dim=-1)  # [N, H * d_head]
            return (x * m[:, None, :],) + tuple(args[1:])
        return scale

    hooks = [loaded.adapter.out_proj(block).register_forward_pre_hook(hook(layer))
             for layer, block in enumerate(blocks)]
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def _output(loaded, ids):
    """The model's target output for copies of one sentence `ids` [N, T]: the mean-pooled last hidden state
    [N, D] (no task head), the logits [N, C] (a classifier), or the mean next-token loss [N] (a causal LM)."""
    import torch

    kind = loaded.info.kind
    if kind == "classifier":
        return loaded.task(input_ids=ids).logits.float()
    if kind == "causal_lm":
        logits = loaded.task(input_ids=ids).logits.float()
        return torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none"
                                                 ).mean(1)
    return loaded.model(input_ids=ids).last_hidden_state.float().mean(1)


def measure(loaded, intact, changed) -> tuple[object, object | None]:
    """(the change of the target per copy [N], the classifier's flips [N] or None) from the intact output (one
    row) and the outputs of the copies."""
    kind = loaded.info.kind
    if kind == "classifier":
        c = int(intact[0].argmax())
        return intact[0, c] - changed[:, c], (changed.argmax(-1) != c).float()
    if kind == "causal_lm":
        return changed - intact[0], None
    return one_minus_cos(changed, intact[0]), None


def one_minus_cos(changed, intact):
    """1 - cos(each row of `changed` [N, D], `intact` [D]) in float64, as |u - v|^2 / 2 of the unit vectors: exact
    where the two nearly agree (1 - cos computed in float32 moves in steps of 6e-8, the size of a minor head's
    change on one sentence)."""
    u = changed.double() / changed.double().norm(dim=-1, keepdim=True)
    v = intact.double() / intact.double().norm()
    return ((u - v[None]) ** 2).sum(-1) / 2


@dataclass(frozen=True)
class ImportanceOptions:
    importance_sentences: int = option(200, "Measure each head's importance (ablation) on the first N corpus "
                                            "sentences (default: 200; 0: none).", minimum=0)


class ProbeTarget:
    """A probe's attribution target for `ablate` (its `output` and its `change`): the drop of the target from the
    intact model's value (analyses/attribution.py: a classifier's logit of the predicted or chosen class, with
    the flips of the prediction; an LM's log-probability of its predicted next token or of the continuation,
    summed; an encoder's cosine similarity with the probe's own embedding, held fixed, or with the reference
    sentence's, computed once by the intact model)."""

    def __init__(self, loaded, target, n: int):
        import torch

        self.loaded, self.target, self.n = loaded, target, n
        self.reference = None
        if loaded.info.kind == "encoder" and target.extra_ids:
            with torch.inference_mode():
                self.reference = _output(loaded, torch.tensor([list(target.extra_ids)], device=device_of(loaded)))[0]

    def output(self, loaded, ids):
        """A classifier's logits and an encoder's pooled embedding as for the corpus; an LM's log-probabilities
        after the probe's last token (and the continuation's)."""
        import torch

        if loaded.info.kind == "causal_lm":
            return torch.log_softmax(loaded.task(input_ids=ids).logits[:, self.n - 1:].float(), -1)
        return _output(loaded, ids)

    def change(self, intact, changed):
        import torch

        kind, target = self.loaded.info.kind, self.target
        if kind == "classifier":
            predicted = int(intact[0].argmax())
            c = predicted if target.class_index is None else target.class_index
            return intact[0, c] - changed[:, c], (changed.argmax(-1) != predicted).float()
        if kind == "causal_lm":
            wanted = list(target.extra_ids) if target.key == "continuation" else [int(intact[0, 0].argmax())]
            rows = torch.arange(len(wanted), device=intact.device)
            index = torch.tensor(wanted, device=intact.device)
            return intact[0, rows, index].sum() - changed[:, rows, index].sum(-1), None
        if self.reference is None:
            return one_minus_cos(changed, intact[0]), None
        cos = torch.nn.functional.cosine_similarity
        ref = self.reference.double()
        return cos(intact[0].double(), ref, dim=-1) - cos(changed.double(), ref[None], dim=-1), None


def _copies(output, n: int):
    """A block's output for one sentence (a tensor, or a tuple holding tensors) as n copies."""
    import torch

    if isinstance(output, torch.Tensor):
        return output.expand(n, *output.shape[1:]).contiguous() if output.shape[:1] == (1,) else output
    if type(output) is tuple:
        return tuple(_copies(o, n) for o in output)
    return output


@contextmanager
def _from_layer(loaded, cached: list, first: int, n: int):
    """Blocks below `first` give their intact outputs (`cached`, one sentence's) as n copies instead of computing
    them: a mask that keeps every head below `first` changes nothing there."""
    blocks = loaded.adapter.blocks(loaded.model)
    for layer in range(first):
        out = _copies(cached[layer], n)
        blocks[layer].forward = lambda *args, _out=out, **kwargs: _out
    try:
        yield
    finally:
        for layer in range(first):
            del blocks[layer].forward


def ablate(loaded, ids: list[int], masks: np.ndarray, target=None) -> tuple[np.ndarray, np.ndarray | None]:
    """The change of one sentence's target under each mask [K, L, H] (1 keeps a head, 0 removes it), and a
    classifier's flips, [K] each: the corpus's measure (`measure`), or with a probe's attribution target
    (attribution.Target; `ids` then the probe's tokens, a continuation's after them) the drop of that target
    (`ProbeTarget`). The masks are run in groups that keep every head below the same layer, at most ROWS copies
    of the sentence per forward pass, each group from that layer on (the blocks below give their intact outputs,
    kept from the intact pass)."""
    import torch

    if target is None:
        output, change = _output, lambda intact, changed: measure(loaded, intact, changed)
    else:
        probe = ProbeTarget(loaded, target, len(ids) - len(target.extra_ids if target.key == "continuation" else ()))
        output, change = probe.output, probe.change

    device = device_of(loaded)
    blocks = loaded.adapter.blocks(loaded.model)
    cached: list = [None] * len(blocks)
    keep = [block.register_forward_hook(lambda _m, _a, out, layer=layer: cached.__setitem__(layer, out))
            for layer, block in enumerate(blocks)]
    removed = (masks < 1).any(-1)  # [K, L]
    first = np.where(removed.any(-1), removed.argmax(-1), len(blocks))  # each mask's first changed layer
    values = np.zeros(len(masks))
    flips = np.zeros(len(masks))
    has_flips = False
    with torch.inference_mode():
        one = torch.tensor([ids], device=device)
        try:
            intact = output(loaded, one)
        finally:
            for hook in keep:
                hook.remove()
        for layer in sorted(set(first.tolist())):
            rows = np.flatnonzero(first == layer)
            for start in range(0, len(rows), ROWS):
                part = rows[start:start + ROWS]
                chunk = torch.tensor(masks[part], device=device, dtype=torch.float32)
                with head_mask(loaded, chunk), _from_layer(loaded, cached, min(layer, len(blocks)), len(part)):
                    changed = output(loaded, one.expand(len(part), -1))
                value, flip = change(intact, changed)
                values[part] = value.double().cpu().numpy()
                if flip is not None:
                    flips[part] = flip.double().cpu().numpy()
                    has_flips = True
    return values, (flips if has_flips else None)


def projection(index: int, size: int) -> np.ndarray:
    """The random direction z [size] of the sample's sentence `index` for an encoder's proxy: standard normal, from
    a seed of its own, so that a sentence's value does not depend on the sentences batched with it."""
    return np.random.default_rng([0, index]).standard_normal(size)


def _pooled(loaded, ids, mask):
    """The mean-pooled last hidden state [B, D] of a padded batch, over each sentence's own tokens."""
    hidden = loaded.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
    weight = mask[..., None].to(hidden.dtype)
    return (hidden * weight).sum(1) / weight.sum(1)


def gradients(loaded, sentences: list[list[int]], indices: list[int] | None = None) -> np.ndarray:
    """Michel et al.'s |dL/dxi| [S, L, H] for each sentence, xi at 1 (see the module's docstring for L), one
    backward pass per batch of GRADIENT_BATCH sentences. `indices`: each sentence's index in the sample (its
    projection's seed; by default 0, 1, ...)."""
    import torch

    info = loaded.info
    device = device_of(loaded)
    out = np.zeros((len(sentences), info.n_layers, info.n_heads))
    # an encoder's sentences go padded, several per pass (padding changes no real token's output there); a
    # classifier's or an LM's output reads particular rows, so their sentences go one at a time
    size = GRADIENT_BATCH if info.kind == "encoder" else 1
    for start in range(0, len(sentences), size):
        group = sentences[start:start + size]
        from ..encode import ids_and_mask  # torch: loaded only when the analysis runs

        ids, mask = ids_and_mask(loaded, group)
        xi = torch.ones(len(group), info.n_layers, info.n_heads, device=device, requires_grad=True)
        with torch.enable_grad(), head_mask(loaded, xi):
            if info.kind == "encoder":
                e = _pooled(loaded, ids, mask)
                seeds = indices[start:start + size] if indices is not None else range(start, start + len(group))
                z = torch.tensor(np.stack([projection(i, e.shape[-1]) for i in seeds]), device=device, dtype=e.dtype)
                (grad,) = torch.autograd.grad((e * z).sum(), xi)
                scale = np.sqrt(np.pi / 2) / e.detach().double().norm(dim=-1)
                value = grad.double().abs() * scale[:, None, None]
            else:
                loss = _output(loaded, ids)
                if info.kind == "classifier":
                    loss = torch.nn.functional.cross_entropy(loss, loss.argmax(-1).detach())
                (grad,) = torch.autograd.grad(loss.sum(), xi)
                value = grad.double().abs()
        out[start:start + len(group)] = value.cpu().numpy()
    return out


def gradient(loaded, ids: list[int], index: int = 0) -> np.ndarray:
    """The proxy [L, H] of one sentence, the sample's sentence `index`."""
    return gradients(loaded, [ids], [index])[0]


def masks_for(n_layers: int, n_heads: int, heads: list[tuple[int, int]]) -> tuple[np.ndarray, list]:
    """One mask per head of `heads` removing that head, then one per layer removing all its heads; and the
    (layer, head | None) each mask stands for."""
    keys = list(heads) + [(layer, None) for layer in range(n_layers)]
    masks = np.ones((len(keys), n_layers, n_heads), dtype=np.float32)
    for i, (layer, head) in enumerate(keys):
        if head is None:
            masks[i, layer] = 0
        else:
            masks[i, layer, head] = 0
    return masks, keys


def bootstrap(values: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, 2.5th and 97.5th percentile of RESAMPLES resampled means) over the sentences (axis 0) of `values`
    [S, ...]; the resamples are the same for every column."""
    idx = np.random.default_rng(seed).integers(0, len(values), size=(RESAMPLES, len(values)))
    means = values[idx].mean(1)
    return values.mean(0), np.percentile(means, 2.5, axis=0), np.percentile(means, 97.5, axis=0)


class HeadImportance:
    """The registry's probe analysis that measures the heads' importance over the corpus's first sentences and on
    each probe (`head_importance` rows)."""

    stage = "head importance"

    def __init__(self, loaded, probes, config):
        self.loaded = loaded
        self.n = config.of(ImportanceOptions).importance_sentences
        self.measured = 0  # corpus sentences measured (fewer than n in a smaller corpus)
        tok = loaded.tokenizer
        self.targets = [make_target(loaded, tuple(tok(s.text, split_special_tokens=True)["input_ids"]), s.extra,
                                    f"probe {s.source}", config.of(AttributionOptions).target_class) for s in probes]

    def meta(self) -> dict[str, str]:
        info = self.loaded.info
        exact = ("every head" if info.n_layers * info.n_heads <= EXACT_LIMIT else
                 f"the {EXTREMES} heads the gradient proxy ranks highest and the {EXTREMES} it ranks lowest")
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
        sample = list(corpus[:self.n])
        self.measured = len(sample)
        # the bar counts each corpus sentence twice (its gradient, then its ablations) and each probe once
        with progress.stage("importance", 2 * len(sample) + len(probes.sentences)) as advance:
            texts = [(s.sentence_id, self._ids(s.text)) for s in sample]
            grads = np.zeros((len(texts), info.n_layers, info.n_heads))
            by_length = sorted(range(len(texts)), key=lambda i: (len(texts[i][1]), i))  # little padding
            for start in range(0, len(texts), GRADIENT_BATCH):
                part = by_length[start:start + GRADIENT_BATCH]
                grads[part] = gradients(self.loaded, [texts[i][1] for i in part], part)
                advance(len(part))
            heads = [(l, h) for l in range(info.n_layers) for h in range(info.n_heads)]
            if len(heads) > EXACT_LIMIT and len(grads):
                order = sorted(heads, key=lambda k: (-grads[:, k[0], k[1]].mean(), k))
                heads = sorted(order[:EXTREMES] + order[-EXTREMES:])
            masks, keys = masks_for(info.n_layers, info.n_heads, heads)
            values, flips = [], []
            for _, ids in texts:
                value, flip = ablate(self.loaded, ids, masks)
                values.append(value)
                if flip is not None:
                    flips.append(flip)
                advance(1)
            rows = []
            if texts:
                rows += _corpus_rows(keys, np.stack(values), "ablation")
                if flips:
                    rows += _corpus_rows(keys, np.stack(flips), "flip")
                mean, low, high = bootstrap(grads)
                rows += [(l, h, "corpus", None, "gradient", float(mean[l, h]), float(low[l, h]), float(high[l, h]))
                         for l in range(info.n_layers) for h in range(info.n_heads)]
            for s, tok, target in zip(probes.sentences, probes.tokenized, self.targets):
                extra = list(target.extra_ids) if target.key == "continuation" else []
                value, flip = ablate(self.loaded, list(tok.input_ids) + extra, masks, target)
                rows += [(l, h, "probe", s.sentence_id, "ablation", float(v), None, None)
                         for (l, h), v in zip(keys, value)]
                if flip is not None:
                    rows += [(l, h, "probe", s.sentence_id, "flip", float(v), None, None)
                             for (l, h), v in zip(keys, flip)]
                advance(1)
        return {"head_importance": rows}


def _corpus_rows(keys: list, values: np.ndarray, method: str) -> list[tuple]:
    mean, low, high = bootstrap(values)
    return [(l, h, "corpus", None, method, float(m), float(lo), float(hi))
            for (l, h), m, lo, hi in zip(keys, mean, low, high)]
