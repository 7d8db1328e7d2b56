"""index.html: the overview. Its parts are sections: its own (the Findings, the model card, the studies, the probe
list) and those the analyses add (site/sections: every head at a glance, the roles and the table of heads, Table 1,
the map of the heads, which heads matter, the agreement with the gradients)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...unit import Section
from ..sections import Placed, placed
from .common import Link, Report
from .head import NOT_IN_TEMPLATE
from .summary import Finding

TEMPLATE = "sections/index.html"


@dataclass(frozen=True)
class IndexPage:
    """index.html: the model's name, the table of contents and the sections."""

    root: str
    title: str
    model: str
    toc: tuple[Link, ...]
    body: tuple[Placed, ...]
    charts: tuple = field(default=(), metadata=NOT_IN_TEMPLATE)  # (DOM id, spec) of each chart, for --figures


@dataclass(frozen=True)
class ModelCard:
    """The model and the data it was measured on."""

    model: tuple[tuple[str, str], ...]
    corpus: tuple[tuple[str, str], ...]


def findings(report: Report) -> tuple[Finding, ...] | None:
    """The Findings: each rule's sentence ('findings' sections, in their order), those with nothing to say left
    out."""
    return tuple(f for s in report.sections.get("findings", ()) if (f := s.view(report)) is not None) or None


def model_card(report: Report) -> ModelCard:
    m = report.meta
    counts = report.store.counts()
    model = (("model", m["model"]), ("architecture", m["architecture"]), ("layers", m["n_layers"]),
             ("heads per layer", m["n_heads"]), ("hidden size", m["d_model"]), ("head size", m["d_head"]),
             ("token limit", m["max_length"]))
    corpus = (("corpus sentences", f"{counts.sentences:,}"), ("corpus words", f"{counts.words:,}"),
              ("corpus tokens (special tokens included)", f"{counts.tokens:,}"),
              ("of them special tokens ([CLS], [SEP], ...)", f"{counts.special_tokens:,}"),
              ("truncated sentences", str(counts.truncated)),
              ("repeated sentences (kept)", str(counts.duplicates)),
              ("probe sentences", str(counts.probes)), ("matches kept per token and space", m.get("top_k", "")))
    return ModelCard(model, corpus)


def studies(report: Report) -> tuple[Link, ...] | None:
    if report.study is None:
        return None
    return (Link("studies/edits.html", "Is the attention interpretable? Edit identification (Stevens & Su 2020)"),)


SECTIONS = (
    Section("index", "findings", "Findings", TEMPLATE, "findings", 0, findings),
    Section("index", "model", "Model and data", TEMPLATE, "model", 10, model_card),
    Section("index", "studies", "Studies", TEMPLATE, "studies", 80, studies),
    Section("index", "probes", "Probe sentences", TEMPLATE, "probes", 90, lambda report: tuple(report.probes)),
)


def index_page(report: Report) -> IndexPage:
    parts = placed(report.sections.get("index", ()), report)
    return IndexPage("", f"reportgen · {report.model}", report.model, parts.toc, parts.body, parts.charts)
