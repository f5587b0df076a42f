"""Building postings from the stored terms texts, compiled with numba: a table numbering the
terms as they are scanned, and the inverted lists in two passes. They release the GIL: a reload's
index build does not stall the questions answered meanwhile."""

from __future__ import annotations

import numba
import numpy as np

from retrieval.text.hashing import FNV_OFFSET, FNV_PRIME

# Building postings: passages' terms as UTF-8 bytes, passages on lines, terms split by spaces.

SPACE, NEWLINE = 32, 10
EMPTY = -1
DONE, FULL, BAD = 0, 1, 2  # how a scan_terms call ended


@numba.njit(cache=True, nogil=True)
def scan_terms(data: np.ndarray, start: int, tokens: int, line: int, ids: np.ndarray, lengths: np.ndarray,
               table: np.ndarray, pool: np.ndarray, bounds: np.ndarray, count: int) -> tuple:
    """Numbers the space-separated terms of data[start:] (lines of UTF-8 text, one a passage)
    into `ids` from `tokens` on, counting them per line in `lengths` from `line` on; terms not in
    the table get numbers from `count` on, in the order first seen.

    The table is open addressing over term numbers (EMPTY: a free slot); term t's bytes are
    pool[bounds[t]:bounds[t + 1] - 1], each followed by a newline. Stops at the end (DONE), at a
    new term the table, pool or bounds have no room for (FULL: grow them and scan on from where
    it stopped), or at a line with an empty term, i.e. spaces at its ends or doubled, or a line
    past `lengths` (BAD). Returns (start, tokens, line, count, status), as far as it got."""
    for end in range(start, len(data) + 1):
        if end < len(data) and data[end] != SPACE and data[end] != NEWLINE:
            continue
        line_ends = end == len(data) or data[end] == NEWLINE
        if end == start:
            if not (line_ends and (start == 0 or data[start - 1] == NEWLINE)):
                return start, tokens, line, count, BAD
        else:
            if line >= len(lengths):
                return start, tokens, line, count, BAD
            slot = find_slot(data, start, end, table, pool, bounds)
            if table[slot] == EMPTY:
                at, size = bounds[count], end - start
                if 2 * (count + 1) > len(table) or at + size + 1 > len(pool) or count + 2 > len(bounds):
                    return start, tokens, line, count, FULL
                for i in range(size):  # not a slice assignment, whose compiling takes seconds
                    pool[at + i] = data[start + i]
                pool[at + size] = NEWLINE
                bounds[count + 1] = at + size + 1
                table[slot] = count
                count += 1
            ids[tokens] = table[slot]
            tokens += 1
            lengths[line] += 1
        if line_ends:
            line += 1
        start = end + 1
    return start, tokens, line, count, DONE


@numba.njit(cache=True, nogil=True, inline="always")
def _hash(data: np.ndarray, start: int, end: int) -> int:
    """FNV-1a of data[start:end]."""
    h = FNV_OFFSET
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * FNV_PRIME
    return h


@numba.njit(cache=True, nogil=True, inline="always")
def find_slot(data: np.ndarray, start: int, end: int, table: np.ndarray, pool: np.ndarray,
          bounds: np.ndarray) -> int:
    """The slot of the term data[start:end] in the table, or the free slot where it goes."""
    mask = np.uint64(len(table) - 1)
    slot = _hash(data, start, end) & mask
    size = end - start
    while table[slot] != EMPTY:
        at = bounds[table[slot]]
        if bounds[table[slot] + 1] - 1 - at == size:
            i = 0
            while i < size and pool[at + i] == data[start + i]:
                i += 1
            if i == size:
                return slot
        slot = (slot + np.uint64(1)) & mask
    return slot


@numba.njit(cache=True, nogil=True)
def rehashed(pool: np.ndarray, bounds: np.ndarray, count: int, size: int) -> np.ndarray:
    """A table of `size` slots (a power of two) holding terms 0..count-1."""
    table = np.full(size, EMPTY, np.int32)
    for term in range(count):
        slot = _hash(pool, bounds[term], bounds[term + 1] - 1) & np.uint64(size - 1)
        while table[slot] != EMPTY:
            slot = (slot + np.uint64(1)) & np.uint64(size - 1)
        table[slot] = term
    return table


@numba.njit(cache=True, nogil=True)
def inverted_lists(token_ids: np.ndarray, lengths: np.ndarray, terms: int) -> tuple:
    """(offsets, docs, tfs) of the postings of every passage's tokens (as ids below `terms`,
    passage after passage, `lengths` of them each): term t's passages, ascending, are
    docs[offsets[t]:offsets[t + 1]], and tfs how often each holds it. Two passes, no sort."""
    last = np.full(terms, -1, np.int64)  # the last passage seen holding each term
    offsets = np.zeros(terms + 1, np.int64)
    p = 0
    for doc in range(len(lengths)):
        for _ in range(lengths[doc]):
            term = token_ids[p]
            p += 1
            if last[term] != doc:
                last[term] = doc
                offsets[term + 1] += 1
    offsets = np.cumsum(offsets)
    fill = offsets[:-1].copy()
    docs = np.empty(offsets[-1], np.int32)
    tfs = np.zeros(offsets[-1], np.int32)
    last[:] = -1
    p = 0
    for doc in range(len(lengths)):
        for _ in range(lengths[doc]):
            term = token_ids[p]
            p += 1
            if last[term] != doc:
                last[term] = doc
                docs[fill[term]] = doc
                fill[term] += 1
            tfs[fill[term] - 1] += 1
    return offsets, docs, tfs


@numba.njit(cache=True, nogil=True)
def appended_offsets(offsets: np.ndarray, new_offsets: np.ndarray, target: np.ndarray, terms: int) -> np.ndarray:
    """The offsets of the postings `offsets` with the postings `new_offsets` after them, the new
    term i's after the old ones of term target[i] (below `terms`, the number of terms after)."""
    counts = np.zeros(terms, np.int64)
    for t in range(len(offsets) - 1):
        counts[t] = offsets[t + 1] - offsets[t]
    for i in range(len(target)):
        counts[target[i]] += new_offsets[i + 1] - new_offsets[i]
    merged = np.zeros(terms + 1, np.int64)
    for t in range(terms):
        merged[t + 1] = merged[t] + counts[t]
    return merged


@numba.njit(cache=True, nogil=True)
def appended(offsets: np.ndarray, docs: np.ndarray, tfs: np.ndarray, new_offsets: np.ndarray, new_docs: np.ndarray,
             new_tfs: np.ndarray, target: np.ndarray, shift: int, merged: np.ndarray, out_docs: np.ndarray,
             out_tfs: np.ndarray) -> None:
    """Writes into `out_docs`, `out_tfs` the postings `offsets`, `docs`, `tfs` with the postings
    `new_*` after them, laid out by `merged` (`appended_offsets`): the new term i's postings go
    after the old ones of term target[i], with passage numbers shifted by `shift`."""
    old_terms = len(offsets) - 1
    for t in range(old_terms):
        at = merged[t]
        for p in range(offsets[t], offsets[t + 1]):
            out_docs[at], out_tfs[at] = docs[p], tfs[p]
            at += 1
    for i in range(len(target)):
        t = target[i]
        at = merged[t] + (offsets[t + 1] - offsets[t] if t < old_terms else 0)
        for p in range(new_offsets[i], new_offsets[i + 1]):
            out_docs[at], out_tfs[at] = new_docs[p] + shift, new_tfs[p]
            at += 1
