"""reportgen.encode.align and tokenize on tricky text, with the real MiniLM tokenizer and spaCy pipeline."""

from __future__ import annotations

import dataclasses

import pytest

from reportgen.annotate import Word, annotate, load_pipeline
from reportgen.align import align
from reportgen.encode import tokenize
from reportgen.errors import InputError
from reportgen.models import load_model

pytestmark = pytest.mark.unit

TRICKY = {
    "contractions": "She can't say it's over, isn't it?",
    "hyphens": "A state-of-the-art, well-known model.",
    "accents": "The café served a naïve crème brûlée.",
    "emoji": "Great job 👍🏽 and thanks 😀!",
    "literal specials": "Type [CLS] then [SEP] and [MASK] here.",
    "specials glued": "[CLS][SEP][PAD][UNK]",
    "multiple spaces": "Two   spaces    here  and\tthere .",
    "leading and trailing spaces": "   padded sentence here.   ",
}


@pytest.fixture(scope="module")
def minilm(bert_dir):
    """MiniLM's own tokenizer (the tiny BERT is saved with it: conftest.bert_dir) and its special tokens; only the
    tokenizer and the token limit matter to tokenize, and the tests set the limit they need."""
    return load_model(str(bert_dir))


@pytest.fixture(scope="module")
def nlp():
    return load_pipeline()


@pytest.fixture(scope="module")
def gpt2(gpt2_dir):
    return load_model(str(gpt2_dir))


def _words(nlp, text: str) -> tuple[Word, ...]:
    (words,) = annotate([text], nlp)
    return words


def _overlaps(token, word) -> bool:
    return min(token.char_end, word.char_end) > max(token.char_start, word.char_start)


def _word(words, idx):
    (w,) = [w for w in words if w.word_idx == idx]
    return w


# ---- align on synthetic words ------------------------------------------------------------------


def _w(idx, start, end):
    return Word(0, idx, "x" * (end - start), "x", "X", "X", "dep", idx, None, False, start, end)


def test_align_picks_the_word_overlapping_most():
    words = [_w(0, 0, 2), _w(1, 2, 5), _w(2, 6, 9)]
    # inside word 0; 1 char of word 0 vs 2 of word 1; exactly word 1; 1 char of word 1 vs 2 of word 2
    offsets = [(0, 2), (1, 4), (2, 5), (4, 8)]
    assert align(offsets, [False] * 4, words) == [0, 1, 1, 2]


def test_align_tie_goes_to_the_first_word():
    words = [_w(0, 0, 3), _w(1, 3, 6)]
    assert align([(1, 5)], [False], words) == [0]


def test_align_special_tokens_get_none():
    words = [_w(0, 0, 3)]
    assert align([(0, 0), (0, 3), (0, 0)], [True, False, True], words) == [None, 0, None]


def test_align_whitespace_piece_goes_to_the_next_word_or_the_last():
    words = [_w(0, 0, 3), _w(1, 6, 9)]
    # (3, 6) is the gap between the words; (9, 11) is after the last word
    assert align([(3, 4), (4, 6), (9, 11)], [False] * 3, words) == [1, 1, 1]
    assert align([(10, 11)], [False], [_w(0, 0, 3)]) == [0]


# ---- tokenize with the real MiniLM tokenizer -------------------------------------------------


def _check_alignment(tokenized, words, text):
    assert [t.token_idx for t in tokenized.tokens] == list(range(len(tokenized.tokens)))
    assert len(tokenized.input_ids) == len(tokenized.tokens)
    for t in tokenized.tokens:
        if t.is_special:
            assert t.word_idx is None
            continue
        assert t.word_idx is not None, t
        assert 0 <= t.char_start < t.char_end <= len(text), t
        word = _word(words, t.word_idx)
        assert _overlaps(t, word), (t, word)


@pytest.mark.parametrize("name", list(TRICKY))
def test_minilm_tokens_align_to_overlapping_words(minilm, nlp, name):
    text = TRICKY[name]
    words = _words(nlp, text)
    tokenized = tokenize(minilm, text, words, strict=True, where="test")
    assert not tokenized.truncated
    specials = [t for t in tokenized.tokens if t.is_special]
    # exactly the [CLS] ... [SEP] the tokenizer adds itself, at both ends
    assert [t.text for t in specials] == ["[CLS]", "[SEP]"]
    assert tokenized.tokens[0].is_special and tokenized.tokens[-1].is_special
    assert all((t.char_start, t.char_end) == (0, 0) for t in specials)
    _check_alignment(tokenized, words, text)
    # every word that is not only emoji/whitespace is covered by some token
    covered = {t.word_idx for t in tokenized.tokens if not t.is_special}
    assert covered >= {w.word_idx for w in words if w.text.isascii() or w.text.isalpha()}


def test_minilm_contractions_split_like_spacy(minilm, nlp):
    text = "I can't, it's fine."
    words = _words(nlp, text)
    tokenized = tokenize(minilm, text, words, strict=True, where="test")
    by_word = {}
    for t in tokenized.tokens:
        if not t.is_special:
            by_word.setdefault(_word(words, t.word_idx).text, []).append(text[t.char_start:t.char_end])
    # spaCy: ca | n't | it | 's ; the wordpiece pieces land on the word they overlap most
    assert by_word["n't"] == ["'", "t"]
    assert by_word["'s"] == ["'", "s"]
    assert "".join(by_word["ca"]) + "".join(by_word["n't"]) == "can't"


def test_minilm_accents_offsets_point_at_the_original_characters(minilm, nlp):
    text = "Un café naïve."
    words = _words(nlp, text)
    tokenized = tokenize(minilm, text, words, strict=True, where="test")
    spans = [text[t.char_start:t.char_end] for t in tokenized.tokens if not t.is_special]
    assert "café" in "".join(spans)
    assert "naïve" in "".join(spans)
    cafe = _word(words, [w.word_idx for w in words if w.text == "café"][0])
    assert any(t.word_idx == cafe.word_idx for t in tokenized.tokens)


@pytest.mark.parametrize("literal", ["[CLS]", "[SEP]", "[MASK]", "[PAD]"])
def test_minilm_literal_special_token_text_is_plain_text(minilm, nlp, literal):
    text = f"Write {literal} here."
    words = _words(nlp, text)
    tokenized = tokenize(minilm, text, words, strict=True, where="test")
    inner = tokenized.tokens[1:-1]
    assert not any(t.is_special for t in inner)
    special_ids = set(minilm.tokenizer.all_special_ids)
    assert not special_ids & set(tokenized.input_ids[1:-1]), "literal text became a control token"
    # it is split into several pieces covering the literal's characters
    start = text.index(literal)
    pieces = [t for t in inner if t.char_start >= start and t.char_end <= start + len(literal)]
    assert len(pieces) >= 3
    assert "".join(text[t.char_start:t.char_end] for t in pieces) == literal


def test_minilm_multiple_spaces_give_no_whitespace_tokens(minilm, nlp):
    text = "Two   spaces    here."
    words = _words(nlp, text)
    assert not any(w.text.isspace() for w in words)
    tokenized = tokenize(minilm, text, words, strict=True, where="test")
    texts = [text[t.char_start:t.char_end] for t in tokenized.tokens if not t.is_special]
    assert texts == ["Two", "spaces", "here", "."]
    assert [t.word_idx for t in tokenized.tokens if not t.is_special] == [0, 1, 2, 3]


def _limited(loaded, limit):
    return dataclasses.replace(loaded, info=dataclasses.replace(loaded.info, max_length=limit))


def test_minilm_long_sentence_strict_raises_input_error(minilm, nlp):
    text = " ".join(["word"] * 30) + "."
    words = _words(nlp, text)
    with pytest.raises(InputError) as info:
        tokenize(_limited(minilm, 16), text, words, strict=True, where="probes.txt:7")
    message = str(info.value)
    assert "probes.txt:7" in message
    assert "16" in message


def test_minilm_long_sentence_not_strict_truncates(minilm, nlp):
    text = " ".join(["word"] * 30) + "."
    words = _words(nlp, text)
    full = tokenize(minilm, text, words, strict=True, where="x")
    assert len(full.tokens) == 33 and not full.truncated
    cut = tokenize(_limited(minilm, 16), text, words, strict=False, where="x")
    assert cut.truncated
    assert len(cut.tokens) == len(cut.input_ids) == 16
    assert cut.tokens[0].is_special and cut.tokens[-1].is_special
    assert cut.input_ids[:15] == full.input_ids[:15]
    assert cut.input_ids[-1] == full.input_ids[-1]  # [SEP] still closes the sentence
    _check_alignment(cut, words, text)


def test_minilm_sentence_exactly_at_the_limit_is_not_truncated(minilm, nlp):
    text = " ".join(["word"] * 14)  # 14 pieces + [CLS] + [SEP] = 16
    words = _words(nlp, text)
    tokenized = tokenize(_limited(minilm, 16), text, words, strict=True, where="x")
    assert len(tokenized.tokens) == 16 and not tokenized.truncated
    with pytest.raises(InputError):
        tokenize(_limited(minilm, 15), text, words, strict=True, where="x")


# ---- tokenize with the tiny GPT-2 byte-level tokenizer (leading spaces in tokens) -------------


@pytest.mark.parametrize("name", list(TRICKY))
def test_gpt2_tokens_align(gpt2, nlp, name):
    text = TRICKY[name]
    words = _words(nlp, text)
    tokenized = tokenize(gpt2, text, words, strict=True, where="test")
    assert not any(t.is_special for t in tokenized.tokens)  # GPT-2 adds no special tokens
    assert [t.token_idx for t in tokenized.tokens] == list(range(len(tokenized.tokens)))
    for t in tokenized.tokens:
        assert t.word_idx is not None, t
        word = _word(words, t.word_idx)
        piece = text[t.char_start:t.char_end]
        if piece.strip():
            assert _overlaps(t, word), (t, word)
        else:
            # a whitespace-only piece goes to the next word, or the last word at the end of the text
            later = [w for w in words if w.char_start >= t.char_end]
            assert word == (later[0] if later else words[-1]), (t, word)


def test_gpt2_leading_space_tokens_belong_to_the_word_after_the_space(gpt2, nlp):
    text = "The cat sat on the mat."
    words = _words(nlp, text)
    tokenized = tokenize(gpt2, text, words, strict=True, where="test")
    marked = [t for t in tokenized.tokens if t.text.startswith("Ġ")]
    assert marked, "the byte-level tokenizer should mark leading spaces"
    for t in marked:
        assert text[t.char_start] == " " or t.char_start > 0 and text[t.char_start - 1] == " "
        word = _word(words, t.word_idx)
        assert word.char_start > 0 and text[word.char_start - 1] == " "
        assert word.char_start <= t.char_end - 1 < word.char_end
    # all words are reached, in order
    assert [t.word_idx for t in tokenized.tokens] == sorted(t.word_idx for t in tokenized.tokens)
    assert {t.word_idx for t in tokenized.tokens} == {w.word_idx for w in words}


def test_gpt2_literal_endoftext_is_plain_text(gpt2, nlp):
    text = "End <|endoftext|> here."
    words = _words(nlp, text)
    tokenized = tokenize(gpt2, text, words, strict=True, where="test")
    eos = gpt2.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert eos not in tokenized.input_ids
    assert not any(t.is_special for t in tokenized.tokens)


def test_gpt2_long_sentence(gpt2, nlp):
    text = " ".join(["cat"] * 80)
    words = _words(nlp, text)
    with pytest.raises(InputError):
        tokenize(gpt2, text, words, strict=True, where="corpus.txt:3")
    cut = tokenize(gpt2, text, words, strict=False, where="corpus.txt:3")
    assert cut.truncated and len(cut.tokens) == gpt2.info.max_length == 64


def test_a_word_with_no_token_of_its_own_is_given_the_token_that_contains_it(minilm, nlp):
    """spaCy splits "cannot" into "can" + "not" and MiniLM's WordPiece keeps "cannot" whole: the token goes to "can"
    (the first word on a tie), and `containing` gives "not" that token, the only words so served."""
    from reportgen.align import containing

    text = "We cannot go there."
    words = _words(nlp, text)
    tok = tokenize(minilm, text, words, strict=True, where="test")
    by_text = {w.text: w for w in words}
    assert {"can", "not"} <= set(by_text)
    (cannot,) = [t for t in tok.tokens if text[t.char_start:t.char_end] == "cannot"]
    assert cannot.word_idx == by_text["can"].word_idx
    owned = {t.word_idx for t in tok.tokens}
    expected = [(t.token_idx, w.word_idx) for w in words if w.word_idx not in owned for t in tok.tokens
                if not t.is_special and _overlaps(t, w)]
    assert containing(tok.tokens, words) == expected == [(cannot.token_idx, by_text["not"].word_idx)]
