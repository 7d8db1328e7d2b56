"""A table of the database as code declares it: its name, what a row is, each column's type and meaning."""

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

    def __getstate__(self) -> dict:
        """Its fields, without the row type made from them (a class made at run time cannot be pickled: render
        processes are sent the analyses' tables)."""
        return {k: v for k, v in self.__dict__.items() if k != "row_type"}
