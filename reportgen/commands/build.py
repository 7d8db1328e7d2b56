"""`reportgen build`: the one orchestrator. It gathers everything into the database (read, annotate, encode the
probes, the per-probe analyses, the corpus pass over every registered accumulator, the derived analyses, meta),
then writes the site from the finished database, read-only, and publishes both atomically. It knows no analysis by
name: analyses/registry.py lists them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..analyses.base import AnalysisSettings, Probes
from ..analyses.registry import DERIVED, PROBE_ANALYSES
from ..annotate import annotate, load_pipeline
from ..config import Config
from ..corpus import Sentence, SourceFile, default_corpus, default_probes, read_sentences
from ..corpus_pass.annotator import Annotator
from ..corpus_pass.probes import encode_probes
from ..corpus_pass.ray import run_shards
from ..corpus_pass.shards import run_local, shards_of, windows_of
from ..corpus_pass.spec import PassSpec, Tuning
from ..corpus_pass.state import PassState
from ..models import device_of, load_model, model_files, resolve_device, resolve_dtype
from ..progress import Clock, Progress
from ..provenance import meta, source_date
from ..site.render import render, write_timings
from ..site.output import staged_output
from ..store import Store, StudiesNotCopied
from ..store.rows import Counts


@dataclass
class Summary:
    """What a build did, for the closing line and the about page."""

    out: Path
    db: Path
    counts: Counts | None = None
    timings: dict[str, float] = field(default_factory=dict)
    page_sizes: dict[str, int] = field(default_factory=dict)  # page path -> bytes (shared assets excluded)
    warnings: list[str] = field(default_factory=list)  # what the user should know, one line each
    annotated_beside: bool = False  # whether spaCy ran in a process of its own beside the model

    @property
    def pages(self) -> int:
        return len(self.page_sizes)

    def largest(self, folder: str = "") -> tuple[str, int]:
        """The heaviest page, or the heaviest page in `folder` (such as 'heads/')."""
        sizes = [(size, path) for path, size in self.page_sizes.items() if path.startswith(folder)]
        size, path = max(sizes) if sizes else (0, "")
        return path, size


def build(config: Config, progress: Progress | None = None, tuning: Tuning = Tuning()) -> Summary:
    """Run every stage: read, annotate, encode and search, store, render; the site appears only when complete."""
    import torch

    progress = progress or Progress()
    clock = Clock()
    summary = Summary(config.out, config.db_path, timings=clock.timings)
    source_date()  # a bad SOURCE_DATE_EPOCH fails here, before any model is loaded
    with clock("read"):
        probes, probe_files = read_sentences((config.probes or default_probes(),), "probe")
        corpus, corpus_files = read_sentences(config.corpus or default_corpus(), "corpus",
                                              first_id=len(probes), limit=config.limit)
    with clock("load models"):
        device = resolve_device(config.device)
        loaded = load_model(config.model, config.max_length, device, resolve_dtype(config.dtype, device))
        weights = model_files(config.model)  # the model's identity: its files' sha256, for source_files
        nlp = load_pipeline()
        # each per-probe analysis checks its targets (a bad `|||` line, target_class) before any work
        probe_analyses = [kind(loaded, probes, config) for kind in PROBE_ANALYSES]

    external_db = config.db is not None and config.db.resolve().parent != config.out.resolve()
    with staged_output(config.out) as staged:
        db_path = (config.db.with_name(config.db.name + ".building") if external_db
                   else staged.folder / (config.db.name if config.db else "report.duckdb"))
        if external_db:
            staged.leftovers.append(db_path)
            config.db.parent.mkdir(parents=True, exist_ok=True)
        if db_path.exists():
            db_path.unlink()
        store = Store(db_path)
        store.create()
        # spaCy runs in a process of its own beside the model for a large corpus, from here on
        summary.annotated_beside = (len(corpus) >= tuning.annotate_beside and (os.cpu_count() or 1) > 1
                                    and not config.ray)
        annotator = Annotator(windows_of(corpus, config.batch_size, tuning), nlp, summary.annotated_beside,
                              tuning.annotate)
        with store, annotator:
            _gather(store, config, loaded, annotator, probes, corpus, probe_files + corpus_files + weights, clock,
                    progress, probe_analyses, summary.warnings, tuning, torch.get_num_threads())
            _keep_studies(store, config.db_path, summary.warnings)
            store.finish()
            summary.counts = store.counts()
        # pages come from the finished database, read-only: render processes can open it beside this one
        with clock("render"), Store(db_path, read_only=True) as finished:
            summary.page_sizes = render(finished, staged.folder, progress, config.shown_matches, config.figures)
        write_timings(staged.folder, clock.timings)
        if external_db:
            os.replace(db_path, config.db)
    return summary


def _gather(store: Store, config: Config, loaded, annotator: Annotator, probes: list[Sentence],
            corpus: list[Sentence], files: list[SourceFile], clock: Clock, progress: Progress, probe_analyses: list,
            warned: list[str], tuning: Tuning, threads: int) -> None:
    """Annotate, encode, search and analyse; write every table."""
    info = loaded.info
    store.insert("source_files", [(f.role, f.name, f.sha256, f.sentences, f.source, f.licence) for f in files])

    # The corpus is annotated window by window as it is encoded (the annotator); the probes here, first.
    with clock("annotate"), progress.stage("annotate", len(probes)) as advance:
        store.insert("words", [w for words in annotate([s.text for s in probes], annotator.nlp, advance=advance,
                                                       ids=[s.sentence_id for s in probes]) for w in words])
    with clock("encode probes"):
        encoded = encode_probes(store, loaded, probes, config.batch_size)
    for analysis in probe_analyses:
        with clock(analysis.stage):
            store.insert_tables(analysis.run(Probes(probes, encoded.tokenized, encoded.attention, encoded.n_words),
                                             progress, warned, corpus))
            store.set_meta(analysis.meta())

    first = len(probes)
    settings = AnalysisSettings(info.n_layers, info.n_heads, config.top_k, config.max_matches_per_sentence,
                                config.min_dep_support, frozenset(range(first, first + config.similarity_sentences)),
                                encoded.embedding, encoded.context, encoded.keys)
    spec = PassSpec(config.model, config.max_length, config.device, config.dtype, config.batch_size,
                    config.max_batch_tokens, settings, threads)
    total = PassState.new(settings, device_of(loaded))
    shards = shards_of(annotator.windows, tuning)
    clock.timings.setdefault("encode and search corpus", 0.0)  # listed before its part "of which statistics"
    with clock("encode and search corpus"), progress.stage("encode", len(corpus)) as advance:
        if config.ray:
            results = run_shards(spec, shards, config.ray, advance)
        else:  # the same shards in turn, each window stored as soon as it is searched
            results = run_local(loaded, spec, annotator, shards, clock, advance, tuning)
        for word_rows, sentence_rows, token_rows, state in results:
            store.insert("words", word_rows)
            store.insert("sentences", sentence_rows)
            store.insert("tokens", token_rows)
            if state is not None:
                total.merge(state)

    with clock("store"):
        store.insert_tables(total.tables())
        for derive in DERIVED:
            store.insert_tables(derive(total.accumulators, store))
        store.set_meta(meta(config, loaded, files))


def _keep_studies(store: Store, previous: Path, warned: list[str]) -> None:
    """The studies (`reportgen study ...`) of the database this build replaces, where that report was built from
    the same model and corpus: a rebuild keeps them on the site."""
    import duckdb

    if not previous.is_file():
        return
    try:
        store.copy_studies(previous)
    except StudiesNotCopied as exc:
        warned.append(f"{previous}: {exc}, and are not carried over: run them again")
    except duckdb.Error as exc:
        warned.append(f"{previous}: the previous database could not be read ({str(exc).splitlines()[0]}); its "
                      f"studies, if any, are not carried over: run them again")
