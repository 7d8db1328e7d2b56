"""How a table is declared (schema.py and checks.py declare them)."""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """One table: its name, what one row of it is, each column as (name, SQL type, meaning), and the type its rows
    are read as (`row`: a NamedTuple of its columns; by default one made from them)."""

    name: str
    about: str
    definition: tuple[tuple[str, str, str], ...]
    row: type | None = None

    @property
    def columns(self) -> list[str]:
        return [name for name, _type, _meaning in self.definition]

    @property
    def ddl(self) -> str:
        return ", ".join(f"{name} {sql}" for name, sql, _meaning in self.definition)

    @functools.cached_property
    def row_type(self) -> type:
        """The named row its reads return."""
        if self.row is not None:
            return self.row
        return collections.namedtuple("".join(p.title() for p in self.name.split("_")) + "Row", self.columns)
