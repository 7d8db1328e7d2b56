"""The rows the store's reads return: one named type per kind of row, so that no caller unpacks by position.

A row of a table read whole has that table's columns in schema order (WordRow, TokenRow, ...); aggregates have
their own types. Being NamedTuples, they still compare equal to plain tuples. The two bulk numeric reads (a probe's
attention and vectors) come back as named columns instead (AttentionColumns, NeuronColumns).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..annotate import Word as WordRow  # noqa: F401 (a row of `words` is the record spaCy's words are made into)


class SentenceRow(NamedTuple):
    sentence_id: int
    source: str
    text: str
    truncated: bool


class TextRow(NamedTuple):
    sentence_id: int
    text: str


class TokenRow(NamedTuple):
    """A row of `tokens`: a model token of a sentence (word_idx None for special tokens; offsets are characters into
    the sentence text, (0, 0) for special tokens). The tokeniser's tokens are these records (encode.Token)."""

    sentence_id: int
    token_idx: int
    text: str
    word_idx: int | None
    is_special: bool
    char_start: int
    char_end: int


class Counts(NamedTuple):
    """What the corpus holds, as the overview and the about page count it."""

    sentences: int
    words: int
    tokens: int  # every model token, special tokens included
    truncated: int
    probes: int
    duplicates: int
    special_tokens: int  # of `tokens`


class AttentionColumns(NamedTuple):
    """Rows of `attention` as columns (numpy arrays of equal length): a probe's weights are many, and pages fill
    matrices from them."""

    sentence_id: np.ndarray
    layer: np.ndarray
    head: np.ndarray
    from_token_idx: np.ndarray
    to_token_idx: np.ndarray
    weight: np.ndarray


class NeuronColumns(NamedTuple):
    """Rows of `neuron` as columns (numpy arrays of equal length): every element of a probe's query and key
    vectors."""

    sentence_id: np.ndarray
    layer: np.ndarray
    head: np.ndarray
    token_idx: np.ndarray
    vector: np.ndarray
    dim: np.ndarray
    value: np.ndarray


class HeadStatRow(NamedTuple):
    layer: int
    head: int
    stat: str
    value: float


class CategoryCount(NamedTuple):
    """How many matches of a probe token (both None: of every probe token) fall in a category of a facet."""

    sentence_id: int | None
    token_idx: int | None
    facet: str
    category: str
    n: int


class BaseCount(NamedTuple):
    facet: str
    category: str
    n: int


class MatchRow(NamedTuple):
    sentence_id: int
    token_idx: int
    match_sentence_id: int
    match_token_idx: int
    max_attended_token_idx: int
    score: float


class MatchColumns(NamedTuple):
    """MatchRow's fields as columns (numpy arrays of equal length, masked where a value is NULL): a head's matches
    are k per probe token."""

    sentence_id: np.ndarray
    token_idx: np.ndarray
    match_sentence_id: np.ndarray
    match_token_idx: np.ndarray
    max_attended_token_idx: np.ndarray
    score: np.ndarray


class CutTieRow(NamedTuple):
    sentence_id: int
    token_idx: int
    score: float
    tied_kept: int
    tied_dropped: int
    open_ended: bool = False


class TargetRow(NamedTuple):
    sentence_id: int
    target: str
    description: str
    value: float
    baseline_value: float
    delta: float
    readout: str
    steps: int


class ImportanceRow(NamedTuple):
    layer: int
    head: int | None  # None: every head of the layer
    scope: str  # 'corpus' or 'probe'
    sentence_id: int | None  # the probe, for scope 'probe'
    method: str  # 'ablation', 'flip' (a classifier's), 'gradient' and its variants (importance_stats.PROXY_METHODS)
    value: float
    ci_low: float | None
    ci_high: float | None
    rank: int | None = None  # 'corpus' 'ablation': 1 + the heads ranked above it; tied heads share it


class ClassProbabilityRow(NamedTuple):
    sentence_id: int
    class_index: int
    label: str
    probability: float


class ScoreRow(NamedTuple):
    sentence_id: int
    method: str
    token_idx: int
    score: float


class AgreementRow(NamedTuple):
    sentence_id: int
    method: str
    layer: int
    head: int | None
    spearman: float | None
    n_words: int
    word_share: float


class RoleRow(NamedTuple):
    layer: int
    head: int
    role: str
    evidence: str
    relation: str | None
    direction: str | None
    stability: float
    role_stability: float
    value: float | None
    se: float | None
    rank_group: int | None
    control_role: str | None
    control_value: float | None
    control_se: float | None
    claimed: bool | None


class DepAccuracyRow(NamedTuple):
    layer: int
    head: int
    relation: str
    direction: str
    support: int
    accuracy: float
    baseline_offset: int
    baseline_accuracy: float
    accuracy_low: float
    accuracy_high: float
    margin_low: float
    margin_high: float
    significant: bool
    margin_low_corrected: float
    margin_high_corrected: float
    below: bool
    table1_lead: bool
    syntax_lead: bool
    shared: int = 0


class HeadDistanceRow(NamedTuple):
    layer_a: int
    head_a: int
    layer_b: int
    head_b: int
    distance: float


class MapPoint(NamedTuple):
    layer: int
    head: int
    x: float
    y: float


class NearestHead(NamedTuple):
    layer: int
    head: int
    near_layer: int
    near_head: int
    distance: float


class StudyFigureRow(NamedTuple):
    subset: str
    edit_type: str
    source: str
    layer: int | None
    head: int | None
    measure: str
    value: float
    ci_low: float
    ci_high: float
    n: int


class StudyExampleRow(NamedTuple):
    example_id: int
    edit_type: str
    predicted: int | None
    text: str


class StudyWordRow(NamedTuple):
    word_idx: int
    text: str
    char_start: int
    char_end: int
    gold: bool
    attention_rank: int
