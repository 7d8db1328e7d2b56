"""The database's tables: the schema section of the docs in code. Table names are constants, never data.

The tables every report has are here (CORE, and the study tables that `reportgen study` adds); each analysis's
registry entry (analyses/registry.py) names its own tables, and an analysis may declare new ones in its own module.
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass

SCHEMA_VERSION = "6"


@dataclass(frozen=True)
class Table:
    """One table: its name, its columns as SQL (`ddl`), what one row of it is, and the type its rows are read as
    (`row`: a NamedTuple of its columns; by default one made from them)."""

    name: str
    ddl: str
    about: str = ""
    row: type | None = None

    @property
    def columns(self) -> list[str]:
        return [c.strip().split()[0] for c in self.ddl.split(",") if not c.strip().startswith("PRIMARY")]

    @functools.cached_property
    def row_type(self) -> type:
        """The named row its reads return."""
        if self.row is not None:
            return self.row
        return collections.namedtuple("".join(p.title() for p in self.name.split("_")) + "Row", self.columns)


META = Table("meta", "key VARCHAR PRIMARY KEY, value VARCHAR")

SENTENCES = Table("sentences", "sentence_id INTEGER, role VARCHAR, source VARCHAR, text VARCHAR, truncated BOOLEAN")

WORDS = Table("words", ("sentence_id INTEGER, word_idx INTEGER, text VARCHAR, lemma VARCHAR, pos VARCHAR, tag VARCHAR, "
                    "dep VARCHAR, head_word_idx INTEGER, ent_type VARCHAR, is_punct BOOLEAN, "
                    "char_start INTEGER, char_end INTEGER"))

TOKENS = Table("tokens", ("sentence_id INTEGER, token_idx INTEGER, text VARCHAR, word_idx INTEGER, is_special BOOLEAN, "
                    "char_start INTEGER, char_end INTEGER"))

NEIGHBOURS = Table("neighbours", ("sentence_id INTEGER, token_idx INTEGER, space VARCHAR, layer INTEGER, head INTEGER, "
                    "rank INTEGER, match_sentence_id INTEGER, match_token_idx INTEGER, score DOUBLE, "
                    "match_max_attended_token_idx INTEGER"))

ATTENTION = Table("attention", ("sentence_id INTEGER, layer INTEGER, head INTEGER, from_token_idx INTEGER, "
                    "to_token_idx INTEGER, weight DOUBLE"))

HEAD_STATS = Table("head_stats", "layer INTEGER, head INTEGER, stat VARCHAR, value DOUBLE")

NEURON = Table("neuron", ("sentence_id INTEGER, layer INTEGER, head INTEGER, token_idx INTEGER, vector VARCHAR, dim INTEGER, "
                    "value DOUBLE"))

SOURCE_FILES = Table("source_files", ("role VARCHAR, name VARCHAR, sha256 VARCHAR, sentences INTEGER, source VARCHAR, "
                    "licence VARCHAR"))

# corpus base rates: how often each category occurs among all non-special corpus tokens ('matched', layer
# and head NULL) and among the tokens they attend to most ('attended', per head; head NULL = the mean of
# the layer's heads); facets pos, tag, dep, ent, and offset for 'attended'
BASE_COUNTS = Table("base_counts", ("population VARCHAR, layer INTEGER, head INTEGER, facet VARCHAR, category VARCHAR, "
                    "n BIGINT"))

# where the k-th score of a probe token's matches is tied with corpus contexts that were not kept
CUT_TIES = Table("cut_ties", ("sentence_id INTEGER, token_idx INTEGER, space VARCHAR, layer INTEGER, head INTEGER, "
                    "score DOUBLE, tied_kept INTEGER, tied_dropped BIGINT"))

# Clark et al.'s dependency accuracy per head, relation ('all': every word) and direction, with the best
# fixed-offset baseline, bootstrap intervals of the accuracy and of its margin over the baseline, and whether
# the margin is significant (Bonferroni over the head's cells)
DEP_ACCURACY = Table("dep_accuracy", ("layer INTEGER, head INTEGER, relation VARCHAR, direction VARCHAR, support BIGINT, "
                    "accuracy DOUBLE, baseline_offset INTEGER, baseline_accuracy DOUBLE, accuracy_low DOUBLE, "
                    "accuracy_high DOUBLE, margin_low DOUBLE, margin_high DOUBLE, significant BOOLEAN"))

# the mean Jensen-Shannon distance between two heads' attention over the sample sentences (both orders)
HEAD_DISTANCE = Table("head_distance", "layer_a INTEGER, head_a INTEGER, layer_b INTEGER, head_b INTEGER, distance DOUBLE")

# the heads laid out in 2-D by multidimensional scaling of head_distance
HEAD_MAP = Table("head_map", "layer INTEGER, head INTEGER, x DOUBLE, y DOUBLE")

HEAD_ROLES = Table("head_roles", "layer INTEGER, head INTEGER, role VARCHAR, evidence VARCHAR")

# what each probe's attributions explain: f at the input and at the baseline, Captum's convergence delta, and
# the attention rows the target is computed from (the read-out of the agreement and the rollout)
ATTRIBUTION_TARGETS = Table("attribution_targets", ("sentence_id INTEGER, target VARCHAR, description VARCHAR, value DOUBLE, "
                    "baseline_value DOUBLE, delta DOUBLE, readout VARCHAR"))

# how much the model's output changes when one head (head NULL: every head of the layer) is removed
HEAD_IMPORTANCE = Table("head_importance", ("layer INTEGER, head INTEGER, scope VARCHAR, sentence_id INTEGER, method VARCHAR, "
                    "value DOUBLE, ci_low DOUBLE, ci_high DOUBLE"))

# a sequence classifier's probability of every class on each probe (the softmax of its logits)
CLASS_PROBABILITIES = Table("class_probabilities", "sentence_id INTEGER, class_index INTEGER, label VARCHAR, probability DOUBLE")

# a score per probe token: integrated gradients, or the rollout from the target position after the last layer
ATTRIBUTIONS = Table("attributions", "sentence_id INTEGER, method VARCHAR, target VARCHAR, token_idx INTEGER, score DOUBLE")

# Spearman's rho over a probe's words between |integrated gradients| and the attention of the read-out rows:
# per head ('attention'), or per layer for the rollout up to that layer ('rollout', head NULL), with the share
# of the read-out's attention that reaches the probe's words
ATTRIBUTION_AGREEMENT = Table("attribution_agreement", ("sentence_id INTEGER, method VARCHAR, layer INTEGER, head INTEGER, spearman DOUBLE, "
                    "n_words INTEGER, word_share DOUBLE"))

# `reportgen study edits` (Stevens & Su 2020): the classifier's test metrics, every interpretability figure,
# the examples, and the words of the measured ones with their gold flag and attention rank
STUDY_METRICS = Table("study_metrics", "study VARCHAR, metric VARCHAR, value DOUBLE")

STUDY_FIGURES = Table("study_figures", ("study VARCHAR, subset VARCHAR, edit_type VARCHAR, source VARCHAR, layer INTEGER, "
                    "head INTEGER, measure VARCHAR, value DOUBLE, ci_low DOUBLE, ci_high DOUBLE, n INTEGER"))

STUDY_EXAMPLES = Table("study_examples", ("study VARCHAR, example_id INTEGER, split VARCHAR, edit_type VARCHAR, label INTEGER, "
                    "predicted INTEGER, text VARCHAR"))

STUDY_WORDS = Table("study_words", ("study VARCHAR, example_id INTEGER, word_idx INTEGER, text VARCHAR, char_start INTEGER, "
                    "char_end INTEGER, gold BOOLEAN, attention_rank INTEGER"))

# the tables of every report, whatever its analyses (the probes' attention and vectors are what the sentence pages
# draw); the analyses' tables follow them in registry order
CORE = (META, SENTENCES, WORDS, TOKENS, ATTENTION, NEURON, SOURCE_FILES)
STUDIES = (STUDY_METRICS, STUDY_FIGURES, STUDY_EXAMPLES, STUDY_WORDS)
STUDY_TABLES = tuple(t.name for t in STUDIES)
# the tables of the analyses reportgen ships (their registry entries name them)
ANALYSES = (NEIGHBOURS, HEAD_STATS, BASE_COUNTS, CUT_TIES, DEP_ACCURACY, HEAD_DISTANCE, HEAD_MAP, HEAD_ROLES,
            ATTRIBUTION_TARGETS, HEAD_IMPORTANCE, CLASS_PROBABILITIES, ATTRIBUTIONS, ATTRIBUTION_AGREEMENT)
# every table declared here, by name, for the store's own reads
KNOWN = {t.name: t for t in CORE + ANALYSES + STUDIES}
COLUMNS = {name: table.columns for name, table in KNOWN.items()}
