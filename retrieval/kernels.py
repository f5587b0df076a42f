"""The loops over every posting, compiled with numba: summing posting gains into passage scores
and keeping the best ones, computing Okapi impacts, and building the postings from the stored
terms texts. Everything around them (which terms, what the gains are) is in `index.py` and
`postings.py`. They release the GIL: a reload's index build does not stall the questions answered
meanwhile.

The loop walks the passages in blocks of `BLOCK`, and in each block adds every query term's
postings into a block-sized accumulator in query order, so each passage's score is summed in the
same order as `rank_bm25` sums it, while the accumulator stays in the processor's cache.
"""

from __future__ import annotations

import numba
import numpy as np

BLOCK = 8192
"""Passages per block: 8,192 float64 sums are 64 KB, which stays in a core's cache."""

NO_FILTER = np.zeros(0, dtype=np.bool_)


@numba.njit(cache=True, nogil=True)
def _better(score: float, doc: int, other_score: float, other_doc: int) -> bool:
    """Ranks before: a higher score, or the same score and an earlier passage."""
    return score > other_score or (score == other_score and doc < other_doc)


@numba.njit(cache=True, nogil=True)
def best_passages(offsets: np.ndarray, docs: np.ndarray, gains: np.ndarray, terms: np.ndarray,
                  allowed: np.ndarray, limit: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The best `limit` passages (unordered) and their summed gains, among the passages that hold
    one of `terms` (term ids in query order, repeats counted again) and, unless `allowed` is
    empty, are allowed.

    Postings are compressed rows: term t's passages are docs[offsets[t]:offsets[t+1]],
    ascending, with their gains in `gains`. `size` is the number of passages."""
    cursor = np.empty(len(terms), np.int64)
    end = np.empty(len(terms), np.int64)
    for i in range(len(terms)):
        cursor[i] = offsets[terms[i]]
        end[i] = offsets[terms[i] + 1]
    sums = np.zeros(BLOCK)
    seen = np.zeros(BLOCK, np.bool_)
    touched = np.empty(BLOCK, np.int64)
    kept_scores = np.empty(limit)
    kept_docs = np.empty(limit, np.int64)
    kept = 0
    for first in range(0, size, BLOCK):
        count = 0
        for i in range(len(terms)):
            p = cursor[i]
            while p < end[i] and docs[p] < first + BLOCK:
                slot = docs[p] - first
                if not seen[slot]:
                    seen[slot] = True
                    touched[count] = slot
                    count += 1
                sums[slot] += gains[p]
                p += 1
            cursor[i] = p
        for j in range(count):
            slot = touched[j]
            score, doc = sums[slot], first + slot
            sums[slot] = 0.0
            seen[slot] = False
            if len(allowed) and not allowed[doc]:
                continue
            if kept < limit:
                kept += 1
                _sift_up(kept_scores, kept_docs, kept - 1, score, doc)
            elif _better(score, doc, kept_scores[0], kept_docs[0]):
                _sift_down(kept_scores, kept_docs, kept, score, doc)
    return kept_docs[:kept], kept_scores[:kept]


@numba.njit(cache=True, nogil=True)
def okapi_impacts(offsets: np.ndarray, docs: np.ndarray, tfs: np.ndarray, idf: np.ndarray,
                  length_part: np.ndarray, k1: float) -> np.ndarray:
    """Each posting's `idf * (tf * (k1 + 1) / (tf + length_part[doc]))`, in rank_bm25's order of
    operations (so bit for bit its value): term t's postings are offsets[t]:offsets[t+1]."""
    impacts = np.empty(len(docs))
    for t in range(len(offsets) - 1):
        for p in range(offsets[t], offsets[t + 1]):
            tf = float(tfs[p])
            impacts[p] = idf[t] * (tf * (k1 + 1) / (tf + length_part[docs[p]]))
    return impacts


# The kept passages are a binary heap with the worst one at the root, so that a better passage
# replaces it in log(limit) steps.

@numba.njit(cache=True, nogil=True)
def _sift_up(scores: np.ndarray, docs: np.ndarray, at: int, score: float, doc: int) -> None:
    while at > 0:
        parent = (at - 1) // 2
        if not _better(scores[parent], docs[parent], score, doc):
            break
        scores[at], docs[at] = scores[parent], docs[parent]
        at = parent
    scores[at], docs[at] = score, doc


@numba.njit(cache=True, nogil=True)
def _sift_down(scores: np.ndarray, docs: np.ndarray, size: int, score: float, doc: int) -> None:
    at = 0
    while 2 * at + 1 < size:
        child = 2 * at + 1
        if child + 1 < size and _better(scores[child], docs[child], scores[child + 1], docs[child + 1]):
            child += 1
        if not _better(score, doc, scores[child], docs[child]):
            break
        scores[at], docs[at] = scores[child], docs[child]
        at = child
    scores[at], docs[at] = score, doc


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
            slot = _find(data, start, end, table, pool, bounds)
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
    h = np.uint64(14695981039346656037)
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * np.uint64(1099511628211)
    return h


@numba.njit(cache=True, nogil=True, inline="always")
def _find(data: np.ndarray, start: int, end: int, table: np.ndarray, pool: np.ndarray,
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
