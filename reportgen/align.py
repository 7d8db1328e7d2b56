"""Every mapping between model tokens and spaCy words, in one place: which word a token belongs to (through
character offsets), the text a token shows, the units of a sentence page (words, special tokens alone), and the
merges from tokens to words (Clark et al. 2019): attention *to* a word is the sum over its tokens, attention
*from* a word the mean over its tokens; special tokens belong to no word.

A word can have no token of its own: spaCy splits "cannot" into "can" + "not" and "°C" into "°" + "C" where the
model's tokenizer keeps one token, which goes to the first word (`align`). Where words are merged for an analysis
that scores every word (the dependency accuracy), such a word is represented by the token(s) that contain it, the
ones it shares with its neighbour (`containing`), rather than left out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np


def align(offsets: Sequence[tuple[int, int]], special: Sequence[bool], words: Sequence) -> list[int | None]:
    """The word each token belongs to, through character offsets; None for special tokens. `words` have
    word_idx, char_start and char_end.

    A token belongs to the word it overlaps most (the first on a tie). A token that overlaps no
    word (whitespace-only pieces of byte-level tokenizers) goes to the next word, or the last one.
    """
    out: list[int | None] = []
    for (start, end), is_special in zip(offsets, special):
        if is_special or not words:
            out.append(None)
            continue
        best, best_overlap = None, 0
        for w in words:
            overlap = min(end, w.char_end) - max(start, w.char_start)
            if overlap > best_overlap:
                best, best_overlap = w.word_idx, overlap
        if best is None:
            following = [w.word_idx for w in words if w.char_start >= start]
            best = following[0] if following else words[-1].word_idx
        out.append(best)
    return out


def containing(tokens: Sequence, words: Sequence) -> list[tuple[int, int]]:
    """(token_idx, word_idx) of each word that no token belongs to, with every non-special token whose characters
    overlap the word's (the token it shares with its neighbour): "not" of "cannot" gets the token "cannot". A word
    that no token overlaps (truncated away) gets none. `tokens` have token_idx, word_idx, is_special, char_start and
    char_end; `words` word_idx, char_start and char_end."""
    owned = {t.word_idx for t in tokens if not t.is_special and t.word_idx is not None}
    return [(t.token_idx, w.word_idx) for w in words if w.word_idx not in owned for t in tokens
            if not t.is_special and min(t.char_end, w.char_end) > max(t.char_start, w.char_start)]


def token_text(sentence: str, piece: str, special: bool, start: int, end: int) -> str:
    """What a token shows: its span of the sentence (no '##' or byte-level marks), or the special token's name."""
    return piece if special else sentence[start:end]


def membership(word_of: np.ndarray, n_words: int, dtype=np.float32,
               shared: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean, member) [..., T, W] of token-to-word indexes word_of [..., T] (-1: no word): member[..., t, w] = 1
    when token t is part of word w; mean is member with each word's column divided by its number of tokens (a
    word without tokens stays 0). Word-level attention is mean^T A member. `shared` [N, word_of.ndim + 1]: the
    indexes (..., token, word) of tokens that also stand for a word with no token of its own (`containing`)."""
    word_of = np.asarray(word_of)
    member = np.zeros((*word_of.shape, max(n_words, 1)), dtype=dtype)
    index = np.nonzero(word_of >= 0)
    member[(*index, word_of[index])] = 1
    if shared is not None and len(shared):
        member[tuple(np.asarray(shared).T)] = 1
    counts = member.sum(-2, keepdims=True)
    return member / np.maximum(counts, 1), member


def attention_to_words(attention: np.ndarray, word_of: Sequence[int], n_words: int) -> np.ndarray:
    """Attention [..., T, T] between tokens -> [..., W, W] between words (every token in some word: rows still
    sum to 1): the mean over the attending word's tokens of the sum over the attended word's tokens."""
    mean, member = membership(np.asarray(word_of), n_words, np.float64)
    return np.einsum("tu,...ts,sv->...uv", mean, attention, member)


def to_words(scores: np.ndarray, word_of: Sequence[int | None], n_words: int) -> np.ndarray:
    """Token scores [..., T] -> word scores [..., W]: the sum over each word's tokens; special tokens (None)
    belong to no word and are dropped."""
    scores = np.asarray(scores, dtype=np.float64)
    out = np.zeros(scores.shape[:-1] + (n_words,))
    for token, word in enumerate(word_of):  # in token order: equal words sum to equal values, as ranks need
        if word is not None:
            out[..., word] += scores[..., token]
    return out


def word_units(text: str, tokens: Sequence, words: Sequence) -> tuple[list[int], list[str], list[tuple[str, str]]]:
    """Group a sentence's model tokens (TokenRow) into its spaCy words (WordRow; special tokens stay alone): the
    unit of each token, each unit's label, and (word, its tokens) for every word made of more than one token."""
    word_text = {w.word_idx: w.text for w in words}
    unit_of: dict[tuple, int] = {}
    units, labels, members = [], [], defaultdict(list)
    for t in tokens:
        key = ("token", t.token_idx) if t.is_special or t.word_idx is None else ("word", t.word_idx)
        if key not in unit_of:
            unit_of[key] = len(labels)
            labels.append(t.text if key[0] == "token" else word_text.get(t.word_idx, text[t.char_start:t.char_end]))
        units.append(unit_of[key])
        members[unit_of[key]].append(token_text(text, t.text, t.is_special, t.char_start, t.char_end))
    pieces = [(labels[u], " + ".join(m)) for u, m in members.items() if len(m) > 1]
    return units, labels, pieces


def held(special: list[bool], causal: bool) -> list[bool]:
    """Which of a probe's tokens the baseline keeps as they are: the special ones, and a causal model's first
    token (analyses/attribution.py's docstring)."""
    return [s or (causal and i == 0) for i, s in enumerate(special)]


def held_words(word_of: list[int | None], keep: list[bool]) -> frozenset[int]:
    """The words every token of which the baseline keeps (held): they get no attribution, and the agreement leaves
    them out."""
    free = {w for w, k in zip(word_of, keep) if w is not None and not k}
    return frozenset(w for w, k in zip(word_of, keep) if w is not None and k and w not in free)
