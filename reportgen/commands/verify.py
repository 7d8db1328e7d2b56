"""`reportgen verify ARCHIVE`: an archive's manifest checked, then every page against a rebuild from its inputs (or
a re-render of its database), each page reported identical or with its first differing line."""

from __future__ import annotations

import gzip
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..analyses.registry import UNITS, load_config
from ..store import Store
from ..unit import Unit
from .archive import MANIFEST, ROOT, BadArchive, sha256
from .build import build
from .render import render_database


@dataclass
class Verdict:
    identical: list[str]
    differing: list[tuple[str, str]]  # page, its first differing line (archived / regenerated)


def read_archive(archive: Path) -> dict[str, bytes]:
    """The archive's files (under report/), checked against its manifest: a bad archive raises BadArchive."""
    if not archive.is_file():
        raise BadArchive(f"{archive}: no such archive")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            files = {}
            for member in tar.getmembers():
                if member.isfile():
                    if not member.name.startswith(f"{ROOT}/") or ".." in member.name.split("/"):
                        raise BadArchive(f"{archive}: unexpected entry {member.name!r}; not a reportgen archive")
                    files[member.name[len(ROOT) + 1:]] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise BadArchive(f"{archive}: not a readable .tar.gz ({exc}); the file is damaged or truncated") from None
    if MANIFEST not in files:
        raise BadArchive(f"{archive}: no {MANIFEST}; not a reportgen archive")
    listed = {}
    for line in files[MANIFEST].decode().splitlines():
        if line and not line.startswith("#"):
            sha, _, name = line.partition("  ")
            listed[name] = sha
    missing = sorted(set(listed) - set(files)) + sorted(set(files) - set(listed) - {MANIFEST})
    if missing:
        raise BadArchive(f"{archive}: {missing[0]} is in the manifest but not the archive, or the other way round")
    for name, sha in listed.items():
        if sha256(files[name]) != sha and not _is_page(name):
            raise BadArchive(f"{archive}: {name} does not match its sha256 in {MANIFEST}; the archive was altered")
    return files


def _is_page(name: str) -> bool:
    return name.startswith("site/") and not name.endswith(".duckdb") and not name.startswith("site/figures/")


def verify(archive: Path, pages_only: bool, model: str | None, progress, units: tuple[Unit, ...] = UNITS) -> Verdict:
    """Regenerate the archived site (re-render its database, or rebuild from its inputs, with the analyses
    `units`) and compare every page."""
    files = read_archive(archive)
    with tempfile.TemporaryDirectory(prefix="reportgen-verify-") as work:
        work = Path(work)
        for name, data in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(data)
        out = work / "regenerated"
        if pages_only:
            render_database(work / "site" / "report.duckdb", out, None, progress, units)
        else:
            options = json.loads(files.get("config.json", b"{}"))
            names, probe_name = options.pop("corpus", []), options.pop("probes", None)
            corpus = tuple(work / "inputs" / "corpus" / name for name in names)
            if not corpus or not all(p.exists() for p in corpus):
                raise BadArchive(f"{archive}: archived without its corpus (--no-corpus); check it with --pages-only")
            with Store(work / "site" / "report.duckdb", read_only=True) as archived:
                date = archived.meta().get("build_date", "")  # the rebuild records the same build date
            build(load_config(None, units, **{**options, "model": model or options.get("model"), "corpus": corpus,
                                              "probes": work / "inputs" / "probes" / probe_name, "out": out}),
                  progress, units=units, date=date)
        regenerated = {f"site/{p.relative_to(out).as_posix()}": p.read_bytes() for p in out.rglob("*") if p.is_file()}
    verdict = Verdict([], [])
    for name in sorted(n for n in files if _is_page(n)):
        theirs = regenerated.get(name)
        if theirs == files[name]:
            verdict.identical.append(name)
        else:
            verdict.differing.append((name, _first_difference(files[name], theirs)))
    return verdict


def _first_difference(archived: bytes, regenerated: bytes | None) -> str:
    if regenerated is None:
        return "missing from the regenerated site"
    a, b = archived.decode("utf-8", "replace").splitlines(), regenerated.decode("utf-8", "replace").splitlines()
    for number, (x, y) in enumerate(zip(a, b), start=1):
        if x != y:
            return f"line {number}: archived {x[:120]!r}, regenerated {y[:120]!r}"
    return f"line {min(len(a), len(b)) + 1}: one of them ends there"
