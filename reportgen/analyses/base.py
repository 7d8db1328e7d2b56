"""What every corpus-pass analysis shares (DESIGN.md, "The corpus pass: accumulators").

Every accumulator has `update(batch: LayerBatch)` (one layer of one batch, on the model's device), `merge(other)`
(exact: a shard's result into the total) and `tables() -> {table name: rows}`, and is made by
`create(inputs, options, device)` (options: its registry entry's options, None where it has none). The corpus pass
holds a list of them (the registry's entries, analyses/registry.py) and knows none by name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, Self

import numpy as np

from ..align import membership
from ..vocab import FACETS

BLOCKS = 256  # sentence blocks of the bootstraps (a sentence's block: its id modulo BLOCKS)
BOOTSTRAP = 1000  # resamples of the blocks
BOOTSTRAP_SEED = 0


def resample_weights(n_blocks: int, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """[BOOTSTRAP, n_blocks] how often each of n blocks is drawn in each resample (with replacement, seeded): the
    resamples every block bootstrap of the corpus pass's figures shares (the dependency accuracy, the head
    statistics' intervals, the roles' stability), so that figures resampled alike can be compared pairwise."""
    if not n_blocks:
        return np.zeros((BOOTSTRAP, 0))
    drawn = np.random.default_rng(seed).integers(0, n_blocks, size=(BOOTSTRAP, n_blocks))
    return np.stack([np.bincount(row, minlength=n_blocks) for row in drawn]).astype(np.float64)


def resample_percentiles(resampled: np.ndarray, q) -> np.ndarray:
    """np.nanpercentile(resampled, q, axis=0), the same numbers, for resamples [R, ...] whose NaNs fill whole rows
    (a resample that draws none of a figure's blocks is NaN in every cell): the percentiles of the rows without
    NaN. numpy's nanpercentile goes cell by cell wherever a NaN is (5-6 times as long: 0.11 s against 0.018 s for
    1,000 resamples of 540 cells, 3.8 s of a 270-head build's dependency accuracy over 30 relations). Any other
    pattern of NaNs, or no row without one, goes to nanpercentile itself."""
    nan = np.isnan(resampled.reshape(len(resampled), -1))
    rows = nan.any(1)
    if not rows.any():
        return np.percentile(resampled, q, axis=0)
    if rows.all() or not nan[rows].all():
        return np.nanpercentile(resampled, q, axis=0)
    return np.percentile(resampled[~rows], q, axis=0)


@dataclass(frozen=True)
class PassInputs:
    """What every accumulator of one corpus pass is made with besides its own options: the model's shape, the id of
    the first corpus sentence (the probes' ids come before it) and the probes' searchable vectors."""

    n_layers: int
    n_heads: int
    first_corpus_id: int
    probe_embedding: Any  # [L, P, d_model] float32 numpy: the probes' searchable tokens
    probe_context: Any  # [L, P, H, d_head]
    probe_keys: tuple[tuple[int, int], ...]  # (sentence_id, token_idx) of each of those P tokens


@dataclass(frozen=True)
class Probes:
    """What the per-probe analyses get once the probes are encoded: the probe sentences, their tokenisations,
    attention [L, H, T, T] by sentence id and number of words by sentence id."""

    sentences: list
    tokenized: list
    attention: dict[int, np.ndarray]
    n_words: dict[int, int]


@dataclass
class BatchInfo:
    """What every layer of one batch of corpus sentences shares. T is the batch's longest sentence.

    sentence_ids [B]; mask, special, punct [B, T] booleans (real token; special token; token of a punctuation
    word); word_of [B, T] the spaCy word of each token, -1 for special and padding tokens; heads [B, W] each
    word's syntactic head (its own index for a root), -1 past the sentence's words; deps [B, W] each word's
    dependency label ('' past the sentence's words); causal: a token attends only to itself and earlier ones;
    annotations [facets, B, W] each word's category of each of FACETS (pos, tag, dep, entity; None past the
    sentence's words), for the base rates; comma_period [B, T] the tokens of the words "," and "." (Kobayashi et
    al.'s punctuation; None: no such token); shared [N, 3] (row, token, word) for each word with no token of its
    own, the token(s) that contain it (align.containing): the word-level merges count them as its tokens.
    """

    sentence_ids: np.ndarray
    mask: np.ndarray
    special: np.ndarray
    punct: np.ndarray
    word_of: np.ndarray
    heads: np.ndarray
    deps: np.ndarray
    causal: bool = False
    annotations: np.ndarray | None = None
    comma_period: np.ndarray | None = None
    shared: np.ndarray | None = None
    _on_device: dict = field(default_factory=dict, repr=False, compare=False)

    def on(self, device, name: str, make: Callable[[], np.ndarray]):
        """A tensor derived from this batch's (CPU) description, made once per batch and device and kept there:
        the layers of a batch share it, and nothing of the model's output comes back to the CPU for it."""
        import torch

        key = (str(device), name)
        if key not in self._on_device:
            self._on_device[key] = torch.as_tensor(make(), device=device)
        return self._on_device[key]

    @cached_property
    def word_matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean [B, T, W], member [B, T, W], has_tokens [B, W]): the token-to-word merge of align.membership.
        Word-level attention is mean^T A member (Clark et al. 2019): the mean over the attending word's tokens of
        the sum over the attended word's tokens. Special tokens belong to no word; a word with no token of its own
        has the token(s) that contain it (`shared`)."""
        mean, member = membership(self.word_of, self.heads.shape[1], shared=self.shared)
        return mean, member, member.sum(1) > 0

    @cached_property
    def sharing(self) -> np.ndarray:
        """[B, W, W] whether two words have a token in common (a word with itself included, where it has tokens):
        a word's attention to such a word is that token's attention to itself, ignored as a word's own is."""
        member = self.word_matrices[1]
        return np.einsum("btw,btv->bwv", member, member) > 0

    @cached_property
    def searchable(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, position) of every token the search takes: real and not special."""
        return np.nonzero(self.mask & ~self.special)


def plain_info(mask: np.ndarray, special: np.ndarray, punct: np.ndarray, causal: bool = False,
               sentence_ids: np.ndarray | None = None) -> BatchInfo:
    """A BatchInfo without words (every token outside any word): for analyses of tokens only, and tests."""
    b, t = mask.shape
    ids = np.arange(b) if sentence_ids is None else sentence_ids
    return BatchInfo(ids, mask, special, punct, np.full((b, t), -1), np.full((b, 0), -1),
                     np.full((b, 0), "", dtype=object), causal, np.full((len(FACETS), b, 0), None, dtype=object))


@dataclass(frozen=True)
class LayerBatch:
    """One layer of one batch: attention [B, H, T, T] (rows attend, columns are attended to), a float32 torch
    tensor on the model's device (numpy input is taken as a CPU tensor); the heads' contexts [B, T, H, d_head]
    (softmax(QK^T/sqrt(d))V before the output projection), the layer's output hidden state [B, T, d_model] and
    the norms of what each head moves from each token [B, H, T], where the pass has them (analyses of the
    attention alone are fed without)."""

    layer: int
    attention: Any
    info: BatchInfo
    context: Any = None
    hidden: Any = None
    value_norms: Any = None  # [B, H, T]: the norm of what each head moves from each key token (encode.value_norms)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        import torch

        object.__setattr__(self, "attention", torch.as_tensor(self.attention).float())

    @property
    def device(self):
        return self.attention.device

    def searchable(self):
        """(row, position) tensors of the searchable tokens (BatchInfo.searchable), on the device."""
        rows, cols = self.info.searchable
        return self.info.on(self.device, "rows", lambda: rows), self.info.on(self.device, "cols", lambda: cols)

    @property
    def max_attended(self):
        """[H + 1, N] the key token each searchable token attends to most: per head, then for the mean of the
        layer's heads (what the matches record and the base rates count)."""
        if "max_attended" not in self._cache:
            import torch

            rows, cols = self.searchable()
            att = self.attention[rows, :, cols]  # [N, H, T] (the searchable tokens' rows)
            self._cache["max_attended"] = torch.cat([att.argmax(-1).T, att.mean(1).argmax(-1)[None]])
        return self._cache["max_attended"]

    def word_attention(self):
        """[B, H, W, W] attention between spaCy words (see BatchInfo.word_matrices), a tensor on the device."""
        mean_t = self.info.on(self.device, "words_mean_t",
                              lambda: np.ascontiguousarray(np.swapaxes(self.info.word_matrices[0], 1, 2)))
        member = self.info.on(self.device, "words_member", lambda: self.info.word_matrices[1])
        a = self.attention
        b, h, t, _ = a.shape
        w = member.shape[2]
        attended = (a.reshape(b, h * t, t) @ member).reshape(b, h, t, w)  # [B, H, T, W]
        attended = attended.transpose(1, 2).reshape(b, t, h * w)  # [B, T, H*W]: one product per sentence
        words = mean_t @ attended  # [B, W, H*W]
        return words.reshape(b, w, h, w).transpose(1, 2)


def feed(accumulators, attention, info: BatchInfo) -> None:
    """Every layer of attention [L, B, H, T, T] (numpy or torch), in order, to every accumulator."""
    for layer, weights in enumerate(attention):
        batch = LayerBatch(layer, weights, info)
        for accumulator in accumulators:
            accumulator.update(batch)


def in_inference_mode(method):
    """Run an accumulator's method under torch.inference_mode(): its state tensors are made and changed only
    there (torch refuses in-place changes of such tensors outside it), and nothing is ever differentiated."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        import torch

        with torch.inference_mode():
            return method(*args, **kwargs)

    return wrapper


def accumulation_dtype(device):
    """float64 for sums over a corpus, where the device has it (Apple's MPS does not: float32 there)."""
    import torch

    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def sum_x_ln_x(x, work):
    """sum x ln x over the last dimension of x >= 0 (0 ln 0 = 0), through `work`, a tensor of x's shape. torch's
    vectorised log on x clamped to the smallest normal float (so that 0 gives 0 x ln(tiny) = 0), then the product:
    on these CPUs about a third of the time of `xlogy(x, x)`, whose log is the C library's, one element at a time
    (within a few units in the last place of it: docs/methods)."""
    import torch

    torch.clamp(x, min=torch.finfo(x.dtype).tiny, out=work)
    return work.log_().mul_(x).sum(-1)


def to_cpu(obj) -> None:
    """Every tensor of an object's state (directly, or as a dict's values) on the CPU, out of inference mode, and
    any torch device it names the CPU: a state ready to send to another process."""
    import torch

    def plain(x):
        return x.detach().cpu().clone() if torch.is_tensor(x) else x

    for name, value in vars(obj).items():
        if torch.is_tensor(value):
            setattr(obj, name, plain(value))
        elif isinstance(value, torch.device):
            setattr(obj, name, torch.device("cpu"))
        elif isinstance(value, dict) and any(torch.is_tensor(v) for v in value.values()):
            setattr(obj, name, {k: plain(v) for k, v in value.items()})


class Accumulator(Protocol):
    """A corpus-pass analysis. `timing`: the stage its updates are timed under ('' for none of its own)."""

    timing: str

    @classmethod
    def create(cls, inputs: PassInputs, options: Any, device) -> Self: ...

    def update(self, batch: LayerBatch) -> None: ...

    def merge(self, other: Self) -> None: ...

    def tables(self) -> dict[str, Any]: ...
