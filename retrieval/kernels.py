"""The loops over every posting, compiled with numba: summing posting gains into passage scores
and keeping the best ones, and computing Okapi impacts. Everything around them (which terms, what
the gains are) is in `index.py`. They release the GIL: a reload's index build does not stall the
questions answered meanwhile.

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
