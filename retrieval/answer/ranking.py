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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from retrieval.bm25.index import Hits
from retrieval.answer.shingles import shared, word_grams
from retrieval.answer.query import Query
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
_BESIDE = ThreadPoolExecutor(1, thread_name_prefix="titles")
"""Where `rank_stories` matches the titles while it searches the passages (questions are
answered one at a time on the event loop: one thread)."""


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
    # the titles' side on a thread beside the passages' search: both are mostly compiled
    # loops that release the interpreter, and neither needs the other until they are joined
    by_titles = _BESIDE.submit(_title_matches, snapshot, terms, stories_ok, allowed, limit)
    hits = snapshot.index.search(terms, allowed, limit)
    stories, docs, scores = _best_hits(snapshot, hits)
    titled, _ = snapshot.titles.scores_of(terms, stories)
    by_title, title_docs, title_scores, title_titled = by_titles.result()
    new = ~np.isin(by_title, stories) & (title_docs >= 0)
    stories = np.concatenate([stories, by_title[new]])
    docs = np.concatenate([docs, title_docs[new]])
    scores = np.concatenate([scores, title_scores[new]]) + TITLE_WEIGHT * np.concatenate([titled, title_titled[new]])
    coverage = _coverage(snapshot, query, weights, stories, docs)
    scores *= coverage ** COVERAGE_POWER
    order = np.lexsort((docs, -scores))  # docs differ: the order is total
    ranked = list(map(RankedStory, stories[order].tolist(), docs[order].tolist(), scores[order].tolist(),
                      coverage[order].tolist()))
    return ranked, len(hits) < limit


def _title_matches(snapshot: Snapshot, terms: list[str], stories: np.ndarray | None, allowed: np.ndarray | None,
                   limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The stories among `stories` (a mask, None for all) whose titles rank in the best `limit`
    for `terms`; each one's best passage among the `allowed` (-1 where none is) and its score;
    and its title's score."""
    found = snapshot.titles.search(terms, stories, limit).docs
    docs, scores, _ = snapshot.best_passages(terms, found, allowed)
    titled, _ = snapshot.titles.scores_of(terms, found)
    return found, docs, scores, titled


def _best_hits(snapshot: Snapshot, hits: Hits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stories of `hits`, each with its best passage among them and that passage's score."""
    stories = snapshot.passage_story[hits.docs].astype(np.int64)
    stories, first = np.unique(stories, return_index=True)
    return stories, hits.docs[first], hits.scores[first]


class Copies:
    """The stories cited so far, to tell a story filed again (Reuters repeats itself) from a new one."""

    def __init__(self) -> None:
        self._cited: list[tuple[str, str, np.ndarray]] = []  # body, casefolded title, shingles
        self._shingles: dict[str, np.ndarray] = {}

    def of(self, body: str, title: str) -> int | None:
        """The position among the cited stories of the one this story copies, if any."""
        same = next((i for i, (cited, _, _) in enumerate(self._cited) if cited == body), None)
        if same is not None or not self._cited:
            return same
        grams, title = self._grams(body), title.casefold()
        return next((i for i, (_, t, g) in enumerate(self._cited) if is_copy(grams, g, title == t)), None)

    def add(self, body: str, title: str) -> None:
        """Note a cited story."""
        self._cited.append((body, title.casefold(), self._grams(body)))

    def _grams(self, body: str) -> np.ndarray:
        if body not in self._shingles:
            self._shingles[body] = shingles(body)
        return self._shingles[body]


def shingles(text: str) -> np.ndarray:
    """The hashes of the word 5-grams of `text` (of all its words when it is shorter), ascending
    and distinct: its words are the runs of `\\w` in `text.casefold()`."""
    if not text.isascii():
        # every run of other characters a space: what is left of the UTF-8 but spaces are words
        text = _NOT_WORD.sub(" ", text.casefold())
    return word_grams(np.frombuffer(text.encode(), dtype=np.uint8), COPY_SHINGLE)


def is_copy(grams: np.ndarray, other: np.ndarray, same_title: bool) -> bool:
    """Whether two stories with these `shingles` are one story filed twice."""
    common = shared(grams, other)
    if common >= COPY_JACCARD * (len(grams) + len(other) - common):
        return True
    return same_title and common >= COPY_CONTAINMENT * min(len(grams), len(other))


_NOT_WORD = re.compile(r"\W+")


def _coverage(snapshot: Snapshot, query: Query, weights: Mapping[str, float], stories: np.ndarray,
              docs: np.ndarray) -> np.ndarray:
    """Per story: the share of the question's term weight its best passage or its title holds;
    a term counts as held when one of its alternatives or related words is, and a term the
    archive never holds (`query.missing`) counts as not held."""
    terms = list(set(query.terms) | query.related.keys())
    holding = snapshot.index.holding(terms, docs) | snapshot.titles.holding(terms, stories)
    held: dict[str, np.ndarray] = {}
    for term, holds in zip(terms, holding):
        own = query.alternatives.get(term) or query.related.get(term, term)
        held[own] = held[own] | holds if own in held else holds
    return share_held(held, weights, query, len(stories))


def share_held(held: Mapping[str, np.ndarray], weights: Mapping[str, float], query: Query, count: int) -> np.ndarray:
    """Per story (of `count`): the share of the question's term weight it holds, `held` saying
    which stories hold each of the question's own terms; a term the archive never holds
    (`query.missing`) counts as not held."""
    found = sum((weights[term] * holds for term, holds in held.items()), np.zeros(count))
    return found / (sum(weights[term] for term in held) + sum(weights[term] for term in query.missing) or 1.0)
