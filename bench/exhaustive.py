"""rank_bm25's Okapi scores for every passage, computed without rank_bm25 (whose per-passage
dicts take ~18 GB at ten million passages): the reference the index is held to at every size.

It reads the passages' analyzed terms once (`scan`), keeping what `rank_bm25.BM25Okapi` keeps that
the scores need: every passage's length, every term's document frequency (in the order
rank_bm25 first meets them, since its average idf is summed in that order), and, for the terms
asked about only, which passages hold them and how often. `okapi_idf` and `okapi_scores` then
apply rank_bm25 0.2.2's own arithmetic, operation for operation, so the scores are bit-identical:

- idf = log(N - n + 0.5) - log(n + 0.5) (`math.log`, as rank_bm25), summed over the vocabulary
  in first-met order; a term whose idf is negative (in more than half the passages) gets
  epsilon × the average idf instead (itself negative when most terms are that common); a term
  with an idf of exactly 0 (in exactly half) keeps it; a term not in the corpus scores 0;
- each query term, repeats included and in query order, adds
  idf × (tf × (k1 + 1) / (tf + k1 × (1 - b + b × length / avgdl))) to the passages that hold it
  (rank_bm25 adds it to every passage: 0 where the term is absent, which changes no sum).

The archive scores each language as rank_bm25 scores that language's passages alone; the bench
corpus is in one language (English), so one collection here is the archive's one language.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

TOP = 10


@dataclass(frozen=True)
class Collection:
    """What the Okapi scores of the wanted terms need, from one pass over the passages."""

    lengths: np.ndarray                                    # terms in each passage (int64)
    document_frequency: Counter                            # every term, in first-met order
    holders: dict[str, tuple[np.ndarray, np.ndarray]]      # wanted term -> (passages, tf)

    @property
    def size(self) -> int:
        return len(self.lengths)

    @property
    def average_length(self) -> float:
        return int(self.lengths.sum()) / self.size  # rank_bm25: an int over an int


def scan(passages: Iterable[str | Sequence[str]], wanted: Iterable[str]) -> Collection:
    """One pass over the passages, each a line of space-separated terms or a list of terms."""
    wanted = frozenset(wanted)
    lengths = array("q")
    frequency: Counter = Counter()
    found = {term: (array("q"), array("q")) for term in wanted}
    for passage, terms in enumerate(passages):
        if isinstance(terms, str):
            terms = terms.split()
        lengths.append(len(terms))
        frequency.update(iter(dict.fromkeys(terms)))  # an iterator: Counter counts it in C, in order
        for term in wanted.intersection(terms):
            docs, tfs = found[term]
            docs.append(passage)
            tfs.append(terms.count(term))
    holders = {t: (np.frombuffer(d, dtype=np.int64), np.frombuffer(f, dtype=np.int64))
               for t, (d, f) in found.items()}
    return Collection(np.frombuffer(lengths, dtype=np.int64), frequency, holders)


def okapi_idf(collection: Collection, epsilon: float) -> dict[str, float]:
    """rank_bm25's BM25Okapi idf of every term, floor included."""
    size = collection.size
    idf: dict[str, float] = {}
    total = 0.0
    negative = []
    for term, n in collection.document_frequency.items():
        value = math.log(size - n + 0.5) - math.log(n + 0.5)
        idf[term] = value
        total += value
        if value < 0:
            negative.append(term)
    floor = epsilon * (total / len(idf))
    for term in negative:
        idf[term] = floor
    return idf


def okapi_scores(collection: Collection, idf: dict[str, float], query: Sequence[str],
                 k1: float, b: float) -> np.ndarray:
    """Every passage's score for `query`, as `BM25Okapi.get_scores` sums it."""
    scores = np.zeros(collection.size)
    average = collection.average_length
    for term in query:
        if term not in collection.holders:
            continue  # absent from the corpus: rank_bm25 adds 0 × ... = 0 everywhere
        docs, tf = collection.holders[term]
        length = collection.lengths[docs]
        scores[docs] += (idf.get(term) or 0) * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average)))
    return scores


def top_holders(scores: np.ndarray, holders: np.ndarray, k: int = TOP) -> list[list]:
    """The best `k` of the passages `holders` (those holding a query term) as [passage, score],
    ties in passage order."""
    holders = np.unique(holders)
    order = np.lexsort((holders, -scores[holders]))[:k]
    return [[int(holders[j]), float(scores[holders[j]])] for j in order]


def top(collection: Collection, idf: dict[str, float], query: Sequence[str], k1: float, b: float,
        k: int = TOP) -> list[list]:
    """The best `k` passages holding a term of `query`, [passage, score], ties in passage order."""
    scores = okapi_scores(collection, idf, query, k1, b)
    held = [collection.holders[t][0] for t in set(query) if t in collection.holders]
    return top_holders(scores, np.concatenate(held) if held else np.empty(0, dtype=np.int64), k)
