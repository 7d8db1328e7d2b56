"""`reportgen archive`: one deterministic .tar.gz that holds a report and what is needed to check it (`reportgen
verify`, commands/verify.py).

The archive holds, under `report/`: `site/` (the pages and the database), `inputs/corpus/` and `inputs/probes/`
(the files the report was built from, unless `--no-corpus`; their sha256 stay in the database and the manifest's
header), `config.json` (the options that reproduce the build), `environment.txt` (Python and every installed
package), `CITATION.cff` (reportgen.citation: the about page shows the same) and `MANIFEST.sha256` (every other
file's sha256). Entries are sorted, with fixed modes,
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
from pathlib import Path

from ..citation import citation_cff
from ..corpus import SOURCES_FILE, SourceFile, default_corpus, default_probes, expand
from ..errors import InputError, ReportgenError
from ..provenance import source_epoch
from ..store import open_report

ROOT = "report"
MANIFEST = "MANIFEST.sha256"
SKIPPED = ("assets/timings.js",)  # this build's timings: they differ from build to build, the pages do not


class BadArchive(ReportgenError):
    """An archive that cannot be checked (exit 2)."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inputs(db_files: list[SourceFile], paths: tuple[Path, ...], role: str) -> dict[str, bytes]:
    """The input files of `role` as the report names them, read from `paths`, each checked against its sha256."""
    wanted = {f.name: f.sha256 for f in db_files if f.role == role}
    found: dict[str, bytes] = {}
    for given in paths:
        for path, name in expand(given):
            if name in wanted:
                found[name] = path.read_bytes()
    for name, sha in wanted.items():
        if name not in found:
            option = "--probes" if role == "probe" else "--corpus"
            raise InputError(f"{name}: the report was built from this {role} file, which is not among "
                             f"{', '.join(str(p) for p in paths)}; pass it with {option}, or use --no-corpus")
        if sha256(found[name]) != sha:
            raise InputError(f"{name}: its sha256 differs from the file the report was built from; pass the "
                             f"original file, or use --no-corpus")
    return found


def _environment() -> str:
    import importlib.metadata
    import platform

    packages = sorted({(d.metadata["Name"] or "").lower(): d.version for d in importlib.metadata.distributions()
                       if d.metadata["Name"]}.items())
    return (f"python {platform.python_version()}\n" + "".join(f"{name}=={version}\n" for name, version in packages))


def make_archive(site: Path, out: Path, corpus: tuple[Path, ...], probes: Path | None, no_corpus: bool) -> int:
    """Write the archive of the site `site` into `out`; returns the number of files in it."""
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
        stated = {(f.role, f.name): (f.source, f.licence) for f in files
                  if (f.source, f.licence) != ("not stated", "not stated")}
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
    entries["CITATION.cff"] = citation_cff(meta).encode()
    header = "".join(f"# input {f.role} {f.name} sha256 {f.sha256}\n" for f in files if f.role != "model")
    entries[MANIFEST] = (header + "".join(f"{sha256(data)}  {name}\n" for name, data in sorted(entries.items()))
                         ).encode()
    epoch = source_epoch() or 0  # a bad SOURCE_DATE_EPOCH is a one-line error, as for the build
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with open(partial, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        folders = {f"{ROOT}/{name}".rsplit("/", i)[0]: None for name in entries for i in range(1, name.count("/") + 2)}
        for name, data in sorted({**folders, **{f"{ROOT}/{n}": d for n, d in entries.items()}}.items()):
            if data is None:  # a folder sorts before what it holds
                tar.addfile(_info(name, tarfile.DIRTYPE, 0o755, 0, epoch))
            else:
                tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(data), epoch), io.BytesIO(data))
    os.replace(partial, out)
    return len(entries)


def _info(name: str, kind: bytes, mode: int, size: int, epoch: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, epoch
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
