"""The loops over every posting of a search, compiled with numba: summing posting gains into
passage scores and keeping the best ones, and computing Okapi impacts. Everything around them
(which terms, what the gains are) is in `index.py`. They release the GIL.

The loop walks the passages in windows of `WINDOW`, and in each window adds every query term's
postings into a window-sized accumulator in query order, so each passage's score is summed in the
same order as `rank_bm25` sums it, while the accumulator stays in the processor's cache. The
terms' block-max bounds (`bounds.py`) tell which windows, which terms' postings in a window, and
which passages a window's stronger terms hold, cannot change the best passages kept (MaxScore
over block bounds: the weak terms are looked up only for the passages that may still rank).
"""

from __future__ import annotations

import numba
import numpy as np

WINDOW = 16384
"""Passages per window: 16,384 float64 sums are 128 KB, which stay in a core's cache (1 MB of
L2 here); larger windows bound the terms' gains more loosely, smaller ones cost more steps of
bookkeeping for the same postings (measured at 10M passages: 8,192 a little slower)."""

NO_FILTER = np.zeros(0, dtype=np.bool_)


@numba.njit(cache=True, nogil=True)
def _better(score: float, doc: int, other_score: float, other_doc: int) -> bool:
    """Ranks before: a higher score, or the same score and an earlier passage."""
    return score > other_score or (score == other_score and doc < other_doc)


@numba.njit(cache=True, nogil=True)
def best_passages(offsets: np.ndarray, docs: np.ndarray, gains: np.ndarray, terms: np.ndarray,
                  starts: np.ndarray, maxes: np.ndarray, per_block: int, allowed: np.ndarray, limit: int,
                  size: int, window: int, nonnegative: bool) -> tuple[np.ndarray, np.ndarray]:
    """The best `limit` passages (unordered) and their summed gains, among the passages that hold
    one of `terms` (term ids in query order, repeats counted again) and, unless `allowed` is
    empty, are allowed.

    Postings are compressed rows: term t's passages are docs[offsets[t]:offsets[t+1]],
    ascending, with their gains in `gains`. `size` is the number of passages, taken `window` at
    a time. `starts`, `maxes` and `per_block` are the gains' `bounds.BlockMaxes`: once `limit`
    passages are kept, a window where the terms' bounds together cannot reach the worst of them
    is skipped, and in one where only the weakest terms together cannot, only the stronger
    terms' postings are walked. The weak terms are then looked up, strongest first, for the
    passages those hold; when `nonnegative` (no gain of the terms is below 0), a passage is
    dropped as soon as what it has with the bounds of the terms not yet looked up cannot reach
    the worst kept. The passages left are summed again over every term in query order, so every
    sum is the same."""
    cursor = np.empty(len(terms), np.int64)
    begin = np.empty(len(terms), np.int64)
    end = np.empty(len(terms), np.int64)
    for i in range(len(terms)):
        cursor[i] = offsets[terms[i]]
        end[i] = offsets[terms[i] + 1]
    ceilings = np.empty(len(terms))
    weak = np.zeros(len(terms), np.bool_)
    ranked = np.empty(len(terms), np.int64)
    order = np.empty(len(terms), np.int64)  # the weak terms' positions, weakest first
    below = np.empty(len(terms))            # below[r]: the ceilings of order[0..r] summed
    window = min(window, size)
    sums = np.zeros(window)
    seen = np.zeros(window, np.bool_)
    touched = np.empty(window, np.int64)
    kept_scores = np.empty(limit)
    kept_docs = np.empty(limit, np.int64)
    kept = 0
    for first in range(0, size, window):
        last = first + window
        weakest = 0
        if kept == limit:
            for i in range(len(terms)):
                ceilings[i] = _ceiling(docs, offsets, starts, maxes, per_block, terms[i], cursor[i], end[i], last)
            present, weakest = _weak(ceilings, kept_scores[0], weak, ranked, order, below)
            if weakest == present:  # nothing here can rank
                for i in range(len(terms)):
                    cursor[i] = _after(docs, cursor[i], end[i], last)
                continue
        count = 0
        for i in range(len(terms)):
            begin[i] = cursor[i]
            if weakest and weak[i]:
                cursor[i] = _after(docs, cursor[i], end[i], last)
            else:
                cursor[i], count = _collect(docs, gains, cursor[i], end[i], last, first, sums, seen, touched, count)
        if weakest:
            if nonnegative:
                for r in range(weakest - 1, -1, -1):  # strongest first; what is left then: the weaker ones' bounds
                    _add_held(docs, gains, begin[order[r]], cursor[order[r]], first, seen, touched, count, sums)
                    count = _hopeful(sums, seen, touched, count, first, allowed, below[r - 1] if r else 0.0,
                                     kept_scores[0])
            for j in range(count):
                sums[touched[j]] = 0.0
            for i in range(len(terms)):
                _add_held(docs, gains, begin[i], cursor[i], first, seen, touched, count, sums)
        kept = _keep(sums, seen, touched, count, first, allowed, kept_scores, kept_docs, kept, limit)
    return kept_docs[:kept], kept_scores[:kept]


@numba.njit(cache=True, nogil=True, inline="always")
def _hopeful(sums: np.ndarray, seen: np.ndarray, touched: np.ndarray, count: int, first: int,
             allowed: np.ndarray, ceiling: float, worst: float) -> int:
    """Keeps among the window's `touched` passages those allowed whose sums so far, with
    `ceiling` (the bounds of the terms not yet added), may reach `worst`, clearing the others'
    slots; how many it keeps. With no gain below 0, a passage's sum in query order is at most
    any partial sum of its gains plus the other terms' bounds, up to the rounding CEILING_SLACK
    covers."""
    hopeful = 0
    for j in range(count):
        slot = touched[j]
        if (sums[slot] + ceiling) * (1 + CEILING_SLACK) < worst or (len(allowed) and not allowed[first + slot]):
            sums[slot] = 0.0
            seen[slot] = False
        else:
            touched[hopeful] = slot
            hopeful += 1
    return hopeful


@numba.njit(cache=True, nogil=True, inline="always")
def _add_held(docs: np.ndarray, gains: np.ndarray, p: int, stop: int, first: int, seen: np.ndarray,
              touched: np.ndarray, count: int, sums: np.ndarray) -> None:
    """Adds the gains of docs[p:stop] (postings in the window from `first`) to the sums of the
    `touched` passages (the `seen` ones): a binary search per passage, or a walk over the
    postings where that takes fewer steps."""
    if count * SEARCH_STEPS < stop - p:
        for j in range(count):
            at = _posting(docs, p, stop, first + touched[j])
            if at >= 0:
                sums[touched[j]] += gains[at]
    else:
        for at in range(p, stop):
            if seen[docs[at] - first]:
                sums[docs[at] - first] += gains[at]


@numba.njit(cache=True, nogil=True, inline="always")
def _keep(sums: np.ndarray, seen: np.ndarray, touched: np.ndarray, count: int, first: int, allowed: np.ndarray,
          kept_scores: np.ndarray, kept_docs: np.ndarray, kept: int, limit: int) -> int:
    """Offers the window's `touched` passages to the kept ones, clearing the window for the
    next; how many are kept then."""
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
    return kept


SEARCH_STEPS = 16
"""About what a binary search for a passage costs, in steps of a walk over postings."""
CEILING_SLACK = 1e-12
"""Past any rounding of a sum of a few thousand gains: a sum of gains, each at most its term's
ceiling (some perhaps negative), is below the floating-point sum of the ceilings (none
negative) times (1 + CEILING_SLACK); so is a sum of gains none below 0 below the floating-point
sum of some of them (in any order) and the others' ceilings, times the same."""


ABSENT = -1.0
"""The ceiling of a term without postings in a window (bounds are never below 0)."""


@numba.njit(cache=True, nogil=True, inline="always")
def _ceiling(docs: np.ndarray, offsets: np.ndarray, starts: np.ndarray, maxes: np.ndarray, size: int,
            term: int, p: int, end: int, last: int) -> float:
    """At least the greatest gain of term `term`'s postings from p (one of its postings) on
    that are of passages before `last`, and not below 0 (a term can lower a passage's score,
    never raise it past the others' bounds); ABSENT when there are none. The greatest of the
    bounds (`bounds.BlockMaxes`) of the blocks that hold them: exact values, no rounding. Here,
    not in bounds.py, because numba's cache of a function that inlines it knows only this file."""
    if p >= end or docs[p] >= last:
        return ABSENT
    first = offsets[term]
    b = starts[term] + (p - first) // size
    stop = starts[term + 1]
    at = first + (b - starts[term]) * size  # the block's first posting
    best = 0.0
    while b < stop and docs[at] < last:
        best = max(best, maxes[b])
        b += 1
        at += size
    return best


@numba.njit(cache=True, nogil=True, inline="always")
def _weak(ceilings: np.ndarray, worst: float, weak: np.ndarray, ranked: np.ndarray, order: np.ndarray,
          below: np.ndarray) -> tuple[int, int]:
    """Marks in `weak` the weakest terms present in the window whose ceilings sum below `worst`
    and lists them in `order`, weakest first, with their ceilings' running sums in `below`
    (`ranked`: room for the terms in ascending order of ceilings); (how many terms are present,
    how many of them are weak)."""
    weak[:] = False
    present = weakest = 0
    total = 0.0
    for i in _ascending(ceilings, ranked):
        if ceilings[i] == ABSENT:
            continue
        present += 1
        total += ceilings[i]
        if weakest == present - 1 and total * (1 + CEILING_SLACK) < worst:
            weak[i] = True
            order[weakest] = i
            below[weakest] = total
            weakest += 1
    return present, weakest


@numba.njit(cache=True, nogil=True, inline="always")
def _ascending(values: np.ndarray, into: np.ndarray) -> np.ndarray:
    """The positions of `values` in ascending order of their values, ties in position order, in
    `into` (an insertion sort: a query has a few terms, and np.argsort's array costs more)."""
    for i in range(len(values)):
        j = i
        while j > 0 and values[into[j - 1]] > values[i]:
            into[j] = into[j - 1]
            j -= 1
        into[j] = i
    return into


@numba.njit(cache=True, nogil=True, inline="always")
def _collect(docs: np.ndarray, gains: np.ndarray, p: int, end: int, last: int, first: int, sums: np.ndarray,
             seen: np.ndarray, touched: np.ndarray, count: int) -> tuple[int, int]:
    """Adds the gains of the postings among p:end in the window first:last, noting in `touched`
    the passages not `seen` yet; (where the postings after the window begin, how many passages
    `touched` holds then)."""
    while p < end and docs[p] < last:
        slot = docs[p] - first
        touched[count] = slot  # kept only if new: no branch to mispredict
        count += 1 - seen[slot]
        seen[slot] = True
        sums[slot] += gains[p]
        p += 1
    return p, count


@numba.njit(cache=True, nogil=True)
def okapi_impacts(offsets: np.ndarray, docs: np.ndarray, tfs: np.ndarray, idf: np.ndarray, keys: np.ndarray,
                  length_part: np.ndarray, k1: float, impacts: np.ndarray) -> np.ndarray:
    """Each posting's `idf * (tf * (k1 + 1) / (tf + length_part[keys[doc]]))`, in rank_bm25's
    order of operations (so bit for bit its value), written into `impacts` (float64, one per
    posting) and returned: term t's postings are offsets[t]:offsets[t+1]."""
    for t in range(len(offsets) - 1):
        for p in range(offsets[t], offsets[t + 1]):
            tf = float(tfs[p])
            impacts[p] = idf[t] * (tf * (k1 + 1) / (tf + length_part[keys[docs[p]]]))
    return impacts


@numba.njit(cache=True, nogil=True, inline="always")
def _after(docs: np.ndarray, p: int, end: int, doc: int) -> int:
    """The first position from p on (up to `end`) whose passage is not before `doc` (docs[p:end]
    ascending): strides doubling from p, then a binary search, so that it reads memory near p
    rather than all over the list as a binary search of the whole of it does."""
    step = 1
    while p + step < end and docs[p + step - 1] < doc:
        p += step
        step *= 2
    return _first_not_before(docs, p, min(p + step, end), doc)


@numba.njit(cache=True, nogil=True, inline="always")
def _first_not_before(docs: np.ndarray, lo: int, hi: int, doc: int) -> int:
    """The first position among docs[lo:hi] (ascending) whose passage is not before `doc`, hi if
    none: a binary search (not np.searchsorted, whose slice costs reference counting)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if docs[mid] < doc:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True, inline="always")
def _posting(docs: np.ndarray, lo: int, hi: int, doc: int) -> int:
    """The position of `doc` among docs[lo:hi] (ascending), or -1 when it is not there."""
    at = _first_not_before(docs, lo, hi, doc)
    return at if at < hi and docs[at] == doc else -1


@numba.njit(cache=True, nogil=True)
def _summed(offsets: np.ndarray, docs: np.ndarray, gains: np.ndarray, terms: np.ndarray,
            doc: int) -> tuple[float, bool]:
    """The gains of `doc` summed in query order, as `best_passages` sums them, and whether it
    holds one of `terms` (ids; -1 for a term no passage holds)."""
    total, held = 0.0, False
    for term in terms:
        if term >= 0:
            p = _posting(docs, offsets[term], offsets[term + 1], doc)
            if p >= 0:
                total += gains[p]
                held = True
    return total, held


@numba.njit(cache=True, nogil=True)
def passage_sums(offsets: np.ndarray, docs: np.ndarray, gains: np.ndarray, terms: np.ndarray,
                 wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of `wanted`, its gains summed as `best_passages` sums them, and whether it holds
    one of `terms`: a binary search per term and passage instead of a walk over the postings."""
    sums = np.zeros(len(wanted))
    held = np.zeros(len(wanted), np.bool_)
    for i in range(len(wanted)):
        sums[i], held[i] = _summed(offsets, docs, gains, terms, wanted[i])
    return sums, held


@numba.njit(cache=True, nogil=True)
def holding(offsets: np.ndarray, docs: np.ndarray, terms: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Whether each of `wanted` holds each of `terms` (ids; -1 for one no passage holds), a row per term."""
    holds = np.zeros((len(terms), len(wanted)), np.bool_)
    for i in range(len(terms)):
        if terms[i] >= 0:
            for j in range(len(wanted)):
                holds[i, j] = _posting(docs, offsets[terms[i]], offsets[terms[i] + 1], wanted[j]) >= 0
    return holds


@numba.njit(cache=True, nogil=True)
def best_of_groups(offsets: np.ndarray, docs: np.ndarray, gains: np.ndarray, terms: np.ndarray, base: float,
                   members: np.ndarray, bounds: np.ndarray, groups: np.ndarray,
                   allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of `groups` (group g's passages are members[bounds[g]:bounds[g + 1]], ascending):
    its passage that a search for `terms` among the `allowed` (all if empty) would rank first,
    its score (summed gains plus `base`) and True; else its first allowed passage, 0 and False;
    -1 when none is allowed."""
    best = np.full(len(groups), -1, np.int64)
    scores = np.zeros(len(groups))
    matched = np.zeros(len(groups), np.bool_)
    for i in range(len(groups)):
        for doc in members[bounds[groups[i]]:bounds[groups[i] + 1]]:
            if len(allowed) and not allowed[doc]:
                continue
            if best[i] < 0:
                best[i] = doc
            total, held = _summed(offsets, docs, gains, terms, doc)
            score = total + base
            if held and (not matched[i] or score > scores[i]):  # ties: the earlier passage
                best[i], scores[i], matched[i] = doc, score, True
    return best, scores, matched


@numba.njit(cache=True, nogil=True)
def groups_holding(offsets: np.ndarray, docs: np.ndarray, terms: np.ndarray, members: np.ndarray,
                   bounds: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Whether each of `groups` (group g's passages are members[bounds[g]:bounds[g + 1]]) holds
    each of `terms` (ids; -1 for one no passage holds) in one of its passages, a row per term: a
    binary search per term and passage of the group, until one holds it."""
    holds = np.zeros((len(terms), len(groups)), np.bool_)
    for i in range(len(terms)):
        if terms[i] >= 0:
            lo, hi = offsets[terms[i]], offsets[terms[i] + 1]
            for j in range(len(groups)):
                for doc in members[bounds[groups[j]]:bounds[groups[j] + 1]]:
                    if _posting(docs, lo, hi, doc) >= 0:
                        holds[i, j] = True
                        break
    return holds

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
