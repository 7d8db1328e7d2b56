"""How a report is cited, from its meta table alone: the report's hash and the CITATION.cff that `reportgen archive`
writes and the about page shows (one function for both, so that the two never differ).

The report's hash identifies how a report was built: the sha256 of the JSON object of HASHED's meta values (the
options that reproduce the build, the hashes of its corpus, probe and model files, the reportgen and schema
versions, the spaCy pipeline and its version), keys sorted, no spaces (`json.dumps(..., sort_keys=True,
separators=(",", ":"))`). Two reports with the same hash were built by the same reportgen from the same files with
the same options and annotations; the libraries' versions (torch, transformers), the device and the build date
are not part of it (they are on the about page).
"""

from __future__ import annotations

import hashlib
import json

HASHED = ("config", "corpus_sha256", "probes_sha256", "model_sha256", "reportgen_version", "schema_version",
          "spacy_model", "spacy_model_version")
NOT_RECORDED = "not recorded"


def hashed_values(meta: dict[str, str]) -> str:
    """The text the report's hash is the sha256 of."""
    return json.dumps({k: meta.get(k, "") for k in HASHED}, sort_keys=True, separators=(",", ":"))


def report_hash(meta: dict[str, str]) -> str:
    """The report's hash (see the module's docstring), 64 hexadecimal characters."""
    return hashlib.sha256(hashed_values(meta).encode()).hexdigest()


def _reference(kind: str, title: str, version: str = "", url: str = "") -> list[str]:
    lines = [f"  - type: {kind}", f"    title: {json.dumps(title)}"]
    if version and version != NOT_RECORDED:
        lines.append(f"    version: {json.dumps(version)}")
    if url:
        lines.append(f"    url: {json.dumps(url)}")
    return lines


def citation_cff(meta: dict[str, str]) -> str:
    """The report's CITATION.cff (Citation File Format 1.2.0): the report as a dataset, identified by its hash, with
    reportgen, the upstream model and the spaCy pipeline it was built with as references."""
    date = meta.get("build_date", "")[:10]
    model = meta.get("model", "")
    upstream = meta.get("model_upstream", NOT_RECORDED)
    lines = ["cff-version: 1.2.0",
             "message: \"If you use this report, please cite it as below.\"",
             "type: dataset",
             f"title: {json.dumps('reportgen report: what the attention heads of ' + model + ' do')}",
             "authors:", "  - name: \"The report's authors (fill in)\"",
             f"version: {json.dumps(meta.get('reportgen_version', ''))}"]
    if date:
        lines.append(f"date-released: {date}")
    lines += ["identifiers:", "  - type: other", f"    value: \"sha256:{report_hash(meta)}\"",
              "    description: \"The report's hash: the sha256 of its build options, input files' hashes, reportgen "
              "and schema versions and spaCy pipeline (about.html)\"",
              "keywords:", "  - attention", "  - interpretability", "  - transformer", "references:"]
    lines += _reference("software", "reportgen", meta.get("reportgen_version", ""))
    if upstream != NOT_RECORDED:
        # an upstream model is recorded by its Hugging Face hub id (provenance.upstream_model)
        lines += _reference("software", upstream, meta.get("model_upstream_revision", ""),
                            f"https://huggingface.co/{upstream}")
    if meta.get("spacy_model"):
        lines += _reference("software", meta["spacy_model"], meta.get("spacy_model_version", ""))
    return "\n".join(lines) + "\n"
