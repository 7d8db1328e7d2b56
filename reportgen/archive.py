"""`reportgen archive` and `reportgen verify`: one deterministic .tar.gz that holds a report and what is needed to
check it, and the check.

The archive holds, under `report/`: `site/` (the pages and the database), `inputs/corpus/` and `inputs/probes/`
(the files the report was built from, unless `--no-corpus`; their sha256 stay in the database and the manifest's
header), `config.json` (the options that reproduce the build), `environment.txt` (Python and every installed
package), `CITATION.cff` and `MANIFEST.sha256` (every other file's sha256). Entries are sorted, with fixed modes,
no owner names and the time of SOURCE_DATE_EPOCH (or 1970), and gzip's header carries no name or time: the same
site and inputs give the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, ReportgenError

ROOT = "report"
MANIFEST = "MANIFEST.sha256"
SKIPPED = ("assets/timings.js",)  # this build's timings: they differ from build to build, the pages do not


class BadArchive(ReportgenError):
    """An archive that cannot be checked (exit 2)."""


def _epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(raw) if raw.isdigit() else 0


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inputs(db_files: list[tuple], paths: tuple[Path, ...], role: str) -> dict[str, bytes]:
    """The input files of `role` as the report names them, read from `paths`, each checked against its sha256."""
    from .corpus import _expand

    wanted = {name: sha for r, name, sha, *_ in db_files if r == role}
    found: dict[str, bytes] = {}
    for given in paths:
        for path, name in _expand(given):
            if name in wanted:
                found[name] = path.read_bytes()
    for name, sha in wanted.items():
        if name not in found:
            option = "--probes" if role == "probe" else "--corpus"
            raise InputError(f"{name}: the report was built from this {role} file, which is not among "
                             f"{', '.join(str(p) for p in paths)}; pass it with {option}, or use --no-corpus")
        if _sha256(found[name]) != sha:
            raise InputError(f"{name}: its sha256 differs from the file the report was built from; pass the "
                             f"original file, or use --no-corpus")
    return found


def _environment() -> str:
    import importlib.metadata
    import platform

    packages = sorted({(d.metadata["Name"] or "").lower(): d.version for d in importlib.metadata.distributions()
                       if d.metadata["Name"]}.items())
    return (f"python {platform.python_version()}\n" + "".join(f"{name}=={version}\n" for name, version in packages))


def _citation(meta: dict[str, str]) -> str:
    date = meta.get("build_date", "")[:10]
    lines = ["cff-version: 1.2.0",
             "message: \"If you use this report, please cite it as below.\"",
             "type: dataset",
             f"title: {json.dumps('reportgen report: what the attention heads of ' + meta.get('model', '') + ' do')}",
             "authors:", "  - name: \"The report's authors (fill in)\"",
             f"version: {json.dumps(meta.get('reportgen_version', ''))}"]
    if date:
        lines.append(f"date-released: {date}")
    lines += ["keywords:", "  - attention", "  - interpretability", "  - transformer",
              "references:", "  - type: software", "    title: reportgen",
              f"    version: {json.dumps(meta.get('reportgen_version', ''))}"]
    return "\n".join(lines) + "\n"


def make_archive(site: Path, out: Path, corpus: tuple[Path, ...], probes: Path | None, no_corpus: bool) -> int:
    """Write the archive of the site `site` into `out`; returns the number of files in it."""
    from .corpus import SOURCES_FILE, default_corpus, default_probes
    from .rerender import open_report

    db = site / "report.duckdb"
    if not site.is_dir() or not db.is_file():
        raise InputError(f"{site}: no report here (no report.duckdb); give the folder that reportgen build wrote")
    with open_report(db) as store:
        meta = store.meta()
        files = store.source_files()
    entries: dict[str, bytes] = {}
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site).as_posix()
        if path.is_file() and rel not in SKIPPED:
            entries[f"site/{rel}"] = path.read_bytes()
    if not no_corpus:
        stated = {(r, name): (source, licence) for r, name, _sha, _n, source, licence in files
                  if (source, licence) != ("not stated", "not stated")}
        for role, given, folder in (("corpus", corpus or default_corpus(), "corpus"),
                                    ("probe", (probes or default_probes(),), "probes")):
            sidecars: dict[str, dict] = {}
            for name, data in _inputs(files, tuple(Path(p) for p in given), role).items():
                entries[f"inputs/{folder}/{name}"] = data
                if (role, name) in stated:  # where the file came from, for the rebuild's provenance
                    parent, _, base = f"inputs/{folder}/{name}".rpartition("/")
                    source, licence = stated[(role, name)]
                    sidecars.setdefault(parent, {})[base] = {"source": source, "licence": licence}
            for parent, entry in sidecars.items():
                entries[f"{parent}/{SOURCES_FILE}"] = (json.dumps(entry, indent=2, sort_keys=True) + "\n").encode()
    entries["config.json"] = (json.dumps(json.loads(meta.get("config", "{}")), indent=2, sort_keys=True)
                              + "\n").encode()
    entries["environment.txt"] = _environment().encode()
    entries["CITATION.cff"] = _citation(meta).encode()
    header = "".join(f"# input {role} {name} sha256 {sha}\n" for role, name, sha, *_ in files if role != "model")
    entries[MANIFEST] = (header + "".join(f"{_sha256(data)}  {name}\n" for name, data in sorted(entries.items()))
                         ).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with open(partial, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        folders = {f"{ROOT}/{name}".rsplit("/", i)[0]: None for name in entries for i in range(1, name.count("/") + 2)}
        for name, data in sorted({**folders, **{f"{ROOT}/{n}": d for n, d in entries.items()}}.items()):
            if data is None:  # a folder sorts before what it holds
                tar.addfile(_info(name, tarfile.DIRTYPE, 0o755, 0))
            else:
                tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    os.replace(partial, out)
    return len(entries)


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, _epoch()
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


@dataclass
class Verdict:
    identical: list[str]
    differing: list[tuple[str, str]]  # page, its first differing line (archived / regenerated)


def _read(archive: Path) -> dict[str, bytes]:
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
        if _sha256(files[name]) != sha and not _is_page(name):
            raise BadArchive(f"{archive}: {name} does not match its sha256 in {MANIFEST}; the archive was altered")
    return files


def _is_page(name: str) -> bool:
    return name.startswith("site/") and not name.endswith(".duckdb") and not name.startswith("site/figures/")


def verify(archive: Path, pages_only: bool, model: str | None, progress) -> Verdict:
    """Regenerate the archived site (re-render its database, or rebuild from its inputs) and compare every page."""
    from .build import build
    from .config import load_config
    from .rerender import render_database

    files = _read(archive)
    with tempfile.TemporaryDirectory(prefix="reportgen-verify-") as work:
        work = Path(work)
        for name, data in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(data)
        out = work / "regenerated"
        if pages_only:
            render_database(work / "site" / "report.duckdb", out, None, progress)
        else:
            options = json.loads(files.get("config.json", b"{}"))
            names, probe_name = options.pop("corpus", []), options.pop("probes", None)
            corpus = tuple(work / "inputs" / "corpus" / name for name in names)
            if not corpus or not all(p.exists() for p in corpus):
                raise BadArchive(f"{archive}: archived without its corpus (--no-corpus); check it with --pages-only")
            meta_date = _epoch_of(work / "site" / "report.duckdb")
            saved = os.environ.get("SOURCE_DATE_EPOCH")
            try:
                if meta_date is not None:
                    os.environ["SOURCE_DATE_EPOCH"] = str(meta_date)
                else:
                    os.environ.pop("SOURCE_DATE_EPOCH", None)
                build(load_config(None, **{**options, "model": model or options.get("model"), "corpus": corpus,
                                           "probes": work / "inputs" / "probes" / probe_name, "out": out}),
                      progress)
            finally:
                if saved is None:
                    os.environ.pop("SOURCE_DATE_EPOCH", None)
                else:
                    os.environ["SOURCE_DATE_EPOCH"] = saved
        regenerated = {f"site/{p.relative_to(out).as_posix()}": p.read_bytes() for p in out.rglob("*") if p.is_file()}
    verdict = Verdict([], [])
    for name in sorted(n for n in files if _is_page(n)):
        theirs = regenerated.get(name)
        if theirs == files[name]:
            verdict.identical.append(name)
        else:
            verdict.differing.append((name, _first_difference(files[name], theirs)))
    return verdict


def _epoch_of(db: Path) -> int | None:
    import datetime

    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute("SELECT value FROM meta WHERE key = 'build_date'").fetchall()
    if not found or not found[0][0]:
        return None
    when = datetime.datetime.strptime(found[0][0], "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp())


def _first_difference(archived: bytes, regenerated: bytes | None) -> str:
    if regenerated is None:
        return "missing from the regenerated site"
    a, b = archived.decode("utf-8", "replace").splitlines(), regenerated.decode("utf-8", "replace").splitlines()
    for number, (x, y) in enumerate(zip(a, b), start=1):
        if x != y:
            return f"line {number}: archived {x[:120]!r}, regenerated {y[:120]!r}"
    return f"line {min(len(a), len(b)) + 1}: one of them ends there"
