"""Which input words the model's output depends on: layer integrated gradients (Captum) on the input embeddings,
and, through analyses/agreement.py, attention rollout (Abnar & Zuidema 2020) and how far each head's attention
agrees with the gradients, both read from the rows the target is computed from.

What is explained depends on what the model is (`ModelInfo.kind`):

- a sequence classifier: the logit of the predicted class, or of the class named by `target_class`;
- a causal language model: the log-probability of the token it predicts after the probe, or, for a probe line
  `text ||| continuation`, the summed log-probability of every token of the continuation (teacher-forced);
- any other model (an encoder without a task head, a causal model without its LM head): the cosine similarity
  between the probe's mean-pooled last hidden state and that of a reference sentence (`text ||| reference`), or of
  the probe itself when there is none.

The baseline replaces every non-special token of the probe by one token (the pad token by default); special
tokens and continuation tokens stay as they are, so only the probe's own tokens get attributions and, by the
completeness axiom, they sum to f(input) - f(baseline) up to Captum's convergence delta. A causal model's first
token stays too (`held`): it is where its heads put the attention they do not spend (the attention sink), and
replacing it moves every later position so far along the path that the integral does not converge (SmolLM2-135M's
probes, docs/site/attributions.md); Captum's own LLM attribution keeps a Llama's BOS token out of it the same way
(`skip_tokens`). Where the tokenizer adds a BOS token, that token is the first; where it adds none, the first
word's first token is held and gets no attribution.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..align import held, held_words
from ..corpus import SEPARATOR
from ..errors import ConfigError, InputError
from ..models import device_of
from ..options import option
from ..vocab import converged
from .agreement import Readout, agreement_rows, readout_rows
from .base import Probes

# the token the attribution baseline puts in place of the probe's words (baseline_token)
BASELINES = ("auto", "pad", "mask", "unk", "eos", "bos")
# where integrated gradients have not converged (vocab.converged), the steps are doubled, at most this many times
# (50 -> 100 -> 200 -> 400), while doubling shrinks the delta: a causal LM's log-probability along the path from the
# baseline can turn sharply, and 50 steps of Gauss-Legendre then miss much of it; where doubling does not shrink the
# delta, more steps are not converging either, and the retries stop (SmolLM2's probes, before its first token was
# held: benchmarks/bench_ig_convergence.py)
RETRIES = 3
# the steps integrated gradients start at where attribution_steps is unset: 50 (Captum's default) for an encoder or a
# classifier; 100 for a causal LM, where 50 converge on 2 of the 14 shipped probes of SmolLM2-135M (7 need 100, 4 200,
# 1 400): starting at 100 spends 15% fewer steps on those probes (the attributions 204.8 s -> 171.6 s on 2 cores) and
# no probe gets fewer steps than before (docs/site/attributions.md)
DEFAULT_STEPS = 50
CAUSAL_STEPS = 100


def _check_class(key: str, value, errors: list[str]):
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        errors.append(f"{key}: expected a class label or index, got {value!r}")
        return None
    return value


@dataclass(frozen=True)
class AttributionOptions:
    target_class: str | int | None = option(
        None, "A sequence classifier's class the attributions explain, by label or index (default: the predicted "
              "class; classifiers only).", check=_check_class, unset="the predicted class (classifiers only)",
        values="a label (text) or an index (integer)")
    attribution_steps: int | None = option(
        None, "Integrated gradients' steps, Captum's n_steps (default: 50, or 100 for a causal LM; doubled, up to 3 "
              "times while it helps, where a probe's attributions have not converged).",
        minimum=1, unset=f"{DEFAULT_STEPS}, or {CAUSAL_STEPS} for a causal LM")
    attribution_baseline: str = option(
        "auto", "The token the attributions' baseline puts in place of the probe's words: auto (the model's pad "
                "token, else its mask token, else its end token), pad, mask, unk, eos or bos.", choices=BASELINES)



@dataclass(frozen=True)
class Target:
    """What one probe's attributions explain.

    key: the `target` column ('class:LABEL', 'next_token', 'continuation', 'similarity:self' or
    'similarity:reference'); extra_ids: the continuation's or the reference's token ids (empty otherwise);
    class_index: the explained class of a classifier (None: the predicted one); readout: the attention rows the
    target is computed from (agreement.READOUTS: 'first', 'last', 'mean' or 'continuation'), which the agreement
    and the rollout read."""

    key: str
    extra_text: str
    extra_ids: tuple[int, ...]
    class_index: int | None
    readout: str


@dataclass(frozen=True)
class Attribution:
    """One probe's integrated gradients: a score per probe token, f at the input and at the baseline, Captum's
    convergence delta (sum of the scores minus the difference), and the target in words."""

    target: str
    description: str
    scores: np.ndarray  # [T] over the probe's tokens
    value: float
    baseline_value: float
    delta: float
    steps: int = 0  # Captum's n_steps that gave it

    @property
    def delta_too_large(self) -> bool:
        return not converged(self.delta, self.value, self.baseline_value)


def baseline_token(loaded, choice: str = "auto") -> int:
    """The token id the baseline puts in place of the probe's tokens: `auto` is the model's own pad token, or
    its mask token where it has one and no pad token, or else the end-of-sequence token."""
    tok = loaded.tokenizer
    if choice == "auto":
        for name in ("pad", "mask", "eos", "unk"):
            if name == "pad" and not loaded.own_pad:
                continue
            token_id = getattr(tok, f"{name}_token_id", None)
            if token_id is not None:
                return int(token_id)
        raise ConfigError(f"{loaded.info.name}: the tokenizer has no pad, mask, end or unknown token for the "
                          f"attribution baseline; set attribution_baseline")
    token_id = getattr(tok, f"{choice}_token_id", None)
    if token_id is None or (choice == "pad" and not loaded.own_pad):
        raise ConfigError(f"attribution_baseline: {loaded.info.name} has no {choice} token; choose one of "
                          f"{', '.join(b for b in BASELINES if b == 'auto' or _has(loaded, b))}")
    return int(token_id)


def _has(loaded, name: str) -> bool:
    if name == "pad" and not loaded.own_pad:
        return False
    return getattr(loaded.tokenizer, f"{name}_token_id", None) is not None


def class_index(loaded, target_class: str | int | None) -> int | None:
    """The classifier's class named by `target_class` (a label or an index), None for the predicted class."""
    if target_class is None:
        return None
    labels = {str(v): int(k) for k, v in loaded.task.config.id2label.items()}
    if isinstance(target_class, int) and 0 <= target_class < len(labels):
        return target_class
    if str(target_class) in labels:
        return labels[str(target_class)]
    raise ConfigError(f"target_class: {target_class!r} is not a class of {loaded.info.name}; its classes are "
                      f"{', '.join(sorted(labels, key=labels.get))}")


def make_target(loaded, input_ids: tuple[int, ...], extra: str, where: str, target_class: str | int | None) -> Target:
    """Check a probe's `|||` part against the model's kind and its length against the model's limit."""
    kind = loaded.info.kind
    tok = loaded.tokenizer
    if len(input_ids) > loaded.info.max_length:
        raise InputError(f"{where}: {len(input_ids)} tokens, over the model's limit of {loaded.info.max_length}; "
                         f"shorten the sentence")
    if kind == "classifier":
        if extra:
            raise InputError(f"{where}: a sequence classifier's probes take no '{SEPARATOR}' part; name the "
                             f"class to explain with target_class")
        index = class_index(loaded, target_class)
        return Target("class", "", (), index, classifier_readout(loaded.info.causal))
    if target_class is not None:
        raise ConfigError(f"target_class: {loaded.info.name} is not a sequence classifier; remove target_class")
    if kind == "causal_lm":
        if not extra:
            return Target("next_token", "", (), None, "last")
        ids = tuple(tok(" " + extra, add_special_tokens=False)["input_ids"])
        total = len(input_ids) + len(ids)
        if total > loaded.info.max_length:
            raise InputError(f"{where}: the probe and its continuation are {total} tokens, over the model's limit "
                             f"of {loaded.info.max_length}; shorten the continuation")
        return Target("continuation", extra, ids, None, "continuation")
    if not extra:  # the mean-pooled embedding: the pooling averages every row
        return Target("similarity:self", "", (), None, "mean")
    ids = tuple(tok(extra, split_special_tokens=True)["input_ids"])
    if len(ids) > loaded.info.max_length:
        raise InputError(f"{where}: the reference sentence is {len(ids)} tokens, over the model's limit of "
                         f"{loaded.info.max_length}; shorten it")
    return Target("similarity:reference", extra, ids, None, "mean")


def classifier_readout(causal: bool) -> str:
    """The row a sequence classifier's head reads: [CLS] (the first token) for a BERT-style encoder, the last
    non-pad token for GPT-2 and Llama classifiers."""
    return "last" if causal else "first"


def _mean_pooled(model, ids):
    import torch

    hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
    return hidden.mean(1)


@dataclass(frozen=True)
class Objective:
    """The number a probe's attributions explain, as a function of its input: `forward(ids [B, T]) -> f [B]` (ids
    the probe's tokens, a continuation's after them), fixed by the intact probe (the predicted class or next token,
    the reference embedding); `key` and `description` name it (the `target` column, and in words)."""

    key: str
    description: str
    forward: Callable


def model_input(probe_ids: tuple[int, ...], target: Target) -> list[int]:
    """What the model is given for a probe: its tokens, and a continuation's after them."""
    return list(probe_ids) + list(target.extra_ids if target.key == "continuation" else ())


def objective(loaded, ids, target: Target) -> Objective:
    """The target f of one probe (see the module's docstring), fixed by the intact input `ids` [1, T]."""
    import torch

    task = loaded.task
    tok = loaded.tokenizer
    device = ids.device
    n = ids.shape[1] - (len(target.extra_ids) if target.key == "continuation" else 0)
    kind = loaded.info.kind
    if kind == "classifier":
        with torch.no_grad():
            logits = task(input_ids=ids).logits[0]
        index = int(logits.argmax()) if target.class_index is None else target.class_index
        label = task.config.id2label.get(index, str(index))
        how = "predicted" if target.class_index is None else "chosen"

        def forward(x):
            return task(input_ids=x, attention_mask=torch.ones_like(x)).logits[:, index].float()

        return Objective(f"class:{label}", f"the logit of the {how} class {label!r}", forward)
    if kind == "causal_lm":
        if target.key == "next_token":
            with torch.no_grad():
                next_id = int(task(input_ids=ids, logits_to_keep=1).logits[0, -1].argmax())
            positions, wanted = [n - 1], [next_id]
            description = f"the log-probability of the predicted next token {tok.decode([next_id])!r}"
        else:
            positions = list(range(n - 1, n - 1 + len(target.extra_ids)))
            wanted = list(target.extra_ids)
            description = (f"the log-probability of the continuation {' ' + target.extra_text!r} "
                           f"({len(wanted)} token{'s' if len(wanted) != 1 else ''}, summed)")
        want_t = torch.tensor(wanted, device=device)
        keep = ids.shape[1] - positions[0]  # the LM head only on the rows from the first one read (logits_to_keep)

        def forward(x):
            logits = task(input_ids=x, attention_mask=torch.ones_like(x), logits_to_keep=keep).logits  # [b, keep, V]
            rows = torch.arange(len(wanted), device=device)
            return torch.log_softmax(logits[:, :len(wanted)].float(), -1)[:, rows, want_t].sum(-1)

        return Objective(target.key, description, forward)
    with torch.no_grad():
        reference = _mean_pooled(task, torch.tensor([list(target.extra_ids)], device=device)
                                 if target.extra_ids else ids)
    description = ("the cosine similarity of the sentence's mean-pooled embedding with that of the reference "
                   f"{target.extra_text!r}" if target.extra_ids else
                   "the cosine similarity of the sentence's mean-pooled embedding with the probe's own embedding, "
                   "held fixed (so 1 on the probe itself): how far the embedding moves away from where the "
                   "probe puts it when its words are replaced by the baseline token")

    def forward(x):
        return torch.nn.functional.cosine_similarity(_mean_pooled(task, x).float(), reference.float(), dim=-1)

    return Objective(target.key, description, forward)


def integrated_gradients(loaded, input_ids: tuple[int, ...], target: Target, baseline_id: int, keep: list[bool],
                         n_steps: int = DEFAULT_STEPS) -> Attribution:
    """Layer integrated gradients on the input embeddings for one probe (see the module's docstring); the baseline
    has `baseline_id` in place of every probe token but those `keep` marks (held)."""
    import torch
    from captum.attr import LayerIntegratedGradients

    device = device_of(loaded)
    n = len(input_ids)
    ids = torch.tensor([model_input(input_ids, target)], device=device)
    base = ids.clone()
    base[0, :n] = torch.where(torch.tensor(keep, device=device), ids[0, :n], baseline_id)
    f = objective(loaded, ids, target)
    lig = LayerIntegratedGradients(f.forward, loaded.task.get_input_embeddings())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum's notes on requires_grad of the inputs
        scores, delta = lig.attribute(ids, baselines=base, n_steps=n_steps, internal_batch_size=min(n_steps, 25),
                                      return_convergence_delta=True)
    with torch.no_grad():
        value, baseline_value = (float(v) for v in f.forward(torch.cat([ids, base])))
    token_scores = scores.detach().double().sum(-1)[0, :n].cpu().numpy()
    return Attribution(f.key, f.description, token_scores, value, baseline_value, float(delta.reshape(-1)[0]),
                       n_steps)


def start_steps(attribution_steps: int | None, causal_lm: bool) -> int:
    """The steps integrated gradients start at: the option where it is set, else DEFAULT_STEPS, or CAUSAL_STEPS for
    a causal LM."""
    if attribution_steps is not None:
        return attribution_steps
    return CAUSAL_STEPS if causal_lm else DEFAULT_STEPS


def converging_gradients(loaded, input_ids: tuple[int, ...], target: Target, baseline_id: int, keep: list[bool],
                         n_steps: int = DEFAULT_STEPS) -> Attribution:
    """integrated_gradients at n_steps; while the convergence rule fails, again at twice the steps, at most RETRIES
    times, and only while doubling shrinks |delta|: the first result that converges, else the one of the smallest
    |delta|."""
    result = integrated_gradients(loaded, input_ids, target, baseline_id, keep, n_steps)
    for _ in range(RETRIES):
        if not result.delta_too_large:
            break
        more = integrated_gradients(loaded, input_ids, target, baseline_id, keep, 2 * result.steps)
        if more.delta_too_large and abs(more.delta) >= abs(result.delta):
            break  # not converging: keep the smaller delta
        result = more
    return result


def readout_of(loaded, probes: Probes, sentence, tokenized, target: Target) -> Readout:
    """The read-out of one probe (agreement.Readout): its attention, or, for a continuation, the attention over the
    probe followed by its continuation, read from the rows the target is computed from."""
    n = len(tokenized.input_ids)
    if target.readout == "continuation":
        from ..encode import sequence_attention  # torch: loaded only when the analysis runs

        attention = sequence_attention(loaded, tokenized.input_ids + target.extra_ids)
    else:
        attention = probes.attention[sentence.sentence_id]
    return Readout.of(attention, readout_rows(target.readout, n, len(target.extra_ids)), n)


class ProbeAttributions:
    """The per-probe analysis: integrated gradients, rollout and their agreement with every head. `prepare`
    checks each probe's target against the model before any work; `run` writes the three attribution tables."""

    stage = "attribute probes"

    def __init__(self, loaded, sentences: list, config):
        self.loaded, self.options = loaded, config.of(AttributionOptions)
        self.steps = start_steps(self.options.attribution_steps, loaded.info.kind == "causal_lm")
        # a baseline the model lacks fails here
        self.baseline = baseline_token(loaded, self.options.attribution_baseline)
        self.targets = [make_target(loaded, tuple(loaded.tokenizer(s.text, split_special_tokens=True)["input_ids"]),
                                    s.extra, f"probe {s.source}", self.options.target_class) for s in sentences]

    def meta(self) -> dict[str, str]:
        """What the pages say of the attributions besides the tables: the baseline token by name, and the steps
        integrated gradients started at (the option's value used: set, or 50, or 100 on a causal LM)."""
        return {"attribution_baseline_token": self.loaded.tokenizer.convert_ids_to_tokens(self.baseline),
                "option.attribution_steps": str(self.steps)}

    def run(self, probes: Probes, progress, warned: list[str], corpus=(), store=None) -> dict[str, list[tuple]]:
        target_rows, score_rows, agreement, classes = [], [], [], []
        with progress.stage("attribute", len(probes.sentences)) as advance:
            for s, tok, target in zip(probes.sentences, probes.tokenized, self.targets):
                keep = held([t.is_special for t in tok.tokens], self.loaded.info.causal)
                result = converging_gradients(self.loaded, tok.input_ids, target, self.baseline, keep, self.steps)
                if result.delta_too_large:
                    warned.append(f"probe {s.source}: integrated gradients did not converge at {result.steps} steps "
                                  f"(delta {result.delta:+.3g} against f(input) - f(baseline) = "
                                  f"{result.value - result.baseline_value:+.3g}); raise attribution_steps above "
                                  f"{self.steps}")
                read = readout_of(self.loaded, probes, s, tok, target)
                target_rows.append((s.sentence_id, result.target, result.description, result.value,
                                    result.baseline_value, result.delta, target.readout, result.steps))
                score_rows += [(s.sentence_id, "integrated_gradients", result.target, i, float(v))
                               for i, v in enumerate(result.scores)]
                score_rows += [(s.sentence_id, "rollout", result.target, i, float(v))
                               for i, v in enumerate(read.flow[-1])]
                word_of = [t.word_idx for t in tok.tokens]
                agreement += agreement_rows(s.sentence_id, result.scores, read, word_of,
                                            probes.n_words[s.sentence_id], held_words(word_of, keep))
                if self.loaded.info.kind == "classifier":
                    classes += [(s.sentence_id, i, label, p) for i, label, p in class_probabilities(self.loaded,
                                                                                                  tok.input_ids)]
                advance(1)
        return {"attribution_targets": target_rows, "attributions": score_rows, "attribution_agreement": agreement,
                "class_probabilities": classes}


def class_probabilities(loaded, input_ids: tuple[int, ...]) -> list[tuple[int, str, float]]:
    """(class index, label, probability) of every class of a sequence classifier on one probe (the softmax of
    its logits), by index."""
    import torch

    with torch.inference_mode():
        logits = loaded.task(input_ids=torch.tensor([list(input_ids)], device=device_of(loaded))).logits[0]
    probabilities = torch.softmax(logits.double(), -1).cpu().tolist()
    labels = loaded.task.config.id2label
    return [(i, str(labels.get(i, i)), float(p)) for i, p in enumerate(probabilities)]
