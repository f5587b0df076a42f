"""The archive as a service: open it, answer questions, reload it while answering.

`ArchiveService` is what the bot and the CLI use; everything below it is an implementation detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from retrieval.text.analysis import Analyzer
from retrieval.bm25.index import BM25Params
from retrieval.models import Answer, AnswerKind, Citation
from retrieval.answer.query import Query, parse_query
from retrieval.answer.quotes import answer_cue, asks_when, choose_quote, contains_phrase
from retrieval.answer.ranking import RELEVANCE_FLOOR, Copies, RankedStory, rank_stories
from retrieval.snapshot import Snapshot, load_snapshot, save_snapshot
from retrieval.ingest.ledger import IngestReport, Progress
from retrieval.storage.store import Store, StoryRecord

log = logging.getLogger(__name__)

NO_WORDS = ("There is nothing to search for in that question: ask in words, "
            "for example \u201c{example}\u201d.")
NOTHING_RELEVANT = "Nothing in the archive matches that question{period}. Try other words or a wider date range."
OTHER_DATES = "Nothing in the archive was reported{period}; these stories from other dates match."
NEVER_MENTIONED = "The archive never mentions {words}, so it cannot answer that."
WHEN = "Reported on {date}:"
EMPTY_ARCHIVE = "The archive is empty: ingest some stories first."
DEFAULT_EXAMPLE = "What did the Kremlin say about NATO?"
TITLE_DISCOUNT = 0.7
"""Title words say which story, not which sentence: they count less when choosing the quote."""
QUOTE_REACH = 3000
PAGE = 20
"""Passages fetched per story wanted, at first: several passages of one story often rank together."""
MAX_PAGE = 20 * 4 ** 3
"""Past this many passages per story wanted, what is left ranks too low to be relevant."""
RELOAD_SWITCH_INTERVAL = 0.0002
"""How long (s) a thread may keep the interpreter while another waits for it, during a reload
(Python's default: 0.005). The reload's threads hand it back sooner, so answers wait less behind
them (bench/README.md, "Answers during a reload")."""


class ReloadInProgress(RuntimeError):
    """A reload was asked for while another one runs."""


@dataclass(frozen=True)
class RetrievalSettings:
    """How text is analyzed and scored."""

    language: str = "english"
    stopwords: bool = True
    bm25: BM25Params = field(default_factory=BM25Params)


class ArchiveService:
    """One archive: its SQLite store and the snapshot in service."""

    def __init__(self, store: Store, settings: RetrievalSettings, snapshot: Snapshot) -> None:
        self.store = store
        self.settings = settings
        self.analyzer = Analyzer(settings.language, settings.stopwords)
        self.snapshot = snapshot
        self._reload_lock = asyncio.Lock()  # one snapshot update at a time: a reload's or a follow's
        self._reloading = False

    @classmethod
    async def open(cls, db_path: str | Path, settings: RetrievalSettings = RetrievalSettings()) -> ArchiveService:
        """Open (or create) the archive file and load its index."""
        store = await Store.open(db_path)
        try:
            analyzer = Analyzer(settings.language, settings.stopwords)
            await store.ensure_analyzer(analyzer)
            snapshot, unsaved = await load_snapshot(store, settings.bm25, analyzer.key)
            if unsaved:
                await save_snapshot(store, snapshot)
        except BaseException:
            await store.close()
            raise
        _exempt_what_lives()  # the snapshot lives on: collections need not visit its objects
        return cls(store, settings, snapshot)

    async def close(self) -> None:
        await self.store.close()

    @property
    def reloading(self) -> bool:
        """Whether a reload (`ingest`) runs; taking in another process's change is not one."""
        return self._reloading

    async def ingest(self, paths: Sequence[str | Path], *, prune: bool = False,
                     progress: Progress | None = None) -> IngestReport:
        """Read `paths` into the archive, then swap in a new snapshot if anything changed.
        Questions are answered from the old snapshot until the swap; if anything fails, the old
        snapshot stays in service. Raises `ReloadInProgress` when one is already running; waits
        for a `follow` that runs."""
        if self._reloading:
            raise ReloadInProgress("a reload is already running")
        self._reloading = True
        try:
            async with self._reload_lock:
                return await self._reload(paths, prune, progress)
        finally:
            self._reloading = False

    async def _reload(self, paths: Sequence[str | Path], prune: bool, progress: Progress | None) -> IngestReport:
        with _answers_first():
            report = await self.store.ingest(paths, self.analyzer, prune=prune, progress=progress)
            self.snapshot, unsaved = await load_snapshot(self.store, self.settings.bm25, self.analyzer.key,
                                                         previous=self.snapshot)
            if unsaved:  # after the swap: answers need not wait for the file
                try:
                    await save_snapshot(self.store, self.snapshot)
                except Exception:  # the next open indexes the passages instead
                    log.exception("could not save the new index in the archive file")
            return report

    async def follow(self) -> bool:
        """Bring the snapshot up to date if another process changed the archive file (a bot
        replica's /reload, an `archive-bot ingest`); whether it did. Questions are answered
        from the old snapshot meanwhile. The process that changed the file saves its index,
        so this one does not. Does nothing while this process reloads. Holds up a /reload only
        while it updates the snapshot, not while it looks."""
        if self._reload_lock.locked() or await self.store.generation() == self.snapshot.generation:
            return False
        async with self._reload_lock:
            if await self.store.generation() == self.snapshot.generation:  # a reload took it in meanwhile
                return False
            with _answers_first():
                self.snapshot, _ = await load_snapshot(self.store, self.settings.bm25, self.analyzer.key,
                                                       previous=self.snapshot)
            return True

    async def ask(self, question: str, k: int = 3, offset: int = 0, since: date | None = None,
                  until: date | None = None) -> Answer:
        """The top `k` citations for `question` after the first `offset`, best first."""
        started = time.perf_counter()
        query = parse_query(question, self.analyzer, since, until)
        snapshot = self.snapshot
        citations: list[Citation] = []
        more = False
        if not snapshot.passages:
            kind, message = AnswerKind.EMPTY_ARCHIVE, EMPTY_ARCHIVE
        elif query.is_empty:
            kind, message = AnswerKind.NO_WORDS, NO_WORDS.format(example=DEFAULT_EXAMPLE)
        elif unknown := snapshot.unknown_words(query.names, self.analyzer):
            kind = AnswerKind.NEVER_MENTIONED
            message = NEVER_MENTIONED.format(words=", ".join(f"“{w}”" for w in unknown))
        else:
            shown = range(offset, offset + k)
            found = await self._cite(snapshot, query, offset + k + 1, shown)
            kind, message = (AnswerKind.ANSWERED, None) if found else \
                (AnswerKind.NOTHING_RELEVANT, NOTHING_RELEVANT.format(period=_period(query)))
            if not found and since is None and until is None and (query.since or query.until):
                # the date was in the question's words, and may be when things happened rather
                # than when they were reported: look again without it, for stories that name it
                undated = replace(query, since=None, until=None, terms=query.terms + query.date_terms)
                found = await self._cite(snapshot, undated, offset + k + 1, shown, mentioning=query.date_terms)
                if found:
                    kind, message = AnswerKind.OTHER_DATES, OTHER_DATES.format(period=_period(query))
            citations, more = found[offset:offset + k], len(found) > offset + k
            if citations and message is None and asks_when(query.text) and citations[0].date:
                day = citations[0].date
                message = WHEN.format(date=f"{day.day} {day:%B %Y}")
        return Answer(question=query.text, citations=citations, more=more, message=message, kind=kind,
                      took_ms=(time.perf_counter() - started) * 1000)

    @property
    def passages(self) -> int:
        """How many passages the index in service holds."""
        return self.snapshot.passages

    async def counts(self) -> dict[str, object]:
        """Stories and passages stored, and the first and last story dates."""
        return await self.store.counts()

    def example_question(self) -> str:
        """A question this archive can answer: the title of its newest story."""
        return self.snapshot.newest_title or DEFAULT_EXAMPLE

    async def story(self, story_id: str) -> StoryRecord | None:
        """One whole story, or None when the archive does not hold it."""
        return (await self.store.stories([story_id])).get(story_id)

    async def record(self, answer: Answer, chat_type: str, keep_text: bool = False) -> None:
        """Note an answered question for the statistics."""
        self.store.questions.record(chat_type, answer.took_ms, len(answer.citations),
                                    answer.question if keep_text else None)

    async def stats(self) -> dict[str, object]:
        """Counts, date range, last ingest and answer latency figures."""
        latencies = await self.store.question_latencies()
        return {
            **await self.store.counts(),
            "last_ingest": await self.store.last_ingest(),
            "questions": len(latencies),
            "latency_p50_ms": _percentile(latencies, 0.50),
            "latency_p95_ms": _percentile(latencies, 0.95),
        }

    async def _cite(self, snapshot: Snapshot, query: Query, wanted: int, shown: range,
                    mentioning: Sequence[str] = ()) -> list[Citation]:
        """The first `wanted` relevant stories that hold every term of `mentioning`, copies of a
        cited story folded into its citation; those at the positions `shown` quoted from their
        best passage, the others (only counted, or only there to fold copies into) with an empty
        quote. A story whose best passage lacks a phrase is left out."""
        weights = snapshot.term_weights(query.terms + query.date_terms)
        relevant = self._relevant(snapshot, query, wanted, weights, mentioning)
        cited = await self._without_copies(snapshot, relevant, query.phrases, wanted)
        evidence = weights | {word: min(weight, weights[query.related[word]])  # no stronger than the word asked
                              for word, weight in snapshot.term_weights(list(query.related)).items()}
        cue = answer_cue(query.text)
        return [self._citation(snapshot, relevant, story, query, evidence, cue) if n in shown
                else self._citation(snapshot, relevant, story) for n, story in enumerate(cited)]

    def _relevant(self, snapshot: Snapshot, query: Query, wanted: int, weights: dict[str, float],
                  mentioning: Sequence[str]) -> list[RankedStory]:
        """The ranked stories above the relevance floor that hold every term of `mentioning`:
        enough for `wanted` citations once copies are folded, the search widened until it finds
        them or nothing more can be relevant."""
        required = [t for p in query.phrases for t in self.analyzer.terms(p)]
        holding = snapshot.stories_holding(mentioning) if mentioning else None
        limit = PAGE * wanted
        while True:
            # on the loop, not a thread: ~2 ms, mostly under the GIL, so a thread only adds hand-offs
            ranked, complete = rank_stories(snapshot, query, required, limit, weights)
            relevant = [r for r in ranked if r.coverage >= RELEVANCE_FLOOR
                        and (holding is None or holding[r.story])]
            if len(relevant) >= wanted or complete or limit >= MAX_PAGE * wanted:
                return relevant
            limit *= 4

    async def _without_copies(self, snapshot: Snapshot, relevant: list[RankedStory], phrases: Sequence[str],
                              wanted: int) -> list[_Cited]:
        """The first `wanted` stories of `relevant` whose best passage holds every phrase, each
        with the ranks of its copies: exact ones (same content, best passage at the same place),
        whose bodies need not be read, and near ones (`Copies`), told apart by their text."""
        cited: list[_Cited] = []
        near = Copies()
        originals, exact = _exact_copies(snapshot, relevant)
        for page in _pages(originals, 2 * wanted):
            if len(cited) >= wanted:
                break
            records = await self._current_records(snapshot, [relevant[rank] for rank in page])
            for rank in page:
                record = records.get(snapshot.stories[relevant[rank].story].id)
                span = _span(snapshot, relevant[rank])
                if record is None or not all(contains_phrase(record.body[span[0]:span[1]], p) for p in phrases):
                    continue
                original = near.of(record.body, record.title)
                if original is not None:
                    cited[original].copies.append(rank)
                elif len(cited) < wanted:  # else only copies of the cited stories are still of use
                    original = len(cited)
                    cited.append(_Cited(rank, record, span))
                    near.add(record.body, record.title)
                else:
                    continue
                cited[original].copies.extend(exact.get(rank, ()))
        return cited

    async def _current_records(self, snapshot: Snapshot, ranked: list[RankedStory]) -> dict[str, StoryRecord]:
        """The stored stories of `ranked`, by id, leaving out those another process changed since
        `snapshot` was taken: their passages' places in the body are stale."""
        records = await self.store.stories(snapshot.stories[r.story].id for r in ranked)
        headers = {snapshot.stories[r.story].id: snapshot.stories[r.story] for r in ranked}
        return {story_id: record for story_id, record in records.items()
                if record.digest == headers[story_id].digest}

    def _citation(self, snapshot: Snapshot, relevant: list[RankedStory], story: _Cited, query: Query | None = None,
                  weights: dict[str, float] | None = None, cue: re.Pattern | None = None) -> Citation:
        """The citation of a story: quoted for `query` when given, with the ids of its copies."""
        ranked, record = relevant[story.rank], story.record
        quote = "" if query is None else self._quote(snapshot, ranked, record.body, story.span, query, weights, cue)
        copies = tuple(snapshot.stories[relevant[rank].story].id for rank in sorted(story.copies))
        return Citation(record.id, record.title, record.date, quote, ranked.score, record.url, copies)

    def _quote(self, snapshot: Snapshot, ranked: RankedStory, body: str, span: tuple[int, int], query: Query,
               weights: dict[str, float], cue: re.Pattern | None) -> str:
        """The sentences of `body` to quote for `query`, near its best passage `span`."""
        title_terms = set(snapshot.stories[ranked.story].title_terms.split())
        own = {t: w * (TITLE_DISCOUNT if t in title_terms else 1.0) for t, w in weights.items()}
        start, end = choose_quote(body, _around(body, span), own, self.analyzer, query.phrases, focus=span, cue=cue,
                                  params=self.settings.bm25)
        return body[start:end]


@contextlib.contextmanager
def _answers_first() -> Iterator[None]:
    """Inside, threads hand the interpreter back every RELOAD_SWITCH_INTERVAL, and no garbage
    collection runs; after, one collection visits what the reload and the answers meanwhile made,
    and what is left is exempt from later ones, as after opening.

    A collection visits every object it tracks, and nothing else runs meanwhile: at a million
    passages the archive's story headers, or a reload's lists of them, made one take 50-150 ms."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(RELOAD_SWITCH_INTERVAL)
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        _exempt_what_lives()
        if collecting:
            gc.enable()
        sys.setswitchinterval(previous)


def _exempt_what_lives() -> None:
    """Collect the garbage made since the last call, then exempt what is left from later
    collections (frozen: what is frozen is never collected, so garbage must go first)."""
    gc.collect()
    gc.freeze()


def _around(body: str, span: tuple[int, int]) -> tuple[int, int]:
    """The paragraphs within QUOTE_REACH characters of `span`: where the quote may come from."""
    start = body.rfind("\n\n", 0, max(0, span[0] - QUOTE_REACH)) + 1 if span[0] > QUOTE_REACH else 0
    end = body.find("\n\n", span[1] + QUOTE_REACH)
    return start, len(body) if end < 0 else end


@dataclass
class _Cited:
    """A story to cite: its rank among the relevant stories, its record, its best passage's span
    in the body, and the ranks of its copies."""

    rank: int
    record: StoryRecord
    span: tuple[int, int]
    copies: list[int] = field(default_factory=list)


def _span(snapshot: Snapshot, ranked: RankedStory) -> tuple[int, int]:
    """Where the story's best passage lies in its body."""
    return int(snapshot.passage_start[ranked.doc]), int(snapshot.passage_end[ranked.doc])


def _exact_copies(snapshot: Snapshot, ranked: list[RankedStory]) -> tuple[list[int], dict[int, list[int]]]:
    """The ranks of the stories in `ranked` that are no exact copy of one ranked above them,
    and, by the rank of each of those, the ranks of its exact copies: the same content, best
    passage at the same place. A copy's fate is its original's, so its body need not be read."""
    originals: list[int] = []
    copies: dict[int, list[int]] = {}
    first: dict[tuple[int, int], int] = {}
    stories = snapshot.stories
    starts = snapshot.passage_start[[r.doc for r in ranked]].tolist()
    for rank, (r, start) in enumerate(zip(ranked, starts)):
        original = first.setdefault((stories[r.story].digest, start), rank)
        if original == rank:
            originals.append(rank)
        else:
            copies.setdefault(original, []).append(rank)
    return originals, copies


def _pages(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _period(query: Query) -> str:
    if query.since and query.until:
        return f" between {query.since:%d %B %Y} and {query.until:%d %B %Y}"
    if query.since:
        return f" since {query.since:%d %B %Y}"
    if query.until:
        return f" up to {query.until:%d %B %Y}"
    return ""


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(fraction * len(values)))]
