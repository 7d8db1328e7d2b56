"""The labelled examples of the edit study: synthetic edits of corpus sentences whose gold words are known, or a
user's JSONL file.

Edit types (one edit per edited sentence; the gold words are character spans of the edited text):

- misspelling: one word of 4+ letters gets two neighbouring inner letters swapped (or one doubled);
- swap: two neighbouring words change places (both are gold);
- insertion: a common word is inserted before a word (the inserted word is gold): Stevens & Su's "deleted words",
  words the editor deleted, present in the input;
- agreement: a present-tense verb (or was/were) takes the other number ("runs" -> "run", "are" -> "is");
- deletion: a word is deleted and its neighbouring words are gold (ours: the paper has no figure for a missing
  word);
- comma: a superfluous comma is inserted after a word that is followed by another word with nothing between
  (the comma is gold): the single-comma edits Stevens & Su's code selects, but as an insertion to find.

Unedited sentences are the negatives (label 0). Sentences are drawn, edited and split into train, validation
and test with one seeded generator, so the same corpus and seed give the same examples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..vocab import EDIT_TYPES, UNEDITED
SPLITS = (("train", 0.7), ("validation", 0.1), ("test", 0.2))
INSERTED = ("the", "very", "also", "not", "just", "only", "really", "then", "of", "and", "quite", "still")
MIN_WORDS, MAX_WORDS = 6, 40
TO_PLURAL = {"is": "are", "has": "have", "does": "do", "was": "were", "goes": "go"}
TO_SINGULAR = {v: k for k, v in TO_PLURAL.items()}


@dataclass(frozen=True)
class Example:
    example_id: int
    split: str  # train, validation, test
    edit_type: str  # one of EDIT_TYPES, or 'none' for an unedited sentence (or the type a user's file gives)
    label: int  # 1 edited, 0 not
    text: str
    gold: tuple[tuple[int, int], ...]  # character spans of the gold words in `text`


@dataclass(frozen=True)
class SimpleWord:
    text: str
    tag: str
    is_punct: bool
    start: int
    end: int


def _alpha(w: SimpleWord) -> bool:
    return w.text.isalpha() and not w.is_punct


def _replace(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _misspell(text, words, rng):
    found = [w for w in words if _alpha(w) and len(w.text) >= 4]
    if not found:
        return None
    w = found[rng.integers(len(found))]
    inner = [i for i in range(1, len(w.text) - 2) if w.text[i] != w.text[i + 1]]
    if inner:
        i = inner[rng.integers(len(inner))]
        new = w.text[:i] + w.text[i + 1] + w.text[i] + w.text[i + 2 :]
    else:
        new = w.text[:2] + w.text[1] + w.text[2:]
    return _replace(text, w.start, w.end, new), ((w.start, w.start + len(new)),)


def _swap(text, words, rng):
    pairs = [i for i in range(len(words) - 1) if _alpha(words[i]) and _alpha(words[i + 1])
             and words[i].text.lower() != words[i + 1].text.lower()]
    if not pairs:
        return None
    i = pairs[rng.integers(len(pairs))]
    a, b = words[i], words[i + 1]
    between = text[a.end : b.start]
    new = text[: a.start] + b.text + between + a.text + text[b.end :]
    first = (a.start, a.start + len(b.text))
    second_start = a.start + len(b.text) + len(between)
    return new, (first, (second_start, second_start + len(a.text)))


def _insert(text, words, rng):
    spots = [i for i in range(1, len(words)) if _alpha(words[i])]
    if not spots:
        return None
    w = words[spots[rng.integers(len(spots))]]
    inserted = INSERTED[rng.integers(len(INSERTED))]
    return _replace(text, w.start, w.start, inserted + " "), ((w.start, w.start + len(inserted)),)


def _other_number(word: str, tag: str) -> str | None:
    lower = word.lower()
    if not tag.startswith("VB"):
        return None
    if tag == "VBZ" or lower in TO_PLURAL:
        if lower in TO_PLURAL:
            new = TO_PLURAL[lower]
        elif lower.endswith(("ches", "shes", "sses", "xes")):
            new = lower[:-2]
        elif lower.endswith("ies") and len(lower) > 4:
            new = lower[:-3] + "y"
        elif lower.endswith("s") and not lower.endswith("ss"):
            new = lower[:-1]
        else:
            return None
    elif tag == "VBP" or lower in TO_SINGULAR:
        if lower in TO_SINGULAR:
            new = TO_SINGULAR[lower]
        elif lower in ("am", "'m", "'re", "'ve"):
            return None
        elif lower.endswith(("ch", "sh", "ss", "x", "o")):
            new = lower + "es"
        elif lower.endswith("y") and len(lower) > 2 and lower[-2] not in "aeiou":
            new = lower[:-1] + "ies"
        else:
            new = lower + "s"
    else:
        return None
    return new[0].upper() + new[1:] if word[0].isupper() else new


def _agreement(text, words, rng):
    found = [(w, new) for w in words if w.text.isalpha()
             for new in [_other_number(w.text, w.tag)] if new and new != w.text]
    if not found:
        return None
    w, new = found[rng.integers(len(found))]
    return _replace(text, w.start, w.end, new), ((w.start, w.start + len(new)),)


def _delete(text, words, rng):
    spots = [i for i in range(1, len(words) - 1) if _alpha(words[i])]
    if not spots:
        return None
    i = spots[rng.integers(len(spots))]
    before, gone, after = words[i - 1], words[i], words[i + 1]
    if gone.end < after.start:  # the word and the space after it
        cut = (gone.start, after.start)
    else:  # punctuation right after the word: the space before it goes instead ("the end." -> "the.")
        cut = (before.end, gone.end)
    new = text[: cut[0]] + text[cut[1] :]
    shift = cut[1] - cut[0]
    return new, ((before.start, before.end), (after.start - shift, after.end - shift))


def _comma(text, words, rng):
    spots = [i for i in range(len(words) - 1) if _alpha(words[i]) and _alpha(words[i + 1])
             and text[words[i].end : words[i + 1].start] == " "]
    if not spots:
        return None
    w = words[spots[rng.integers(len(spots))]]
    return _replace(text, w.end, w.end, ","), ((w.end, w.end + 1),)


EDITS = {"misspelling": _misspell, "swap": _swap, "insertion": _insert, "agreement": _agreement,
         "deletion": _delete, "comma": _comma}


def synthetic(sentences: list[tuple[str, list[SimpleWord]]], n: int, seed: int) -> list[Example]:
    """`n` examples (or as many as the sentences allow) from corpus sentences of MIN_WORDS to MAX_WORDS words:
    half of them edited, the edit types in turn in a seeded order, each sentence used once."""
    rng = np.random.default_rng(seed)
    usable = [s for s in sentences if MIN_WORDS <= len(s[1]) <= MAX_WORDS]
    order = rng.permutation(len(usable))
    made: list[tuple[str, int, str, tuple]] = []
    types = [EDIT_TYPES[i % len(EDIT_TYPES)] for i in rng.permutation(n)]  # balanced, shuffled
    want_edited = n // 2
    for pick in order:
        if len(made) >= n:
            break
        text, words = usable[pick]
        edited = sum(1 for m in made if m[1])
        if edited < want_edited and (len(made) - edited >= n - want_edited or rng.random() < 0.5):
            kind = types[edited]
            done = EDITS[kind](text, words, rng)
            if done is None:
                continue
            made.append((done[0], 1, kind, done[1]))
        else:
            made.append((text, 0, UNEDITED, ()))
    return _split([(t, label, kind, gold) for t, label, kind, gold in made], seed)


def _split(rows: list[tuple[str, int, str, tuple]], seed: int) -> list[Example]:
    """Assign train / validation / test (70/10/20) with the seed, stratified by edit type."""
    rng = np.random.default_rng(seed + 1)
    split_of = [""] * len(rows)
    by_type: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_type.setdefault(r[2], []).append(i)
    for kind in sorted(by_type):
        members = [by_type[kind][j] for j in rng.permutation(len(by_type[kind]))]
        edges = np.cumsum([0] + [round(share * len(members)) for _, share in SPLITS[:-1]])
        for (name, _), lo, hi in zip(SPLITS, edges, list(edges[1:]) + [len(members)]):
            for i in members[lo:hi]:
                split_of[i] = name
    return [Example(i, split_of[i], kind, label, text, gold) for i, (text, label, kind, gold) in enumerate(rows)]


def read_jsonl(path: Path, seed: int, all_test: bool) -> list[Example]:
    """A user's examples: one JSON object per line with `text`, `label` (0 or 1) and `gold` (a list of
    [start, end] character spans of the gold words; required for label 1), and optionally `type` (an edit type
    name, for per-type figures) and `split` (train, validation or test). Lines without `split` are split with the
    seed, or all go to test when `all_test` (a given classifier is only measured)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"--data {path}: file not found; check the path") from None
    except UnicodeDecodeError:
        raise InputError(f"--data {path}: not UTF-8 text; convert the file to UTF-8") from None
    rows, given = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg}); fix or remove the line") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"].strip():
            raise InputError(f'{where}: expected an object with a non-empty string "text"')
        text = record["text"]
        label = record.get("label")
        if type(label) is not int or label not in (0, 1):
            raise InputError(f'{where}: "label" must be 0 (unedited) or 1 (edited), got {label!r}')
        gold = record.get("gold", [])
        if (not isinstance(gold, list) or not all(
                isinstance(g, list) and len(g) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in g)
                and 0 <= g[0] < g[1] <= len(text) for g in gold)):
            raise InputError(f'{where}: "gold" must be a list of [start, end] character spans inside the text')
        if label == 1 and not gold:
            raise InputError(f'{where}: an edited example (label 1) needs its gold words as "gold" spans')
        kind = record.get("type", "edited" if label else UNEDITED)
        if not isinstance(kind, str) or not kind:
            raise InputError(f'{where}: "type" must be a non-empty string')
        split = record.get("split")
        if split is not None and split not in [s for s, _ in SPLITS]:
            raise InputError(f'{where}: "split" must be train, validation or test, got {split!r}')
        rows.append((text, label, kind if label else UNEDITED, tuple(tuple(g) for g in gold)))
        given.append(split)
    if not rows:
        raise InputError(f"--data {path}: no examples; the file is empty")
    if all_test:
        given = [g or "test" for g in given]
    if all(g is not None for g in given):
        return [Example(i, g, r[2], r[1], r[0], r[3]) for i, (r, g) in enumerate(zip(rows, given))]
    split = _split(rows, seed)
    return [Example(e.example_id, g or e.split, e.edit_type, e.label, e.text, e.gold) for e, g in zip(split, given)]
