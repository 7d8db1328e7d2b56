"""The default report's per-probe analyses alone (no corpus pass, no pages): each one's seconds, and what the
faithfulness test finds on the default probes.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_probe_analyses.py [--only attribution faithfulness]

It reads the default probes, annotates and encodes them into a temporary database as the build does, then runs the
registered per-probe analyses named by --only (default: the attributions and the faithfulness test, which reads
them) in registry order, each given the store, and prints each one's seconds and the faithfulness test's summary
(each ranking's AOPC over the probes, and the verdict the pages print). The figures of the probe analyses do not
depend on the corpus, so they are those a build of the default report gives; the corpus pass's share of the build
is bench_build.py's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", default=["attribution", "faithfulness"])
    args = parser.parse_args()
    from reportgen.analyses.base import Probes
    from reportgen.analyses.registry import UNITS, load_config, tables_of
    from reportgen.annotate import annotate, load_pipeline
    from reportgen.corpus import default_probes, read_sentences
    from reportgen.models import load_model, resolve_device, resolve_dtype
    from reportgen.probe_pass import encode_probes
    from reportgen.progress import Progress
    from reportgen.site.views.faithfulness import FaithfulnessViews
    from reportgen.store import Store
    from reportgen.store.schema import FAITHFULNESS

    config = load_config(None)
    probes, _ = read_sentences((default_probes(),), "probe")
    device = resolve_device(config.device)
    model = load_model(config.model, config.max_length, device, resolve_dtype(config.dtype, device))
    nlp = load_pipeline()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "report.duckdb") as store:
        store.create(tables_of(UNITS))
        store.insert("words", [w for words in annotate([s.text for s in probes], nlp,
                                                       ids=[s.sentence_id for s in probes]) for w in words])
        encoded = encode_probes(store, model, probes, config.batch_size)
        given = Probes(probes, encoded.tokenized, encoded.attention, encoded.n_words)
        for unit in UNITS:
            if unit.probe is None or unit.name not in args.only:
                continue
            analysis = unit.probe(model, probes, config)
            start = time.perf_counter()
            store.insert_tables(analysis.run(given, Progress(), [], [], store))
            print(f"{unit.name} ({analysis.stage}): {time.perf_counter() - start:.1f} s over {len(probes)} probes")
        found = FaithfulnessViews(store.rows(FAITHFULNESS)).model()
        if found is not None:
            for r in found.rankings:
                print(f"    {r.name}: AOPC comprehensiveness {r.comprehensiveness.text}, sufficiency "
                      f"{r.sufficiency.text}")
            if found.verdict is not None:
                print("    " + found.verdict.text)


if __name__ == "__main__":
    main()
