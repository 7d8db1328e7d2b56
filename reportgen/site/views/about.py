"""about.html: the report's provenance: its input files with their hashes, every option used, versions, counts."""

from __future__ import annotations

from dataclasses import dataclass

from ...citation import HASHED, NOT_RECORDED, citation_cff, hashed_values, report_hash
from ...corpus import SourceFile
from .common import Report

# where the site was written: not part of the analysis, and an absolute path must not reach a published report
# (databases written before these options were left out of the meta table still hold them)
HIDDEN_OPTIONS = ("out", "db")


@dataclass(frozen=True)
class AboutPage:
    """about.html: provenance of the report."""

    root: str
    title: str
    files: tuple[SourceFile, ...]  # corpus, probe and model files, each with its own sha256
    settings: tuple[tuple[str, str], ...]  # each option with the value the build used (never out or db)
    versions: tuple[tuple[str, str], ...]
    hashes: tuple[tuple[str, str], ...]  # corpus_sha256, probes_sha256, model_sha256: one per set of files
    counts: tuple[tuple[str, str], ...]
    upstream: tuple[tuple[str, str], ...]  # the model's upstream id, revision and where they were read
    report_sha256: str  # the report's hash (reportgen.citation)
    hashed: tuple[str, ...]  # the meta keys it is made of
    hashed_text: str  # the text it is the sha256 of
    citation: str  # the CITATION.cff that `reportgen archive` writes


def about_page(report: Report) -> AboutPage:
    m = report.meta
    counts = report.store.counts()
    settings = tuple((k.removeprefix("option."), v) for k, v in sorted(m.items())
                     if k.startswith("option.") and k.removeprefix("option.") not in HIDDEN_OPTIONS)
    versions = tuple((k, m.get(k, "not recorded")) for k in (
        "model", "architecture", "reportgen_version", "schema_version", "python_version", "torch_version",
        "transformers_version", "spacy_version", "spacy_model", "spacy_model_version", "duckdb_version"))
    hashes = tuple((k, m.get(k, "not recorded")) for k in ("corpus_sha256", "probes_sha256", "model_sha256"))
    date = m.get("build_date") or "not recorded (set SOURCE_DATE_EPOCH to record it reproducibly)"
    upstream = tuple((k, m.get(k, NOT_RECORDED)) for k in ("model_upstream", "model_upstream_revision",
                                                           "model_upstream_source"))
    return AboutPage("", f"About · {m['model']}", tuple(report.store.source_files()),
                     settings, (("build date", date),) + versions, hashes,
                     tuple((k, str(v)) for k, v in counts._asdict().items()), upstream, report_hash(m),
                     HASHED, hashed_values(m), citation_cff(m))
