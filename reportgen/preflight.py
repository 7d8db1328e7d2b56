"""Memory known before it is needed: the peak memory of a build on its device, estimated from the model's
configuration (its parameters counted on torch's meta device, where nothing is allocated), the precision, the
batching and the sentences' lengths in tokens, before any weight is read; and the device's available memory to
compare it with.

The peak is the weights plus the largest of the model passes' own memory, each estimated from the shapes it holds at
once (bytes; A = B·H·T² the attention's elements of one layer of B sentences of T tokens, N = B·T tokens, s the
precision's bytes):

- the corpus pass, one layer of its largest batch: the model's attention (scores and probabilities in s, softmax in
  float32: (2s + 4)·A), the float32 copy the accumulators get and the statistics' temporaries (5·4·A), the layer's
  activations (ACTIVATIONS), the contexts, hidden states and norms in float32, and the search's scores against the
  P probe tokens (3·4·(H + 2)·P·N); with the head map, every layer's attention of the sample's batches (4·L·A);
- the probes' pass: every layer's attention and hidden states of a batch of probes, in s and in float32;
- the attributions: integrated gradients on one probe, `internal_batch_size` copies, every layer's activations kept
  for the backward pass, and the task head's logits;
- the importance: ablation.ROWS copies of one sentence without gradients, and the gradient proxy's batch with them;
- the control model: a second copy of the weights while its pass runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from .config import Config
from .corpus import Sentence
from .errors import ResourceError

MIB = 2**20
GIB = 2**30
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
STATISTICS = 5  # float32 copies of a layer's attention alive at once in the accumulators: the copy and temporaries
SEARCH = 3  # float32 score matrices [H + 2, P, N] alive at once in the search: scores, their merge with the kept


@dataclass(frozen=True)
class Shape:
    """What the estimate needs of a model: its size and its shape, from its configuration."""

    name: str
    kind: str  # 'classifier', 'causal_lm' or 'encoder'
    numbers: int  # floating-point parameters and buffers: stored in the build's precision
    other_bytes: int  # the other buffers (positions: integers), in their own types
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int
    d_ff: int
    vocab: int
    max_length: int
    stored_dtype: str = "float32"  # what the weights are read in

    def weights(self, dtype: str, device: str) -> int:
        """The weights' bytes on the device: in the build's precision; on the CPU, where they are read first, in
        the larger of that and the precision they are stored in."""
        size = BYTES[dtype] if device.startswith(("cuda", "mps")) else max(BYTES[dtype],
                                                                            BYTES.get(self.stored_dtype, 4))
        return self.numbers * size + self.other_bytes


@dataclass(frozen=True)
class Part:
    """One part of the estimate: its bytes, in words how it was sized, and the option that lowers it."""

    name: str
    bytes: int
    how: str
    lower: str


@dataclass(frozen=True)
class Estimate:
    device: str
    dtype: str
    model: Part  # the weights (with the control model's copy, where there is one)
    passes: tuple[Part, ...]  # each model pass's own memory besides the weights
    available: int | None  # bytes; None: not known
    available_from: str  # where that figure comes from

    @property
    def largest(self) -> Part:
        return max(self.passes, key=lambda p: (p.bytes, p.name))

    @property
    def total(self) -> int:
        return self.model.bytes + self.largest.bytes

    def lines(self) -> list[str]:
        """The estimate as `reportgen build --dry-run` prints it."""
        out = [f"Memory estimate on {self.device} in {self.dtype} (before loading the weights):",
               f"  model        {size(self.model.bytes):>10}  {self.model.how}"]
        out += [f"  {p.name:<12} {size(p.bytes):>10}  {p.how}" for p in self.passes]
        out.append(f"  peak         {size(self.total):>10}  the model and its largest pass ({self.largest.name})")
        out.append(f"  available    {size(self.available) if self.available is not None else 'unknown':>10}  "
                   f"{self.available_from}")
        problem = self.problem()
        out.append("The build fits." if self.available is not None and problem is None else
                   "Nothing to compare with: the build is not checked." if problem is None else
                   f"The build does not fit: {problem}.")
        return out

    def problem(self) -> str | None:
        """Why the build will not fit, naming the figure and what to change; None when it fits (or nothing is
        known to compare with)."""
        if self.available is None or self.total <= self.available:
            return None
        heavy = self.model if self.model.bytes >= self.largest.bytes else self.largest
        return (f"the build needs about {size(self.total)} on {self.device} (model {size(self.model.bytes)}, "
                f"{self.largest.name} {size(self.largest.bytes)}: {self.largest.how}) but {size(self.available)} "
                f"is available ({self.available_from}); {heavy.lower}")

    def check(self) -> None:
        """Refuse, with one line naming the figure and what to change, a build that will not fit."""
        problem = self.problem()
        if problem is not None:
            raise ResourceError(f"{problem} (`reportgen build --dry-run` prints the estimate)")


def size(n: int) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / MIB:.1f} MiB"


def shape_of(architecture, name: str, max_length: int | None = None) -> Shape:
    """The Shape of a model from its models.Architecture: its parameters and buffers counted on the meta device
    (the Auto class it loads with, task head included; tied weights once)."""
    import torch

    from .models import model_kind

    cfg = architecture.config
    task = architecture.task
    with torch.device("meta"):  # an Auto class makes the model from the configuration; a model class is called
        model = (task.from_config(cfg, attn_implementation="eager") if hasattr(task, "from_config")
                 else task(cfg))
    numbers = sum(p.numel() for p in model.parameters() if p.is_floating_point())
    numbers += sum(b.numel() for b in model.buffers() if b.is_floating_point())
    other = sum(b.numel() * b.element_size() for b in model.buffers() if not b.is_floating_point())
    d_model, n_heads = cfg.hidden_size, cfg.num_attention_heads
    d_ff = (getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None)
            or getattr(cfg, "hidden_dim", None) or 4 * d_model)
    limits = [v for v in (getattr(cfg, "max_position_embeddings", None), getattr(cfg, "n_positions", None),
                          architecture.tokenizer.model_max_length, max_length) if isinstance(v, int) and v > 0]
    return Shape(name, model_kind(model), numbers, other, cfg.num_hidden_layers, n_heads,
                 getattr(cfg, "num_key_value_heads", None) or n_heads, d_model,
                 getattr(cfg, "head_dim", None) or d_model // n_heads, d_ff, cfg.vocab_size, min(limits),
                 architecture.stored_dtype)


def token_lengths(tokenizer, texts: Sequence[str], limit: int) -> list[int]:
    """Each text's length in model tokens as the build tokenises it (encode.tokenize), at most `limit`."""
    if not texts:
        return []
    ids = tokenizer(list(texts), split_special_tokens=True, truncation=False)["input_ids"]
    return [min(len(x), limit) for x in ids]


def activations(shape: Shape, n: int, a: int, s: int) -> int:
    """One layer's activations in the model's precision for n tokens and a attention elements: the residual, norms
    and projections (6·d_model), queries, keys and values, the MLP's inner layers (3·d_ff), scores and
    probabilities and float32 softmax ((2s + 4)·A)."""
    qkv = (shape.n_heads + 2 * shape.n_kv_heads) * shape.d_head
    return n * (6 * shape.d_model + qkv + 3 * shape.d_ff) * s + a * (2 * s + 4)


def logits(shape: Shape, n: int) -> int:
    """A task head's logits over n tokens in float32, and their log-softmax (an LM's; a classifier's are small)."""
    return 2 * 4 * n * shape.vocab if shape.kind == "causal_lm" else 0


def corpus_layer(shape: Shape, b: int, t: int, probe_tokens: int, s: int, sample: bool) -> int:
    """The corpus pass's memory for one layer of a batch of b sentences of t tokens (see the module docstring)."""
    n, a = b * t, b * shape.n_heads * t * t
    held = 4 * a + 4 * n * (2 * shape.d_model + shape.n_heads * shape.d_head) + 4 * b * shape.n_heads * t
    total = (activations(shape, n, a, s) + (STATISTICS - 1) * 4 * a + held
             + SEARCH * 4 * (shape.n_heads + 2) * probe_tokens * n)
    return total + (4 * shape.n_layers * a if sample else 0)


def held_by_layer(shape: Shape, b: int, t: int) -> int:
    """The bytes of the tensors the corpus pass hands to the accumulators for one layer (LayerBatch: attention,
    contexts, hidden states, value norms, float32): what a test counts and compares with corpus_layer."""
    return 4 * (b * shape.n_heads * t * t + b * t * shape.n_heads * shape.d_head + b * t * shape.d_model
                + b * shape.n_heads * t)


def backward(shape: Shape, b: int, t: int, s: int) -> int:
    """A forward and backward pass over b sentences of t tokens: every layer's activations kept, the gradients of
    one layer's, and the logits."""
    n, a = b * t, b * shape.n_heads * t * t
    return (shape.n_layers + 1) * activations(shape, n, a, s) + logits(shape, n)


def worst_batch(lengths: Sequence[int], batch_size: int, max_tokens: int | None) -> tuple[int, int]:
    """(sentences, tokens each) of the batch whose attention is largest: batches are sentences of similar
    lengths, so at worst `batch_size` of the longest, fewer where `max_tokens` bounds sentences x the longest."""
    if not lengths:
        return 0, 0
    t = max(lengths)
    b = min(batch_size, len(lengths))
    if max_tokens is not None:
        b = min(b, max(1, max_tokens // t))
    return b, t


def estimate(shape: Shape, config: Config, probes: Sequence[int], corpus: Sequence[int], device: str,
             dtype: str, available: tuple[int | None, str]) -> Estimate:
    """The estimate of a build with `config` of a model of `shape` on `device` in `dtype`, given the probes' and
    the corpus sentences' lengths in tokens (token_lengths) and the available memory (available_memory)."""
    from .analyses.ablation import ROWS
    from .analyses.attribution import AttributionOptions, start_steps
    from .analyses.control import ControlOptions
    from .analyses.importance import GRADIENT_BATCH, ImportanceOptions
    from .analyses.similarity import SimilarityOptions

    s = BYTES[dtype]
    probe_tokens = sum(probes)
    b, t = worst_batch(corpus, config.batch_size, config.max_batch_tokens)
    sample = config.of(SimilarityOptions).similarity_sentences > 0
    tokens = "--max-batch-tokens" if config.max_batch_tokens is None else "a lower --max-batch-tokens"
    passes = [Part("corpus pass", corpus_layer(shape, b, t, probe_tokens, s, sample),
                   f"one layer of {b} sentences of {t} tokens, with {probe_tokens} probe tokens",
                   f"set {tokens} or a lower --batch-size")]
    pb, pt = worst_batch(probes, config.batch_size, None)
    if pb:
        n, a = pb * pt, pb * shape.n_heads * pt * pt
        every = shape.n_layers * (a + n * (shape.d_model + shape.n_heads * shape.d_head)) * (s + 4)
        passes.append(Part("probes", every + activations(shape, n, a, s),
                           f"every layer of {pb} probes of {pt} tokens", "set a lower --batch-size"))
        steps = start_steps(config.of(AttributionOptions).attribution_steps, shape.kind == "causal_lm")
        copies = min(steps, 25)  # attribution.integrated_gradients: Captum's internal_batch_size
        passes.append(Part("attributions", backward(shape, copies, pt, s),
                           f"gradients of {copies} copies of a probe of {pt} tokens",
                           ("use --dtype bfloat16 or " if dtype == "float32" else "use ") + "another --device"))
    sentences = config.of(ImportanceOptions).importance_sentences
    if sentences and corpus:
        it = max(max(corpus[:sentences]), max(probes, default=0))
        ablate = (activations(shape, ROWS * it, ROWS * shape.n_heads * it * it, s) + logits(shape, ROWS * it)
                  + 4 * ROWS * it * shape.d_model)
        gb = 1 if shape.kind == "classifier" else GRADIENT_BATCH  # importance.gradients
        passes.append(Part("importance", max(ablate, backward(shape, gb, it, s)),
                           f"{ROWS} copies of a sentence of {it} tokens",
                           "set --importance-sentences 0 (none)" + (" or use --dtype bfloat16" if dtype == "float32"
                                                                    else "")))
    weights = shape.weights(dtype, device)
    control = config.of(ControlOptions).control_sentences > 0
    model = Part("model", weights * (2 if control else 1),
                 f"{shape.numbers:,} parameters in {dtype}" + (", twice while the control model runs" if control
                                                              else ""),
                 ("use --dtype bfloat16, " if dtype == "float32" else "use ") + "another --device"
                 + (", or --control-sentences 0" if control else ""))
    return Estimate(device, dtype, model, tuple(passes), *available)


def available_memory(device: str, limit_mib: int | None = None) -> tuple[int | None, str]:
    """(bytes, where from) of the memory the build may use: `limit_mib` when given (--memory-limit), a CUDA
    device's free memory, else the machine's available RAM (psutil, else /proc/meminfo; None where neither)."""
    if limit_mib is not None:
        return limit_mib * MIB, "--memory-limit"
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free), f"free on {device} (torch.cuda.mem_get_info)"
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        return int(psutil.virtual_memory().available), "available RAM (psutil)"
    if os.path.exists("/proc/meminfo"):
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "available RAM (/proc/meminfo)"
    return None, "not known on this system: nothing is checked"


def plan(config: Config, probes: Sequence[Sentence], corpus: Sequence[Sentence], device: str, dtype: str,
         given=None, architecture=None) -> Estimate:
    """The estimate of a build of `config` over these probes and corpus sentences on `device` in `dtype` (both
    resolved), from the model's configuration and tokenizer alone (`architecture`, models.Architecture: read here
    when not given); or of a model already made and placed (`given`, a models.LoadedModel), whose weights already
    take their part of the device's memory."""
    from .models import Architecture, read_architecture

    if given is None:
        architecture = architecture or read_architecture(config.model)
    else:
        architecture = Architecture(given.task.config, given.tokenizer, type(given.task), dtype)
    shape = shape_of(architecture, config.model, config.max_length)
    tok = architecture.tokenizer
    probe_lengths = token_lengths(tok, [s.text + (" " + s.extra if s.extra else "") for s in probes], shape.max_length)
    corpus_lengths = token_lengths(tok, [s.text for s in corpus], shape.max_length)
    available, where = available_memory(device, config.memory_limit)
    if given is not None and available is not None and config.memory_limit is None:
        available += shape.weights(dtype, device)  # already there: the free memory no longer counts them
        where += ", with the weights already there"
    return estimate(shape, config, probe_lengths, corpus_lengths, device, dtype, (available, where))
