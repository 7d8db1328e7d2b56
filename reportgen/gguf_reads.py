"""Reading a GGUF file through transformers in a fraction of the time, with the same result.

transformers reads a GGUF file (its configuration, its tokenizer, its weights) with the `gguf` package's
GGUFReader, which parses the file's metadata from a numpy memmap: every one of the about 150,000 fields and
strings of SmolLM2-135M's metadata (its vocabulary and merges) is a slice of the memmap, and a memmap's slice
costs about ten times a plain array's (numpy's `memmap.__array_finalize__`). The weights' load then builds gguf's
TensorNameMap (the names of every tensor of every block) once per module of the model, 397 times for SmolLM2, to
the same map each time.

`quick_reads()` changes neither: while it is active, transformers' `from gguf import ...` finds a GGUFReader that
parses from a plain array over the same mapped bytes (no byte is read into memory that the memmap would not read),
and get_tensor_name_map remembers the map of an (architecture, number of blocks) it has built (the map is only
read). SmolLM2's configuration then reads in about half the time and its weights in about a third (the dated
figures and their command: docs/performance.md, GGUF); the configuration and every weight are equal
(tests/test_gguf.py, benchmarks/bench_gguf_load.py).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager


@functools.cache
def _plain_reader() -> type:
    import gguf
    import numpy as np

    class PlainArrayReader(gguf.GGUFReader):
        """GGUFReader with its `data` (the memmap it parses) seen as a plain ndarray over the same mapping."""

        @property
        def data(self):
            return self._data

        @data.setter
        def data(self, mapped):  # a memmap (an ndarray subclass) seen as a plain ndarray; anything else as it is
            self._data = mapped.view(np.ndarray) if isinstance(mapped, np.ndarray) else mapped

    return PlainArrayReader


@contextmanager
def quick_reads():
    """While active, transformers' reads of a GGUF file parse it from a plain array and build each tensor-name map
    once (see the module's docstring). Needs the gguf extra (models checks it first)."""
    import gguf

    own = {name: getattr(gguf, name) for name in ("GGUFReader", "get_tensor_name_map") if hasattr(gguf, name)}
    quick = {"GGUFReader": _plain_reader, "get_tensor_name_map": lambda: functools.cache(own["get_tensor_name_map"])}
    for name in own:  # a name a later gguf no longer has is left alone: that part reads as gguf reads it
        setattr(gguf, name, quick[name]())
    try:
        yield
    finally:
        for name, original in own.items():
            setattr(gguf, name, original)
