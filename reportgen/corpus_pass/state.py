"""The state of a corpus pass over some sentences (a shard): one instance of every accumulator of the registry's
entries it was given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..analyses.base import PassInputs, to_cpu


@dataclass
class PassState:
    """The accumulators, in registry order. States of disjoint shards merge exactly; the build merges its shards'
    states in order, wherever they were computed."""

    accumulators: list

    @classmethod
    def new(cls, accumulators: tuple[tuple[type, Any], ...], inputs: PassInputs, device) -> PassState:
        """A fresh state: each (accumulator class, its options) made with the pass's inputs on `device`."""
        return cls([kind.create(inputs, options, device) for kind, options in accumulators])

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
