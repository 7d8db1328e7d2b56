"""The one place an analysis is registered: one entry (unit.Unit) per analysis, holding everything it declares (its
options, its accumulator, derived or per-probe computation, its tables and its page sections). The build, the corpus
pass, the command line, the configuration, the database and the pages take what they need from these entries and
name no analysis. A new analysis is a module in analyses/ (and its sections in site/sections/), added here once.

Order matters where it shows: per-probe analyses run in this order before the corpus pass, accumulators' tables are
written in this order after it, then the derived analyses run in this order; pages place sections by their own
`order`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import Config
from ..config import load_config as load_with
from ..store import checks, detector_tables, lens_tables, schema
from ..unit import Unit
from .attribution import AttributionOptions, ProbeAttributions
from .baselines import agreement_baselines
from .baserates import AttendedCounts, matched_base_counts
from .control import ControlModel, ControlOptions
from .depacc import DepAccuracy, DepOptions
from .detectors import DetectorOptions, HeadDetectors
from .faithfulness import Faithfulness
from .headstats import HeadStats
from .importance import HeadImportance, ImportanceOptions
from .logit_lens import LensOptions, LogitLens
from .roles import head_roles
from .table1 import table1
from .search import SearchOptions, TopK
from .similarity import HeadDistances, SimilarityOptions

UNITS: tuple[Unit, ...] = (
    Unit("search", "exBERT's search: each probe token's closest corpus contexts per layer and head",
         options=SearchOptions, tables=(schema.NEIGHBOURS, schema.CUT_TIES), accumulator=TopK, sections="search"),
    Unit("headstats", "Clark et al.'s head statistics, by weight and by what attention moves (Kobayashi et al.)",
         tables=(schema.HEAD_STATS,), accumulator=HeadStats, sections="headstats"),
    Unit("depacc", "Clark et al.'s dependency accuracy against the best fixed offset, with bootstrap intervals, and "
                   "Table 1 with its best head picked on half of the sentences and scored on the other half",
         options=DepOptions, tables=(schema.DEP_ACCURACY, checks.DEP_TABLE1), accumulator=DepAccuracy,
         derived=table1, sections="depacc"),
    Unit("similarity", "the distances between heads' attention and the map of the heads",
         options=SimilarityOptions, tables=(schema.HEAD_DISTANCE, schema.HEAD_MAP), accumulator=HeadDistances,
         sections="similarity"),
    Unit("baserates", "the corpus base rates the match histograms are read against",
         tables=(schema.BASE_COUNTS,), accumulator=AttendedCounts, derived=matched_base_counts),
    Unit("roles", "each head's role, from its statistics and its dependency accuracy, with its stability under "
                  "resampling and its test against the control model",
         tables=(schema.HEAD_ROLES, checks.ROLE_SENSITIVITY), derived=head_roles, sections="roles"),
    Unit("attribution", "integrated gradients and rollout on each probe, and where attention agrees with them more "
                        "than baselines that need no attention do",
         options=AttributionOptions, tables=(schema.ATTRIBUTION_TARGETS, schema.CLASS_PROBABILITIES,
                                             schema.ATTRIBUTIONS, schema.ATTRIBUTION_AGREEMENT,
                                             schema.AGREEMENT_BASELINES, schema.AGREEMENT_TESTS,
                                             schema.AGREEMENT_RANKS),
         probe=ProbeAttributions, derived=agreement_baselines, sections="attribution"),
    Unit("faithfulness", "whether the words each explanation ranks highest are those the output depends on: "
                         "ERASER's comprehensiveness and sufficiency (DeYoung et al.)",
         tables=(schema.FAITHFULNESS,), probe=Faithfulness, sections="faithfulness"),
    Unit("control", "the control model: the head statistics, the dependency accuracy and the roles of a randomly "
                    "initialised copy of the model (Adebayo et al.'s model randomisation)",
         options=ControlOptions, tables=(checks.CONTROL_HEAD_STATS, checks.CONTROL_DEP_ACCURACY,
                                         checks.CONTROL_ROLES), probe=ControlModel, sections="control"),
    Unit("importance", "which heads matter: each head and layer removed (Michel et al.), and the gradient proxy",
         options=ImportanceOptions, probe=HeadImportance, sections="importance",
         tables=(schema.HEAD_IMPORTANCE, schema.HEAD_IMPORTANCE_SENTENCES, schema.IMPORTANCE_REFERENCE)),
    Unit("detectors", "causal LMs: induction, previous-token, duplicate-token and copying heads (Olsson et al., "
                      "Elhage et al., TransformerLens's detectors), the induction heads confirmed by removing them",
         options=DetectorOptions, probe=HeadDetectors, sections="detectors", tables=detector_tables.TABLES),
    Unit("logit_lens", "causal LMs: what each layer predicts at each token of each probe, its residual stream put "
                       "through the final norm and the unembedding (nostalgebraist's logit lens)",
         options=LensOptions, probe=LogitLens, sections="logit_lens", tables=lens_tables.TABLES),
)


def options_of(units: tuple[Unit, ...] = UNITS) -> list[type]:
    """The options dataclasses of these analyses, in order."""
    return [u.options for u in units if u.options is not None]


def tables_of(units: tuple[Unit, ...] = UNITS) -> tuple[schema.Table, ...]:
    return tuple(t for u in units for t in u.tables)


def load_config(config_file: Path | None = None, units: tuple[Unit, ...] = UNITS, **overrides: Any) -> Config:
    """config.load_config with the options of these analyses (by default every registered one)."""
    return load_with(config_file, options_of(units), **overrides)
