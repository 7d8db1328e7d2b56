"""What every page's view reads of one report, once (`Report`), and the small pieces pages share: links, the
pager, shortened sentences, token keys."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from ...align import token_text
from ...store import Store
from ..links import Link, Nav, nav  # noqa: F401 (pages import them from here)
from .study import StudyPage, study_page


def token_key(sentence_id: int, token_idx: int) -> str:
    return f"{sentence_id}:{token_idx}"


def shorten(text: str, limit: int = 60) -> str:
    """A sentence cut to about `limit` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:") + "…"


def base_rates(rows) -> dict[str, dict[str, int]]:
    """BaseCount rows -> facet -> category -> n."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        out[r.facet][r.category] = r.n
    return out


@dataclass(frozen=True)
class ProbeToken:
    """A probe token as the match pages show it: its text in the sentence, and its word's POS and relation."""

    token_idx: int
    text: str
    is_special: bool
    pos: str
    dep: str
    # its categories in the base rates' facets (pos, tag, dep, ent), as the corpus's matched tokens are counted
    categories: tuple[str, str, str, str] = ("special",) * 4


class Report:
    """One open database as every page reads it: its meta, the model's shape, the probes and their tokens, the
    sections the pages place (by page kind, site.sections.sections_of) and what those sections read once for many
    pages (`shared`, site.sections.cached)."""

    def __init__(self, store: Store, shown: int, sections: dict[str, tuple] | None = None):
        self.store = store
        self.shown = shown
        self.sections = sections or {}
        self.shared: dict = {}
        self.meta = store.meta()
        self.n_layers = int(self.meta["n_layers"])
        self.n_heads = int(self.meta["n_heads"])
        self.probes = [(s.sentence_id, s.text) for s in store.sentences("probe")]
        texts = dict(self.probes)
        words = {(w.sentence_id, w.word_idx): w for w in store.words_of(self.probes[0][0], self.probes[-1][0])} \
            if self.probes else {}
        self.probe_tokens: dict[int, list[ProbeToken]] = defaultdict(list)
        for t in store.probe_tokens():
            w = words.get((t.sentence_id, t.word_idx))
            # as the base rates count a corpus token (Writes.fill_matched_base_counts): SQL's coalesce
            categories = (tuple("special" if v is None else v for v in (w.pos, w.tag, w.dep))
                          + ("none" if w.ent_type is None else w.ent_type,) if w else ("special",) * 4)
            self.probe_tokens[t.sentence_id].append(ProbeToken(
                t.token_idx, token_text(texts[t.sentence_id], t.text, t.is_special, t.char_start, t.char_end),
                t.is_special, (w.pos if w else None) or "", (w.dep if w else None) or "", categories))

    @property
    def model(self) -> str:
        return self.meta["model"]

    @cached_property
    def matched_base(self) -> dict[str, dict[str, int]]:
        """The categories of every non-special corpus token: the base rates of the matched tokens."""
        return base_rates(self.store.base_counts("matched"))

    @cached_property
    def token_categories(self):
        """The matched sentences' tokens and their categories, that a space's aggregates are counted with
        (store/match_counts.py)."""
        return self.store.token_categories()

    @cached_property
    def same_form(self) -> dict[tuple[str, int, int | None], tuple[int, int]]:
        """Per search space, how many of its matches are the probe token's own word form, and how many it has."""
        return self.store.same_form()

    @cached_property
    def study(self) -> StudyPage | None:
        return study_page(self.store, self.meta)
