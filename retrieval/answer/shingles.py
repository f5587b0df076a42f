"""Word shingles for telling copies apart, compiled with numba: each run of words hashed, and
how many hashes two texts share.

Words are runs of ASCII letters, digits and underscores (lowercased) and of other bytes from 128
up, so that UTF-8 text whose other characters are spaces keeps its words.
"""

from __future__ import annotations

import numba
import numpy as np

from retrieval.text.hashing import FNV_OFFSET, FNV_PRIME

@numba.njit(cache=True, nogil=True, inline="always")
def _in_word(byte: int) -> bool:
    return byte >= 128 or 48 <= byte <= 57 or 65 <= byte <= 90 or 97 <= byte <= 122 or byte == 95


@numba.njit(cache=True, nogil=True, inline="always")
def _mixed(h: np.uint64) -> np.uint64:
    """splitmix64's finalizer: every bit of `h` moves every bit of the result."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def word_hashes(text: np.ndarray) -> np.ndarray:
    """The FNV-1a hash of each word of `text` (bytes), ASCII letters lowercased."""
    hashes = np.empty(len(text) // 2 + 1, np.uint64)  # a word takes a byte and a separator at least
    count = 0
    h, in_word = FNV_OFFSET, False
    for byte in text:
        if _in_word(byte):
            h = (h ^ np.uint64(byte + 32 if 65 <= byte <= 90 else byte)) * FNV_PRIME
            in_word = True
        elif in_word:
            hashes[count] = h
            count += 1
            h, in_word = FNV_OFFSET, False
    if in_word:
        hashes[count] = h
        count += 1
    return hashes[:count]


@numba.njit(cache=True, nogil=True)
def word_grams(text: np.ndarray, n: int) -> np.ndarray:
    """The distinct hashes, ascending, of the runs of `n` words of `text` (bytes), or of all its
    words when it holds fewer."""
    words = word_hashes(text)
    grams = np.empty(max(len(words) - n + 1, 1), np.uint64)
    for i in range(len(grams)):
        h = np.uint64(n)
        for word in words[i:i + n]:
            h = _mixed(h ^ word)
        grams[i] = h
    grams.sort()
    count = 0
    for i in range(len(grams)):
        if i == 0 or grams[i] != grams[count - 1]:
            grams[count] = grams[i]
            count += 1
    return grams[:count].copy()


@numba.njit(cache=True, nogil=True)
def shared(a: np.ndarray, b: np.ndarray) -> int:
    """How many values two ascending arrays of distinct values share."""
    i = j = count = 0
    while i < len(a) and j < len(b):
        if a[i] < b[j]:
            i += 1
        elif a[i] > b[j]:
            j += 1
        else:
            count += 1
            i += 1
            j += 1
    return count
