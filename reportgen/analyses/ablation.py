"""Removing heads: a head's output (its slice of the attention output, the input of the output projection, every
head's context vector, head after head: families.Adapter.out_proj) multiplied by a factor, 0 to remove it; and the
change of the model's output that removing heads makes (analyses/importance.py reports it).

A forward pre-hook on the output projection does it, so one module serves every architecture, and a batch of
copies of one sentence removes a different head in each copy: one forward pass measures many ablations. Copies of
one sentence need no padding, so every ablation sees exactly the sentence the intact model sees; and the blocks
below the first layer a mask changes give their outputs from the intact pass instead of computing them again.

What is measured, per sentence, against the intact model (`measure`):
- a model without a task head (a sentence encoder such as the default MiniLM): 1 - cos(the mean-pooled last hidden
  state with the head removed, the intact one);
- a sequence classifier: the drop of the intact prediction's logit, and whether the prediction changes (a flip);
- a causal LM: the increase of the mean next-token loss over the sentence's tokens (nats per token).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..models import device_of

ROWS = 64  # copies of a sentence per forward pass


@contextmanager
def head_mask(loaded, mask):
    """Multiply every head's output by `mask` while the block is active: [N, L, H], one factor per head (a tensor:
    N copies of the input in the batch), or [N, L, H, T], one factor per head and token (the derivative by a
    token's factor is the per-token term of Michel et al.'s code)."""
    info = loaded.info
    blocks = loaded.adapter.blocks(loaded.model)

    def hook(layer: int):
        def scale(_module, args):
            x = args[0]  # [N, T, H * d_head]
            m = mask[:, layer].to(x.dtype)
            if m.dim() == 3:  # [N, H, T] -> [N, T, H * d_head]
                m = m.transpose(1, 2).repeat_interleave(info.d_head, dim=-1)
            else:  # [N, H] -> [N, 1, H * d_head]
                m = m.repeat_interleave(info.d_head, dim=-1)[:, None, :]
            return (x * m,) + tuple(args[1:])
        return scale

    hooks = [loaded.adapter.out_proj(block).register_forward_pre_hook(hook(layer))
             for layer, block in enumerate(blocks)]
    try:
        yield
    finally:
        for h in hooks:
            h.remove()


def model_output(loaded, ids):
    """The model's target output for copies of one sentence `ids` [N, T]: the mean-pooled last hidden state
    [N, D] (no task head), the logits [N, C] (a classifier), or the mean next-token loss [N] (a causal LM)."""
    kind = loaded.info.kind
    if kind == "classifier":
        return loaded.task(input_ids=ids).logits.float()
    if kind == "causal_lm":
        return token_losses(loaded.task(input_ids=ids).logits.float(), ids).mean(1)
    return loaded.model(input_ids=ids).last_hidden_state.float().mean(1)


def token_losses(logits, ids):
    """Each position's next-token loss [N, T - 1] from logits [N, T, V]: logsumexp of the row minus the next
    token's logit, the cross-entropy written out (torch's `cross_entropy` over the class dimension of the
    transposed logits takes a fifth longer on a CPU, SmolLM2's vocabulary of 49,152; the values agree to 1e-6)."""
    rows = logits[:, :-1]
    return rows.logsumexp(-1) - rows.gather(-1, ids[:, 1:, None])[..., 0]


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
                ids = torch.tensor([list(target.extra_ids)], device=device_of(loaded))
                self.reference = model_output(loaded, ids)[0]

    def output(self, loaded, ids):
        """A classifier's logits and an encoder's pooled embedding as for the corpus; an LM's log-probabilities
        after the probe's last token (and the continuation's)."""
        import torch

        if loaded.info.kind == "causal_lm":  # the LM head on the rows read only (transformers' logits_to_keep)
            logits = loaded.task(input_ids=ids, logits_to_keep=ids.shape[1] - self.n + 1).logits
            return torch.log_softmax(logits.float(), -1)
        return model_output(loaded, ids)

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
        output, change = model_output, lambda intact, changed: measure(loaded, intact, changed)
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


# public for the head detectors' ablation (analyses/detectors.py), which also starts its passes at the first layer a
# mask changes
from_layer = _from_layer
