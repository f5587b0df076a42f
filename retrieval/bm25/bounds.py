"""Block-max bounds: the greatest gain in each block of a fixed number of postings of every term,
so that a search can tell which passages cannot reach its k-th score without summing theirs.

Computed from the gains in one compiled pass, wherever the gains are (at a build and after
every update: an update changes every idf and the average lengths, so every gain and bound).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

POSTINGS_PER_BLOCK = 64
"""Postings a bound covers: smaller blocks bound tighter and cost more memory (a float64 per
block, about an eighth of the gains' at 64)."""


@dataclass(frozen=True)
class BlockMaxes:
    """Term t's postings offsets[t]:offsets[t+1] cut in blocks of `size`, the j-th block's
    greatest gain at maxes[starts[t] + j]."""

    size: int
    starts: np.ndarray  # int64, one more than there are terms
    maxes: np.ndarray   # float64

    @classmethod
    def of(cls, offsets: np.ndarray, gains: np.ndarray, size: int = POSTINGS_PER_BLOCK) -> BlockMaxes:
        """The bounds of `gains`, the postings' in compressed-row form by `offsets`."""
        return cls(size, *block_maxes(offsets, gains, size))


@numba.njit(cache=True, nogil=True)
def block_maxes(offsets: np.ndarray, gains: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, maxes) of `BlockMaxes`: the exact greatest of each block's gains."""
    terms = len(offsets) - 1
    starts = np.zeros(terms + 1, np.int64)
    for t in range(terms):
        starts[t + 1] = starts[t] + (offsets[t + 1] - offsets[t] + size - 1) // size
    maxes = np.empty(starts[terms])
    for t in range(terms):
        for j in range(starts[t + 1] - starts[t]):
            lo = offsets[t] + j * size
            hi = min(lo + size, offsets[t + 1])
            best = gains[lo]
            for p in range(lo + 1, hi):
                best = max(best, gains[p])
            maxes[starts[t] + j] = best
    return starts, maxes

