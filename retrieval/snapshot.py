"""An immutable, searchable view of the archive: the BM25 index plus what each passage belongs to.

The service keeps one `Snapshot` in service and swaps in a new one after a reload, in one step.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime

import numpy as np

from retrieval.index import BM25Index, BM25Params, Hits
from retrieval.store import Store

NO_DATE = np.iinfo(np.int64).min


@dataclass(frozen=True)
class StoryHeader:
    id: str
    title: str
    date: datetime | None
    url: str | None


@dataclass(frozen=True)
class Snapshot:
    """Passages 0..N-1 in index order, each with its story and its span of the story's body."""

    index: BM25Index
    stories: list[StoryHeader]
    passage_story: np.ndarray   # story position of each passage
    passage_start: np.ndarray
    passage_end: np.ndarray
    story_day: np.ndarray       # proleptic ordinal of each story's date, NO_DATE when unknown

    @property
    def passages(self) -> int:
        return self.index.size

    @cached_property
    def newest_title(self) -> str | None:
        dated = [story for story in self.stories if story.date]
        newest = max(dated, key=lambda story: story.date) if dated else next(iter(self.stories), None)
        return newest.title if newest else None

    def search(self, terms: list[str], excluded: list[str] = (), since: date | None = None,
               until: date | None = None) -> Hits:
        """Passages ranked for `terms`, limited to stories in the date range without `excluded`."""
        return self.index.search(terms, self._allowed(excluded, since, until))

    def term_weights(self, terms: list[str]) -> dict[str, float]:
        """A positive weight per known query term (idf as BM25Plus defines it), for quoting."""
        weights = {}
        for term in terms:
            docs, _ = self.index.postings_of(term)
            if len(docs):
                weights[term] = math.log((self.passages + 1) / len(docs))
        return weights

    def _allowed(self, excluded: list[str], since: date | None, until: date | None) -> np.ndarray | None:
        if not excluded and since is None and until is None:
            return None
        story_ok = np.ones(len(self.stories), dtype=bool)
        if since is not None:
            story_ok &= self.story_day >= since.toordinal()
        if until is not None:
            story_ok &= (self.story_day <= until.toordinal()) & (self.story_day != NO_DATE)
        for term in excluded:
            docs, _ = self.index.postings_of(term)
            story_ok[self.passage_story[docs]] = False
        return story_ok[self.passage_story]


async def load_snapshot(store: Store, params: BM25Params) -> Snapshot:
    """Read the stored passages and terms and index them, off the event loop."""
    headers = await store.story_headers()
    rows = await store.passage_rows()
    return await asyncio.to_thread(build_snapshot, headers, rows, params)


def build_snapshot(headers: list[tuple[str, str, str | None, str | None]],
                   rows: list[tuple[str, int, int, str]], params: BM25Params) -> Snapshot:
    """A snapshot from story headers (id, title, ISO date, url) and passage rows
    (story id, start, end, space-separated terms) in passage order."""
    stories = [StoryHeader(sid, title, datetime.fromisoformat(d) if d else None, url)
               for sid, title, d, url in headers]
    position = {story.id: i for i, story in enumerate(stories)}
    return Snapshot(
        index=BM25Index.build((terms.split() for *_, terms in rows), params),
        stories=stories,
        passage_story=np.asarray([position[row[0]] for row in rows], dtype=np.int64),
        passage_start=np.asarray([row[1] for row in rows], dtype=np.int64),
        passage_end=np.asarray([row[2] for row in rows], dtype=np.int64),
        story_day=np.asarray([s.date.toordinal() if s.date else NO_DATE for s in stories],
                             dtype=np.int64),
    )
