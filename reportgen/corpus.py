"""Reading corpus files and probe sentences into sentence records."""

from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .resources import shipped_dir

SUFFIXES = (".txt", ".jsonl")
SOURCES_FILE = "sources.json"  # optional sidecar: {"file name": {"source": ..., "licence": ...}}
SEPARATOR = "|||"  # a probe line `sentence ||| continuation or reference`


@dataclass(frozen=True)
class Sentence:
    """One sentence of the probes or the corpus; ids are 0-based, probes first."""

    sentence_id: int
    role: str  # 'probe' or 'corpus'
    source: str  # "<file>:<line>"
    text: str
    extra: str = ""  # a probe's continuation or reference sentence (`text ||| extra`), for its attributions


@dataclass(frozen=True)
class SourceFile:
    """A file that sentences were read from, for the provenance page."""

    role: str
    name: str
    sha256: str
    sentences: int
    source: str
    licence: str


def default_corpus_dir() -> Path:
    """The folder holding the shipped corpus and probes."""
    found = shipped_dir("corpora", "probes.txt")
    if found is None:
        raise InputError("the default corpus is missing from this installation; reinstall reportgen or pass --corpus")
    return found


def default_corpus() -> tuple[Path, ...]:
    return (default_corpus_dir() / "wikipedia.txt",)


def default_probes() -> Path:
    return default_corpus_dir() / "probes.txt"


def split_probe(text: str, where: str) -> tuple[str, str]:
    """A probe line -> (sentence, continuation or reference; '' when there is no `|||`)."""
    if SEPARATOR not in text:
        return text, ""
    parts = text.split(SEPARATOR)
    if len(parts) > 2:
        raise InputError(f"{where}: more than one '{SEPARATOR}'; write `sentence {SEPARATOR} continuation` "
                         f"with one separator")
    sentence, extra = parts[0].strip(), parts[1].strip()
    if not sentence:
        raise InputError(f"{where}: nothing before '{SEPARATOR}'; write the probe sentence first")
    if not extra:
        raise InputError(f"{where}: nothing after '{SEPARATOR}'; give a continuation or reference, or drop "
                         f"the separator")
    return sentence, extra


def expand(path: Path) -> list[tuple[Path, str]]:
    """(file, display name) pairs for a file or a directory of corpus files, sorted."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        if not files:
            raise InputError(f"{path}: directory holds no .txt or .jsonl files; add some or pass files with --corpus")
        return [(p, f"{path.name}/{p.relative_to(path).as_posix()}") for p in files]
    if not path.exists():
        raise InputError(f"{path}: corpus file not found; check the --corpus path")
    if path.suffix not in SUFFIXES:
        raise InputError(f"{path}: unsupported file type {path.suffix!r}; use .txt (one sentence per line) or .jsonl")
    return [(path, path.name)]


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # utf-8-sig counts from after a byte-order mark; count in the file's own bytes
        at = exc.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        line = data[:at].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not valid UTF-8 (byte {at}); convert the file to UTF-8") from None


def _lines(path: Path, text: str) -> list[tuple[int, str]]:
    """(line number, sentence text) of every non-blank line of a .txt or .jsonl file."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: not valid JSON ({exc.msg}); fix or remove the line") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise InputError(f'{path}:{number}: expected an object with a string "text" field')
            line = record["text"]
            if not line.strip():
                raise InputError(f'{path}:{number}: the "text" field is empty; remove the line')
        out.append((number, line.strip()))
    return out


def _licence(path: Path) -> tuple[str, str]:
    sidecar = path.parent / SOURCES_FILE
    if sidecar.is_file():
        try:
            entries = json.loads(sidecar.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{sidecar}: not valid JSON ({exc}); fix it or remove it") from None
        if not isinstance(entries, dict):
            raise InputError(f'{sidecar}: expected an object {{"file name": {{"source": ..., "licence": ...}}}}')
        entry = entries.get(path.name)
        if entry is not None and not isinstance(entry, dict):
            raise InputError(f"{sidecar}: the entry for {path.name!r} must be an object with source and licence")
        if entry:
            return entry.get("source", "not stated"), entry.get("licence", "not stated")
    return "not stated", "not stated"


def read_sentences(
    paths: tuple[Path, ...], role: str, first_id: int = 0, limit: int | None = None
) -> tuple[list[Sentence], list[SourceFile]]:
    """Every sentence of the given files or directories in order, up to `limit`, with provenance of each file."""
    sentences: list[Sentence] = []
    files: list[SourceFile] = []
    for given in paths:
        for path, name in expand(given):
            if limit is not None and len(sentences) >= limit:
                break
            data = path.read_bytes()
            lines = _lines(path, _decode(path, data))
            if limit is not None:
                lines = lines[: limit - len(sentences)]
            for number, text in lines:
                extra = ""
                if role == "probe":
                    text, extra = split_probe(text, f"{path}:{number}")
                sentences.append(Sentence(first_id + len(sentences), role, f"{name}:{number}", text, extra))
            source, licence = _licence(path)
            files.append(SourceFile(role, name, hashlib.sha256(data).hexdigest(), len(lines), source, licence))
    if not sentences:
        shown = ", ".join(str(p) for p in paths)
        raise InputError(f"{shown}: no {role} sentences found; the files are empty or blank")
    return sentences, files
