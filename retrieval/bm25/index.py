"""An exact BM25 index: `rank_bm25`'s scores, computed only for passages that hold a query term.

`rank_bm25` is the definition (see docs/DESIGN.md, "Retrieval contract"). This index keeps
inverted lists with each posting's contribution ("impact") precomputed by the very expression
`rank_bm25`'s `get_scores` evaluates, and a search sums them in query order (in compiled code,
`scoring.py`), so its scores equal `rank_bm25`'s for the passages it returns, bit for bit for
BM25Okapi and BM25L.
"""

from __future__ import annotations

import math
from fractions import Fraction
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.bm25 import mapped, scoring
from retrieval.bm25.bounds import POSTINGS_PER_BLOCK, BlockMaxes
from retrieval.bm25.scoring import NO_FILTER, WINDOW
from retrieval.bm25.postings import Postings
from retrieval.bm25.strings import NOT_FOUND, Strings

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
class Scored:
    """What an index computes from its postings, parameters and languages: each term's idf,
    each posting's gain (its contribution above what every passage gets), the gains' bounds."""

    idf: np.ndarray    # float64, a term's
    gains: np.ndarray  # float64, a posting's
    bounds: BlockMaxes


@dataclass(frozen=True)
class Hits:
    """Passages that share a term with the query, best first (ties in passage order)."""

    docs: np.ndarray    # passage positions in the index, int64
    scores: np.ndarray  # float64, the rank_bm25 scores of those passages

    def __len__(self) -> int:
        return len(self.docs)


class BM25Index:
    """Passages numbered 0..N-1, scored as `rank_bm25` scores them.

    With `languages` (a small int per passage) the passages are several corpora, one per
    language, each scored as `rank_bm25` scores it alone: a term's idf counts its language's
    passages, a passage's length is measured against its language's average. The terms of one
    language never occur in another's passages (see `text.analysis.Analyzers`), so a query in
    one language meets only that language's passages."""

    def __init__(self, postings: Postings, params: BM25Params, languages: np.ndarray | None = None,
                 per_block: int = POSTINGS_PER_BLOCK, window: int = WINDOW, scored: Scored | None = None) -> None:
        """`per_block` postings share a bound; a search takes `window` passages at a time.
        `scored`: what an index of these postings, parameters and languages computed (saved
        with them), instead of computing it again."""
        self.postings = postings
        self.params = params
        self.vocabulary = Strings.of(postings.terms, indexed=True)  # a term's id by its bytes
        self.offsets = postings.offsets
        self.size = len(postings.doc_lengths)
        self.avgdl = float(postings.doc_lengths.sum(dtype=np.int64)) / self.size if self.size else 0.0
        self.scored = scored or self._scored(languages, per_block)
        self.idf, self.gains, self.bounds = self.scored.idf, self.scored.gains, self.scored.bounds
        # what every passage gets for every query term; a posting's gain is what it adds above it
        self.base = self.idf * params.effective_delta if params.variant == "plus" else np.zeros(len(self.idf))
        self.window = window

    def _scored(self, languages: np.ndarray | None, per_block: int) -> Scored:
        df = np.diff(self.offsets)
        if languages is None:
            idf, doc_avgdl = self._idf(df, self.size), self.avgdl or 1.0
        else:
            idf, doc_avgdl = self._by_language(df, np.asarray(languages))
        impacts = self._impacts(df, idf, doc_avgdl)
        if self.params.variant == "plus" and idf.any():
            impacts -= np.repeat(idf * self.params.effective_delta, df)
        return Scored(idf, impacts, BlockMaxes.of(self.offsets, impacts, per_block))

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]], params: BM25Params = BM25Params(),
              languages: np.ndarray | None = None) -> BM25Index:
        """Index token lists, one per passage (in the language `languages` gives, if any)."""
        return cls(Postings.from_documents(documents), params, languages)

    def _by_language(self, df: np.ndarray, languages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each term's idf within its language's passages, and each passage's language's
        average length."""
        lengths = self.postings.doc_lengths
        # a term's language is that of any passage holding it: its first
        held = df > 0
        term_language = np.full(len(df), -1, dtype=np.int64)
        term_language[held] = languages[self.postings.docs[self.offsets[:-1][held]]]
        idf = np.zeros(len(df))
        doc_avgdl = np.ones(self.size)
        for code in np.unique(languages).tolist():
            passages = languages == code
            count = int(passages.sum())
            doc_avgdl[passages] = float(lengths[passages].sum(dtype=np.int64)) / count or 1.0
            terms = term_language == code
            idf[terms] = self._idf(df[terms], count)
        return idf, doc_avgdl

    def _idf(self, df: np.ndarray, n: int) -> np.ndarray:
        """Per term, as rank_bm25's _calc_idf computes it over `n` passages: computed once per
        document frequency (thousands of them, where the terms are millions), so the same values."""
        terms = np.bincount(df)  # how many terms have each document frequency
        frequencies = np.flatnonzero(terms)
        by_frequency = np.zeros(len(terms))
        by_frequency[frequencies] = self._idf_of(frequencies.tolist(), terms[frequencies].tolist(), n)
        return by_frequency[df]

    def _idf_of(self, frequencies: list[int], terms: list[int], n: int) -> list[float]:
        """The idf of a term of each of `frequencies`, of which `terms` has how many terms each."""
        p = self.params
        if p.variant == "okapi":
            idf = [math.log(n - f + 0.5) - math.log(f + 0.5) for f in frequencies]
            if idf:
                # the mean as fsum takes it over every term (exactly rounded), not rank_bm25's running
                # sum: the same to ~1e-16, and independent of the order terms were first seen in,
                # which reloads change; summed exactly, each value times its terms, and rounded once
                total = sum(Fraction(value) * count for value, count in zip(idf, terms))
                eps = p.epsilon * (float(total) / sum(terms))
                idf = [eps if value < 0 else value for value in idf]
        elif p.variant == "l":
            idf = [math.log(n + 1) - math.log(f + 0.5) for f in frequencies]
        else:
            idf = [math.log((n + 1) / f) for f in frequencies]
        return [value or 0 for value in idf]  # rank_bm25: `self.idf.get(q) or 0`

    def _impacts(self, df: np.ndarray, idf: np.ndarray, avgdl: float | np.ndarray) -> np.ndarray:
        """Each posting's contribution, written exactly as rank_bm25's get_scores writes it
        (`avgdl`: the average passage length, or each passage's language's)."""
        k1, b, p = self.params.k1, self.params.b, self.params
        with np.errstate(divide="ignore", invalid="ignore"):
            if p.variant == "okapi":
                # the passage-length part once per length (or passage), not per posting: the
                # same operations on the same values, so the same result, bit for bit
                keys, lengths = self._length_keys(avgdl)
                length_part = k1 * (1 - b + b * lengths / avgdl)
                return scoring.okapi_impacts(self.offsets, self.postings.docs, self.postings.tfs, idf, keys,
                                             length_part, k1, mapped.empty(len(self.postings.docs), np.float64))
            q_freq = self.postings.tfs.astype(np.int64)
            idf = np.repeat(idf, df)
            doc_len = self.postings.doc_lengths[self.postings.docs].astype(np.int64)
            if isinstance(avgdl, np.ndarray):
                avgdl = avgdl[self.postings.docs]
            delta = p.effective_delta
            if p.variant == "l":
                ctd = q_freq / (1 - b + b * doc_len / avgdl)
                return idf * q_freq * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)
            return idf * (delta + (q_freq * (k1 + 1)) / (k1 * (1 - b + b * doc_len / avgdl) + q_freq))

    def _length_keys(self, avgdl: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(key per passage, the lengths the keys stand for, as int64): with one average length,
        a passage's key is its length, narrowed when it fits, so that the table of length parts
        the impacts read through it is small and the keys take a quarter of the cache room
        (at ten million passages, what each posting's lookup misses); else the passage itself."""
        lengths = self.postings.doc_lengths
        if isinstance(avgdl, np.ndarray):
            return np.arange(self.size, dtype=np.int64), lengths.astype(np.int64)
        longest = int(lengths.max(initial=0))
        keys = lengths.astype(np.uint16) if longest <= np.iinfo(np.uint16).max else lengths
        return keys, np.arange(longest + 1, dtype=np.int64)

    def postings_of(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(passages, term frequencies) for one term; empty arrays for an unknown term."""
        lo, hi = self._range(term)
        return self.postings.docs[lo:hi], self.postings.tfs[lo:hi]

    def holding(self, terms: Sequence[str], docs: np.ndarray) -> np.ndarray:
        """Whether each passage in `docs` holds each of `terms`: a row per term (a binary search
        per term and passage)."""
        ids = self.vocabulary.ids_of(terms)
        return scoring.holding(self.offsets, self.postings.docs, ids, np.asarray(docs, dtype=np.int64))

    def groups_holding(self, terms: Sequence[str], members: np.ndarray, bounds: np.ndarray,
                       groups: np.ndarray) -> np.ndarray:
        """Whether each of `groups` of passages (group g's are members[bounds[g]:bounds[g+1]])
        holds each of `terms` in one of its passages: a row per term (binary searches, no walk
        over the terms' postings)."""
        ids = self.vocabulary.ids_of(terms)
        return scoring.groups_holding(self.offsets, self.postings.docs, ids, members, bounds,
                                      np.asarray(groups, dtype=np.int64))

    def scores_of(self, query: Sequence[str], docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of `docs`, its score as `search(query)` gives it (0 where it holds no query
        term), and whether it holds one: a binary search per term and passage instead of a walk
        over the terms' postings. The gains are summed in query order, as `search` sums them, so
        the scores are the same bit for bit."""
        terms = self._term_ids(query)
        sums, held = scoring.passage_sums(self.offsets, self.postings.docs, self.gains, terms,
                                          np.asarray(docs, dtype=np.int64))
        return np.where(held, sums + self._base_of(terms), 0.0), held

    def best_of_groups(self, query: Sequence[str], members: np.ndarray, bounds: np.ndarray, groups: np.ndarray,
                       allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each of `groups` of passages (group g's are members[bounds[g]:bounds[g+1]],
        ascending), the one `search(query, allowed)` ranks first, its score, and True; where none
        holds a query term, the group's first allowed passage, 0 and False; -1 where none is allowed."""
        terms = self._term_ids(query)
        return scoring.best_of_groups(self.offsets, self.postings.docs, self.gains, terms, self._base_of(terms),
                                      members, bounds, np.asarray(groups, dtype=np.int64),
                                      NO_FILTER if allowed is None else allowed)

    def _term_ids(self, query: Sequence[str]) -> np.ndarray:
        """The ids of the query's terms the index knows, in query order."""
        ids = self.vocabulary.ids_of(query)
        return ids[ids != NOT_FOUND]

    def _base_of(self, terms: np.ndarray) -> float:
        """What a search adds to every hit's summed gains (rank_bm25 adds 0 for unknown terms)."""
        return sum(float(self.base[t]) for t in terms.tolist())

    def _range(self, term: str) -> tuple[int, int]:
        term_id = self.vocabulary.index_of(term)
        if term_id == NOT_FOUND:
            return 0, 0
        return int(self.offsets[term_id]), int(self.offsets[term_id + 1])

    def search(self, query: Sequence[str], allowed: np.ndarray | None = None,
               limit: int | None = None) -> Hits:
        """Passages holding a query term (and `allowed`, a bool mask, where given), ranked; with
        `limit`, exactly the best `limit` of them."""
        terms = self._term_ids(query)
        if not len(terms) or not self.size or limit == 0:
            return Hits(np.empty(0, np.int64), np.empty(0, np.float64))
        if limit is None:
            limit = int(sum(self.offsets[t + 1] - self.offsets[t] for t in set(terms.tolist())))
        bounds = self.bounds
        docs, sums = scoring.best_passages(self.offsets, self.postings.docs, self.gains, terms, bounds.starts,
                                           bounds.maxes, bounds.size, NO_FILTER if allowed is None else allowed,
                                           max(limit, 1), self.size, self.window,
                                           bool((self.idf[terms] >= 0).all()))  # a gain has its idf's sign
        scores = sums + self._base_of(terms)
        order = np.lexsort((docs, -scores))
        return Hits(docs[order], scores[order])
