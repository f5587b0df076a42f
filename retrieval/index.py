"""An exact BM25 index: `rank_bm25`'s scores, computed only for passages that hold a query term.

`rank_bm25` is the definition (see docs/DESIGN.md, "Retrieval contract"). This index keeps
inverted lists with each posting's contribution ("impact") precomputed by the very expression
`rank_bm25`'s `get_scores` evaluates, and sums them in query order, so its scores equal
`rank_bm25`'s for the passages it returns. A top-k search skips passages that provably cannot
enter the top k (MaxScore): the rare terms' passages are scored first, and passages holding only
common terms are left out once their best possible score falls below the k-th score found.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.postings import Postings

VARIANTS = ("okapi", "plus", "l")
FIRST_CANDIDATES = 20_000
"""Postings of the rarest query terms scored before the bound on the others is checked."""


@dataclass(frozen=True)
class BM25Params:
    """The scoring function: `rank_bm25`'s class and its parameters (its own defaults)."""

    variant: str = "okapi"
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25
    delta: float | None = None  # None: rank_bm25's default, 0.5 for BM25L and 1 for BM25Plus

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"BM25 variant must be one of {', '.join(VARIANTS)}, not {self.variant!r}")

    @property
    def effective_delta(self) -> float:
        if self.delta is not None:
            return self.delta
        return 0.5 if self.variant == "l" else 1.0

    def rank_bm25(self, corpus: list[list[str]]):
        """The equivalent `rank_bm25` model over `corpus`, for tests and benchmarks."""
        import rank_bm25

        if self.variant == "okapi":
            return rank_bm25.BM25Okapi(corpus, k1=self.k1, b=self.b, epsilon=self.epsilon)
        cls = rank_bm25.BM25Plus if self.variant == "plus" else rank_bm25.BM25L
        return cls(corpus, k1=self.k1, b=self.b, delta=self.effective_delta)


@dataclass(frozen=True)
class Hits:
    """Passages that share a term with the query, best first (ties in passage order)."""

    docs: np.ndarray    # passage positions in the index, int64
    scores: np.ndarray  # float64, the rank_bm25 scores of those passages

    def __len__(self) -> int:
        return len(self.docs)


class BM25Index:
    """Passages numbered 0..N-1, scored as `rank_bm25` scores them."""

    def __init__(self, postings: Postings, params: BM25Params) -> None:
        self.postings = postings
        self.params = params
        self.vocabulary = {term: i for i, term in enumerate(postings.terms)}
        self.offsets = postings.offsets
        self.size = len(postings.doc_lengths)
        self.avgdl = float(postings.doc_lengths.sum(dtype=np.int64)) / self.size if self.size else 0.0
        df = np.diff(postings.offsets)
        self.idf = self._idf(df)
        self.base = self.idf * params.effective_delta if params.variant == "plus" else np.zeros(len(df))
        self.impacts = self._impacts(df)
        nonempty = df > 0
        self.best_gain = np.zeros(len(df))  # per term: the most a posting adds above `base`
        if nonempty.any():
            self.best_gain[nonempty] = np.maximum.reduceat(
                self.impacts - np.repeat(self.base, df), postings.offsets[:-1][nonempty])

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]], params: BM25Params = BM25Params()) -> BM25Index:
        """Index token lists, one per passage."""
        return cls(Postings.from_documents(documents), params)

    def _idf(self, df: np.ndarray) -> np.ndarray:
        """Per term, as rank_bm25's _calc_idf computes it."""
        n, p = self.size, self.params
        if p.variant == "okapi":
            idf = [math.log(n - f + 0.5) - math.log(f + 0.5) for f in df.tolist()]
            if idf:
                # fsum, not rank_bm25's running sum: the same to ~1e-16, and independent of the
                # order terms were first seen in, which reloads change
                eps = p.epsilon * (math.fsum(idf) / len(idf))
                idf = [eps if value < 0 else value for value in idf]
        elif p.variant == "l":
            idf = [math.log(n + 1) - math.log(f + 0.5) for f in df.tolist()]
        else:
            idf = [math.log((n + 1) / f) for f in df.tolist()]
        idf = [value or 0 for value in idf]  # rank_bm25: `self.idf.get(q) or 0`
        return np.asarray(idf, dtype=np.float64)

    def _impacts(self, df: np.ndarray) -> np.ndarray:
        """Each posting's contribution, written exactly as rank_bm25's get_scores writes it."""
        q_freq = self.postings.tfs.astype(np.int64)
        doc_len = self.postings.doc_lengths[self.postings.docs].astype(np.int64)
        idf = np.repeat(self.idf, df)
        k1, b, avgdl, p = self.params.k1, self.params.b, self.avgdl or 1.0, self.params
        with np.errstate(divide="ignore", invalid="ignore"):
            if p.variant == "okapi":
                return idf * (q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * doc_len / avgdl)))
            delta = p.effective_delta
            if p.variant == "l":
                ctd = q_freq / (1 - b + b * doc_len / avgdl)
                return idf * q_freq * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)
            return idf * (delta + (q_freq * (k1 + 1)) / (k1 * (1 - b + b * doc_len / avgdl) + q_freq))

    def postings_of(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(passages, term frequencies) for one term; empty arrays for an unknown term."""
        lo, hi = self._range(term)
        return self.postings.docs[lo:hi], self.postings.tfs[lo:hi]

    def _range(self, term: str) -> tuple[int, int]:
        term_id = self.vocabulary.get(term)
        if term_id is None:
            return 0, 0
        return int(self.offsets[term_id]), int(self.offsets[term_id + 1])

    def search(self, query: Sequence[str], allowed: np.ndarray | None = None,
               limit: int | None = None) -> Hits:
        """Passages holding a query term (and `allowed`, a bool mask, where given), ranked; with
        `limit`, exactly the best `limit` of them."""
        known = [term for term in dict.fromkeys(query) if term in self.vocabulary]
        if not known or not self.size:
            return Hits(np.empty(0, np.int64), np.empty(0, np.float64))
        if limit is None:
            candidates = self._union(known, allowed)
            scores = self._score(query, candidates)
        else:
            candidates, scores = self._top_candidates(query, known, allowed, limit)
        order = np.lexsort((candidates, -scores))[:limit]
        return Hits(candidates[order].astype(np.int64), scores[order])

    def _top_candidates(self, query: Sequence[str], known: list[str], allowed: np.ndarray | None,
                        limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Scored passages that surely include the best `limit`: the rarest terms' passages,
        widened term by term until no passage with only the other terms could outscore them."""
        by_rarity = sorted(known, key=self._length)
        sizes = np.cumsum([self._length(t) for t in by_rarity])
        taken = min(int(np.searchsorted(sizes, FIRST_CANDIDATES)) + 1, len(by_rarity))
        while True:
            rare, common = by_rarity[:taken], by_rarity[taken:]
            candidates = self._union(rare, allowed)
            scores = self._score(query, candidates)
            if not common:
                return candidates, scores
            if len(candidates) >= limit:
                kth = np.partition(scores, len(scores) - limit)[len(scores) - limit]
                if self._bound(query, common) < kth:
                    return candidates, scores
            taken += 1

    def _length(self, term: str) -> int:
        lo, hi = self._range(term)
        return hi - lo

    def _union(self, terms: list[str], allowed: np.ndarray | None) -> np.ndarray:
        lists = [self.postings.docs[slice(*self._range(t))] for t in terms]
        candidates = lists[0] if len(lists) == 1 else np.unique(np.concatenate(lists))
        return candidates[allowed[candidates]] if allowed is not None else candidates

    def _score(self, query: Sequence[str], candidates: np.ndarray) -> np.ndarray:
        """Exact scores of `candidates`, summed term by term in query order like rank_bm25."""
        scores = np.zeros(len(candidates))
        for term in query:
            term_id = self.vocabulary.get(term)
            if term_id is None:
                continue  # rank_bm25 adds 0 for a term it never saw
            lo, hi = int(self.offsets[term_id]), int(self.offsets[term_id + 1])
            docs = self.postings.docs[lo:hi]
            where = np.searchsorted(docs, candidates)
            where[where == len(docs)] = 0
            has = docs[where] == candidates
            scores += np.where(has, self.impacts[lo:hi][where], self.base[term_id])
        return scores

    def _bound(self, query: Sequence[str], common: list[str]) -> float:
        """The most a passage holding none but `common` terms can score, with a rounding margin."""
        counts = Counter(query)
        bound = sum(float(self.base[self.vocabulary[t]]) * n for t, n in counts.items() if t in self.vocabulary)
        bound += sum(max(float(self.best_gain[self.vocabulary[t]]), 0.0) * counts[t] for t in common)
        return bound + 1e-9 * (abs(bound) + 1)
