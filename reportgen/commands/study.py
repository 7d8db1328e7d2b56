"""`reportgen study edits`: Stevens & Su's edit-identification study (studies/edits.py) run on a report, its
results written into the report's database, and the site rendered again with the study page, atomically."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np

from ..analyses.registry import UNITS
from ..annotate import load_pipeline
from ..errors import InputError
from ..site.output import staged_output
from ..site.render import render, write_timings
from ..store import STUDIES, STUDY_TABLES, Store
from ..studies import measure
from ..studies.data import read_jsonl
from ..studies.edits import (
    StudyConfig,
    StudySummary,
    check_model,
    figures,
    fine_tune,
    load_classifier,
    measure_examples,
    predict,
    report_examples,
)
from ..unit import Unit
from ..vocab import DELTA_SHARE, STUDY


def run(config: StudyConfig, progress, units: tuple[Unit, ...] = UNITS) -> StudySummary:
    """Run the study and write it into the report: a new database and site replace the old ones only when
    complete."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    timings: dict[str, float] = {}
    start = time.perf_counter()
    db = config.db_path
    if not db.is_file():
        raise InputError(f"{db}: no report database there; run `reportgen build` first (with the same --out/--db)")
    with Store(db, read_only=True) as store:
        meta = store.meta()
        if config.data is not None:
            examples = read_jsonl(config.data, config.seed, all_test=config.classifier is not None)
        else:
            examples = report_examples(store, config)
    if config.classifier is None:
        check_model(config, meta)
    split = {name: [e for e in examples if e.split == name] for name in ("train", "validation", "test")}
    if not split["test"] or not any(e.label == 1 for e in split["test"]):
        raise InputError("the study needs edited test examples; give more examples or --data with label-1 lines")
    timings["data"] = time.perf_counter() - start
    t = time.perf_counter()
    if config.classifier is not None:
        model, tokenizer = load_classifier(config.classifier)
        source = f"given: {config.classifier.name}"
    else:
        if not split["train"]:
            raise InputError("the study needs training examples to fine-tune a classifier; give more examples")
        model, tokenizer, _ = fine_tune(config.model, split["train"], split["validation"], config, progress)
        source = f"fine-tuned from {meta.get('model', config.model)}"
    timings["fine-tune"] = time.perf_counter() - t
    t = time.perf_counter()
    test = split["test"]
    predicted = predict(model, tokenizer, test, config)
    labels = np.array([e.label for e in test])
    predicted_of = {e.example_id: int(p) for e, p in zip(test, predicted)}
    measured = measure_examples(model, tokenizer, test, config, load_pipeline(), progress, predicted=predicted_of)
    rows = figures(measured)
    warnings = []
    unconverged = sum(not m.converged for m in measured)
    if unconverged:
        warnings.append(f"study edits: integrated gradients did not converge on {unconverged} of {len(measured)} "
                        f"measured sentences (delta over {DELTA_SHARE:.0%} of f(input) - f(baseline)); raise "
                        f"--attribution-steps above {config.attribution_steps}")
    timings["measure"] = time.perf_counter() - t
    metrics = {
        "accuracy": float(accuracy_score(labels, predicted)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        **{f"n_{name}": float(len(found)) for name, found in split.items()},
        "n_measured": float(len(measured)),
        "n_flagged": float(sum(m.flagged for m in measured)),
        "epochs": float(config.epochs if config.classifier is None else 0),
        "seed": float(config.seed),
    }
    study_meta = {f"study.{STUDY}.classifier": source,
                  f"study.{STUDY}.data": (f"given: {config.data.name}" if config.data is not None
                                          else f"synthetic edits of {len(examples)} corpus sentences"),
                  f"study.{STUDY}.settings": (f"examples {config.examples}, epochs {config.epochs}, batch size "
                                               f"{config.batch_size}, learning rate {config.learning_rate}, "
                                               f"integrated-gradient steps {config.attribution_steps}, seed "
                                               f"{config.seed}")}
    example_rows = [(STUDY, e.example_id, e.split, e.edit_type, e.label, predicted_of.get(e.example_id), e.text)
                    for e in examples]
    word_rows = []
    for m in measured:
        rank = np.empty(len(m.words), dtype=np.int64)
        rank[measure.ranking(m.attention[-1].sum(0))] = np.arange(len(m.words))
        word_rows += [(STUDY, m.example.example_id, w.word_idx, w.text, w.char_start, w.char_end,
                       w.word_idx in m.gold, int(rank[w.word_idx])) for w in m.words]
    _write(config, progress, units, metrics, study_meta, rows, example_rows, word_rows, timings)
    timings["total"] = time.perf_counter() - start
    return StudySummary(metrics, rows, timings, warnings)





def _write(config: StudyConfig, progress, units, metrics, study_meta, rows, example_rows, word_rows, timings):
    """Copy the database, put the study in the copy, render the site from it into a staging folder, then put
    both in place; on any error the old site and database stay as they were."""
    out, db = config.out, config.db_path
    inside = db.resolve().parent == out.resolve()
    with staged_output(out) as staged:
        staging = staged.folder
        work = staging / db.name if inside else db.with_name(db.name + ".building")
        if not inside:
            staged.leftovers.append(work)
        shutil.copyfile(db, work)
        with Store(work) as store:
            store.ensure_tables(STUDIES)
            for table in STUDY_TABLES:
                store.delete_study(table, STUDY)
            store.insert("study_metrics", [(STUDY, k, v) for k, v in sorted(metrics.items())])
            store.insert("study_figures", rows)
            store.insert("study_examples", example_rows)
            store.insert("study_words", word_rows)
            store.set_meta(study_meta)
            store.finish()
        t = time.perf_counter()
        with Store(work, read_only=True) as finished:  # read-only: render processes open it too
            render(finished, staging, progress, units)
        timings["render"] = time.perf_counter() - t
        old_timings = out / "assets" / "timings.js"
        if old_timings.is_file():
            shutil.copyfile(old_timings, staging / "assets" / "timings.js")
        else:
            write_timings(staging, timings)
        if not inside:
            os.replace(work, db)
