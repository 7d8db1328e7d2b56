"""Links and the pager between pages of one type."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    href: str
    label: str


@dataclass(frozen=True)
class Nav:
    up: Link
    prev: Link | None
    next: Link | None
    related: tuple[Link, ...]


def nav(here: int, count: int, make, up: Link, related: tuple[Link, ...]) -> Nav:
    """The pager of page `here` of `count` pages of one type (`make(n)`: the link to page n)."""
    return Nav(up, make(here - 1) if here > 0 else None, make(here + 1) if here + 1 < count else None, related)
