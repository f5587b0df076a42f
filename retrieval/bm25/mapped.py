"""Arrays of a memory mapping each, for the largest arrays a build or a reload makes (the
postings and their gains, gigabytes at ten million passages).

numba's compiled loops take their arrays from malloc, in small pages, and give them back holding
the interpreter: ~60 ms a GB in which no question is answered (bench/README.md, "Issue 18: eighth
session"). A mapping of its own is unmapped when the last reference to its array goes, without
holding it (Python's `mmap` lets go of the interpreter).

Inside `files_in(folder)` each mapping is a `.npy` file of its own in the folder, mapped shared:
a snapshot saved after the build links the file where it would write the array again (2.5 of
the snapshot's 3.3 GB at ten million passages), and its pages are the ones the build wrote.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

_FOLDER: contextvars.ContextVar[Path | None] = contextvars.ContextVar("mapped_folder", default=None)
_NUMBERS = itertools.count()


@contextlib.contextmanager
def files_in(folder: Path | None) -> Iterator[None]:
    """Inside, `empty` makes its arrays files in `folder` (None: anonymous mappings), also in the
    threads started inside (`asyncio.to_thread` runs its function in the caller's context)."""
    token = _FOLDER.set(folder)
    try:
        yield
    finally:
        _FOLDER.reset(token)


def empty(length: int, dtype: type) -> np.ndarray:
    """An array of `length` items of `dtype`, not initialized (zeros, in a file), in a mapping
    of its own; anonymous when the file's blocks cannot be taken (a full disk)."""
    folder, length = _FOLDER.get(), int(length)
    if folder is None or not length:  # a file of no bytes cannot be mapped
        return _anonymous(length, dtype)
    path = folder / f"{next(_NUMBERS)}.npy"
    file = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(length,))
    try:  # the blocks taken now: a full disk met later, by a write to the mapping, kills the process
        with open(path, "r+b") as handle:
            os.posix_fallocate(handle.fileno(), 0, os.path.getsize(path))
    except OSError:
        del file
        path.unlink(missing_ok=True)
        return _anonymous(length, dtype)
    # a plain ndarray over the file's `np.memmap` (numba's loops are compiled for plain ones)
    return np.asarray(file)


def _anonymous(length: int, dtype: type) -> np.ndarray:
    size = length * np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, max(size, 1)), dtype=dtype, count=length)
