"""An exact BM25 index: `rank_bm25`'s scores, computed only for passages that hold a query term.

`rank_bm25` is the definition (see docs/DESIGN.md, "Retrieval contract"). This index keeps inverted
lists and evaluates the very same expressions, in the same order, on the passages that contain a
query term, so its scores equal `rank_bm25`'s `get_scores` for those passages bit for bit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

VARIANTS = ("okapi", "plus", "l")


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
    """Inverted lists over passages numbered 0..N-1, scored as `rank_bm25` scores them."""

    def __init__(self, vocabulary: dict[str, int], offsets: np.ndarray, postings: np.ndarray,
                 frequencies: np.ndarray, doc_lengths: np.ndarray, params: BM25Params) -> None:
        self.vocabulary = vocabulary
        self.offsets = offsets
        self.postings = postings
        self.frequencies = frequencies
        self.doc_lengths = doc_lengths
        self.params = params
        self.size = len(doc_lengths)
        self.avgdl = float(doc_lengths.sum()) / self.size if self.size else 0.0
        self.idf = self._idf(np.diff(offsets))

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]], params: BM25Params = BM25Params()) -> BM25Index:
        """Index token lists; term ids follow first appearance, as `rank_bm25`'s idf dict does."""
        vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        doc_ids: list[int] = []
        tfs: list[int] = []
        lengths: list[int] = []
        for doc, tokens in enumerate(documents):
            lengths.append(len(tokens))
            for term, tf in Counter(tokens).items():
                term_ids.append(vocabulary.setdefault(term, len(vocabulary)))
                doc_ids.append(doc)
                tfs.append(tf)
        terms = np.asarray(term_ids, dtype=np.int64)
        order = np.argsort(terms, kind="stable")
        offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(vocabulary)), out=offsets[1:])
        return cls(vocabulary, offsets,
                   np.asarray(doc_ids, dtype=np.int64)[order],
                   np.asarray(tfs, dtype=np.int64)[order],
                   np.asarray(lengths, dtype=np.int64), params)

    def _idf(self, df: np.ndarray) -> np.ndarray:
        n, p = self.size, self.params
        if p.variant == "okapi":
            idf = [math.log(n - f + 0.5) - math.log(f + 0.5) for f in df.tolist()]
            if idf:
                eps = p.epsilon * (sum(idf) / len(idf))
                idf = [eps if value < 0 else value for value in idf]
        elif p.variant == "l":
            idf = [math.log(n + 1) - math.log(f + 0.5) for f in df.tolist()]
        else:
            idf = [math.log((n + 1) / f) for f in df.tolist()]
        return np.asarray(idf, dtype=np.float64)

    def postings_of(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(passages, term frequencies) for one term; empty arrays for an unknown term."""
        term_id = self.vocabulary.get(term)
        if term_id is None:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        lo, hi = self.offsets[term_id], self.offsets[term_id + 1]
        return self.postings[lo:hi], self.frequencies[lo:hi]

    def search(self, query: Sequence[str], allowed: np.ndarray | None = None) -> Hits:
        """Every passage holding a query term (and `allowed`, a bool mask, where given), ranked."""
        lists = [self.postings_of(term) for term in query]
        present = [docs for docs, _ in lists if len(docs)]
        if not present or not self.size:
            return Hits(np.empty(0, np.int64), np.empty(0, np.float64))
        candidates = np.unique(np.concatenate(present))
        if allowed is not None:
            candidates = candidates[allowed[candidates]]
        scores = np.zeros(len(candidates))
        doc_len = self.doc_lengths[candidates]
        for term, (docs, tfs) in zip(query, lists):
            scores += self._term_scores(term, candidates, docs, tfs, doc_len)
        order = np.lexsort((candidates, -scores))
        return Hits(candidates[order], scores[order])

    def _term_scores(self, term: str, candidates: np.ndarray, docs: np.ndarray, tfs: np.ndarray,
                     doc_len: np.ndarray) -> np.ndarray:
        """One query term's contribution, written exactly as rank_bm25's get_scores writes it."""
        term_id = self.vocabulary.get(term)
        idf = float(self.idf[term_id]) if term_id is not None else 0
        idf = idf or 0  # rank_bm25: `self.idf.get(q) or 0`
        q_freq = np.zeros(len(candidates), dtype=np.int64)
        if len(docs):
            where = np.searchsorted(docs, candidates)
            where[where == len(docs)] = 0
            hit = docs[where] == candidates
            q_freq[hit] = tfs[where[hit]]
        k1, b, avgdl = self.params.k1, self.params.b, self.avgdl
        if self.params.variant == "okapi":
            return idf * (q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * doc_len / avgdl)))
        delta = self.params.effective_delta
        if self.params.variant == "l":
            ctd = q_freq / (1 - b + b * doc_len / avgdl)
            return idf * q_freq * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)
        return idf * (delta + (q_freq * (k1 + 1)) / (k1 * (1 - b + b * doc_len / avgdl) + q_freq))
