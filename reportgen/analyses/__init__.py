"""Corpus-pass analyses: accumulators fed one layer of one batch at a time (DESIGN.md, "The corpus pass").

Every accumulator has `update(batch: LayerBatch)`, `merge(other)` (exact: a shard's result into the total) and
`tables() -> {table name: rows}`. The build holds a list of them and knows none by name beyond that list.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from dataclasses import dataclass, field
from typing import Protocol, Self

import numpy as np


@dataclass
class BatchInfo:
    """What every layer of one batch of corpus sentences shares. T is the batch's longest sentence.

    sentence_ids [B]; mask, special, punct [B, T] booleans (real token; special token; token of a punctuation
    word); word_of [B, T] the spaCy word of each token, -1 for special and padding tokens; heads [B, W] each
    word's syntactic head (its own index for a root), -1 past the sentence's words; deps [B, W] each word's
    dependency label ('' past the sentence's words); causal: a token attends only to itself and earlier ones.
    """

    sentence_ids: np.ndarray
    mask: np.ndarray
    special: np.ndarray
    punct: np.ndarray
    word_of: np.ndarray
    heads: np.ndarray
    deps: np.ndarray
    causal: bool = False
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
        """(mean [B, T, W], member [B, T, W], has_tokens [B, W]): member[b, t, w] = 1 when token t is part of
        word w; mean is member with each word's column divided by its number of tokens. Word-level attention
        is mean^T A member (Clark et al. 2019): the mean over the attending word's tokens of the sum over the
        attended word's tokens. Special tokens belong to no word."""
        b, t = self.word_of.shape
        w = self.heads.shape[1]
        member = np.zeros((b, t, max(w, 1)), dtype=np.float32)
        rows, cols = np.nonzero(self.word_of >= 0)
        member[rows, cols, self.word_of[rows, cols]] = 1
        counts = member.sum(1)  # [B, W]
        mean = member / np.maximum(counts, 1)[:, None, :]
        return mean, member, counts > 0

    @cached_property
    def arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(row, dependent word, head word, relation label) of every dependency arc of the batch: not roots
        (a word whose head is itself), and not arcs whose dependent or head lost its tokens to truncation."""
        _, _, has_tokens = self.word_matrices
        rows, deps = np.nonzero(self.heads >= 0)
        heads = self.heads[rows, deps]
        keep = (heads != deps) & has_tokens[rows, deps] & has_tokens[rows, heads]
        return rows[keep], deps[keep], heads[keep], self.deps[rows[keep], deps[keep]]


def plain_info(mask: np.ndarray, special: np.ndarray, punct: np.ndarray, causal: bool = False,
               sentence_ids: np.ndarray | None = None) -> BatchInfo:
    """A BatchInfo without words (every token outside any word): for analyses of tokens only, and tests."""
    b, t = mask.shape
    ids = np.arange(b) if sentence_ids is None else sentence_ids
    return BatchInfo(ids, mask, special, punct, np.full((b, t), -1), np.full((b, 0), -1),
                     np.full((b, 0), "", dtype=object), causal)


def feed(accumulators, attention, info: BatchInfo) -> None:
    """Every layer of attention [L, B, H, T, T] (numpy or torch), in order, to every accumulator."""
    for layer, weights in enumerate(attention):
        batch = LayerBatch(layer, weights, info)
        for accumulator in accumulators:
            accumulator.update(batch)


@dataclass(frozen=True)
class LayerBatch:
    """One layer's attention over one batch: attention [B, H, T, T] (rows attend, columns are attended to), a
    float32 torch tensor on the model's device (numpy input is taken as a CPU tensor)."""

    layer: int
    attention: object
    info: BatchInfo

    def __post_init__(self):
        import torch

        object.__setattr__(self, "attention", torch.as_tensor(self.attention).float())

    @property
    def device(self):
        return self.attention.device

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


def in_inference_mode(method):
    """Run an accumulator's method under torch.inference_mode(): its state tensors are made and changed only
    there (torch refuses in-place changes of such tensors outside it), and nothing is ever differentiated."""
    import functools

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


class Accumulator(Protocol):
    def update(self, batch: LayerBatch) -> None: ...

    def merge(self, other: Self) -> None: ...

    def tables(self) -> dict[str, list[tuple]]: ...
