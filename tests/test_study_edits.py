"""`reportgen study edits` (Stevens & Su 2020): the measure on hand-made scores, the synthetic edits on hand-made
sentences, user JSONL files, and the whole study on a tiny BERT (database, page, CLI errors, rebuilds).

Expectations are computed here from first principles (naive rankings, word sequences of the texts, the ranks the
database stores), never taken from the code under test.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from conftest import assert_clean_failure, axe_problems, build_small_site, drawn, tab_pages

from reportgen.cli import main
from reportgen.errors import InputError
from reportgen.studies import data, measure
from reportgen.studies.data import INSERTED, SimpleWord

pytestmark = pytest.mark.study

CORPUS = Path(__file__).resolve().parent.parent / "corpora" / "wikipedia.txt"
MEASURES = ("interpretable", "exact_match", "jaccard")


# ---------------------------------------------------------------------------------------------------------------
# 1. The measure on hand-made scores
# ---------------------------------------------------------------------------------------------------------------


def naive_order(scores) -> list[int]:
    """Highest score first, equal scores in sentence order (Python's sort is stable)."""
    return sorted(range(len(scores)), key=lambda i: -float(scores[i]))


def naive_judge(scores, gold) -> tuple[bool, bool, bool]:
    order = naive_order(scores)
    k = len(gold)
    top_k = set(order[:k])
    return (set(gold) <= set(order[:3]), top_k == set(gold),
            len(top_k & set(gold)) * 2 >= len(top_k | set(gold)))  # Jaccard >= 0.5 without floats


@pytest.mark.unit
def test_ranking_is_highest_first_with_ties_in_sentence_order():
    assert measure.ranking(np.array([0.1, 0.5, 0.5, 0.2, 0.5])).tolist() == [1, 2, 4, 3, 0]
    assert measure.ranking(np.zeros(5)).tolist() == [0, 1, 2, 3, 4]
    assert measure.ranking(np.array([1, 3, 3, 2])).tolist() == [1, 2, 3, 0]


# scores: word 1 > word 3 > word 2 > word 4 > word 0 > word 5
SCORES = np.array([0.2, 0.9, 0.5, 0.7, 0.3, 0.1])


@pytest.mark.unit
@pytest.mark.parametrize("gold, expected", [
    # one gold word
    ({1}, (True, True, True)),  # first
    ({3}, (True, False, False)),  # second: in the top 3; top 1 is {1}, Jaccard 0/2
    ({2}, (True, False, False)),  # third
    ({4}, (False, False, False)),  # fourth
    # two gold words
    ({1, 3}, (True, True, True)),  # top 2 exactly
    ({3, 1}, (True, True, True)),
    ({1, 2}, (True, False, False)),  # both in the top 3; top 2 {1, 3}: Jaccard 1/3 < 0.5
    ({1, 4}, (False, False, False)),  # 4 is fourth; Jaccard 1/3
    ({0, 5}, (False, False, False)),  # Jaccard 0
    # three gold words
    ({1, 2, 3}, (True, True, True)),
    ({1, 3, 4}, (False, False, True)),  # Jaccard 2/4 = 0.5 exactly: counts
    ({1, 0, 5}, (False, False, False)),  # Jaccard 1/5
    # four gold words: never interpretable (they cannot all be in a top 3)
    ({1, 2, 3, 4}, (False, True, True)),
    ({1, 2, 3, 0}, (False, False, True)),  # shares 3 of the top 4: 3/5
    ({1, 3, 0, 5}, (False, False, False)),  # shares 2 of the top 4: 2/6
])
def test_judge_on_known_cases(gold, expected):
    assert measure.judge(SCORES, frozenset(gold)) == expected
    assert naive_judge(SCORES, gold) == expected  # the expectation itself is consistent with the definition


@pytest.mark.unit
def test_judge_ties_are_broken_by_sentence_order():
    flat = np.ones(6)
    assert measure.judge(flat, frozenset({0, 1, 2})) == (True, True, True)
    assert measure.judge(flat, frozenset({3})) == (False, False, False)
    assert measure.judge(flat, frozenset({2})) == (True, False, False)
    # a tie at the top-3 border: word 4 ties with word 2 but comes later in the sentence
    scores = np.array([5.0, 4.0, 3.0, 1.0, 3.0])
    assert measure.judge(scores, frozenset({2})) == (True, False, False)
    assert measure.judge(scores, frozenset({4})) == (False, False, False)


@pytest.mark.unit
def test_judge_needs_a_gold_word():
    with pytest.raises(ValueError):
        measure.judge(SCORES, frozenset())


@pytest.mark.unit
def test_judge_matches_a_naive_implementation_on_random_cases_with_ties():
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(400):
        n = int(rng.integers(1, 12))
        scores = rng.integers(0, 4, size=n).astype(float)  # many ties
        k = int(rng.integers(1, min(n, 5) + 1))
        gold = frozenset(rng.choice(n, size=k, replace=False).tolist())
        cases.append((scores, gold))
        assert measure.judge(scores, gold) == naive_judge(scores, gold), (scores, gold)
    table = measure.judge_all([s for s, _ in cases], [g for _, g in cases])
    assert table.shape == (400, 3) and table.dtype == bool
    assert [tuple(r) for r in table.tolist()] == [naive_judge(s, g) for s, g in cases]


@pytest.mark.unit
def test_word_scores_sum_tokens_into_words_and_drop_special_tokens():
    from reportgen.align import to_words

    # [CLS] un ##believ ##able dog [SEP] [PAD]: three tokens make word 0, word 2 has no token at all
    word_of = [None, 0, 0, 0, 1, None, None]
    tokens = np.array([[100.0, 1.0, 2.0, 3.0, 4.0, 200.0, 300.0],
                       [0.5, 0.25, 0.25, 0.0, 0.125, 0.5, 0.0]])
    got = to_words(tokens, word_of, 3)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, [[6.0, 4.0, 0.0], [0.5, 0.125, 0.0]])
    # any leading dimensions: [L, H, T] -> [L, H, W]
    rng = np.random.default_rng(0)
    attention = rng.random((2, 4, len(word_of)))
    merged = to_words(attention, word_of, 3)
    assert merged.shape == (2, 4, 3)
    np.testing.assert_allclose(merged[..., 0], attention[..., 1:4].sum(-1))
    np.testing.assert_allclose(merged[..., 1], attention[..., 4])
    np.testing.assert_allclose(merged[..., 2], 0.0)
    # the merged scores rank the words: the split word wins although each of its tokens is small
    assert measure.ranking(got[0]).tolist() == [0, 1, 2]


@pytest.mark.unit
def test_share_and_its_bootstrap_interval():
    hits = np.array([True] * 9 + [False] * 21)
    f = measure.share(hits)
    assert f.n == 30
    assert f.value == pytest.approx(9 / 30)
    assert 0.0 <= f.low <= f.value <= f.high <= 1.0
    assert f.low < f.value < f.high
    # close to the normal approximation of a binomial share's 95% interval
    se = math.sqrt(0.3 * 0.7 / 30)
    assert f.low == pytest.approx(0.3 - 1.96 * se, abs=0.06)
    assert f.high == pytest.approx(0.3 + 1.96 * se, abs=0.06)
    # the same resamples give the same figure; all-true and all-false have no spread
    assert measure.share(hits, measure.bootstrap_indexes(30)) == f
    assert measure.share(np.ones(12, bool)) == measure.Figure(1.0, 1.0, 1.0, 12)
    assert measure.share(np.zeros(12, bool)) == measure.Figure(0.0, 0.0, 0.0, 12)
    empty = measure.share(np.zeros(0, bool))
    assert empty.n == 0 and math.isnan(empty.value)


@pytest.mark.unit
def test_bootstrap_indexes_draw_examples_with_replacement():
    idx = measure.bootstrap_indexes(17)
    assert idx.shape == (measure.BOOTSTRAP, 17)
    assert idx.min() >= 0 and idx.max() < 17
    assert len(np.unique(idx)) == 17  # 17,000 draws reach every example
    assert (measure.bootstrap_indexes(17) == idx).all()
    assert not (measure.bootstrap_indexes(17, seed=1) == idx).all()


@pytest.mark.unit
def test_random_baseline_is_close_to_the_analytic_expectation():
    rng = np.random.default_rng(3)
    n_words = [int(n) for n in rng.integers(2, 25, size=300)]
    one = [frozenset({int(rng.integers(n))}) for n in n_words]
    figures = measure.random_baseline(n_words, one)
    assert [f.n for f in figures] == [300] * 3
    # one gold word among W words: in the top 3 with probability min(3, W) / W, first with probability 1 / W
    # (and for one gold word Jaccard >= 0.5 means it is first)
    expected = [np.mean([min(3, n) / n for n in n_words]), np.mean([1 / n for n in n_words]),
                np.mean([1 / n for n in n_words])]
    for f, e in zip(figures, expected):
        assert f.value == pytest.approx(e, abs=0.015)
        assert f.low <= e <= f.high
        assert 0.0 <= f.low <= f.high <= 1.0
        assert f.high - f.low < 0.15

    # two gold words among W >= 3: both in the top 3 with probability 3*2 / (W (W-1)); the top 2 are exactly
    # the gold words (and then only is Jaccard >= 0.5) with probability 2 / (W (W-1))
    n_words = [int(n) for n in rng.integers(3, 10, size=300)]
    two = [frozenset(rng.choice(n, size=2, replace=False).tolist()) for n in n_words]
    figures = measure.random_baseline(n_words, two)
    expected = [np.mean([6 / (n * (n - 1)) for n in n_words]), np.mean([2 / (n * (n - 1)) for n in n_words]),
                np.mean([2 / (n * (n - 1)) for n in n_words])]
    for f, e in zip(figures, expected):
        assert f.value == pytest.approx(e, abs=0.015)
        assert f.low <= e <= f.high

    # seeded: the same call gives the same figures
    assert measure.random_baseline(n_words, two) == figures


# ---------------------------------------------------------------------------------------------------------------
# 2. Synthetic edits of hand-made sentences
# ---------------------------------------------------------------------------------------------------------------

# the verbs of the hand-made sentences and their other number; no other word of them is a verb form
OTHER_NUMBER = {"runs": "run", "watches": "watch", "carries": "carry", "is": "are", "has": "have",
                "run": "runs", "watch": "watches", "carry": "carries", "are": "is", "have": "has"}
SINGULAR_VERBS = ("runs", "watches", "carries", "is", "has")
ADJECTIVES = ("quiet", "clever", "young", "brave", "tired", "honest", "curious", "patient")
NOUNS = ("farmer", "pilot", "teacher", "painter", "sailor")
OBJECTS = ("boxes", "kites", "lamps", "maps", "wagons")
PLACES = ("harbour", "market", "station", "garden")
TAGS = {"The": "DT", "Our": "PRP$", "often": "RB", "near": "IN", "the": "DT", ".": "."}
WORD = re.compile(r"\w+|[^\w\s]")


def make_sentence(tokens: list[tuple[str, str]]) -> tuple[str, list[SimpleWord]]:
    """Words joined by single spaces, no space before the full stop, with their character spans."""
    text, words = "", []
    for token, tag in tokens:
        if text and token != ".":
            text += " "
        words.append(SimpleWord(token, tag, token == ".", len(text), len(text) + len(token)))
        text += token
    return text, words


def hand_made_sentences() -> list[tuple[str, list[SimpleWord]]]:
    out = []
    for i in range(220):  # mixed radix over adjective, noun, number, verb: all different
        adjective, noun = ADJECTIVES[i % 8], NOUNS[(i // 8) % 5]
        plural = (i // 40) % 2 == 1
        verb = SINGULAR_VERBS[(i // 80) % 5]
        if plural:
            noun, verb = noun + "s", OTHER_NUMBER[verb]
        tokens = [("Our" if plural else "The", TAGS["Our" if plural else "The"]), (adjective, "JJ"),
                  (noun, "NNS" if plural else "NN")]
        if i % 3 == 0:
            tokens.append(("often", "RB"))
        tokens += [(verb, "VBP" if plural else "VBZ"), (OBJECTS[i % 5], "NNS"), ("near", "IN"), ("the", "DT"),
                   (PLACES[i % 4], "NN"), (".", ".")]
        out.append(make_sentence(tokens))
    # too short (3 words + full stop) and too long (45 words): never used
    out.append(make_sentence([("Zebras", "NNS"), ("graze", "VBP"), ("peacefully", "RB"), (".", ".")]))
    out.append(make_sentence([("lengthy", "JJ")] * 44 + [(".", ".")]))
    return out


def words_of(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]


def is_misspelling(old: str, new: str) -> bool:
    """Two neighbouring inner letters swapped (first and last letter kept), or one letter doubled."""
    if len(new) == len(old):
        diff = [i for i in range(len(old)) if old[i] != new[i]]
        return (len(diff) == 2 and diff[1] == diff[0] + 1 and diff[0] >= 1 and diff[1] <= len(old) - 2
                and new[diff[0]] == old[diff[1]] and new[diff[1]] == old[diff[0]])
    return len(new) == len(old) + 1 and any(new == old[: j + 1] + old[j] + old[j + 1 :] for j in range(len(old)))


def edit_explains(source: tuple[str, list[SimpleWord]], example: data.Example) -> bool:
    """Whether `example` is `source` edited the way its type says, with gold spans on exactly the gold words."""
    src_text, src_words = source
    old = [w.text for w in src_words]
    new_spans = words_of(example.text)
    new = [w for _, _, w in new_spans]
    kind = example.edit_type

    def gold_is(indexes) -> bool:
        return example.gold == tuple((new_spans[k][0], new_spans[k][1]) for k in indexes)

    if kind in ("misspelling", "agreement"):
        if len(new) != len(old):
            return False
        diff = [i for i in range(len(old)) if old[i] != new[i]]
        if len(diff) != 1:
            return False
        j = diff[0]
        if kind == "misspelling":
            ok = len(old[j]) >= 4 and old[j].isalpha() and is_misspelling(old[j], new[j])
        else:
            ok = OTHER_NUMBER.get(old[j]) == new[j]
        return ok and gold_is([j]) and example.text == src_text[: src_words[j].start] + new[j] + \
            src_text[src_words[j].end :]
    if kind == "swap":
        for i in range(len(old) - 1):
            if (len(new) == len(old) and new[:i] == old[:i] and new[i + 2 :] == old[i + 2 :]
                    and (new[i], new[i + 1]) == (old[i + 1], old[i]) and old[i] != old[i + 1]
                    and old[i].isalpha() and old[i + 1].isalpha()):
                if gold_is([i, i + 1]) and example.text == make_sentence([(w, "") for w in new])[0]:
                    return True
        return False
    if kind == "insertion":
        for i in range(1, len(old)):
            if (len(new) == len(old) + 1 and new[:i] == old[:i] and new[i + 1 :] == old[i:]
                    and new[i] in INSERTED and old[i].isalpha()):
                if gold_is([i]) and example.text == make_sentence([(w, "") for w in new])[0]:
                    return True  # (an inserted "the" before "the" could be either: try every place)
        return False
    if kind == "deletion":
        for i in range(1, len(old) - 1):
            if len(new) == len(old) - 1 and new == old[:i] + old[i + 1 :] and old[i].isalpha():
                gone = src_words[i]
                if (gold_is([i - 1, i])  # the two neighbours, now side by side
                        and example.text == src_text[: gone.start] + src_text[gone.end :].lstrip(" ")):
                    return True
        return False
    if kind == "comma":
        # a comma inserted right after a word that a space and another word followed: the comma is gold
        for i in range(len(old) - 1):
            if (len(new) == len(old) + 1 and new[: i + 1] == old[: i + 1] and new[i + 1] == ","
                    and new[i + 2 :] == old[i + 1 :] and old[i].isalpha() and old[i + 1].isalpha()
                    and src_text[src_words[i].end : src_words[i + 1].start] == " "):
                end = src_words[i].end
                if gold_is([i + 1]) and example.text == src_text[:end] + "," + src_text[end:]:
                    return True
        return False
    raise AssertionError(f"unknown edit type {kind}")


@pytest.fixture(scope="module")
def sentences():
    return hand_made_sentences()


@pytest.fixture(scope="module")
def examples(sentences):
    return data.synthetic(sentences, 100, seed=5)


@pytest.mark.unit
def test_every_synthetic_example_is_its_source_edited_as_its_type_says(sentences, examples):
    assert len(examples) == 100
    assert [e.example_id for e in examples] == list(range(100))
    usable = [s for s in sentences if 6 <= len(s[1]) <= 40]
    texts = {text for text, _ in usable}
    for e in examples:
        assert "lengthy" not in e.text and sum(w in e.text for w in ("Zebras", "graze", "peacefully")) < 2, e
        if e.edit_type == "none":
            assert e.label == 0 and e.gold == () and e.text in texts, e
            continue
        assert e.edit_type in data.EDIT_TYPES and e.label == 1, e
        assert e.text not in texts, e
        sources = [s for s in usable if edit_explains(s, e)]
        assert sources, f"no sentence becomes {e.text!r} by a {e.edit_type}; gold {e.gold}"
    unedited = [e.text for e in examples if e.label == 0]
    assert len(unedited) == len(set(unedited))  # each sentence used once


@pytest.mark.unit
def test_synthetic_gold_counts_and_types(examples):
    edited = [e for e in examples if e.label == 1]
    assert abs(len(edited) - len(examples) / 2) <= 1  # about half edited
    assert {e.edit_type for e in edited} == set(data.EDIT_TYPES)  # all five occur
    for e in edited:
        assert len(e.gold) == (2 if e.edit_type in ("swap", "deletion") else 1), e
        for start, end in e.gold:
            assert e.text[start:end].strip() == e.text[start:end] != ""
    # balanced: each type gets about a fifth of the edited examples
    for kind in data.EDIT_TYPES:
        assert abs(sum(e.edit_type == kind for e in edited) - len(edited) / 5) <= 5, kind


@pytest.mark.unit
def test_synthetic_deletion_marks_the_neighbours_of_the_deleted_word():
    text, words = make_sentence([("The", "DT"), ("clever", "JJ"), ("farmer", "NN"), ("runs", "VBZ"),
                                 ("kites", "NNS"), ("near", "IN"), ("the", "DT"), ("station", "NN"), (".", ".")])
    found = [e for e in data.synthetic([(text, words)] * 40, 40, seed=0) if e.edit_type == "deletion"]
    assert found
    for e in found:
        old = [w.text for w in words]
        new = [w for _, _, w in words_of(e.text)]
        gone = next(i for i in range(len(new)) if new[i] != old[i])
        assert new == old[:gone] + old[gone + 1 :]
        assert [e.text[s:t] for s, t in e.gold] == [old[gone - 1], old[gone + 1]]


@pytest.mark.unit
def test_synthetic_is_seeded(sentences, examples):
    assert data.synthetic(sentences, 100, seed=5) == examples
    other = data.synthetic(sentences, 100, seed=6)
    assert other != examples
    assert [e.text for e in other] != [e.text for e in examples]


@pytest.mark.unit
def test_synthetic_splits_are_70_10_20_per_type(sentences, examples):
    for kind in {e.edit_type for e in examples}:
        members = [e for e in examples if e.edit_type == kind]
        c = len(members)
        counts = {s: sum(e.split == s for e in members) for s in ("train", "validation", "test")}
        assert sum(counts.values()) == c, kind
        assert abs(counts["train"] - 0.7 * c) <= 0.5, (kind, counts)
        assert abs(counts["validation"] - 0.1 * c) <= 0.5, (kind, counts)
        assert abs(counts["test"] - 0.2 * c) <= 1.0, (kind, counts)
    # the split depends on the seed
    rows = [(f"sentence {i}", 0, "none", ()) for i in range(50)]
    a, b = data._split(rows, 0), data._split(rows, 1)
    assert [e.split for e in a] == [e.split for e in data._split(rows, 0)]
    assert [e.split for e in a] != [e.split for e in b]
    assert sorted(e.split for e in a) == sorted(e.split for e in b)  # same counts: 35/5/10
    assert sum(e.split == "train" for e in a) == 35 and sum(e.split == "test" for e in a) == 10


# ---------------------------------------------------------------------------------------------------------------
# 3. read_jsonl
# ---------------------------------------------------------------------------------------------------------------

GOOD_LINES = [
    {"text": "The cat sat on the mat.", "label": 1, "gold": [[8, 11]], "type": "spelling"},
    {"text": "A dog chased the ball.", "label": 0},
    {"text": "Birds sing early in the the morning.", "label": 1, "gold": [[20, 23], [24, 27]]},
    {"text": "She smiled.", "label": 0, "type": "spelling", "gold": []},
]


def write_jsonl(path: Path, records, raw: list[str] = ()) -> Path:
    lines = [json.dumps(r) for r in records] + list(raw)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.unit
def test_read_jsonl_good_file(tmp_path):
    path = write_jsonl(tmp_path / "ok.jsonl", GOOD_LINES[:2], ["", "   "])
    with path.open("a", encoding="utf-8") as fh:  # blank lines in between are skipped
        fh.write("\n".join(json.dumps(r) for r in GOOD_LINES[2:]) + "\n")
    got = data.read_jsonl(path, seed=0, all_test=True)
    assert [e.example_id for e in got] == [0, 1, 2, 3]
    assert [e.text for e in got] == [r["text"] for r in GOOD_LINES]
    assert [e.label for e in got] == [1, 0, 1, 0]
    assert [e.edit_type for e in got] == ["spelling", "none", "edited", "none"]
    assert [e.gold for e in got] == [((8, 11),), (), ((20, 23), (24, 27)), ()]
    assert got[0].text[8:11] == "sat"
    assert {e.split for e in got} == {"test"}  # a given classifier: all measured
    # without all_test, the splits come from the seed; a given split is kept
    records = [dict(r) for r in GOOD_LINES]
    records[1]["split"] = "validation"
    got = data.read_jsonl(write_jsonl(tmp_path / "split.jsonl", records), seed=0, all_test=False)
    assert got[1].split == "validation"
    assert all(e.split in ("train", "validation", "test") for e in got)
    assert data.read_jsonl(tmp_path / "split.jsonl", seed=0, all_test=False) == got
    # every line with a split: exactly those
    records = [dict(r, split=s) for r, s in zip(GOOD_LINES, ("train", "test", "test", "validation"))]
    got = data.read_jsonl(write_jsonl(tmp_path / "given.jsonl", records), seed=0, all_test=False)
    assert [e.split for e in got] == ["train", "test", "test", "validation"]


BAD_LINES = [
    ("not JSON {", "not valid JSON"),
    ('["a list", 1]', "text"),
    (json.dumps({"label": 0}), "text"),
    (json.dumps({"text": "  ", "label": 0}), "text"),
    (json.dumps({"text": "A b c.", "label": 2}), "label"),
    (json.dumps({"text": "A b c.", "label": True, "gold": [[0, 1]]}), "label"),
    (json.dumps({"text": "A b c."}), "label"),
    (json.dumps({"text": "A b c.", "label": 1, "gold": [[0, 10]]}), "gold"),  # past the end
    (json.dumps({"text": "A b c.", "label": 1, "gold": [[3, 2]]}), "gold"),  # reversed
    (json.dumps({"text": "A b c.", "label": 1, "gold": [[-1, 2]]}), "gold"),
    (json.dumps({"text": "A b c.", "label": 1, "gold": [0, 1]}), "gold"),  # not a list of spans
    (json.dumps({"text": "A b c.", "label": 1}), "gold"),  # edited without gold
    (json.dumps({"text": "A b c.", "label": 1, "gold": []}), "gold"),
    (json.dumps({"text": "A b c.", "label": 1, "gold": [[0, 1]], "split": "dev"}), "split"),
    (json.dumps({"text": "A b c.", "label": 1, "gold": [[0, 1]], "type": ""}), "type"),
]


@pytest.mark.unit
@pytest.mark.parametrize("line, needle", BAD_LINES)
def test_read_jsonl_bad_line_names_file_and_line(tmp_path, line, needle):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD_LINES[0]) + "\n\n" + line + "\n" + json.dumps(GOOD_LINES[1]) + "\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as err:
        data.read_jsonl(path, seed=0, all_test=False)
    message = str(err.value)
    assert message.startswith(f"{path}:3: "), message  # the blank line 2 still counts
    assert needle in message
    assert "\n" not in message


@pytest.mark.unit
def test_read_jsonl_missing_or_empty_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        data.read_jsonl(tmp_path / "nowhere.jsonl", 0, False)
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no examples"):
        data.read_jsonl(tmp_path / "empty.jsonl", 0, False)
    (tmp_path / "latin1.jsonl").write_bytes('{"text": "caf\xe9", "label": 0}\n'.encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8"):
        data.read_jsonl(tmp_path / "latin1.jsonl", 0, False)


# ---------------------------------------------------------------------------------------------------------------
# 4-6. The study on the tiny BERT
# ---------------------------------------------------------------------------------------------------------------


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def snapshot(out: Path) -> dict:
    """Every file under the site with its sha256, and any leftover staging folders beside it."""
    files = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(out.rglob("*")) if p.is_file()}
    beside = sorted(p.name for p in out.parent.iterdir() if p.name.startswith("."))
    return {"files": files, "beside": beside}


def query(db: Path, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def has_table(db: Path, table: str) -> bool:
    return bool(query(db, "SELECT 1 FROM information_schema.tables WHERE table_name = ?", (table,)))


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def norm(text: str) -> str:
    return " ".join(text.split())


def cell(value, low, high) -> str:
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


@pytest.fixture(scope="module")
def corpus_lines(bert_dir) -> list[str]:
    from transformers import AutoTokenizer

    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()][:200]
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    fits = sum(len(tokenizer(line)["input_ids"]) <= 64 for line in lines)
    assert fits >= 190  # nearly all within the tiny model's 64 positions (the rest is truncated)
    assert sum(6 <= len(line.split()) <= 40 for line in lines) >= 150  # enough for 120 synthetic examples
    return lines


# the report's own attributions and importance play no part in the study: the cheapest, in every build here
CHEAP = {"attribution_steps": 2, "importance_sentences": 2}


@pytest.fixture(scope="module")
def base(tmp_path_factory, bert_dir, corpus_lines) -> Path:
    """A folder with corpus.txt, probes.txt and the built site/, no study yet."""
    folder = tmp_path_factory.mktemp("study-base") / "report"
    build_small_site(folder, bert_dir, sentences=corpus_lines, **CHEAP)
    return folder


def copy_of(base: Path, tmp_path_factory, name: str) -> Path:
    folder = tmp_path_factory.mktemp(name) / "report"
    shutil.copytree(base, folder)
    return folder


@pytest.fixture(scope="module")
def studied(base, tmp_path_factory, bert_dir):
    """(folder, CLI result) of `reportgen study edits` on a copy of the base site."""
    folder = copy_of(base, tmp_path_factory, "study-run")
    # seed 1: the tiny model's classifier flags every measured sentence (seed 0 flags none: see
    # test_a_study_whose_classifier_flags_nothing_says_so)
    result = invoke("study", "edits", "--out", folder / "site", "--model", bert_dir, "--examples", 120,
                    "--epochs", 1, "--seed", 1, "--quiet")
    return folder, result


@pytest.fixture(scope="module")
def shape(bert_dir) -> tuple[int, int]:
    config = json.loads((bert_dir / "config.json").read_text())
    return config["num_hidden_layers"], config["num_attention_heads"]


def figures_of(db: Path, subset: str = "flagged") -> dict[tuple, tuple]:
    rows = query(db, "SELECT edit_type, source, layer, head, measure, value, ci_low, ci_high, n FROM study_figures "
                     "WHERE study = 'edits' AND subset = ?", (subset,))
    out = {}
    for kind, source, layer, head, m, value, low, high, n in rows:
        key = (kind, source, layer, head, m)
        assert key not in out, key
        out[key] = (value, low, high, n)
    return out


def measured_examples(db: Path) -> dict[int, dict]:
    """example_id -> edit type, text and words (word_idx, text, start, end, gold, rank) of every measured one."""
    out: dict[int, dict] = {}
    rows = query(db, "SELECT w.example_id, e.edit_type, e.text, e.predicted, w.word_idx, w.text, w.char_start, "
                     "w.char_end, w.gold, w.attention_rank FROM study_words w JOIN study_examples e ON "
                     "e.study = w.study AND e.example_id = w.example_id WHERE w.study = 'edits' "
                     "ORDER BY w.example_id, w.word_idx")
    for example_id, kind, text, predicted, idx, word, start, end, gold, rank in rows:
        entry = out.setdefault(example_id, {"kind": kind, "text": text, "flagged": predicted == 1, "words": []})
        entry["words"].append((idx, word, start, end, bool(gold), rank))
    return out


def test_study_cli_exits_0_and_prints_the_figures(studied):
    folder, result = studied
    db = folder / "site" / "report.duckdb"
    figures = figures_of(db)
    metrics = dict(query(db, "SELECT metric, value FROM study_metrics WHERE study = 'edits'"))
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Traceback" not in result.output
    assert f"accuracy {metrics['accuracy']:.3f}" in result.output
    assert f"F1 {metrics['f1']:.3f} on {int(metrics['n_test'])} test sentences" in result.output
    printed = [norm(line) for line in result.output.splitlines()]
    n_last = max(k[2] for k in figures if k[1] == "cls_sum")
    for source, layer in (("cls_sum", n_last), ("integrated_gradients", None), ("random", None)):
        value, low, high, n = figures[("all", source, layer, None, "interpretable")]  # the flagged sentences
        assert f"all {source} {cell(value, low, high)} n={n}" in printed, (source, result.output)
    assert f"{int(metrics['n_flagged'])} of them flagged as edited" in result.output


def test_study_database(studied, shape):
    folder, _ = studied
    db = folder / "site" / "report.duckdb"
    n_layers, n_heads = shape
    metrics = dict(query(db, "SELECT metric, value FROM study_metrics WHERE study = 'edits'"))
    for key in ("accuracy", "f1", "precision", "recall", "n_train", "n_validation", "n_test", "n_measured",
                "epochs", "seed"):
        assert key in metrics, key
    assert metrics["epochs"] == 1 and metrics["seed"] == 1
    # the examples: 120 drawn from the corpus, half edited, the split counts as the metrics say
    examples = query(db, "SELECT example_id, split, edit_type, label, predicted, text FROM study_examples "
                         "WHERE study = 'edits' ORDER BY example_id")
    assert len(examples) == 120
    assert sum(r[3] for r in examples) == 60
    for split in ("train", "validation", "test"):
        assert metrics[f"n_{split}"] == sum(r[1] == split for r in examples), split
    assert {r[2] for r in examples if r[3] == 1} == set(data.EDIT_TYPES)
    assert {r[2] for r in examples if r[3] == 0} == {"none"}
    corpus = set(query(db, "SELECT text FROM sentences WHERE role = 'corpus'"))
    assert all((r[5],) in corpus for r in examples if r[3] == 0)  # unedited ones are corpus sentences
    # the classifier's metrics, recomputed from the predictions of the test sentences
    test = [(r[3], r[4]) for r in examples if r[1] == "test"]
    assert all(p in (0, 1) for _, p in test)
    assert all(r[4] is None for r in examples if r[1] != "test")
    tp = sum(y == 1 and p == 1 for y, p in test)
    fp = sum(y == 0 and p == 1 for y, p in test)
    fn = sum(y == 1 and p == 0 for y, p in test)
    assert metrics["accuracy"] == pytest.approx(sum(y == p for y, p in test) / len(test))
    assert metrics["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    # the measured examples: edited test sentences, words in order, ranks a permutation, at least one gold word
    measured = measured_examples(db)
    assert metrics["n_measured"] == len(measured) > 0
    edited_test = {r[0] for r in examples if r[1] == "test" and r[3] == 1}
    assert set(measured) <= edited_test
    for example_id, m in measured.items():
        words = m["words"]
        assert [w[0] for w in words] == list(range(len(words)))
        assert sorted(w[5] for w in words) == list(range(len(words)))
        assert any(w[4] for w in words), example_id
        assert all(m["text"][w[2]:w[3]] == w[1] for w in words), example_id
    # study_figures: every source, for 'all' and every edit type measured, over every measured sentence ('all')
    # and over those the classifier flagged as edited ('flagged')
    flagged = {i: m for i, m in measured.items() if m["flagged"]}
    assert metrics["n_flagged"] == len(flagged)
    assert {s for (s,) in query(db, "SELECT DISTINCT subset FROM study_figures")} == (
        {"all", "flagged"} if flagged else {"all"})
    figures = figures_of(db, "all")
    kinds = {"all"} | {m["kind"] for m in measured.values()}
    assert {k[0] for k in figures} == kinds
    for kind in {"all"} | {m["kind"] for m in flagged.values()}:
        n = figures_of(db, "flagged")[(kind, "cls_sum", n_layers - 1, None, "interpretable")][3]
        assert n == sum(kind in ("all", m["kind"]) for m in flagged.values())
    expected_keys = set()
    for kind in kinds:
        for m in MEASURES:
            expected_keys.add((kind, "cls_sum", n_layers - 1, None, m))
            expected_keys.add((kind, "integrated_gradients", None, None, m))
            expected_keys.add((kind, "random", None, None, m))
            expected_keys |= {(kind, "layer", layer, None, m) for layer in range(n_layers)}
            expected_keys |= {(kind, "head", layer, head, m) for layer in range(n_layers) for head in range(n_heads)}
    assert set(figures) == expected_keys
    for (kind, source, layer, head, m), (value, low, high, n) in figures.items():
        assert n == (len(measured) if kind == "all" else sum(x["kind"] == kind for x in measured.values()))
        assert 0.0 <= value <= 1.0 and 0.0 <= low <= high <= 1.0
        if source != "random":  # a bootstrap interval of a share (random: percentiles over seeds)
            assert low <= value + 1e-12 and value <= high + 1e-12, (kind, source, layer, head, m)
            assert value * n == pytest.approx(round(value * n))  # a share of n examples
    # the final layer with its heads summed is the paper's source
    for kind in kinds:
        for m in MEASURES:
            assert figures[(kind, "layer", n_layers - 1, None, m)] == figures[(kind, "cls_sum", n_layers - 1, None, m)]
    meta = dict(query(db, "SELECT key, value FROM meta WHERE key LIKE 'study.edits.%'"))
    assert set(meta) == {"study.edits.classifier", "study.edits.data", "study.edits.settings"}
    assert "examples 120" in meta["study.edits.settings"] and "epochs 1" in meta["study.edits.settings"]


@pytest.mark.parametrize("subset", ["flagged", "all"])
def test_cls_sum_figures_equal_a_recomputation_from_the_stored_ranks(studied, subset):
    folder, _ = studied
    db = folder / "site" / "report.duckdb"
    figures = figures_of(db, subset)
    measured = {i: m for i, m in measured_examples(db).items() if subset == "all" or m["flagged"]}
    n_last = max(k[2] for k in figures if k[1] == "cls_sum")
    kinds = ["all"] + sorted({m["kind"] for m in measured.values()})
    for kind in kinds:
        group = [measured[i] for i in sorted(measured) if kind == "all" or measured[i]["kind"] == kind]
        hits = {m: [] for m in MEASURES}
        for example in group:
            gold_ranks = [w[5] for w in example["words"] if w[4]]
            k = len(gold_ranks)
            in_top_k = sum(r < k for r in gold_ranks)  # the ranks are a permutation: top k = ranks 0..k-1
            hits["interpretable"].append(all(r < 3 for r in gold_ranks))
            hits["exact_match"].append(in_top_k == k)
            hits["jaccard"].append(2 * in_top_k >= 2 * k - in_top_k)
        # the same paired bootstrap as documented: seed 0, 1,000 resamples of the group's examples
        idx = np.random.default_rng(0).integers(0, len(group), size=(1000, len(group)))
        for m in MEASURES:
            value, low, high, n = figures[(kind, "cls_sum", n_last, None, m)]
            h = np.array(hits[m], dtype=float)
            assert n == len(group)
            assert value == pytest.approx(h.mean(), abs=1e-12), (kind, m)
            lo, hi = np.percentile(h[idx].mean(1), [2.5, 97.5])
            assert (low, high) == pytest.approx((lo, hi), abs=1e-12), (kind, m)


def test_study_page(studied, shape):
    folder, _ = studied
    site = folder / "site"
    db = site / "report.duckdb"
    n_layers, n_heads = shape
    page_path = site / "studies" / "edits.html"
    assert page_path.is_file()
    index = soup(site / "index.html")
    assert index.select_one('#studies a[href="studies/edits.html"]') is not None
    page = soup(page_path)
    figures, every = figures_of(db), figures_of(db, "all")
    measured = {i: m for i, m in measured_examples(db).items() if m["flagged"]}
    n_last = n_layers - 1

    table = page.select_one("#figures table")
    headers = [norm(th.get_text()) for th in table.select("thead th")]
    rows = {}
    for tr in table.select("tbody tr"):
        cells = [norm(c.get_text()) for c in tr.find_all(["th", "td"])]
        rows[cells[0]] = dict(zip(headers, cells))
    kinds = ["all"] + [k for k in data.EDIT_TYPES if k in {m["kind"] for m in measured.values()}]
    assert list(rows) == kinds
    for kind in kinds:
        row = rows[kind]
        assert row["flagged sentences"] == str(figures[(kind, "cls_sum", n_last, None, "interpretable")][3])
        value, low, high, n = every[(kind, "cls_sum", n_last, None, "interpretable")]
        assert row["every measured sentence: n, attention interpretable"] == f"{n}: {cell(value, low, high)}"
        for m in MEASURES:
            label = m.replace("_", " ")
            assert row[f"attention: {label}"] == cell(*figures[(kind, "cls_sum", n_last, None, m)][:3]), (kind, m)
            assert row[f"random: {label}"] == cell(*figures[(kind, "random", None, None, m)][:3]), (kind, m)
        assert row["integrated gradients: interpretable"] == cell(
            *figures[(kind, "integrated_gradients", None, None, "interpretable")][:3])
        heads = sorted(((-figures[(kind, "head", l, h, "interpretable")][0], l, h)
                        for l in range(n_layers) for h in range(n_heads)))
        _, l, h = heads[0]
        best_cell = cell(*figures[(kind, "head", l, h, "interpretable")][:3])
        assert row["best head: interpretable"] == f"L{l}H{h} {best_cell}"

    paper = {tr.th.get_text(): [norm(c.get_text()) for c in tr.find_all("td")] for tr in page.select("#paper tbody tr")}
    assert list(paper) == [k for k in data.EDIT_TYPES if k in {m["kind"] for m in measured_examples(db).values()}]
    theirs = {"misspelling": ["spelling edits", "0.80", "0.12"], "insertion": ["deleted words", "0.71", "0.13"]}
    for kind, cells in paper.items():
        ours = figures.get((kind, "cls_sum", n_last, None, "interpretable"))
        assert cells[1] == (cell(*ours[:3]) if ours else "–"), kind
        assert cells[3:] == theirs.get(kind, ["no figure in the paper (ours)"]), kind

    heads = sorted((-figures[("all", "head", l, h, "interpretable")][0], l, h)
                   for l in range(n_layers) for h in range(n_heads))
    best = page.select_one("#best-heads dd")
    assert [a["href"] for a in best.find_all("a")] == [f"../heads/L{l}H{h}.html" for _, l, h in heads[:5]]
    assert norm(best.get_text()) == "; ".join(
        f"L{l}H{h} " + cell(*figures[("all", "head", l, h, "interpretable")][:3]) for _, l, h in heads[:5])
    spec = json.loads(page.select_one('script[data-chart="study-heads"]').string)
    shown = {(v["l"], v["h"]): v["v"] for v in spec["data"]["values"]}
    assert shown == {(l, h): pytest.approx(figures[("all", "head", l, h, "interpretable")][0], abs=5e-5)
                     for l in range(n_layers) for h in range(n_heads)}
    assert page.select_one("#study-heads") is not None

    items = page.select("#examples li")
    assert items
    by_text = {norm(m["text"]): m for m in measured_examples(db).values()}
    prefix = re.compile(r"^\S+ \((flagged as edited by the classifier: counted in the figures|classified "
                        r"(unedited|not predicted): not flagged, counted only over every measured sentence); "
                        r"(not )?interpretable\): ")
    for li in items:
        text = norm(li.get_text())
        match = prefix.match(text)
        assert match, text
        example = by_text[text[match.end():]]
        assert match.group(1).startswith("flagged") == example["flagged"]  # said as the database has it
        assert li.strong.get_text() == example["kind"]
        words = example["words"]
        assert [m.get_text() for m in li.select("mark.gold")] == [w[1] for w in words if w[4]]
        assert [t.get_text() for t in li.select(".top3")] == [w[1] for w in words if w[5] < 3]
        assert (match.group(3) is None) == all(w[5] < 3 for w in words if w[4])


@pytest.mark.unit
def test_figures_of_flagged_and_unflagged_sentences():
    """Stevens & Su measure only the edited sentences their classifier flags as edited: the 'flagged' figures leave
    the others out; the 'all' ones keep every measured sentence. Checked against shares counted here."""
    from reportgen.studies.edits import Measured, figures

    rng = np.random.default_rng(3)
    measured = []
    for i in range(12):
        n_words = 6
        attention = rng.uniform(size=(2, 2, n_words))
        gold = frozenset({i % n_words})
        kind = ("misspelling", "comma")[i % 2]
        example = data.Example(i, "test", kind, 1, "w " * n_words, ())
        measured.append(Measured(example, tuple(range(n_words)), gold, attention, None, flagged=i % 3 != 0))
    rows = figures(measured)
    by_key = {(r[1], r[2], r[3], r[4], r[5], r[6]): r for r in rows}
    assert {r[1] for r in rows} == {"flagged", "all"}
    for subset in ("flagged", "all"):
        for kind in ("all", "misspelling", "comma"):
            group = [m for m in measured if (kind == "all" or m.example.edit_type == kind)
                     and (subset == "all" or m.flagged)]
            hits = [set(m.gold) <= set(np.argsort(-m.attention[-1].sum(0), kind="stable")[:3].tolist())
                    for m in group]
            row = by_key[(subset, kind, "cls_sum", 1, None, "interpretable")]
            assert row[10] == len(group) and row[7] == pytest.approx(np.mean(hits)), (subset, kind)
    assert by_key[("flagged", "all", "cls_sum", 1, None, "interpretable")][10] == 8  # 4 of 12 not flagged


def test_a_study_whose_classifier_flags_nothing_says_so(base, tmp_path_factory, bert_dir):
    folder = copy_of(base, tmp_path_factory, "study-none-flagged")
    result = invoke("study", "edits", "--out", folder / "site", "--model", bert_dir, "--examples", 120,
                    "--epochs", 1, "--seed", 0, "--quiet")
    assert result.exit_code == 0, result.output
    db = folder / "site" / "report.duckdb"
    metrics = dict(query(db, "SELECT metric, value FROM study_metrics WHERE study = 'edits'"))
    assert metrics["n_flagged"] == 0 < metrics["n_measured"]
    assert query(db, "SELECT DISTINCT subset FROM study_figures") == [("all",)]
    assert "None of the" in result.output and "was flagged as edited" in result.output
    page = soup(folder / "site" / "studies" / "edits.html")
    assert page.select_one("#none-flagged") is not None
    every = figures_of(db, "all")
    n_last = max(k[2] for k in every if k[1] == "cls_sum")
    row = page.select_one("#figures table tbody tr")
    assert norm(row.find_all("td")[0].get_text()) == str(every[("all", "cls_sum", n_last, None, "interpretable")][3])


@pytest.mark.browser
def test_study_page_draws_in_a_browser_and_passes_axe_core(studied, tab):
    """The study page from file://: every chart drawn, no console error, no serious or critical axe-core
    violation (the other page types are checked in test_browser)."""
    folder, _ = studied
    with tab_pages(tab) as page_at:
        page = page_at(folder / "site" / "studies" / "edits.html")
        assert page.locator("#study-heads svg").count() == 1
        assert axe_problems(page) == []
        # what the heatmap draws: one cell per head, each with its figure over the flagged sentences
        figures = figures_of(folder / "site" / "report.duckdb")
        cells = [c for c in drawn(page, "study-heads") if c["mark"] == "rect"]
        stored = {(k[2], k[3]): v[0] for k, v in figures.items() if k[0] == "all" and k[1] == "head"
                  and k[4] == "interpretable"}
        assert sorted((c["datum"]["l"], c["datum"]["h"]) for c in cells) == sorted(stored)
        for c in cells:
            assert c["datum"]["v"] == pytest.approx(stored[(c["datum"]["l"], c["datum"]["h"])], abs=5e-5)


def test_study_errors_leave_the_site_untouched(base, tmp_path_factory, tmp_path, bert_dir, bert_classifier_dir):
    folder = copy_of(base, tmp_path_factory, "study-errors")
    out = folder / "site"
    before = snapshot(out)

    # no report database at --out
    empty = tmp_path / "empty" / "site"
    empty.mkdir(parents=True)
    (empty / "index.html").write_text("previous report", encoding="utf-8")
    assert_clean_failure(invoke("study", "edits", "--out", empty, "--model", bert_dir, "--quiet"),
                         "no report database")
    assert [p.name for p in empty.iterdir()] == ["index.html"]
    assert (empty / "index.html").read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in empty.parent.iterdir()) == ["site"]
    assert_clean_failure(invoke("study", "edits", "--out", tmp_path / "nowhere", "--model", bert_dir, "--quiet"))
    assert not (tmp_path / "nowhere").exists()

    # a model other than the report's
    assert_clean_failure(invoke("study", "edits", "--out", out, "--model", bert_classifier_dir, "--examples", 120,
                                "--quiet"), "built with another model")
    assert snapshot(out) == before

    # a classifier folder without config.json
    no_model = tmp_path / "no-model"
    no_model.mkdir()
    (no_model / "weights.bin").write_bytes(b"\0" * 16)
    assert_clean_failure(invoke("study", "edits", "--out", out, "--model", bert_dir, "--classifier", no_model,
                                "--examples", 120, "--quiet"), "--classifier", "config.json")
    assert snapshot(out) == before

    # a classifier with three classes
    assert_clean_failure(invoke("study", "edits", "--out", out, "--classifier", bert_classifier_dir,
                                "--examples", 120, "--quiet"), "--classifier", "3 classes")
    assert snapshot(out) == before


@pytest.mark.parametrize("line, needle", [BAD_LINES[0], BAD_LINES[4], BAD_LINES[7], BAD_LINES[11]])
def test_study_with_bad_data_file_exits_2_and_keeps_the_site(base, tmp_path_factory, tmp_path, bert_dir, line,
                                                             needle):
    folder = copy_of(base, tmp_path_factory, "study-bad-data")
    out = folder / "site"
    before = snapshot(out)
    path = tmp_path / "edits.jsonl"
    path.write_text(json.dumps(GOOD_LINES[0]) + "\n" + line + "\n", encoding="utf-8")
    assert_clean_failure(invoke("study", "edits", "--out", out, "--model", bert_dir, "--data", path, "--quiet"),
                         f"{path}:2", needle)
    assert snapshot(out) == before


@pytest.fixture(scope="module")
def two_class_dir(tmp_path_factory) -> Path:
    """The tiny BERT as a two-class sequence classifier (random weights)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from reportgen.models import default_model_path

    torch.manual_seed(1)
    tokenizer = AutoTokenizer.from_pretrained(default_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2)
    path = tmp_path_factory.mktemp("tiny-bert-2cls")
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_study_with_own_data_and_classifier(base, tmp_path_factory, tmp_path, two_class_dir):
    folder = copy_of(base, tmp_path_factory, "study-own-data")
    out = folder / "site"
    records = []
    for i, (text, gold_word, kind) in enumerate(itertools.islice(itertools.cycle([
            ("The cat sta on the mat today.", "sta", "spelling"),
            ("A dog chased ball the across the park.", "ball", "order"),
            ("Paris is the capital of of France.", "of", "order")]), 9)):
        text = text.replace(".", f" number {i}.")
        start = text.index(gold_word) if gold_word != "of" else text.rindex("of")
        records.append({"text": text, "label": 1, "gold": [[start, start + len(gold_word)]], "type": kind})
        records.append({"text": f"Birds sing early in the morning number {i}.", "label": 0})
    path = write_jsonl(tmp_path / "mine.jsonl", records)
    result = invoke("study", "edits", "--out", out, "--data", path, "--classifier", two_class_dir, "--quiet")
    db = out / "report.duckdb"
    examples = query(db, "SELECT split, edit_type, label, text FROM study_examples WHERE study = 'edits' "
                         "ORDER BY example_id")
    assert [r[3] for r in examples] == [r["text"] for r in records]
    assert {r[0] for r in examples} == {"test"}  # a given classifier is only measured
    measured = measured_examples(db)
    assert len(measured) == 9
    for m in measured.values():
        record = next(r for r in records if r["text"] == m["text"])
        start, end = record["gold"][0]
        assert [(w[2], w[3]) for w in m["words"] if w[4]] == [(start, end)]
    figures = figures_of(db)
    assert {k[0] for k in figures} == {"all", "order", "spelling"}
    assert figures[("all", "random", None, None, "interpretable")][3] == 9
    metrics = dict(query(db, "SELECT metric, value FROM study_metrics WHERE study = 'edits'"))
    assert metrics["n_train"] == 0 and metrics["n_test"] == 18 and metrics["epochs"] == 0
    meta = dict(query(db, "SELECT key, value FROM meta WHERE key LIKE 'study.edits.%'"))
    assert meta["study.edits.data"] == "given: mine.jsonl"
    assert (out / "studies" / "edits.html").is_file()
    # see test_study_cli_exits_0_and_prints_the_figures: the CLI crashes after writing while printing figures
    assert result.exit_code == 0, result.output + repr(result.exception)


def study_rows(db: Path) -> dict[str, list]:
    return {t: sorted(query(db, f"SELECT * FROM {t}"), key=repr)
            for t in ("study_metrics", "study_figures", "study_examples", "study_words")}


def test_rebuild_with_same_model_and_corpus_keeps_the_study(studied, tmp_path_factory, bert_dir, corpus_lines):
    folder = copy_of(studied[0], tmp_path_factory, "study-rebuild")
    db = folder / "site" / "report.duckdb"
    before = study_rows(db)
    assert before["study_figures"]
    build_small_site(folder, bert_dir, sentences=corpus_lines, **CHEAP)
    assert study_rows(db) == before
    assert (folder / "site" / "studies" / "edits.html").is_file()
    assert soup(folder / "site" / "index.html").select_one('#studies a[href="studies/edits.html"]') is not None
    meta = dict(query(db, "SELECT key, value FROM meta WHERE key LIKE 'study.edits.%'"))
    assert len(meta) == 3


def test_rebuild_with_another_corpus_drops_the_study(studied, tmp_path_factory, bert_dir, corpus_lines):
    folder = copy_of(studied[0], tmp_path_factory, "study-rebuild-other")
    db = folder / "site" / "report.duckdb"
    assert study_rows(db)["study_figures"]
    build_small_site(folder, bert_dir, sentences=corpus_lines[:150], **CHEAP)
    assert not (folder / "site" / "studies" / "edits.html").exists()
    assert all(has_table(db, t) for t in ("study_metrics", "study_figures", "study_examples", "study_words"))
    assert not any(study_rows(db).values())
    assert soup(folder / "site" / "index.html").select_one("#studies") is None
    assert query(db, "SELECT key FROM meta WHERE key LIKE 'study.%'") == []
