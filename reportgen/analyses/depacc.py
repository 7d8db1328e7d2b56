"""Dependency accuracy per head (Clark et al. 2019, section 4 and `Syntax_Analysis.ipynb`), against their positional
baseline, with bootstrap intervals.

At word level (attention to a word: the sum over its tokens; from a word: the mean over its tokens; special tokens
are no words and are never predicted, and a word's attention to itself is ignored), every word is a dependent and
gets one predicted head, scored against its gold head (ROOT for a sentence's root, which no head predicts):

- dependent_to_head: the predicted head of a dependent is the word it attends to most;
- head_to_dependent (their "transpose"): the predicted head of a dependent is the word that attends to it most.

The baseline predicts the word at offset k from the dependent, k in -3..+2 (their `range(-3, 3)`), clamped to the
sentence: before the first word it predicts ROOT, past the last word the last word. Its best k is chosen per
relation (ties going to the larger k, as their `max((score, k))`), and one baseline serves both directions, since
both predict the dependent's head. Relations are spaCy's labels, `ROOT` and `punct` included, and `all` counts every
word. A dependent whose tokens were all truncated away, or whose gold head's were, is left out.

Uncertainty: the counts are kept per block of sentences (a sentence's block is its id modulo BLOCKS, so shards merge
exactly by adding counts), and a paired bootstrap resamples the non-empty blocks (BOOTSTRAP resamples, seed
BOOTSTRAP_SEED): the head and the baseline on the same resamples. Each cell gets the 95% percentile interval of its
accuracy and of its margin over the baseline; it is `significant` when the margin's interval corrected for the
number of cells of its head (Bonferroni: a two-sided normal interval at 1 - 0.05/m from the bootstrap's standard
error, m the head's relation-direction cells) lies above 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..options import option
from ..vocab import ALL_RELATIONS, DIRECTIONS
from .base import LayerBatch, PassInputs, in_inference_mode


@dataclass(frozen=True)
class DepOptions:
    min_dep_support: int = option(100, "The fewest arcs a dependency relation needs in the corpus to get a "
                                       "dependency accuracy (default: 100).", minimum=1)

OFFSETS = (-3, -2, -1, 0, 1, 2)
ROOT = -1  # the gold head of a root, and the baseline's prediction before the first word
BLOCKS = 256  # sentence blocks of the bootstrap (sentence id modulo BLOCKS)
BOOTSTRAP = 1000
BOOTSTRAP_SEED = 0
LEVEL = 0.95  # of the stored intervals
FAMILY_ALPHA = 0.05  # the significance level of a head's family of cells, Bonferroni-corrected


def baseline_predictions(n_words: int) -> np.ndarray:
    """[len(OFFSETS), n_words] the baseline's predicted head of each word of a sentence (ROOT before the first
    word, the last word past the last)."""
    words = np.arange(n_words)
    predicted = words[None, :] + np.asarray(OFFSETS)[:, None]
    return np.where(predicted < 0, ROOT, np.minimum(predicted, n_words - 1))


class DepAccuracy:
    """The accumulator: correct predictions per layer, direction, head, relation and sentence block (a tensor on
    the attention's device); dependents per relation and block, and the baseline's correct predictions per
    relation, offset and block (from the parses alone: numpy on the CPU)."""

    timing = "of which statistics"

    def __init__(self, n_layers: int, n_heads: int, min_support: int = 100):
        self.n_layers, self.n_heads, self.min_support = n_layers, n_heads, min_support
        self.relations: list[str] = []
        self._correct = None  # [L, 2, H, relations * BLOCKS] int32 tensor, made on the first batch's device
        self.support = np.zeros((0, BLOCKS), dtype=np.int64)
        self.baseline = np.zeros((0, len(OFFSETS), BLOCKS), dtype=np.int64)

    @classmethod
    def create(cls, inputs: PassInputs, options: DepOptions, device) -> DepAccuracy:
        return cls(inputs.n_layers, inputs.n_heads, options.min_dep_support)

    @property
    def correct(self) -> np.ndarray:
        """[L, H, relations, directions, BLOCKS] correct predictions, on the CPU."""
        r = len(self.relations)
        if self._correct is None:
            return np.zeros((self.n_layers, self.n_heads, r, len(DIRECTIONS), BLOCKS), dtype=np.int64)
        found = self._correct.cpu().numpy().astype(np.int64)[..., : r * BLOCKS]
        return found.reshape(self.n_layers, len(DIRECTIONS), self.n_heads, r, BLOCKS).transpose(0, 2, 3, 1, 4)

    def _grow(self, device) -> None:
        import torch

        have = 0 if self._correct is None else self._correct.shape[-1] // BLOCKS
        if self._correct is None or have < len(self.relations):
            device = device if self._correct is None else self._correct.device
            grown = torch.zeros((self.n_layers, len(DIRECTIONS), self.n_heads, len(self.relations) * BLOCKS),
                                dtype=torch.int32, device=device)
            if self._correct is not None:
                grown[..., : have * BLOCKS] = self._correct
            self._correct = grown

    def _indices(self, labels) -> np.ndarray:
        """Relation labels -> their indices, adding new relations (in order of first appearance)."""
        known = {r: i for i, r in enumerate(self.relations)}
        new = [r for r in dict.fromkeys(labels.tolist()) if r not in known]
        if new:
            for r in new:
                known[r] = len(self.relations)
                self.relations.append(r)
            grow = len(new)
            self.support = np.concatenate([self.support, np.zeros((grow, BLOCKS), np.int64)])
            self.baseline = np.concatenate([self.baseline, np.zeros((grow, *self.baseline.shape[1:]), np.int64)])
        return np.array([known[r] for r in labels.tolist()], dtype=np.int64)

    @staticmethod
    def dependents(info) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(row, word, gold head (ROOT for a root), relation label) of every dependent of the batch that has tokens
        and whose gold head has tokens (or is ROOT)."""
        _, _, has_tokens = info.word_matrices
        rows, words = np.nonzero(info.heads >= 0)
        heads = info.heads[rows, words]
        gold = np.where(heads == words, ROOT, heads)
        keep = has_tokens[rows, words] & ((gold == ROOT) | has_tokens[rows, np.maximum(gold, 0)])
        return rows[keep], words[keep], gold[keep], info.deps[rows[keep], words[keep]]

    def _count_parses(self, info, rows, words, gold, rel) -> None:
        """The dependents and the baseline's hits, per relation and block (once per batch: no attention needed)."""
        n_words = (info.heads >= 0).sum(1)
        block = (info.sentence_ids[rows] % BLOCKS).astype(np.int64)
        np.add.at(self.support, (rel, block), 1)
        for o, offset in enumerate(OFFSETS):
            predicted = words + offset
            predicted = np.where(predicted < 0, ROOT, np.minimum(predicted, n_words[rows] - 1))
            np.add.at(self.baseline, (rel[predicted == gold], o, block[predicted == gold]), 1)

    @in_inference_mode
    def update(self, batch: LayerBatch) -> None:
        import torch

        info = batch.info
        rows, words, gold, labels = self.dependents(info)
        if not len(rows):
            return
        rel = self._indices(labels)
        self._grow(batch.device)
        if batch.layer == 0:  # the dependents and the baseline do not depend on the layer
            self._count_parses(info, rows, words, gold, rel)
        on = lambda name, make: info.on(batch.device, name, make)  # noqa: E731
        attention = batch.word_attention()  # [B, H, W, W]: rows attend, columns are attended to
        has_tokens = on("dep_has_tokens", lambda: info.word_matrices[2])  # [B, W]
        to = attention.masked_fill(~has_tokens[:, None, None, :], -torch.inf)  # only words are predicted
        to.diagonal(dim1=-2, dim2=-1).fill_(-torch.inf)  # a word's attention to itself is ignored
        attending = attention.masked_fill(~has_tokens[:, None, :, None], -torch.inf)
        attending.diagonal(dim1=-2, dim2=-1).fill_(-torch.inf)
        rows_t, words_t = on("dep_rows", lambda: rows), on("dep_words", lambda: words)
        gold_t = on("dep_gold", lambda: gold)
        index = on("dep_index", lambda: rel * BLOCKS + info.sentence_ids[rows] % BLOCKS)
        predictions = (to.argmax(-1)[rows_t, :, words_t],  # the word each dependent attends to most [N, H]
                       attending.argmax(-2)[rows_t, :, words_t])  # the word that attends to it most
        for d, predicted in enumerate(predictions):
            hits = (predicted == gold_t[:, None]).T.to(torch.int32)  # [H, N]
            self._correct[batch.layer, d].index_add_(1, index, hits)

    @in_inference_mode
    def merge(self, other: DepAccuracy) -> None:
        rel = self._indices(np.array(other.relations, dtype=object))
        self.support[rel] += other.support
        self.baseline[rel] += other.baseline
        if other._correct is not None:
            self._grow(other._correct.device)
            theirs = other._correct.to(self._correct.device)
            index = (rel[:, None] * BLOCKS + np.arange(BLOCKS)[None, :]).reshape(-1)
            import torch

            self._correct[..., torch.as_tensor(index, device=self._correct.device)] += theirs[..., : len(index)]

    def results(self) -> dict[str, DepResult]:
        """relation -> its counts and bootstrap figures, for `all` and every relation with at least `min_support`
        dependents, `all` first, then by name."""
        correct, support, baseline = self.correct, self.support, self.baseline
        chosen = [i for i, r in enumerate(self.relations) if support[i].sum() >= self.min_support]
        groups = [(ALL_RELATIONS, list(range(len(self.relations))))] if support.sum() else []
        groups += [(self.relations[i], [i]) for i in sorted(chosen, key=lambda i: self.relations[i])]
        blocks = np.nonzero(support.sum(0))[0]  # the blocks that hold words
        weights = _resample(len(blocks))
        out = {}
        for relation, members in groups:
            out[relation] = DepResult.of(correct[:, :, members].sum(2)[..., blocks],
                                         support[members].sum(0)[blocks], baseline[members].sum(0)[:, blocks],
                                         weights)
        return out

    def tables(self) -> dict[str, list[tuple]]:
        results = self.results()
        cells = 2 * sum(relation != ALL_RELATIONS for relation in results)
        rows = []
        for relation, r in results.items():
            flags = r.significant(max(cells, 1))
            for layer in range(self.n_layers):
                for head in range(self.n_heads):
                    for d, direction in enumerate(DIRECTIONS):
                        at = (layer, head, d)
                        rows.append((layer, head, relation, direction, r.support, float(r.accuracy[at]),
                                     OFFSETS[r.best], float(r.baseline[r.best]), float(r.accuracy_low[at]),
                                     float(r.accuracy_high[at]), float(r.margin_low[at]), float(r.margin_high[at]),
                                     bool(flags[at])))
        return {"dep_accuracy": rows}


def _resample(n_blocks: int) -> np.ndarray:
    """[BOOTSTRAP, n_blocks] how often each block is drawn in each resample (with replacement, seeded)."""
    if not n_blocks:
        return np.zeros((BOOTSTRAP, 0))
    drawn = np.random.default_rng(BOOTSTRAP_SEED).integers(0, n_blocks, size=(BOOTSTRAP, n_blocks))
    return np.stack([np.bincount(row, minlength=n_blocks) for row in drawn]).astype(np.float64)


class DepResult:
    """One relation's figures: accuracy [L, H, 2], the baseline's accuracy per offset and its best offset's index,
    and the bootstrap's intervals and standard error of the margin, from per-block counts."""

    def __init__(self, support: int, accuracy, baseline, best: int, accuracy_low, accuracy_high, margin_low,
                 margin_high, margin_se):
        self.support, self.accuracy, self.baseline, self.best = support, accuracy, baseline, best
        self.accuracy_low, self.accuracy_high = accuracy_low, accuracy_high
        self.margin_low, self.margin_high, self.margin_se = margin_low, margin_high, margin_se
        self._significant: dict[int, np.ndarray] = {}

    @property
    def margin(self) -> np.ndarray:
        return self.accuracy - self.baseline[self.best]

    @classmethod
    def of(cls, correct: np.ndarray, support: np.ndarray, baseline: np.ndarray, weights: np.ndarray) -> DepResult:
        """correct [L, H, 2, blocks], support [blocks], baseline [offsets, blocks], weights [resamples, blocks]."""
        total = int(support.sum())
        accuracy = correct.sum(-1) / total
        rates = baseline.sum(-1) / total
        best = max(range(len(OFFSETS)), key=lambda o: (rates[o], OFFSETS[o]))  # ties: the larger offset
        with np.errstate(invalid="ignore", divide="ignore"):
            n = weights @ support  # [resamples]
            acc = np.einsum("rb,lhdb->rlhd", weights, correct.astype(np.float64)) / n[:, None, None, None]
            base = (weights @ baseline[best]) / n
        margin = acc - base[:, None, None, None]
        tails = [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2]
        acc_low, acc_high = np.nanpercentile(acc, tails, axis=0)
        margin_low, margin_high = np.nanpercentile(margin, tails, axis=0)
        return cls(total, accuracy, rates, best, acc_low, acc_high, margin_low, margin_high,
                   np.nanstd(margin, axis=0, ddof=1))

    def significant(self, cells: int) -> np.ndarray:
        """[L, H, 2] whether the margin's Bonferroni-corrected interval over `cells` cells lies above 0."""
        if cells not in self._significant:
            from scipy.stats import norm

            z = norm.ppf(1 - FAMILY_ALPHA / (2 * cells))
            self._significant[cells] = self.margin - z * self.margin_se > 0
        return self._significant[cells]
