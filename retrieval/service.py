"""The archive as a service: open it, answer questions, reload it while answering.

`ArchiveService` is what the bot and the CLI use; everything below it is an implementation detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from retrieval.answer.citing import Citing, Found, relevance_floor
from retrieval.answer.query import Query, parse_query, within_a_month, words_with
from retrieval.answer.quotes import asks_when
from retrieval.answer.spelling import respelled
from retrieval.answer.timeline import count_periods, mentioning, peaks
from retrieval.bm25 import mapped
from retrieval.bm25.index import BM25Params
from retrieval.ingest.ledger import IngestReport, Progress
from retrieval.messages import long_date, say
from retrieval.models import Answer, AnswerKind, Citation, StoryRecord, Timeline
from retrieval.headers import NO_DATE
from retrieval.snapshot import Snapshot, load_snapshot, save_snapshot, saved_copy
from retrieval.storage.store import Store
from retrieval.text import languages
from retrieval.text.analysis import Analyzers

log = logging.getLogger(__name__)

NO_WORDS = ("There is nothing to search for in that question: ask in words, "
            "for example \u201c{example}\u201d.")
NOTHING_RELEVANT = "Nothing in the archive matches that question{period}. Try other words or a wider date range."
OTHER_DATES = "Nothing in the archive was reported{period}; these stories from other dates match."
NEVER_MENTIONED = "The archive never mentions {words}, so it cannot answer that."
LEFT_OUT = "The archive never mentions {words}: these stories match the rest of the question."
NOT_NAMED = "No story that matches the rest of the question names {words} (stories in the archive that do: {count})."
PASSED_OVER = "None of these stories names {words}; they match the rest of the question."
FIGURE_NOT_GIVEN = "No story that matches the rest of the question gives the figure {figures}."
TOPIC_UNTOLD = "No story that matches the rest of the question tells of {words}."
WORDS_UNHEARD = "No story that matches the rest of the question gives the words of {words}."
WHEN = "Reported on {date}:"
NO_MENTIONS = "No story in the archive mentions {subject}{period}."
NEVER_CHARTED = "The archive never mentions {words}: there is no timeline to draw."
EMPTY_ARCHIVE = "The archive is empty: ingest some stories first."
OTHER_LANGUAGE = "The archive holds no stories in {language}."
DEFAULT_EXAMPLE = "What did the Kremlin say about NATO?"
REPORTED_AFTER = 3
"""Days after the dates a question names whose stories may tell of their last events (the night
of 31 January, filed on 1 February)."""
RELOAD_SWITCH_INTERVAL = 0.0002
"""How long (s) a thread may keep the interpreter while another waits for it, during a reload
(Python's default: 0.005). The reload's threads hand it back sooner, so answers wait less behind
them (bench/README.md, "Answers during a reload")."""

LET_GO_WAIT = 60.0
"""How long (s) a replaced snapshot waits for the answers that still read it before it is
dropped anyway (see `_let_go`)."""


class ReloadInProgress(RuntimeError):
    """A reload was asked for while another one runs."""


@dataclass(frozen=True)
class RetrievalSettings:
    """How text is analyzed and scored."""

    language: str = "english"
    """The archive's main language (a code or a Snowball name); the others are told apart
    unless `detect_languages` is off."""
    stopwords: bool = True
    bm25: BM25Params = field(default_factory=BM25Params)
    detect_languages: bool = True

    def __post_init__(self) -> None:
        self.analyzers()  # a language it cannot analyze raises ValueError here, not on first use

    def analyzers(self) -> Analyzers:
        return Analyzers(self.language, self.stopwords, self.detect_languages)


class ArchiveService:
    """One archive: its SQLite store and the snapshot in service."""

    def __init__(self, store: Store, settings: RetrievalSettings, snapshot: Snapshot) -> None:
        self.store = store
        self.settings = settings
        self.analyzers = settings.analyzers()
        self.snapshot = snapshot
        self.citing = Citing(self.analyzers, settings.bm25, store.stories)
        self._reload_lock = asyncio.Lock()  # one snapshot update at a time: a reload's or a follow's
        self._reloading = False

    @classmethod
    async def open(cls, db_path: str | Path, settings: RetrievalSettings = RetrievalSettings()) -> ArchiveService:
        """Open (or create) the archive file and load its index."""
        store = await Store.open(db_path)
        try:
            analyzers = settings.analyzers()
            await store.ensure_analyzer(analyzers)
            with _saved_in_place(store):
                snapshot, unsaved = await _warmed(analyzers, load_snapshot(store, settings.bm25, analyzers.key))
                if unsaved:
                    await save_snapshot(store, snapshot)
            if unsaved:
                snapshot = await saved_copy(store, snapshot, settings.bm25)
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
            report = await self.store.ingest(paths, self.analyzers, prune=prune, progress=progress)
            with _saved_in_place(self.store):
                self.snapshot, unsaved = await _warmed(self.analyzers, load_snapshot(
                    self.store, self.settings.bm25, self.analyzers.key, previous=self.snapshot))
                # after the swap: answers need not wait for the file
                saved = unsaved and await _saved_or_logged(self.store, self.snapshot)
            if saved:  # then the saved copy, mapped, in place of the one built in memory
                built = self.snapshot
                self.snapshot = await saved_copy(self.store, built, self.settings.bm25)
                if self.snapshot is not built:
                    _let_go(built)
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
                self.snapshot, _ = await _warmed(self.analyzers, load_snapshot(
                    self.store, self.settings.bm25, self.analyzers.key, previous=self.snapshot))
            return True

    async def ask(self, question: str, k: int = 3, offset: int = 0, since: date | None = None,
                  until: date | None = None, language: str | None = None) -> Answer:
        """The top `k` citations for `question` after the first `offset`, best first; what the
        answer says is in the question's language: `language` (a code or an English name) when
        given, else the one detected. Raises ValueError for a language it cannot analyze."""
        started = time.perf_counter()
        snapshot = self.snapshot
        query, language, said = self._parsed(question, snapshot, since, until, language)
        citations, more = [], False
        refusal = self._refusal(snapshot, query, language, said)
        if refusal:
            kind, message = refusal
        else:
            kind, message, citations, more = await self._cited(snapshot, query, k, offset, since, until)
        return Answer(question=query.text, citations=citations, more=more, message=message, kind=kind,
                      took_ms=(time.perf_counter() - started) * 1000, language=said)

    async def _cited(self, snapshot: Snapshot, query: Query, k: int, offset: int, since: date | None,
                     until: date | None) -> tuple[AnswerKind, str | None, list[Citation], bool]:
        """The answer to a question with words to search: its kind, message, citations and
        whether more follow."""
        language = query.language
        known, unknown = respelled(query, snapshot.knows, lambda: snapshot.vocabulary, self.analyzers.of(language))
        if known.is_empty:
            return AnswerKind.NEVER_MENTIONED, say(NEVER_MENTIONED, language, words=_quoted(unknown)), [], False
        query = known
        shown = range(offset, offset + k)
        found = await self.citing.cite(snapshot, query, offset + k + 1, shown, floor=relevance_floor(query))
        kind, message = AnswerKind.ANSWERED, None
        if not found.citations and since is None and until is None and (query.since or query.until):
            other = await self._from_other_dates(snapshot, query, offset + k + 1, shown)
            # stories of the dates asked that match but lack what is asked say more than others'
            if other.citations or not (found.named or found.figures or found.untold or found.unheard):
                found = other
                kind, message = AnswerKind.OTHER_DATES, say(OTHER_DATES, language, period=_period(query))
        if not found.citations:
            kind, message = self._unanswered(snapshot, query, found, unknown)
        citations = found.citations[offset:offset + k]
        if citations and message is None and asks_when(query.text) and citations[0].date:
            message = say(WHEN, language, date=long_date(citations[0].date, language))
        unknown = unknown + _guesses_unheld(snapshot, query, citations[0] if citations else None)
        if citations and unknown:
            message = " ".join(filter(None, [say(LEFT_OUT, language, words=_quoted(unknown)), message]))
        if citations and found.passed_over:
            words = words_with(query.text, set(found.passed_over), self.analyzers.of(language))
            message = " ".join(filter(None, [say(PASSED_OVER, language, words=_quoted(words)), message]))
        return kind, message, citations, len(found.citations) > offset + k

    def _unanswered(self, snapshot: Snapshot, query: Query, found: Found, unknown: list[str]) -> tuple[AnswerKind, str]:
        """Why nothing is cited: a word the archive never holds, a name, a figure, what the
        question asks about or whose words it asks for that no matching story gives, or nothing
        relevant at all."""
        language = query.language
        if unknown:
            return AnswerKind.NEVER_MENTIONED, say(NEVER_MENTIONED, language, words=_quoted(unknown))
        if found.named:
            return AnswerKind.NOT_NAMED, self._not_named(snapshot, query, found.named)
        if found.figures:
            return AnswerKind.NOT_NAMED, say(FIGURE_NOT_GIVEN, language, figures=_quoted(found.figures))
        if found.untold:
            words = words_with(query.text, set(found.untold), self.analyzers.of(language))
            return AnswerKind.NOT_NAMED, say(TOPIC_UNTOLD, language, words=_quoted(words or found.untold))
        if found.unheard:
            words = words_with(query.text, set(found.unheard), self.analyzers.of(language))
            return AnswerKind.NOT_NAMED, say(WORDS_UNHEARD, language, words=_quoted([" ".join(words or found.unheard)]))
        return AnswerKind.NOTHING_RELEVANT, say(NOTHING_RELEVANT, language, period=_period(query))

    async def _from_other_dates(self, snapshot: Snapshot, query: Query, wanted: int, shown: range) -> Found:
        """For a question dated in its own words, when no story of those dates matches: for a
        day or a month, those reported in the REPORTED_AFTER days after it; else those of any
        date that name the date (it may be when things happened rather than when they were
        reported)."""
        if _closed_and_short(query.since, query.until):
            after = query.until + timedelta(days=1)
            later = replace(query, since=after, until=after + timedelta(days=REPORTED_AFTER - 1))
            found = await self.citing.cite(snapshot, later, wanted, shown)
            if found.citations:
                return found
        undated = replace(query, since=None, until=None, terms=query.terms + query.date_terms)
        return await self.citing.cite(snapshot, undated, wanted, shown, mentioning=query.date_terms)

    def _not_named(self, snapshot: Snapshot, query: Query, named: list[str]) -> str:
        """What to say when no story matching `query` names the names `named`: the words asked,
        and how many stories name them all."""
        words = words_with(query.text, set(named), self.analyzers.of(query.language))
        return say(NOT_NAMED, query.language, words=_quoted(words or named),
                   count=int(snapshot.stories_holding(named).sum()))

    def _language_of(self, question: str, snapshot: Snapshot, asked: str | None = None) -> str | None:
        """The language `question` is answered in: `asked` if given and the archive holds stories
        in it, else one it holds detected among them; None when it holds none in `asked`, or none
        in the script of the question's letters."""
        held = [code for code in snapshot.languages if code] or [self.analyzers.main.code]
        if asked is not None:
            return asked if asked in held else None
        script = languages.text_script(question)
        if script != "other" and all(languages.script_of(code) != script for code in held):
            return None
        return held[0] if len(held) == 1 else self.analyzers.language_of(question, among=held)

    def _parsed(self, question: str, snapshot: Snapshot, since: date | None, until: date | None,
                asked: str | None = None) -> tuple[Query, str | None, str]:
        """`question` parsed in its language (`asked`, if given); that language (None: the
        archive holds none in it or in its script); and the language to answer in."""
        asked = languages.language_code(asked) if asked is not None else None
        language = self._language_of(question, snapshot, asked)
        query = parse_query(question, self.analyzers.of(language or self.analyzers.main.code), since, until)
        return query, language, language or asked or self.analyzers.language_of(question)

    def _refusal(self, snapshot: Snapshot, query: Query, language: str | None, said: str
                 ) -> tuple[AnswerKind, str] | None:
        """Why nothing can be searched for `query`, in the language `said`; None when something can."""
        if not snapshot.passages:
            return AnswerKind.EMPTY_ARCHIVE, say(EMPTY_ARCHIVE, said)
        if language is None:
            return AnswerKind.OTHER_LANGUAGE, say(OTHER_LANGUAGE, said, language=languages.language_name(said, said))
        if query.is_empty:
            return AnswerKind.NO_WORDS, say(NO_WORDS, said, example=DEFAULT_EXAMPLE)
        return None

    async def timeline(self, subject: str, since: date | None = None, until: date | None = None) -> Timeline:
        """How many stories mention `subject` per week, month or year (`answer.timeline`), with
        the same words and filters as a question; the busiest periods, and the story an answer
        cites first in the busiest."""
        snapshot = self.snapshot
        query, language, said = self._parsed(subject, snapshot, since, until)
        refusal = self._refusal(snapshot, query, language, said)
        if refusal:
            return Timeline(query.text, *refusal)
        known, unknown = respelled(query, snapshot.knows, lambda: snapshot.vocabulary, self.analyzers.of(query.language))
        if unknown:  # a story mentions the subject when it holds all of its words
            return Timeline(query.text, AnswerKind.NEVER_MENTIONED, say(NEVER_CHARTED, said, words=_quoted(unknown)))
        found = await mentioning(snapshot, known, self.store.stories)
        days = [date.fromordinal(day) for day in snapshot.story_day[found].tolist() if day != NO_DATE]
        if not found:
            return Timeline(query.text, AnswerKind.NOTHING_RELEVANT,
                            say(NO_MENTIONS, said, subject=_quoted([query.text]), period=_period(query)))
        if not days:
            return Timeline(query.text, AnswerKind.ANSWERED, undated=len(found))
        unit, periods = count_periods(days)
        busiest = peaks(periods)
        answer = await self.ask(subject, k=1, since=busiest[0].start, until=busiest[0].end)
        return Timeline(query.text, AnswerKind.ANSWERED, None, unit, periods, busiest,
                        next(iter(answer.citations), None), min(days), max(days), len(found) - len(days))

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

    async def quote_candidates(self, question: str, story_id: str) -> tuple[str, list[tuple[int, int]], np.ndarray] | None:
        """For training the quote model (bench/train_quotes.py): the body of the story, the spans
        of its quote windows and their features for `question`; None when the archive does not
        hold the story."""
        record = await self.story(story_id)
        query, _, _ = self._parsed(question, self.snapshot, None, None)
        found = record and self.citing.quote_candidates(self.snapshot, query, record)
        return (record.body, *found) if found else None

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


async def _saved_or_logged(store: Store, snapshot: Snapshot) -> bool:
    """Save `snapshot` with the archive; whether it was saved (a failure is logged: the next open
    indexes the passages instead)."""
    try:
        await save_snapshot(store, snapshot)
    except Exception:
        log.exception("could not save the new index in the archive file")
        return False
    return True


@contextlib.contextmanager
def _saved_in_place(store: Store) -> Iterator[None]:
    """Inside, the largest arrays a snapshot build makes are files beside the archive, which
    saving the snapshot links instead of writing them again (bm25/mapped.py)."""
    with store.scratch() as folder, mapped.files_in(folder):
        yield


def _let_go(snapshot: Snapshot) -> None:
    """Drop `snapshot`, replaced, on a thread of its own once nothing else holds it (an answer
    begun before the swap may still read it): its gigabytes are unmapped there, not on the event
    loop when that answer ends (bm25/mapped.py)."""
    held = [snapshot]
    del snapshot
    threading.Thread(target=_drop_when_unheld, args=(held,), name="let-go", daemon=True).start()


def _drop_when_unheld(held: list[Snapshot]) -> None:
    deadline = time.monotonic() + LET_GO_WAIT
    while sys.getrefcount(held[0]) > 2 and time.monotonic() < deadline:  # the list's, the argument's
        time.sleep(0.02)
    held.clear()


def _exempt_what_lives() -> None:
    """Collect the garbage made since the last call, then exempt what is left from later
    collections (frozen: what is frozen is never collected, so garbage must go first)."""
    gc.collect()
    gc.freeze()


async def _warmed(analyzers: Analyzers, loading: Awaitable[tuple[Snapshot, bool]]) -> tuple[Snapshot, bool]:
    """What `loading` (`load_snapshot`) gives, once what analyzing questions in its snapshot's
    languages needs is loaded, off the event loop: served, it keeps no question waiting."""
    snapshot, unsaved = await loading
    await asyncio.to_thread(analyzers.warm_up, list(snapshot.languages))
    return snapshot, unsaved


def _guesses_unheld(snapshot: Snapshot, query: Query, first: Citation | None) -> list[str]:
    """The question's words searched as guessed spellings (`Query.guessed`) that the `first`
    citation holds in none of their spellings: the answer never mentions them."""
    position = snapshot.stories.position_of(first.story_id) if first and query.guessed else None
    if position is None:
        return []
    spellings = {variant: [variant] for variant in query.guessed}
    for other, variant in query.alternatives.items():
        if variant in spellings:
            spellings[variant].append(other)
    return [word for variant, word in query.guessed.items()
            if not any(snapshot.holds(position, spelling) for spelling in spellings[variant])]


def _closed_and_short(since: date | None, until: date | None) -> bool:
    """Whether `since`-`until` is a day or a month (a year's last days tell little of it), with
    days after it in the calendar."""
    return within_a_month(since, until) and until < date.max - timedelta(days=REPORTED_AFTER)


def _quoted(words: Sequence[str]) -> str:
    return ", ".join(f"\u201c{w}\u201d" for w in words)


def _period(query: Query) -> str:
    """The question's dates, for a message: " between 01 March 1987 and ...", translated."""
    language = query.language
    since, until = (None if day is None else _day(day, language) for day in (query.since, query.until))
    if since and until:
        return say(" between {since} and {until}", language, since=since, until=until)
    if since:
        return say(" since {since}", language, since=since)
    if until:
        return say(" up to {until}", language, until=until)
    return ""


def _day(day: date, language: str) -> str:
    return f"{day:%d %B %Y}" if language == languages.ENGLISH else long_date(day, language)


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(fraction * len(values)))]
