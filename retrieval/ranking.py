"""Ranking stories for a question: each story's best passage by BM25, its title as evidence, and
a floor below which a match is noise rather than an answer.

The passage and title scores are `rank_bm25`'s, each over its own field; a story's score is its
best passage's plus `TITLE_WEIGHT` times its title's, times its coverage (the share of the
question's term weight the two hold) to the power `COVERAGE_POWER`: a story that matches every
word of the question ranks above one that matches a few of them many times.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from retrieval.query import Query
from retrieval.snapshot import Snapshot

TITLE_WEIGHT = 1.0
COPY_SHINGLE = 5
COPY_JACCARD = 0.8
COPY_CONTAINMENT = 0.9
"""Two stories are copies when their word 5-gram sets overlap by Jaccard >= COPY_JACCARD, or
when they share a title and one's 5-grams are COPY_CONTAINMENT inside the other's."""
RELEVANCE_FLOOR = 0.4
"""The least share of the question's term weight a story must match, in its best passage and
title together, to be cited."""
COVERAGE_POWER = 1.5
"""How strongly coverage scales a story's score (0 would rank by BM25 alone)."""


@dataclass(frozen=True)
class RankedStory:
    story: int       # position in snapshot.stories
    doc: int         # its best passage
    score: float
    coverage: float  # share of the question's term weight found in the passage and title


def rank_stories(snapshot: Snapshot, query: Query, required: list[str], limit: int,
                 weights: Mapping[str, float]) -> tuple[list[RankedStory], bool]:
    """Stories for `query`, best first, from the best `limit` passages and titles; and whether
    that saw every matching passage (so asking with a larger limit would add nothing).
    `weights` are `snapshot.term_weights` of at least the query's terms."""
    terms = query.terms
    stories_ok = snapshot.stories_allowed(query.excluded, query.since, query.until)
    allowed = snapshot.allowed(stories_ok, required)
    hits = snapshot.index.search(terms, allowed, limit)
    best: dict[int, tuple[int, float]] = {}
    _add_best(snapshot, hits.docs, hits.scores, best)
    by_title = snapshot.titles.search(terms, stories_ok, limit)
    _add_best_passages(snapshot, terms, allowed, [s for s in by_title.docs.tolist() if s not in best], best)
    stories = np.fromiter(best, dtype=np.int64, count=len(best))
    docs = np.asarray([doc for doc, _ in best.values()], dtype=np.int64)
    titled, _ = snapshot.titles.scores_of(terms, stories)
    scores = np.asarray([score for _, score in best.values()]) + TITLE_WEIGHT * titled
    coverage = _coverage(snapshot, query, weights, stories, docs)
    scores *= coverage ** COVERAGE_POWER
    order = np.lexsort((docs, -scores))
    ranked = list(map(RankedStory, stories[order].tolist(), docs[order].tolist(), scores[order].tolist(),
                      coverage[order].tolist()))
    return ranked, len(hits) < limit


class Copies:
    """The stories cited so far, to tell a story filed again (Reuters repeats itself) from a new one."""

    def __init__(self) -> None:
        self._cited: list[tuple[str, str, frozenset[int]]] = []  # body, casefolded title, shingles
        self._shingles: dict[str, frozenset[int]] = {}

    def of(self, body: str, title: str) -> int | None:
        """The position among the cited stories of the one this story copies, if any."""
        same = next((i for i, (cited, _, _) in enumerate(self._cited) if cited == body), None)
        if same is not None:
            return same
        grams, title = self._grams(body), title.casefold()
        return next((i for i, (_, t, g) in enumerate(self._cited) if is_copy(grams, g, title == t)), None)

    def add(self, body: str, title: str) -> None:
        """Note a cited story."""
        self._cited.append((body, title.casefold(), self._grams(body)))

    def _grams(self, body: str) -> frozenset[int]:
        if body not in self._shingles:
            self._shingles[body] = shingles(body)
        return self._shingles[body]


def shingles(text: str) -> frozenset[int]:
    """The hashes of the word 5-grams of `text` (all its words when it is shorter)."""
    words = _WORD.findall(text.casefold())
    if len(words) < COPY_SHINGLE:
        return frozenset({hash(tuple(words))})
    return frozenset(map(hash, zip(*(words[i:] for i in range(COPY_SHINGLE)))))


def is_copy(grams: frozenset[int], other: frozenset[int], same_title: bool) -> bool:
    """Whether two stories with these `shingles` are one story filed twice."""
    shared = len(grams & other)
    if shared >= COPY_JACCARD * (len(grams) + len(other) - shared):
        return True
    return same_title and shared >= COPY_CONTAINMENT * min(len(grams), len(other))


_WORD = re.compile(r"\w+")


def _coverage(snapshot: Snapshot, query: Query, weights: Mapping[str, float], stories: np.ndarray,
              docs: np.ndarray) -> np.ndarray:
    """Per story: the share of the question's term weight its best passage or its title holds;
    a term counts as held when one of its alternatives or related words is."""
    held: dict[str, np.ndarray] = {}
    for term in set(query.terms) | query.related.keys():
        holds = snapshot.index.holding(term, docs) | snapshot.titles.holding(term, stories)
        own = query.alternatives.get(term) or query.related.get(term, term)
        held[own] = held[own] | holds if own in held else holds
    found = sum((weights[term] * holds for term, holds in held.items()), np.zeros(len(stories)))
    return found / (sum(weights[term] for term in held) or 1.0)


def _add_best_passages(snapshot: Snapshot, terms: list[str], allowed: np.ndarray | None,
                       stories: list[int], best: dict[int, tuple[int, float]]) -> None:
    """The best passage of each of `stories` (found by title); the first one if none matches."""
    if not stories:
        return
    docs = snapshot.passages_of(stories)
    if allowed is not None:
        docs = docs[allowed[docs]]
    scores, held = snapshot.index.scores_of(terms, docs)
    matched, scores = docs[held], scores[held]
    order = np.lexsort((matched, -scores))  # as a search ranks them
    _add_best(snapshot, matched[order], scores[order], best)
    for story, doc in zip(snapshot.passage_story[docs].tolist(), docs.tolist()):
        best.setdefault(story, (doc, 0.0))


def _add_best(snapshot: Snapshot, docs: np.ndarray, scores: np.ndarray, best: dict[int, tuple[int, float]]) -> None:
    """Each story's first passage among `docs` (ranked best first), unless `best` has one."""
    for story, doc, score in zip(snapshot.passage_story[docs].tolist(), docs.tolist(), scores.tolist()):
        best.setdefault(story, (doc, score))
