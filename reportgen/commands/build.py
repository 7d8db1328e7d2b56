"""`reportgen build`: the one orchestrator. It gathers everything into the database (read, annotate, encode the
probes, meta, the per-probe analyses, the corpus pass over every registered accumulator, the derived analyses),
then writes the site from the finished database, read-only, and publishes both atomically. It knows no analysis by
name: it is given the registry's entries (analyses/registry.py) and takes from each what it declares."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import corpus_pass
from ..analyses.base import PassInputs, Probes
from ..analyses.registry import UNITS, tables_of
from ..annotate import annotate, load_pipeline
from ..config import Config
from ..corpus import (
    Sentence,
    SourceFile,
    default_corpus,
    default_probes,
    read_sentences,
)
from ..models import LoadedModel, load_model, model_files, read_architecture, resolve_device, resolve_dtype
from ..preflight import Estimate, plan
from ..probe_pass import encode_probes
from ..progress import Clock, Progress
from ..provenance import meta, source_date
from ..site.output import staged_output
from ..site.render import render, write_timings
from ..store import Store, StudiesNotCopied
from ..store.rows import Counts
from ..unit import Unit


@dataclass
class Summary:
    """What a build did, for the closing line and the about page."""

    out: Path
    db: Path
    counts: Counts | None = None
    timings: dict[str, float] = field(default_factory=dict)
    page_sizes: dict[str, int] = field(default_factory=dict)  # page path -> bytes (shared assets excluded)
    warnings: list[str] = field(default_factory=list)  # what the user should know, one line each
    annotators: int = 0  # how many spaCy processes ran beside the model (0: spaCy ran in the build's own process)
    shards: list[tuple[int, int, int, float]] = field(default_factory=list)  # with --ray: each shard's timing
    estimate: Estimate | None = None  # the memory the build was estimated to need, before loading the model

    @property
    def pages(self) -> int:
        return len(self.page_sizes)

    def largest(self, folder: str = "") -> tuple[str, int]:
        """The heaviest page, or the heaviest page in `folder` (such as 'heads/')."""
        sizes = [(size, path) for path, size in self.page_sizes.items() if path.startswith(folder)]
        size, path = max(sizes) if sizes else (0, "")
        return path, size


@dataclass
class Loaded:
    """What the build has read and loaded before it writes anything: the inputs, the model, spaCy, and each
    per-probe analysis (made now, so that a bad target fails before any work)."""

    config: Config
    units: tuple[Unit, ...]
    probes: list[Sentence]
    corpus: list[Sentence]
    files: list[SourceFile]
    model: LoadedModel
    nlp: object
    probe_analyses: list
    date: str  # the build date ('' for none)


def build(config: Config, progress: Progress | None = None, tuning: corpus_pass.Tuning = corpus_pass.Tuning(),
          units: tuple[Unit, ...] = UNITS, date: str | None = None, model: LoadedModel | None = None) -> Summary:
    """Run every stage: read, annotate, encode and search, store, render; the site appears only when complete.
    `units`: the analyses (the registry's entries); `date`: the build date the report records (default: from
    SOURCE_DATE_EPOCH, none when it is not set); `model`: a model already made and placed (benchmarks/gpu_scale.py:
    random weights made on the device; it has no files to hash), instead of loading `config.model`."""
    given = model
    progress = progress or Progress()
    clock = Clock()
    summary = Summary(config.out, config.db_path, timings=clock.timings)
    date = source_date() if date is None else date  # a bad SOURCE_DATE_EPOCH fails here, before any model is loaded
    with clock("read"):
        probes, probe_files, corpus, corpus_files = _read(config)
    with clock("preflight"):  # a build that will not fit stops here, before any weight is read
        device = resolve_device(config.device)
        dtype = resolve_dtype(config.dtype, device)
        # read once: the configuration and tokenizer serve the estimate and then the model's loading (a GGUF file's
        # metadata is parsed once for both, not five times)
        architecture = read_architecture(config.model) if given is None else None
        summary.estimate = plan(config, probes, corpus, device, dtype, given, architecture)
        summary.estimate.check()
        if config.ray:
            corpus_pass.connect_ray(config.ray)
    with clock("load models"):
        model = given or load_model(config.model, config.max_length, device, dtype, architecture)
        files = probe_files + corpus_files
        if given is None:
            files += model_files(config.model)  # the model's identity: its files' sha256
        nlp = load_pipeline()
        # each per-probe analysis checks its targets (a bad `|||` line, target_class) before any work
        analyses = [u.probe(model, probes, config) for u in units if u.probe is not None]
    loaded = Loaded(config, units, probes, corpus, files, model, nlp, analyses, date)

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
        store.create(tables_of(units))
        # spaCy runs in processes of its own beside the model for a large corpus, from here on
        with store, corpus_pass.start(corpus, nlp, config.batch_size, config.ray, tuning, device) as corpus_run:
            result = _gather(store, loaded, corpus_run, clock, progress, summary.warnings)
            summary.annotators, summary.shards = result.annotators, result.shard_seconds
            _keep_studies(store, config.db_path, summary.warnings)
            store.finish()
            summary.counts = store.counts()
        # pages come from the finished database, read-only: render processes can open it beside this one
        with clock("render"), Store(db_path, read_only=True) as finished:
            summary.page_sizes = render(finished, staged.folder, progress, units, figures=config.figures)
        write_timings(staged.folder, clock.timings)
        if external_db:
            os.replace(db_path, config.db)
    return summary


def _read(config: Config) -> tuple[list[Sentence], list[SourceFile], list[Sentence], list[SourceFile]]:
    """The probes and the corpus sentences, with the files they come from."""
    probes, probe_files = read_sentences((config.probes or default_probes(),), "probe")
    corpus, corpus_files = read_sentences(config.corpus or default_corpus(), "corpus", first_id=len(probes),
                                          limit=config.limit)
    return probes, probe_files, corpus, corpus_files


def dry_run(config: Config) -> Estimate:
    """What `build --dry-run` prints: the memory estimate of this build, from the inputs and the model's
    configuration and tokenizer; nothing is loaded beyond them and nothing is written."""
    probes, _, corpus, _ = _read(config)
    device = resolve_device(config.device)
    return plan(config, probes, corpus, device, resolve_dtype(config.dtype, device))


def _gather(store: Store, loaded: Loaded, corpus_run: corpus_pass.CorpusPass, clock: Clock, progress: Progress,
            warned: list[str]) -> corpus_pass.PassResult:
    """Annotate, encode, search and analyse; write every table."""
    config, model, probes = loaded.config, loaded.model, loaded.probes
    store.insert("source_files", [(f.role, f.name, f.sha256, f.sentences, f.source, f.licence) for f in loaded.files])

    # The corpus is annotated window by window as it is encoded (the corpus pass); the probes here, first.
    with clock("annotate"), progress.stage("annotate", len(probes)) as advance:
        store.insert("words", [w for words in annotate([s.text for s in probes], loaded.nlp, advance=advance,
                                                       ids=[s.sentence_id for s in probes]) for w in words])
    with clock("encode probes"):
        encoded = encode_probes(store, model, probes, config.batch_size)
    # the build's provenance first: an analysis's meta written after it replaces an `option.<key>` with the value used
    store.set_meta(meta(config, model, loaded.files, loaded.date))
    for analysis in loaded.probe_analyses:
        with clock(analysis.stage):
            # the store holds the tables of the analyses before it (an analysis may read them)
            store.insert_tables(analysis.run(Probes(probes, encoded.tokenized, encoded.attention, encoded.n_words),
                                             progress, warned, loaded.corpus, store))
            store.set_meta(analysis.meta())

    info = model.info
    inputs = PassInputs(info.n_layers, info.n_heads, len(probes), encoded.embedding, encoded.context, encoded.keys)
    spec = corpus_pass.PassSpec(config.model, config.max_length, config.device, config.dtype, config.batch_size,
                                config.max_batch_tokens, inputs, _accumulators(loaded.units, config),
                                _threads(model))
    clock.timings.setdefault("encode and search corpus", 0.0)  # listed before its part "of which statistics"
    with clock("encode and search corpus"):
        result = corpus_run.run(model, spec, store.insert, clock, progress)

    with clock("store"):
        store.insert_tables(result.state.tables())
        for unit in loaded.units:
            if unit.derived is not None:
                store.insert_tables(unit.derived(result.state.accumulators, store))
    return result


def _accumulators(units: tuple[Unit, ...], config: Config) -> tuple[tuple[type, object], ...]:
    """Each accumulator class of these analyses with the analysis's options (None where it has none)."""
    return tuple((u.accumulator, config.of(u.options) if u.options else None) for u in units
                 if u.accumulator is not None)


def _threads(model: LoadedModel) -> int:
    """torch's threads, which Ray workers copy so that sums and products are done alike."""
    import torch

    return torch.get_num_threads()


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
