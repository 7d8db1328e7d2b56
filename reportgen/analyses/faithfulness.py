"""Faithfulness of the explanations (DeYoung et al. 2020, ERASER; their `rationale_benchmark/metrics.py`): whether
the words an explanation ranks highest are the words the output depends on, tested by removing them.

For each probe and each ranking of its words, and each bin k of BINS (percent of the probe's words; the top
max(1, floor(k n / 100)) words of n), with f the probe's attribution target (analyses/attribution.py, the same
number the integrated gradients explain) and a word removed by replacing its tokens with the attribution baseline
token (the token the integrated gradients' baseline puts in place of the words; special tokens and a continuation
stay):

- comprehensiveness = f(probe) - f(probe without the top words): how much the output falls without them;
- sufficiency = f(probe) - f(only the top words, every other word of the probe removed): how much it falls with
  only them;
- the AOPC of each: its mean over the bins, as ERASER's code averages them (`_instances_aopc`).

The rankings (ties in the order of the words):
- `integrated_gradients`: by signed score, highest first. Comprehensiveness is a fall of f, and the words that push
  f up are those whose removal makes it fall; ranking by |score| would put first words that push f down, whose
  removal raises it;
- `rollout`: the read-out's attention rollout after the last layer (stored in `attributions`), summed over each
  word's tokens;
- `attention`: the read-out's attention in the head whose mean rho with |integrated gradients| over the probes is
  the highest (`attribution_agreement`, over the probes where the head is compared; ties to the lower layer, head);
- `length`: the word's length in characters, longest first;
- `random`: DRAWS random orders per probe (seeded by the probe's id), their figures averaged.

Every input of one probe (the intact probe, and each ranking's removals at each bin, identical ones once) has the
probe's length and goes through the model in one batched forward pass (in chunks of ROWS).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from ..align import held, to_words
from ..models import device_of
from ..vocab import WORD_SHARE_FLOOR
from .attribution import AttributionOptions, baseline_token, make_target, model_input, objective, readout_of
from .base import Probes

BINS = (1, 5, 10, 20, 50)  # percent of the probe's words
DRAWS = 5  # random orders per probe
SEED = 0
ROWS = 256  # inputs per forward pass
RANKINGS = ("integrated_gradients", "rollout", "attention", "length", "random")


def top_words(k: int, n: int) -> int:
    """How many of n words the bin k (percent) removes: k% rounded down, at least one."""
    return max(1, k * n // 100)


def order(scores, n: int) -> list[int]:
    """The words by score, highest first; ties in the order of the words."""
    return sorted(range(n), key=lambda i: (-float(scores[i]), i))


def word_orders(sentence_id: int, gradients, rollout, texts: list[str], attention=None) -> dict[str, list[list[int]]]:
    """Each ranking's order(s) of one probe's words (see the module's docstring), from the words' integrated
    gradients (signed), rollout, texts and, where a head is chosen, its attention."""
    n = len(texts)
    rng = np.random.default_rng([SEED, sentence_id])
    orders = {"integrated_gradients": [order(gradients, n)], "rollout": [order(rollout, n)],
              "length": [order([len(t) for t in texts], n)],
              "random": [[int(i) for i in rng.permutation(n)] for _ in range(DRAWS)]}
    if attention is not None:
        orders["attention"] = [order(attention, n)]
    return orders


def removals(ids: list[int], word_of: list[int | None], replaceable: list[bool], top: list[int],
             baseline_id: int) -> tuple[list[int], list[int]]:
    """(the input without the `top` words, the input with only them) of one probe: a removed word's tokens become
    the baseline token; `replaceable` marks the probe's own tokens (not special, not a continuation's)."""
    chosen = set(top)
    without, only = list(ids), list(ids)
    for t, word in enumerate(word_of):
        if not replaceable[t]:
            continue
        if word is not None and word in chosen:
            without[t] = baseline_id
        else:
            only[t] = baseline_id
    return without, only


def deletion(f: Callable[[np.ndarray], np.ndarray], ids: list[int], word_of: list[int | None],
             replaceable: list[bool], orders: dict[str, list[list[int]]], baseline_id: int,
             bins: tuple[int, ...] = BINS) -> dict[str, list[tuple[int, int, float, float]]]:
    """For each ranking (its orders of the words: one, or several averaged), (k, words, comprehensiveness,
    sufficiency) for each bin; `f` maps inputs [B, T] (ints) to the target [B]. One call of f for every input."""
    n_words = 1 + max((w for w in word_of if w is not None), default=-1)
    inputs: dict[tuple[int, ...], int] = {tuple(ids): 0}
    wanted: dict[str, list[tuple[int, int, list[tuple[int, int]]]]] = defaultdict(list)
    for name, found in orders.items():
        for k in bins:
            m = top_words(k, n_words)
            pairs = []
            for words in found:
                without, only = (tuple(x) for x in removals(ids, word_of, replaceable, words[:m], baseline_id))
                pairs.append((inputs.setdefault(without, len(inputs)), inputs.setdefault(only, len(inputs))))
            wanted[name].append((k, m, pairs))
    values = np.asarray(f(np.array(list(inputs), dtype=np.int64)), dtype=np.float64)
    intact = values[0]
    return {name: [(k, m, float(np.mean([intact - values[a] for a, _ in pairs])),
                    float(np.mean([intact - values[b] for _, b in pairs]))) for k, m, pairs in found]
            for name, found in wanted.items()}


def best_head(agreement: list) -> tuple[int, int] | None:
    """The head with the highest mean rho over the probes where it is compared (AgreementRow), ties to the lower
    layer and head; None where no head is."""
    found: dict[tuple[int, int], list[float]] = defaultdict(list)
    for r in agreement:
        if r.method == "attention" and r.spearman is not None and r.word_share >= WORD_SHARE_FLOOR:
            found[(r.layer, r.head)].append(r.spearman)
    if not found:
        return None
    return min(found, key=lambda key: (-float(np.mean(found[key])), key))


def rows_of(sentence_id: int, head: tuple[int, int] | None,
            measured: dict[str, list[tuple[int, int, float, float]]]) -> list[tuple]:
    """`faithfulness` rows of one probe: each ranking's bins, then its AOPC (k and words NULL)."""
    rows = []
    for name in RANKINGS:
        if name not in measured:
            continue
        layer, h = head if name == "attention" else (None, None)
        for k, m, comprehensiveness, sufficiency in measured[name]:
            rows.append((sentence_id, name, layer, h, k, m, comprehensiveness, sufficiency))
        rows.append((sentence_id, name, layer, h, None, None, float(np.mean([v[2] for v in measured[name]])),
                     float(np.mean([v[3] for v in measured[name]]))))
    return rows


class Faithfulness:
    """The per-probe analysis that removes each ranking's top words (`faithfulness` rows). It reads the attribution
    unit's tables, so it is registered after it."""

    stage = "faithfulness"

    def __init__(self, loaded, probes: list, config):
        options = config.of(AttributionOptions)
        self.loaded = loaded
        self.baseline = baseline_token(loaded, options.attribution_baseline)
        self.targets = [make_target(loaded, tuple(loaded.tokenizer(s.text, split_special_tokens=True)["input_ids"]),
                                    s.extra, f"probe {s.source}", options.target_class) for s in probes]

    def meta(self) -> dict[str, str]:
        return {}

    def run(self, probes: Probes, progress, warned: list[str], corpus=(), store=None) -> dict[str, list[tuple]]:
        if store is None or not store.has_table("attributions"):
            return {}
        scores: dict[tuple[int, str], dict[int, float]] = defaultdict(dict)
        for r in store.attribution_scores():
            scores[(r.sentence_id, r.method)][r.token_idx] = r.score
        head = best_head(store.attribution_agreement())
        rows = []
        with progress.stage("faithfulness", len(probes.sentences)) as advance:
            for s, tok, target in zip(probes.sentences, probes.tokenized, self.targets):
                sid, n_words = s.sentence_id, probes.n_words[s.sentence_id]
                if n_words == 0:
                    advance(1)
                    continue
                word_of = [t.word_idx for t in tok.tokens]
                n = len(word_of)

                def words(method: str, sid=sid, word_of=word_of, n=n) -> np.ndarray:
                    return to_words(np.array([scores[(sid, method)].get(i, 0.0) for i in range(n)]), word_of,
                                    n_words)

                attention = None
                if head is not None:
                    read = readout_of(self.loaded, probes, s, tok, target)
                    attention = to_words(read.attention[head[0], head[1]], word_of, n_words)
                orders = word_orders(sid, words("integrated_gradients"), words("rollout"),
                                     [w.text for w in store.words_of(sid, sid)], attention)
                ids = model_input(tok.input_ids, target)
                replaceable = [not k for k in held([t.is_special for t in tok.tokens], self.loaded.info.causal)]
                replaceable += [False] * (len(ids) - n)
                measured = deletion(self._target(ids, target), ids, word_of + [None] * (len(ids) - n), replaceable,
                                    orders, self.baseline)
                rows += rows_of(sid, head, measured)
                advance(1)
        return {"faithfulness": rows}

    def _target(self, ids: list[int], target) -> Callable[[np.ndarray], np.ndarray]:
        """f over a batch of inputs of this probe, fixed by the intact probe (attribution.objective)."""
        import torch

        device = device_of(self.loaded)
        with torch.inference_mode():
            forward = objective(self.loaded, torch.tensor([ids], device=device), target).forward

        def f(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                x = torch.as_tensor(batch, device=device)
                return np.concatenate([forward(x[i:i + ROWS]).double().cpu().numpy()
                                       for i in range(0, len(x), ROWS)])

        return f
