"""Head detectors for causal LMs: induction, previous-token, duplicate-token and copying heads, the induction heads
confirmed by removing them. Only a causal LM with its LM head is measured; any other model gets no rows.

Definitions (detector_scores.py computes them):
- **Repeated random sequences** (Olsson et al. 2022, "In-context Learning and Induction Heads"; Elhage et al. 2021;
  TransformerLens's Main_Demo and Exploratory_Analysis_Demo): `detector_sequences` seeded sequences, each N
  distinct tokens drawn from the ordinary vocabulary (ordinary_tokens) with N uniform in
  [detector_min_tokens, detector_max_tokens], repeated once, after a BOS where the tokenizer puts one. Per head
  and sequence: the induction (prefix-matching) score, the mean attention from each token of the second copy to
  the token after its first occurrence (the demos' stripe at offset N - 1); the duplicate-token score, to the
  first occurrence (offset N); the previous-token score, to the token before (offset 1, every position that has
  one). Then the mean over sequences with a 95% bootstrap interval over sequences.
  Where the report differs from the demos: they use one N for a batch (and the stripe's first entry, the first
  copy's last token attending to the sequence's first, counts in their mean); reportgen varies N, so that a head
  attending at a fixed distance is not taken for an induction head, and averages over the second copy only; the
  demos put no BOS (they call the model on token tensors); reportgen puts the model's own where its tokenizer adds
  one. The tokens of a sequence are distinct, so that these fixed offsets are exactly TransformerLens's
  head_detector patterns (`get_induction_head_detection_pattern`, `get_duplicate_token_head_detection_pattern`)
  on the second copy's rows; head_detector's "mul" score divides by the attention of every row, the first copy's
  too (which can match nothing), so its scores are about half of these on the same pattern.
- **Natural repeats**: the first `detector_sentences` corpus sentences, those with a token that occurs earlier in
  the same sentence, run through the model again here (the corpus pass's batches carry no token ids): the same
  scores with TransformerLens's patterns (every earlier occurrence), averaged over the queries that have one.
- **Copying** (Elhage et al. 2021): the positive-eigenvalue fraction sum(lambda) / sum(|lambda|) of the head's OV
  circuit W_E W_V W_O W_U over the whole vocabulary, from its factored form (detector_weights.py says how the
  norms and grouped-query attention are treated). Not the share of tokens whose own logit is raised most.
- **Roles** (detector_scores.THRESHOLDS): a head reaching a detector's threshold has that role; beside it, its
  stability (the share of bootstrap resamples of the sequences that still reach it) and the test against the
  control, the same measurement on a randomly initialised copy of the model (models.randomised, seeded by
  detector_seed; its unembedding is its embedding where the model ties them, else a seeded N(0,
  initializer_range) draw, as transformers initialises an LM head).
- **Ablation**: the in-context loss, the mean next-token loss over the second copy's tokens but its first (which
  nothing earlier predicts), over the first `detector_ablation_sequences` sequences: intact, with each candidate
  induction head removed (at most `detector_candidates`, the highest-scoring heads with the induction role), with
  every candidate together, and with as many heads drawn at random from the candidates' layers (not candidates;
  `detector_draws` seeded draws). Heads are removed as the importance analysis removes them (ablation.head_mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..models import RANDOM_INIT, device_of, randomised
from ..options import option
from ..vocab import head_label
from .detector_passes import (
    ablation_rows,
    forward,
    in_context_losses,
    leading_bos,
    ordinary_tokens,
    random_draws,
    random_unembedding,
    repeated_sequences,
)
from .detector_scores import (
    DETECTORS,
    copying_score,
    natural_scores,
    repeated_scores,
    role_rows,
    score_rows,
)
from .detector_weights import circuits

COPYING = ("Elhage et al.'s positive-eigenvalue fraction sum(lambda) / sum(|lambda|) of W_E W_V W_O W_U over the "
           "whole vocabulary (its factored form); the norms' gains folded in, their normalisation and the biases "
           "left out")


@dataclass(frozen=True)
class DetectorOptions:
    detector_sequences: int = option(32, "Causal LMs: how many repeated random token sequences the head detectors "
                                         "are measured on (default: 32; 0: no detectors).", minimum=0)
    detector_min_tokens: int = option(8, "The shortest random sequence, in tokens, before it is repeated "
                                          "(default: 8).", minimum=2)
    detector_max_tokens: int = option(20, "The longest random sequence, in tokens, before it is repeated "
                                          "(default: 20).", minimum=2)
    detector_sentences: int = option(12, "Scan the first N corpus sentences for natural repeats (a token that "
                                         "occurs earlier in the same sentence) and score the heads on them "
                                         "(default: 12; 0: none).", minimum=0)
    detector_ablation_sequences: int = option(8, "How many of the sequences the induction heads' ablation is "
                                                  "measured on (default: 8; 0: no ablation).", minimum=0)
    detector_candidates: int = option(4, "At most this many induction heads are removed, one at a time and "
                                         "together (default: 4).", minimum=1)
    detector_draws: int = option(4, "How many random sets of heads from the same layers are removed for "
                                    "comparison (default: 4).", minimum=1)
    detector_seed: int = option(0, "The seed of the sequences, the bootstrap, the random heads and the control "
                                   "model (default: 0).", minimum=0)


class HeadDetectors:
    """The registry's per-probe analysis that detects induction, previous-token, duplicate-token and copying heads
    in a causal LM and removes the induction heads (see the module's docstring)."""

    stage = "head detectors"

    def __init__(self, loaded, probes, config):
        self.loaded, self.options = loaded, config.of(DetectorOptions)
        o = self.options
        if o.detector_min_tokens > o.detector_max_tokens:
            raise ConfigError(f"detector_min_tokens ({o.detector_min_tokens}) is above detector_max_tokens "
                              f"({o.detector_max_tokens}); give a range whose minimum is at most its maximum")
        self.active = loaded.info.kind == "causal_lm" and o.detector_sequences > 0
        self.facts: dict[str, str] = {}

    def meta(self) -> dict[str, str]:
        return dict(self.facts)

    def run(self, probes, progress, warned: list[str], corpus=(), store=None) -> dict[str, list[tuple]]:
        if not self.active:
            return {}
        o, loaded, info = self.options, self.loaded, self.loaded.info
        bos = leading_bos(loaded.tokenizer)
        high = min(o.detector_max_tokens, (info.max_length - (bos is not None)) // 2)
        low = min(o.detector_min_tokens, high)
        pool = ordinary_tokens(loaded.tokenizer, loaded.model.config.vocab_size, high)
        sequences = repeated_sequences(pool, o.detector_sequences, low, high, o.detector_seed, bos)
        sentences = self._sentences(corpus[:o.detector_sentences])
        n_ablate = min(o.detector_ablation_sequences, len(sequences))
        
        with progress.stage("detectors", 2 * len(sequences) + len(sentences) + n_ablate) as advance:
            model_scores, intact = self._repeated(loaded, sequences, advance)
            random = randomised(loaded, o.detector_seed)
            control_scores, _ = self._repeated(random, sequences, advance, losses=False)
            natural = self._natural(sentences, advance)
            copying = self._copying(loaded.model, loaded.task.get_output_embeddings().weight)
            control_copying = self._copying(random.model, random_unembedding(loaded, random, o.detector_seed))
            rows, model = score_rows(model_scores, "repeated", o.detector_seed)
            control_rows, control = score_rows(control_scores, "control", o.detector_seed)
            natural_rows, _ = score_rows(natural, "corpus", o.detector_seed) if sentences else ([], {})
            rows += control_rows + natural_rows + self._copying_rows(copying, "weights")
            rows += self._copying_rows(control_copying, "control")
            roles = role_rows(model, control, copying, control_copying)
            ablation = self._ablation(roles, sequences[:n_ablate], advance) if n_ablate else []
        self.facts.update({
            "detector_sequences_measured": str(len(sequences)), "detector_tokens": f"{low}..{high}",
            "detector_pool": str(len(pool)), "detector_bos": "yes" if bos is not None else "no",
            "detector_sentences_measured": str(len(sentences)), "detector_control_init": RANDOM_INIT,
            "detector_copying": COPYING if copying is not None else "not computed: the architecture's weights are "
                                                                    "not laid out as GPT-2's or Llama's",
            "detector_intact_loss": f"{float(np.mean(intact)):.6g}"})
        return {"head_detectors": sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3])),
                "detector_roles": roles, "detector_ablation": ablation}

    def _sentences(self, sentences) -> list[list[int]]:
        """The corpus sentences' token ids, those that repeat a token (special ones aside)."""
        tok, special = self.loaded.tokenizer, set(self.loaded.tokenizer.all_special_ids)
        out = []
        for s in sentences:
            ids = list(tok(s.text, split_special_tokens=True)["input_ids"][:self.loaded.info.max_length])
            plain = [t for t in ids if t not in special]
            if len(set(plain)) < len(plain):
                out.append(ids)
        return out

    def _repeated(self, loaded, sequences, advance, losses: bool = True) -> tuple[dict, list[float]]:
        """Each detector's per-sequence scores [S, L, H] (and the intact in-context losses, from the LM's logits)."""
        from .detector_passes import second_copy_loss

        info = loaded.info
        found = {name: np.zeros((len(sequences), info.n_layers, info.n_heads)) for name in DETECTORS}
        intact = [0.0] * len(sequences)

        def each(i, attention, out, row):
            ids, offset, n = sequences[i]
            for name, value in repeated_scores(attention, offset, n).items():
                found[name][i] = value
            if losses:
                intact[i] = second_copy_loss(out.logits[row], ids, offset, n)

        model = loaded.task if losses else loaded.model
        forward(model, device_of(loaded), [s[0] for s in sequences], loaded.tokenizer.pad_token_id or 0, each,
                advance=advance)
        return found, intact

    def _natural(self, sentences: list[list[int]], advance) -> dict[str, np.ndarray]:
        info, special = self.loaded.info, set(self.loaded.tokenizer.all_special_ids)
        found = {name: np.zeros((len(sentences), info.n_layers, info.n_heads)) for name in DETECTORS}

        def each(i, attention, _out, _row):
            for name, value in natural_scores(attention, sentences[i], special).items():
                found[name][i] = value

        forward(self.loaded.model, device_of(self.loaded), sentences, self.loaded.tokenizer.pad_token_id or 0, each,
                advance=advance)
        return found

    def _copying(self, model, unembedding) -> np.ndarray | None:
        info = self.loaded.info
        found = circuits(model, unembedding, info.n_heads, info.d_head)
        if found is None:
            return None
        return np.array([[copying_score(found[layer, head]) for head in range(info.n_heads)]
                         for layer in range(info.n_layers)])

    @staticmethod
    def _copying_rows(copying: np.ndarray | None, source: str) -> list[tuple]:
        if copying is None:
            return []
        return [(layer, head, "copying", source, float(copying[layer, head]), None, None, None, None)
                for layer in range(copying.shape[0]) for head in range(copying.shape[1])]

    def _ablation(self, roles: list[tuple], sequences, advance) -> list[tuple]:
        """The in-context loss intact, with each candidate induction head removed, with all of them, and with random
        heads of the same layers (detector_ablation rows); none where no head has the induction role."""
        o, info = self.options, self.loaded.info
        ranked = sorted((r for r in roles if r[2] == "induction"), key=lambda r: (-r[3], r[0], r[1]))
        candidates = [(r[0], r[1]) for r in ranked[:o.detector_candidates]]
        self.facts["detector_candidates"] = " ".join(head_label(*c) for c in candidates) or "none"
        if not candidates:
            return []
        sets = [("intact", None, [])] + [("head", None, [c]) for c in candidates]
        sets += [("candidates", None, sorted(candidates))]
        sets += [("random_draw", d, heads) for d, heads in
                 enumerate(random_draws(candidates, info.n_heads, o.detector_draws, o.detector_seed))]
        masks = np.ones((len(sets), info.n_layers, info.n_heads), dtype=np.float32)
        for k, (_, _, heads) in enumerate(sets):
            for layer, head in heads:
                masks[k, layer, head] = 0
        losses = in_context_losses(self.loaded, sequences, masks, advance)
        return ablation_rows(losses, sets, o.detector_seed)
