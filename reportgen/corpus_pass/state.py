"""The state of a corpus pass over some sentences (a shard): one instance of every registered accumulator."""

from __future__ import annotations

from dataclasses import dataclass

from ..analyses.base import AnalysisSettings, to_cpu
from ..analyses.registry import ACCUMULATORS


@dataclass
class PassState:
    """The accumulators of ACCUMULATORS, in order. States of disjoint shards merge exactly; the build merges its
    shards' states in order, wherever they were computed."""

    accumulators: list

    @classmethod
    def new(cls, settings: AnalysisSettings, device) -> PassState:
        return cls([kind.create(settings, device) for kind in ACCUMULATORS])

    def merge(self, other: PassState) -> None:
        for mine, theirs in zip(self.accumulators, other.accumulators):
            mine.merge(theirs)

    def portable(self) -> PassState:
        """This state with every tensor on the CPU and out of inference mode, to send to another process."""
        for accumulator in self.accumulators:
            getattr(accumulator, "settle", lambda: None)()
            to_cpu(accumulator)
        return self

    def tables(self) -> dict[str, object]:
        """Every accumulator's tables, in registry order."""
        out: dict[str, object] = {}
        for accumulator in self.accumulators:
            out.update(accumulator.tables())
        return out
