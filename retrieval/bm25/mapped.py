"""Arrays of an anonymous memory mapping each, for the largest arrays a reload builds (the
postings and their gains, gigabytes at ten million passages).

numba's compiled loops take their arrays from malloc, in small pages, and give them back holding
the interpreter: ~60 ms a GB in which no question is answered (bench/README.md, "Issue 18: eighth
session"). A mapping of its own is unmapped when the last reference to its array goes, without
holding it (Python's `mmap` lets go of the interpreter).
"""

from __future__ import annotations

import mmap

import numpy as np


def empty(length: int, dtype: type) -> np.ndarray:
    """An array of `length` items of `dtype`, not initialized, in a mapping of its own."""
    size = int(length) * np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, max(size, 1)), dtype=dtype, count=int(length))
