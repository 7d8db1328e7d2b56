"""The one place an analysis is registered. The build and the corpus pass hold these lists and know no analysis
by name: a new analysis is a module in analyses/ (and its pages), added to one list here.

- ACCUMULATORS: fed one layer of one corpus batch at a time (analyses/base.py's protocol: `create`, `update`,
  `merge`, `tables`); their tables are written in this order after the pass.
- DERIVED: computed after the pass from the accumulators (and the stored corpus): `f(accumulators, store) ->
  tables`.
- PROBE_ANALYSES: per probe, after the probes are encoded: `cls(loaded, probes, config)` checks its targets before
  any work, `.run(probes, progress, warnings, corpus) -> tables` (corpus: the corpus sentences, for an analysis
  that measures some of them with the model), `.meta() -> {key: value}` for the meta table.
"""

from __future__ import annotations

from .attribution import ProbeAttributions
from .baserates import AttendedCounts, matched_base_counts
from .depacc import DepAccuracy
from .headstats import HeadStats
from .importance import HeadImportance
from .roles import head_roles
from .search import TopK
from .similarity import HeadDistances

ACCUMULATORS = (TopK, HeadStats, DepAccuracy, HeadDistances, AttendedCounts)
DERIVED = (head_roles, matched_base_counts)
PROBE_ANALYSES = (ProbeAttributions, HeadImportance)
