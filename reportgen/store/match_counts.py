"""exBERT's aggregates of one search space counted in numpy from its match columns (MatchReads.match_columns) and
one lookup of the matched sentences' tokens (MatchReads.token_categories), instead of one DuckDB query per
aggregate and space: a head page needs three, and each query costs a few milliseconds whatever its size (on
SmolLM2's 305 pages, under the profiler, 990 queries took 6.2 s of 24.3 s). The rows, their values and their
order are those of MatchReads.annotation_counts and MatchReads.offset_counts, the SQL that defines them
(tests/test_aggregates.py compares the two on every space of a hand-built report, and the golden site is the
same bytes)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..vocab import FACETS as BASE_FACETS
from ..vocab import OFFSETS
from .rows import CategoryCount, MatchColumns

FACETS = tuple(sorted(BASE_FACETS))  # the annotation facets, in the order the SQL sorts them


class TokenCategories(NamedTuple):
    """Every token of the sentences some probe token matched, sorted by (sentence_id, token_idx) as `keys`
    (sentence_id * stride + token_idx): whether it is special, and its category in each facet as a code into that
    facet's sorted names ('special' for a special token, 'none' for a word outside any entity)."""

    keys: np.ndarray
    stride: int
    special: np.ndarray
    codes: dict[str, np.ndarray]
    names: dict[str, np.ndarray]

    def rows_of(self, sentence_ids, token_idx) -> np.ndarray:
        """The lookup's row of each (sentence_id, token_idx); every one must be a token of the lookup."""
        keys = np.asarray(sentence_ids, dtype=np.int64) * self.stride + np.asarray(token_idx, dtype=np.int64)
        return np.searchsorted(self.keys, keys)


def categories_of(sentence_id, token_idx, special, facets: dict[str, np.ndarray]) -> TokenCategories:
    """The lookup from a query's columns, sorted by (sentence_id, token_idx)."""
    sentence_id = np.asarray(sentence_id, dtype=np.int64)
    token_idx = np.asarray(token_idx, dtype=np.int64)
    stride = int(token_idx.max()) + 1 if len(token_idx) else 1
    codes, names = {}, {}
    for facet in FACETS:
        names[facet], codes[facet] = np.unique(np.asarray(facets[facet], dtype=object).astype(str),
                                               return_inverse=True)
    return TokenCategories(sentence_id * stride + token_idx, stride, np.asarray(special, dtype=bool), codes, names)


def _groups(found: MatchColumns, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each kept match's probe token as a number counted from 0 in the columns' order (by sentence_id, token_idx),
    and the sentence_id and token_idx of each number."""
    sid = np.asarray(found.sentence_id, dtype=np.int64)[keep]
    tok = np.asarray(found.token_idx, dtype=np.int64)[keep]
    new = np.ones(len(sid), dtype=bool)
    new[1:] = (sid[1:] != sid[:-1]) | (tok[1:] != tok[:-1])
    return np.cumsum(new) - 1, sid[new], tok[new]


def _counted(group: np.ndarray, codes: np.ndarray, n_codes: int, n_groups: int) -> np.ndarray:
    """[n_groups + 1, n_codes] counts: row 0 over every probe token, row g + 1 of probe token g."""
    counts = np.bincount((group + 1) * n_codes + codes, minlength=(n_groups + 1) * n_codes)
    counts = counts.reshape(n_groups + 1, n_codes)
    counts[0] = counts[1:].sum(0)
    return counts


Bars = dict  # (sentence_id, token_idx), or None for every probe token -> facet -> [(category, n)] in the SQL's order


def _laid_out(sid: np.ndarray, tok: np.ndarray, per_facet: list[tuple[str, np.ndarray, np.ndarray]],
              by_count: bool) -> Bars:
    """The counts grouped as the SQL's rows come: every probe token together first (key None), then each probe
    token in order; within one, facet by facet, its categories by count (largest first) then name, or by name
    alone. A facet without a count is absent."""
    rows, facets, counts, ranks, names = [], [], [], [], []
    for i, (_, categories, table) in enumerate(per_facet):
        row, code = np.nonzero(table)
        labels = categories.astype(str)
        rank = np.argsort(np.argsort(labels, kind="stable"), kind="stable")  # by name
        rows.append(row), facets.append(np.full(len(row), i)), counts.append(table[row, code])
        ranks.append(rank[code]), names.append(labels[code])
    row, facet, n, rank, name = (np.concatenate(x) for x in (rows, facets, counts, ranks, names))
    order = np.lexsort((rank, -n if by_count else np.zeros_like(n), facet, row))
    row, facet, n, name = row[order], facet[order], n[order].tolist(), name[order].tolist()
    starts = np.flatnonzero(np.diff(row) | np.diff(facet)) + 1
    facet_names = [f for f, _, _ in per_facet]
    keys = [None, *zip(sid.tolist(), tok.tolist())]
    out: Bars = {}
    for start, end in zip([0, *starts.tolist()], [*starts.tolist(), len(row)]):
        key = keys[int(row[start])]
        out.setdefault(key, {})[facet_names[int(facet[start])]] = list(zip(name[start:end], n[start:end]))
    return out


def as_rows(bars: Bars) -> list[CategoryCount]:
    """The grouped counts as the SQL's CategoryCount rows."""
    return [CategoryCount(*(key or (None, None)), facet, category, n) for key, facets in bars.items()
            for facet, found in facets.items() for category, n in found]


def _attended(found: MatchColumns) -> tuple[np.ndarray, np.ndarray]:
    """(which matches have a token they attend to most, that token's index), as the SQL's inner join keeps them."""
    attended = found.max_attended_token_idx
    keep = ~np.ma.getmaskarray(attended)
    return keep, np.ma.getdata(attended).astype(np.int64)


def annotation_counts(found: MatchColumns, categories: TokenCategories, attended: bool) -> Bars:
    """MatchReads.annotation_counts of the space whose match columns are `found`, grouped (`as_rows` gives the
    rows)."""
    if attended:
        keep, target = _attended(found)
    else:
        keep, target = np.ones(len(found.sentence_id), dtype=bool), np.asarray(found.match_token_idx, np.int64)
    group, sid, tok = _groups(found, keep)
    if not len(group):
        return {}
    rows = categories.rows_of(np.asarray(found.match_sentence_id)[keep], target[keep])
    per_facet = [(facet, categories.names[facet],
                  _counted(group, categories.codes[facet][rows], len(categories.names[facet]), len(sid)))
                 for facet in FACETS]
    return _laid_out(sid, tok, per_facet, by_count=True)


def offset_counts(found: MatchColumns, categories: TokenCategories) -> Bars:
    """MatchReads.offset_counts of the space whose match columns are `found`, grouped: the buckets '-3'..'+3',
    'further' and 'special' (where the attended token is a special token)."""
    keep, target = _attended(found)
    group, sid, tok = _groups(found, keep)
    if not len(group):
        return {}
    distance = target[keep] - np.asarray(found.match_token_idx, dtype=np.int64)[keep]
    special = categories.special[categories.rows_of(np.asarray(found.match_sentence_id)[keep], target[keep])]
    bucket = np.array(OFFSETS)  # '-3'..'+3' at 0..6, then 'further' and 'special'
    codes = np.where(special, OFFSETS.index("special"),
                     np.where(np.abs(distance) > 3, OFFSETS.index("further"), np.clip(distance, -3, 3) + 3))
    return _laid_out(sid, tok, [("offset", bucket, _counted(group, codes, len(bucket), len(sid)))], by_count=False)
