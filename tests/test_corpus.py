"""reportgen.corpus.read_sentences: file kinds, directories, limits, and errors that name the file and line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reportgen.corpus import read_sentences
from reportgen.errors import InputError

pytestmark = pytest.mark.unit

BOM = b"\xef\xbb\xbf"


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _texts(sentences):
    return [s.text for s in sentences]


def _error(paths, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        read_sentences(tuple(paths), "corpus", **kwargs)
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    return message


# ---- reading --------------------------------------------------------------------------------


def test_txt_one_sentence_per_line_with_ids_roles_and_sources(tmp_path):
    path = _write(tmp_path / "c.txt", "First one.\n\n   \nSecond one.\n  Third, indented.  \n")
    sentences, files = read_sentences((path,), "corpus", first_id=5)
    assert _texts(sentences) == ["First one.", "Second one.", "Third, indented."]
    assert [s.sentence_id for s in sentences] == [5, 6, 7]
    assert {s.role for s in sentences} == {"corpus"}
    # the source is file:line of the original file, blank lines counted
    assert [s.source for s in sentences] == ["c.txt:1", "c.txt:4", "c.txt:5"]
    assert len(files) == 1
    assert files[0].name == "c.txt" and files[0].sentences == 3 and files[0].role == "corpus"
    assert files[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_jsonl_text_field(tmp_path):
    lines = [json.dumps({"text": "Alpha beta.", "id": 1}), "", json.dumps({"text": "Quote \" and \\ and 😀"}),
             json.dumps({"text": "  spaced  ", "meta": {"text": 3}})]
    path = _write(tmp_path / "c.jsonl", "\n".join(lines) + "\n")
    sentences, _ = read_sentences((path,), "probe")
    assert _texts(sentences) == ["Alpha beta.", 'Quote " and \\ and 😀', "spaced"]
    assert [s.source for s in sentences] == ["c.jsonl:1", "c.jsonl:3", "c.jsonl:4"]
    assert {s.role for s in sentences} == {"probe"}


def test_no_trailing_newline(tmp_path):
    path = _write(tmp_path / "c.txt", "one\ntwo")
    assert _texts(read_sentences((path,), "corpus")[0]) == ["one", "two"]


def test_crlf_line_endings(tmp_path):
    path = _write(tmp_path / "c.txt", b"one\r\n\r\ntwo\r\nthree")
    sentences, _ = read_sentences((path,), "corpus")
    assert _texts(sentences) == ["one", "two", "three"]
    assert [s.source for s in sentences] == ["c.txt:1", "c.txt:3", "c.txt:4"]
    assert not any("\r" in t for t in _texts(sentences))


def test_crlf_jsonl(tmp_path):
    path = _write(tmp_path / "c.jsonl", b'{"text": "one"}\r\n{"text": "two"}\r\n')
    assert _texts(read_sentences((path,), "corpus")[0]) == ["one", "two"]


@pytest.mark.parametrize("name", ["c.txt", "c.jsonl"])
def test_utf8_bom_is_dropped(tmp_path, name):
    body = "Café one.\nTwo.\n" if name.endswith(".txt") else '{"text": "Café one."}\n{"text": "Two."}\n'
    path = _write(tmp_path / name, BOM + body.encode("utf-8"))
    sentences, _ = read_sentences((path,), "corpus")
    assert _texts(sentences) == ["Café one.", "Two."]
    assert not sentences[0].text.startswith("\ufeff")


def test_unicode_line_separators_inside_a_line_do_not_split_it(tmp_path):
    # only \n ends a line: U+2028, U+0085 and form feeds are text inside the sentence
    path = _write(tmp_path / "c.txt", "a\u2028b\nc\x85d\ne\x0cf\n")
    assert len(read_sentences((path,), "corpus")[0]) == 3


def test_directory_sorted_and_recursive(tmp_path):
    root = tmp_path / "corp"
    _write(root / "b.txt", "from b\n")
    _write(root / "a.jsonl", '{"text": "from a"}\n')
    _write(root / "sub" / "c.txt", "from sub/c\n")
    _write(root / "sub" / "deeper" / "d.txt", "from sub/deeper/d 1\nfrom sub/deeper/d 2\n")
    _write(root / "notes.md", "not a corpus file\n")
    _write(root / "data.json", '{"text": "not jsonl"}\n')
    _write(root / "sources.json", "{}")
    sentences, files = read_sentences((root,), "corpus")
    assert _texts(sentences) == ["from a", "from b", "from sub/c", "from sub/deeper/d 1", "from sub/deeper/d 2"]
    assert [f.name for f in files] == ["corp/a.jsonl", "corp/b.txt", "corp/sub/c.txt", "corp/sub/deeper/d.txt"]
    assert sentences[-1].source == "corp/sub/deeper/d.txt:2"
    assert [s.sentence_id for s in sentences] == list(range(5))


def test_several_paths_keep_their_order(tmp_path):
    z = _write(tmp_path / "z.txt", "zed\n")
    a = _write(tmp_path / "a.txt", "ay\n")
    sentences, files = read_sentences((z, a), "corpus")
    assert _texts(sentences) == ["zed", "ay"]
    assert [f.name for f in files] == ["z.txt", "a.txt"]


@pytest.mark.parametrize("limit, want", [(1, ["a1"]), (2, ["a1", "a2"]), (3, ["a1", "a2", "b1"]),
                                         (4, ["a1", "a2", "b1", "b2"]), (100, ["a1", "a2", "b1", "b2", "b3"])])
def test_limit_across_files(tmp_path, limit, want):
    root = tmp_path / "d"
    _write(root / "a.txt", "a1\n\na2\n")
    _write(root / "b.txt", "b1\nb2\nb3\n")
    sentences, files = read_sentences((root,), "corpus", limit=limit)
    assert _texts(sentences) == want
    assert sum(f.sentences for f in files) == len(want)
    assert [f.name for f in files if f.sentences] == sorted({f"d/{t[0]}.txt" for t in want})


def test_sidecar_sources_json(tmp_path):
    path = _write(tmp_path / "c.txt", "one\n")
    _write(tmp_path / "sources.json", json.dumps({"c.txt": {"source": "Wikipedia", "licence": "CC BY-SA 4.0"}}))
    _, files = read_sentences((path,), "corpus")
    assert (files[0].source, files[0].licence) == ("Wikipedia", "CC BY-SA 4.0")
    other = _write(tmp_path / "other.txt", "two\n")
    _, files = read_sentences((other,), "corpus")
    assert (files[0].source, files[0].licence) == ("not stated", "not stated")


# ---- errors ---------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.txt"
    assert str(missing) in _error([missing])


def test_missing_file_after_a_good_one(tmp_path):
    good = _write(tmp_path / "good.txt", "fine\n")
    assert "nope.txt" in _error([good, tmp_path / "nope.txt"])


@pytest.mark.parametrize("content", [b"", b"\n\n", b"   \n\t\n", BOM, b"\r\n\r\n"])
def test_empty_or_blank_file(tmp_path, content):
    path = _write(tmp_path / "empty.txt", content)
    message = _error([path])
    assert str(path) in message


def test_directory_without_corpus_files(tmp_path):
    root = tmp_path / "d"
    _write(root / "readme.md", "hello\n")
    _write(root / "sub" / "x.csv", "a,b\n")
    message = _error([root])
    assert str(root) in message
    assert ".txt" in message and ".jsonl" in message


def test_empty_directory(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    assert str(root) in _error([root])


def test_unsupported_file_type(tmp_path):
    path = _write(tmp_path / "c.csv", "a\n")
    message = _error([path])
    assert str(path) in message and ".csv" in message


@pytest.mark.parametrize("data, line", [
    (b"\xff\n", 1),
    (b"good\nbad \xff here\n", 2),
    (b"good\n\ngood\ncaf\xc3 truncated sequence\n", 4),
    (b"one\ntwo\nthree \xe9t\xe9\n", 3),  # Latin-1, not UTF-8
])
def test_non_utf8_byte_names_file_and_line(tmp_path, data, line):
    path = _write(tmp_path / "bad.txt", data)
    message = _error([path])
    assert f"{path}:{line}:" in message
    assert "UTF-8" in message


def test_non_utf8_in_a_directory_names_the_file(tmp_path):
    root = tmp_path / "d"
    _write(root / "a.txt", "fine\n")
    bad = _write(root / "sub" / "b.txt", b"fine\nfine\n\x80\n")
    assert f"{bad}:3:" in _error([root])


def test_non_utf8_line_number_in_a_file_with_bom(tmp_path):
    path = _write(tmp_path / "bad.txt", BOM + b"one\ntwo\n\xff\n")
    assert f"{path}:3:" in _error([path])


@pytest.mark.parametrize("bad_line", ["{not json}", '{"text": "unterminated', "[1, 2", "nul"])
def test_jsonl_bad_json_names_file_and_line(tmp_path, bad_line):
    path = _write(tmp_path / "c.jsonl", '{"text": "ok"}\n\n{"text": "ok too"}\n' + bad_line + "\n")
    message = _error([path])
    assert f"{path}:4:" in message
    assert "JSON" in message


@pytest.mark.parametrize("record", ['{"txt": "typo"}', '{"text": 3}', '{"text": null}', '["text"]', '"text"',
                                    '{"text": ["a"]}', '{"text": ""}', '{"text": "   "}'])
def test_jsonl_missing_or_bad_text_names_file_and_line(tmp_path, record):
    path = _write(tmp_path / "c.jsonl", '{"text": "fine"}\n' + record + "\n")
    message = _error([path])
    assert f"{path}:2:" in message
    assert "text" in message


def test_errors_are_input_errors_not_crashes_for_a_directory_with_bad_jsonl(tmp_path):
    root = tmp_path / "d"
    _write(root / "a.txt", "ok\n")
    bad = _write(root / "b.jsonl", '{"text": "ok"}\n{oops\n')
    assert f"{bad}:2:" in _error([root])


def test_malformed_sources_sidecar_is_an_input_error(tmp_path):
    path = _write(tmp_path / "c.txt", "one\n")
    _write(tmp_path / "sources.json", "{not json")
    assert "sources.json" in _error([path])
