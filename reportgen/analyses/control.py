"""The control model (Adebayo et al. 2018, "Sanity Checks for Saliency Maps": model randomisation): the head
statistics, the dependency accuracy and the roles measured again on a randomly initialised copy of the model (the
same architecture and tokenizer; models.randomised, RANDOM_INIT, seeded by `control_seed`) over the first
`control_sentences` corpus sentences. What the architecture and the tokenizer give by themselves (attention spread
evenly by small random weights, position through the position embeddings) shows in the control; a role or a
Table 1 cell is claimed only where the model differs from it (checks.above_control, used by roles.py and
table1.py, which read these tables after the corpus pass).

It runs before the corpus pass, as a per-probe analysis of the registry: the corpus pass's own machinery
(corpus_pass.start over those sentences, spaCy's words made by that pass) with the two accumulators HeadStats and
DepAccuracy on the random model, which is why this module sits at the corpus pass's level. The stored dependency
accuracy keeps every relation the sentences hold (no `min_dep_support`), so that every cell of the model has a
control figure to be tested against (a relation with few dependents gets a wide interval, and so no claim); the
control's roles, like the model's, use only the relations with at least `min_dep_support` dependents. Standard
errors are block bootstraps, as the model's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..annotate import load_pipeline
from ..models import RANDOM_INIT, randomised
from ..options import option
from ..patterns import special_names
from ..progress import Clock, Progress
from ..vocab import ALL_RELATIONS, DIRECTIONS
from .base import PassInputs, resample_weights
from .depacc import OFFSETS, DepAccuracy, DepOptions
from .headstats import HeadStats
from .roles import role_rows


@dataclass(frozen=True)
class ControlOptions:
    control_sentences: int = option(1000, "How many of the first corpus sentences the control model (a randomly "
                                          "initialised copy of the model) is measured on; 0: no control (default: "
                                          "1000).", minimum=0)
    control_seed: int = option(0, "The torch seed of the control model's random initialisation (default: 0).",
                               minimum=0)


class Renamed(Progress):
    """Another progress's bars under one name (the control's pass is not the corpus's 'encode')."""

    def __init__(self, inner: Progress, name: str):
        self.inner, self.name = inner, name

    @contextlib.contextmanager
    def stage(self, name: str, total: int) -> Iterator[Callable[[int], None]]:
        with self.inner.stage(self.name, total) as advance:
            yield advance


def control_tables(stats: HeadStats, dep: DepAccuracy, names: dict[str, str],
                   min_support: int = 100) -> dict[str, list[tuple]]:
    """The control_head_stats, control_dep_accuracy and control_roles rows of a finished pass: the accuracy of
    every relation its sentences hold, the roles from the relations with at least `min_support` dependents there
    (the model's own rule: a relation of a few dependents would earn a role on noise)."""
    means = stats.means()
    blocks = stats.blocks()
    drawn = stats.resampled(resample_weights(len(blocks)), blocks)
    n_layers, n_heads = stats.shape
    heads = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
    stat_rows = [(layer, head, stat, float(values[layer, head]),
                  float(np.nanstd(drawn[stat][:, layer, head], ddof=1))) for layer, head in heads
                 for stat, values in means.items()]
    results = dep.results()
    dep_rows = [(layer, head, relation, direction, r.support, float(r.accuracy[layer, head, d]), OFFSETS[r.best],
                 float(r.baseline[r.best]), float(r.margin_se[layer, head, d]))
                for relation, r in results.items() for layer, head in heads for d, direction in enumerate(DIRECTIONS)]
    kept = {relation: r for relation, r in results.items() if relation == ALL_RELATIONS or r.support >= min_support}
    roles = role_rows(means, kept, names) if means else []
    return {"control_head_stats": stat_rows, "control_dep_accuracy": dep_rows, "control_roles": roles}


class ControlModel:
    """The registry's per-probe analysis that measures the control model (see the module's docstring)."""

    stage = "control model"

    def __init__(self, loaded, probes, config):
        self.loaded, self.config = loaded, config
        options = config.of(ControlOptions)
        self.n, self.seed = options.control_sentences, options.control_seed
        self.min_support = config.of(DepOptions).min_dep_support
        self.measured = 0

    def meta(self) -> dict[str, str]:
        return ({"control_sentences_measured": str(self.measured), "control_init": RANDOM_INIT} if self.n else {})

    def run(self, probes, progress: Progress, warned: list[str], corpus=(), store=None) -> dict[str, list[tuple]]:
        from .. import corpus_pass  # torch comes with it: not at the command line's start

        sample = list(corpus[:self.n])
        self.measured = len(sample)
        if not sample:
            return {}
        config, random = self.config, randomised(self.loaded, self.seed)
        info = random.info
        inputs = PassInputs(info.n_layers, info.n_heads, sample[0].sentence_id, None, None, ())
        spec = corpus_pass.PassSpec(config.model, config.max_length, config.device, config.dtype, config.batch_size,
                                    config.max_batch_tokens, inputs,
                                    ((HeadStats, None), (DepAccuracy, DepOptions(min_dep_support=1))))
        with corpus_pass.start(sample, load_pipeline(), config.batch_size) as run:
            result = run.run(random, spec, lambda table, rows: None, Clock(), Renamed(progress, "control"))
        stats, dep = result.state.accumulators
        names = special_names(probes.tokenized[0].tokens) if probes.tokenized else {}
        return control_tables(stats, dep, names, self.min_support)
