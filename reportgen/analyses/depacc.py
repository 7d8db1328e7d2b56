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
word. A word with no token of its own ("not" of "cannot", which the tokenizer keeps whole and gives to "can") is
represented by the token(s) that contain it (align.containing), as a dependent and as a predicted head, and counted
(`shared`); the words that share a token are not predicted for each other, since the one's attention to the other
is that token's attention to itself, ignored as a word's own is. A dependent whose tokens were all truncated away,
or whose gold head's were, is left out.

Uncertainty: the counts are kept per block of sentences (a sentence's block is its id modulo BLOCKS, so shards merge
exactly by adding counts), and a paired bootstrap resamples the non-empty blocks (BOOTSTRAP resamples, seed
BOOTSTRAP_SEED): the head and the baseline on the same resamples. Each cell gets the 95% percentile interval of its
accuracy and of its margin over the baseline, and the margin's interval corrected for the number of cells of its
head (Bonferroni: a two-sided normal interval at 1 - 0.05/m from the bootstrap's standard error, m the head's
relation-direction cells): the cell is `significant` where that corrected interval lies above 0, `below` where it
lies below 0. The corrected interval is the one the verdict rests on, and the one pages show beside it.

Rankings over the same resamples (reportgen.ranking: a neighbour ranks below only where the paired difference's
95% interval excludes 0): `table1_lead` marks, per relation and direction, the most accurate head and the heads no
paired test separates from it (Clark et al.'s Table 1 names one best head; we name the tie); `syntax_lead` marks,
per head, the cell that earns the syntax role with the largest margin and the cells tied with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..options import option
from ..ranking import rank
from ..vocab import ALL_RELATIONS, DIRECTIONS, SYNTAX_FLOOR, SYNTAX_MARGIN
from .base import (BLOCKS, BOOTSTRAP, BOOTSTRAP_SEED, LayerBatch, PassInputs, in_inference_mode, resample_percentiles,
                   resample_weights)


@dataclass(frozen=True)
class DepOptions:
    min_dep_support: int = option(100, "The fewest arcs a dependency relation needs in the corpus to get a "
                                       "dependency accuracy (default: 100).", minimum=1)

OFFSETS = (-3, -2, -1, 0, 1, 2)
ROOT = -1  # the gold head of a root, and the baseline's prediction before the first word
LEVEL = 0.95  # of the stored intervals
FAMILY_ALPHA = 0.05  # the significance level of a head's family of cells, Bonferroni-corrected
__all__ = ["BLOCKS", "BOOTSTRAP", "BOOTSTRAP_SEED", "OFFSETS", "DepAccuracy", "DepOptions", "DepResult"]


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
        self.shared = np.zeros((0, BLOCKS), dtype=np.int64)  # of `support`, dependents with no token of their own
        self.baseline = np.zeros((0, len(OFFSETS), BLOCKS), dtype=np.int64)
        self._results: dict[str, DepResult] | None = None  # made once the pass is over (results)

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
            self.shared = np.concatenate([self.shared, np.zeros((grow, BLOCKS), np.int64)])
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
        own = (info.word_of[rows][:, :, None] == words[:, None, None]).any((1, 2))  # [N] a token of its own
        np.add.at(self.shared, (rel[~own], block[~own]), 1)
        for o, offset in enumerate(OFFSETS):
            predicted = words + offset
            predicted = np.where(predicted < 0, ROOT, np.minimum(predicted, n_words[rows] - 1))
            np.add.at(self.baseline, (rel[predicted == gold], o, block[predicted == gold]), 1)

    @staticmethod
    def _excluded(info, rows: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[N, W] the words each dependent (`rows`, `words`) cannot be predicted to attend to, and cannot be
        predicted to be attended by: words without tokens, itself, and words it shares a token with."""
        no_tokens = ~info.word_matrices[2]  # [B, W]
        sharing = info.sharing | np.eye(info.heads.shape[1], dtype=bool)  # [B, W, W]
        return (no_tokens[rows] | sharing[rows, words], no_tokens[rows] | sharing[rows, :, words])

    @in_inference_mode
    def update(self, batch: LayerBatch) -> None:
        import torch

        info = batch.info
        rows, words, gold, labels = self.dependents(info)
        if not len(rows):
            return
        self._results = None
        rel = self._indices(labels)
        self._grow(batch.device)
        if batch.layer == 0:  # the dependents and the baseline do not depend on the layer
            self._count_parses(info, rows, words, gold, rel)
        on = lambda name, make: info.on(batch.device, name, make)  # noqa: E731
        attention = batch.word_attention()  # [B, H, W, W]: rows attend, columns are attended to
        rows_t, words_t = on("dep_rows", lambda: rows), on("dep_words", lambda: words)
        gold_t = on("dep_gold", lambda: gold)
        index = on("dep_index", lambda: rel * BLOCKS + info.sentence_ids[rows] % BLOCKS)
        # only words with tokens are predicted, and neither the word itself nor a word it shares a token with (that
        # token's attention to itself): [N, W] masks of each dependent's row and column, made once per batch
        to_mask, from_mask = on("dep_excluded", lambda: np.stack(self._excluded(info, rows, words)))
        predictions = (  # the word each dependent attends to most, and the word that attends to it most [N, H]
            attention[rows_t, :, words_t, :].masked_fill(to_mask[:, None, :], -torch.inf).argmax(-1),
            attention[rows_t, :, :, words_t].masked_fill(from_mask[:, None, :], -torch.inf).argmax(-1))
        for d, predicted in enumerate(predictions):
            hits = (predicted == gold_t[:, None]).T.to(torch.int32)  # [H, N]
            self._correct[batch.layer, d].index_add_(1, index, hits)

    @in_inference_mode
    def merge(self, other: DepAccuracy) -> None:
        self._results = None
        rel = self._indices(np.array(other.relations, dtype=object))
        self.support[rel] += other.support
        self.shared[rel] += other.shared
        self.baseline[rel] += other.baseline
        if other._correct is not None:
            self._grow(other._correct.device)
            theirs = other._correct.to(self._correct.device)
            index = (rel[:, None] * BLOCKS + np.arange(BLOCKS)[None, :]).reshape(-1)
            import torch

            self._correct[..., torch.as_tensor(index, device=self._correct.device)] += theirs[..., : len(index)]

    def results(self) -> dict[str, DepResult]:
        """relation -> its counts and bootstrap figures, for `all` and every relation with at least `min_support`
        dependents, `all` first, then by name (made once; an update or a merge makes them again)."""
        if self._results is None:
            self._results = self._make_results()
        return self._results

    def _make_results(self) -> dict[str, DepResult]:
        correct, support, baseline = self.correct, self.support, self.baseline
        chosen = [i for i, r in enumerate(self.relations) if support[i].sum() >= self.min_support]
        groups = [(ALL_RELATIONS, list(range(len(self.relations))))] if support.sum() else []
        groups += [(self.relations[i], [i]) for i in sorted(chosen, key=lambda i: self.relations[i])]
        blocks = np.nonzero(support.sum(0))[0]  # the blocks that hold words
        weights = resample_weights(len(blocks))
        out = {}
        for relation, members in groups:
            out[relation] = DepResult.of(correct[:, :, members].sum(2)[..., blocks],
                                         support[members].sum(0)[blocks], baseline[members].sum(0)[:, blocks],
                                         weights, blocks)
        return out

    def tables(self) -> dict[str, list[tuple]]:
        results = self.results()
        cells = family(results)
        leads = {relation: table1_leads(r) for relation, r in results.items()}
        syntax = syntax_leads(results, self.n_layers, self.n_heads)
        index = {r: i for i, r in enumerate(self.relations)}
        shared = {relation: int(self.shared.sum() if relation == ALL_RELATIONS else self.shared[index[relation]].sum())
                  for relation in results}
        rows = []
        for relation, r in results.items():
            flags = r.significant(cells)
            low, high = r.corrected(cells)
            for layer in range(self.n_layers):
                for head in range(self.n_heads):
                    for d, direction in enumerate(DIRECTIONS):
                        at = (layer, head, d)
                        rows.append((layer, head, relation, direction, r.support, float(r.accuracy[at]),
                                     OFFSETS[r.best], float(r.baseline[r.best]), float(r.accuracy_low[at]),
                                     float(r.accuracy_high[at]), float(r.margin_low[at]), float(r.margin_high[at]),
                                     bool(flags[at]), float(low[at]), float(high[at]), bool(high[at] < 0),
                                     bool(leads[relation][layer, head, d]), (relation, d) in syntax[layer][head],
                                     shared[relation]))
        return {"dep_accuracy": rows}


def family(results: dict) -> int:
    """The number of cells a head's verdicts are corrected for: every relation other than `all`, both directions
    (at least 1)."""
    return max(2 * sum(relation != ALL_RELATIONS for relation in results), 1)


def table1_leads(result: DepResult) -> np.ndarray:
    """[L, H, 2] the heads in Table 1's leading group for this relation, per direction: the most accurate and those
    no paired test over the block resamples separates from it (exact ties where the result has no resamples)."""
    n_layers, n_heads, _ = result.accuracy.shape
    out = np.zeros(result.accuracy.shape, dtype=bool)
    for d in range(len(DIRECTIONS)):
        cells = [(layer, head, d) for layer in range(n_layers) for head in range(n_heads)]
        ranking = rank([float(result.accuracy[c]) for c in cells], result.resampled(cells, "accuracy"))
        for i in ranking.first:
            out[cells[i]] = True
    return out


def syntax_cells_of(results: dict, layer: int, head: int) -> list[tuple[str, int]]:
    """(relation, direction index) of every cell of a head that earns the syntax role: not `all`, its margin's
    corrected interval above 0, a margin of at least SYNTAX_MARGIN and an accuracy of at least SYNTAX_FLOOR."""
    cells = family(results)
    return [(relation, d) for relation, r in results.items() if relation != ALL_RELATIONS
            for d in range(len(DIRECTIONS)) if r.earns_syntax(cells)[layer, head, d]]


def syntax_ranking(results: dict, layer: int, head: int) -> tuple[list[tuple[str, int]], object]:
    """A head's cells that earn the syntax role, in order of relation and direction, and their ranking by margin
    (reportgen.ranking: tie groups from the paired block bootstrap; every relation is resampled alike)."""
    cells = syntax_cells_of(results, layer, head)
    values = [float(results[rel].margin[layer, head, d]) for rel, d in cells]
    drawn = [results[rel].resampled([(layer, head, d)], "margin") for rel, d in cells]
    resampled = np.concatenate(drawn, axis=1) if cells and all(x is not None for x in drawn) else None
    return cells, rank(values, resampled)


def syntax_leads(results: dict, n_layers: int, n_heads: int) -> list[list[set[tuple[str, int]]]]:
    """[layer][head] the cells of the head's leading group by margin among those that earn the syntax role."""
    out = []
    for layer in range(n_layers):
        row = []
        for head in range(n_heads):
            cells, ranking = syntax_ranking(results, layer, head)
            row.append({cells[i] for i in ranking.first})
        out.append(row)
    return out


@dataclass(frozen=True)
class BlockCounts:
    """One relation's counts per sentence block (the non-empty blocks, by number) and the bootstrap's weights of those
    blocks, from which any cell's accuracy and margin on every resample are made when asked."""

    blocks: np.ndarray  # [b] the blocks' numbers (sentence id modulo BLOCKS)
    correct: np.ndarray  # [L, H, 2, b]
    support: np.ndarray  # [b]
    baseline: np.ndarray  # [b] the best offset's correct predictions
    weights: np.ndarray  # [resamples, b]
    by_offset: np.ndarray  # [offsets, b] every offset's correct predictions

    def resampled(self, where=Ellipsis, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(accuracy, margin) on each resample of the cells `correct[where]` (an index of its first three axes):
        [resamples, *cells' shape]; NaN where a resample holds none of the relation's dependents. `weights`: other
        resamples of the same blocks (default: the result's own)."""
        weights = self.weights if weights is None else weights
        correct = self.correct[where].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            n = weights @ self.support
            extra = (None,) * (correct.ndim - 1)
            accuracy = np.tensordot(weights, correct, axes=([1], [correct.ndim - 1])) / n[(slice(None), *extra)]
            base = (weights @ self.baseline) / n
        return accuracy, accuracy - base[(slice(None), *extra)]


class DepResult:
    """One relation's figures: accuracy [L, H, 2], the baseline's accuracy per offset and its best offset's index,
    and the bootstrap's intervals and standard error of the margin, from per-block counts (`counts`, kept to resample
    any cell again: None for figures made by hand)."""

    def __init__(self, support: int, accuracy, baseline, best: int, accuracy_low, accuracy_high, margin_low,
                 margin_high, margin_se, counts: BlockCounts | None = None):
        self.support, self.accuracy, self.baseline, self.best = support, accuracy, baseline, best
        self.accuracy_low, self.accuracy_high = accuracy_low, accuracy_high
        self.margin_low, self.margin_high, self.margin_se = margin_low, margin_high, margin_se
        self.counts = counts
        self._z: dict[int, float] = {}

    @property
    def margin(self) -> np.ndarray:
        return self.accuracy - self.baseline[self.best]

    @classmethod
    def of(cls, correct: np.ndarray, support: np.ndarray, baseline: np.ndarray, weights: np.ndarray,
           blocks: np.ndarray | None = None) -> DepResult:
        """correct [L, H, 2, blocks], support [blocks], baseline [offsets, blocks], weights [resamples, blocks];
        `blocks` the blocks' numbers (default 0, 1, ...)."""
        total = int(support.sum())
        accuracy = correct.sum(-1) / total
        rates = baseline.sum(-1) / total
        best = max(range(len(OFFSETS)), key=lambda o: (rates[o], OFFSETS[o]))  # ties: the larger offset
        numbers = np.arange(len(support)) if blocks is None else np.asarray(blocks)
        counts = BlockCounts(numbers, correct, support, baseline[best], weights, baseline)
        acc, margin = counts.resampled()
        tails = [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2]
        acc_low, acc_high = resample_percentiles(acc, tails)
        margin_low, margin_high = resample_percentiles(margin, tails)
        return cls(total, accuracy, rates, best, acc_low, acc_high, margin_low, margin_high,
                   np.nanstd(margin, axis=0, ddof=1), counts)

    def z(self, cells: int) -> float:
        """The normal quantile of the two-sided interval at 1 - FAMILY_ALPHA / cells (Bonferroni)."""
        if cells not in self._z:
            from scipy.stats import norm

            self._z[cells] = float(norm.ppf(1 - FAMILY_ALPHA / (2 * cells)))
        return self._z[cells]

    def corrected(self, cells: int) -> tuple[np.ndarray, np.ndarray]:
        """[L, H, 2] each the margin's interval Bonferroni-corrected over `cells` cells: margin -/+ z * se."""
        half = self.z(cells) * self.margin_se
        return self.margin - half, self.margin + half

    def significant(self, cells: int) -> np.ndarray:
        """[L, H, 2] whether the margin's Bonferroni-corrected interval over `cells` cells lies above 0."""
        return self.corrected(cells)[0] > 0

    def earns_syntax(self, cells: int) -> np.ndarray:
        """[L, H, 2] the cells that earn the syntax role (roles.py): significant, a margin of at least
        SYNTAX_MARGIN, an accuracy of at least SYNTAX_FLOOR."""
        return (self.significant(cells) & (self.margin >= SYNTAX_MARGIN - 1e-12)
                & (self.accuracy >= SYNTAX_FLOOR))

    def resampled(self, cells: list[tuple[int, int, int]], figure: str = "margin") -> np.ndarray | None:
        """[resamples, len(cells)] the accuracy or margin of these (layer, head, direction) cells on each bootstrap
        resample (the same resamples for every cell and relation); None for figures made by hand."""
        if self.counts is None:
            return None
        index = tuple(np.array([c[i] for c in cells], dtype=np.int64) for i in range(3))
        accuracy, margin = self.counts.resampled(index)
        return accuracy if figure == "accuracy" else margin
