"""The SQLite file that holds the archive: stories, their passages and analyzed terms, a record of
every ingest, and the questions served. One `Store` wraps one `aiosqlite` connection, and opens a
second one for a reload's long statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import aiosqlite
import numpy as np

from retrieval.text.analysis import Analyzer
from retrieval.ingest import intake
from retrieval.ingest.formats import Problem, archive_files
from retrieval.bm25.postings import Postings

log = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    """
    CREATE TABLE stories (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        date TEXT,
        url TEXT,
        source TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        body TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        origin TEXT,
        ingested_at TEXT NOT NULL
    );
    CREATE TABLE passages (
        id INTEGER PRIMARY KEY,
        story_id TEXT NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        terms TEXT NOT NULL
    );
    CREATE INDEX passages_by_story ON passages(story_id);
    CREATE TABLE ingests (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        paths TEXT NOT NULL,
        files INTEGER NOT NULL DEFAULT 0,
        added INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        removed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        problems TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        asked_at TEXT NOT NULL,
        chat_type TEXT NOT NULL,
        latency_ms REAL NOT NULL,
        citations INTEGER NOT NULL,
        question TEXT
    );
    """,
    """
    CREATE TABLE snapshot_blobs (name TEXT PRIMARY KEY, data BLOB NOT NULL);
    INSERT OR IGNORE INTO settings VALUES ('generation', '0');
    """,
    """
    ALTER TABLE stories ADD COLUMN title_terms TEXT NOT NULL DEFAULT '';
    """,
    # passage ids are handed out from this mark, never reused: a snapshot tells new passages by id
    """
    INSERT OR IGNORE INTO settings VALUES ('last_passage', (SELECT coalesce(max(id), 0) FROM passages));
    """,
    # the digest of the JSON line a story was read from: an unchanged line is known without parsing
    """
    ALTER TABLE stories ADD COLUMN source_hash TEXT;
    """,
    # the digest of each file the archive holds exactly as read: an unchanged one is not read again
    """
    CREATE TABLE files (path TEXT PRIMARY KEY, digest TEXT NOT NULL);
    """,
]

_UPSERT_STORY = """
    INSERT INTO stories (id, title, date, url, source, metadata, body, content_hash, origin, ingested_at,
                         title_terms, source_hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(id) DO UPDATE SET title = excluded.title, date = excluded.date, url = excluded.url,
        title_terms = excluded.title_terms, source_hash = excluded.source_hash,
        source = excluded.source, metadata = excluded.metadata, body = excluded.body,
        content_hash = excluded.content_hash, origin = excluded.origin, ingested_at = excluded.ingested_at
"""

BATCH = 500
"""Stories analyzed and committed together; each batch is one transaction."""
INGEST_CACHE_KB = 256 * 1024
"""SQLite's page cache during an ingest (2 MB by default): with less, writing a million passages
spends much of its time evicting and re-reading index pages."""


PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL",
           "PRAGMA busy_timeout=5000")
"""Set on every connection to the archive file."""
QUESTIONS_EVERY = 1.0
"""Seconds a question's statistics row may wait, to be written with the others of that time: one
call to SQLite's thread a second instead of one a question, each a turn at the interpreter lock."""
QUESTIONS_KEPT = 100_000
"""Question rows kept in memory while they cannot be written."""
BLOB_PIECE = 2**20
"""Bytes of a snapshot array written at a time."""


class ArchiveError(RuntimeError):
    """The archive file cannot be used by this program (e.g. made by a newer version)."""


@dataclass
class IngestReport:
    """What one ingest did."""

    paths: list[str]
    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.problems)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (f"{self.files} files: {self.added} added, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.removed} removed, {self.failed} failed "
                f"in {self.seconds:.1f} s")


@dataclass(frozen=True)
class StoryRecord:
    """A stored story without its passages."""

    id: str
    title: str
    date: datetime | None
    url: str | None
    body: str
    digest: int
    """The first 60 bits of its content hash, as `StoryHeader.digest`."""


@dataclass(frozen=True)
class PassageColumns:
    """Passages in id order, column by column, with their postings (passage i is document i)."""

    ids: np.ndarray        # int64
    story_ids: list[str]
    starts: np.ndarray     # int32
    ends: np.ndarray       # int32
    postings: Postings

    @classmethod
    def from_rows(cls, rows: list[tuple[int, str, int, int, str]]) -> PassageColumns:
        """From stored rows (id, story id, start, end, terms)."""
        ids, story_ids, starts, ends, texts = zip(*rows) if rows else ((),) * 5
        count = len(rows)
        return cls(np.fromiter(ids, dtype=np.int64, count=count), list(story_ids),
                   np.fromiter(starts, dtype=np.int32, count=count), np.fromiter(ends, dtype=np.int32, count=count),
                   Postings.from_texts(texts))


class _Written:
    """The passages one ingest wrote, kept for the snapshot, which need not read them back."""

    def __init__(self) -> None:
        self.first: int | None = None  # the first passage id
        self.story_ids: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.texts: list[str] = []
        self.generation: int | None = None  # the store's, when the ingest ended
        self.valid = True  # false once passages written here were replaced
        self._stories: set[str] = set()

    def add(self, stories: list[tuple[intake.Story, bool]], first: int) -> None:
        """Stories just written (each with whether it replaced a stored one), their passages
        numbered from `first` on."""
        self.first = first if self.first is None else self.first
        for story, existed in stories:
            if existed and story.id in self._stories:
                self.valid = False
            self._stories.add(story.id)
            self.story_ids += [story.id] * len(story.passages)
            self.starts += [start for start, _, _ in story.passages]
            self.ends += [end for _, end, _ in story.passages]
            self.texts += [terms for _, _, terms in story.passages]

    def columns(self) -> PassageColumns:
        count = len(self.story_ids)
        return PassageColumns(np.arange(self.first or 0, (self.first or 0) + count, dtype=np.int64),
                              self.story_ids, np.asarray(self.starts, dtype=np.int32),
                              np.asarray(self.ends, dtype=np.int32), Postings.from_texts(self.texts))


Progress = Callable[[int, int, int], None]
"""Called as files are read: (files done, files in all, stories read so far)."""


class _Reading:
    """One ingest's reading: what each file held, and the batches of stories to write."""

    def __init__(self, report: IngestReport, hashes: dict[str, str], origins: dict[str, str | None],
                 files: list[Path | Problem], progress: Progress | None) -> None:
        self.report = report
        self.hashes = hashes  # story id -> content hash in the store, as this ingest writes
        self.origins = origins  # story id -> the file it was written from, as this ingest writes
        self.order = {str(f): i for i, f in enumerate(files) if isinstance(f, Path)}
        self.files, self.progress = len(self.order), progress
        self.seen: dict[str, set[str]] = {}  # story ids by the file they were read from
        self.read_ids: set[str] = set()
        self.clean: set[str] = set()
        self.unchanged_files: set[str] = set()
        self._done = 0
        self._faulty = False
        self._batch: list[tuple[intake.Story, str]] = []

    def skip(self, path: str, stories: int) -> None:
        """Note an unchanged file, not read again: the store holds its `stories` as it has them."""
        self.unchanged_files.add(path)
        self.report.unchanged += stories
        self._file_done(path)

    def learn(self, rows: list[tuple[str, str, str | None]]) -> None:
        """Note stored stories (id, content hash, file) the ingest did not know of when it began."""
        for story_id, digest, origin in rows:
            self.hashes[story_id], self.origins[story_id] = digest, origin

    def held_later(self, story_id: str, path: str) -> bool:
        """Whether an unchanged file after `path` holds the story: its copy, stored, is the last one."""
        origin = self.origins.get(story_id)
        return origin in self.unchanged_files and self.order[origin] > self.order.get(path, -1)

    def held_exactly(self, stored: dict[str, int]) -> list[str]:
        """The files read cleanly now whose stories are all stored as read from them, given how
        many `stored` stories were written from each."""
        return [path for path in self.clean - self.unchanged_files
                if stored.get(path, 0) == len(self.seen[path])
                and all(self.origins.get(i) == path for i in self.seen[path])]

    def needs_content(self, reads: list[intake.FileRead]) -> bool:
        """Whether a story left unanalyzed (the store held its content when the ingest began)
        was read before in this ingest: its earlier copy may have been written over it."""
        in_part: set[str] = set()
        for read in reads:
            for record in read.records:
                if isinstance(record, intake.Story):
                    if record.passages is None and (record.id in self.read_ids or record.id in in_part):
                        return True
                    in_part.add(record.id)
        return False

    def take(self, part: intake.Part, reads: list[intake.FileRead]) -> Iterator[list[tuple[intake.Story, str]]]:
        """Note what `part` held; yield each batch of stories that fills up."""
        for read in reads:
            ids = self.seen.setdefault(read.path, set())
            for record in read.records:
                if isinstance(record, Problem):
                    self.report.problems.append(record)
                    self._faulty = True
                    continue
                ids.add(record.id)
                self.read_ids.add(record.id)
                self._batch.append((record, read.path))
                if len(self._batch) >= BATCH:
                    yield self.rest()
            if part.lines is None or part.last:
                self._file_done(read.path)

    def rest(self) -> list[tuple[intake.Story, str]]:
        """The stories not yet handed out in a batch."""
        batch, self._batch = self._batch, []
        return batch

    def _file_done(self, path: str) -> None:
        self.report.files += 1
        if not self._faulty:
            self.clean.add(path)
        self._done += 1
        self._faulty = False
        if self.progress:
            self.progress(self._done, self.files, len(self.read_ids))


class Store:
    """The archive's SQLite file. Open with `await Store.open(path)`; close when done.

    Reading and saving the whole archive's index data goes through a connection (and thread) of
    its own, opened for the purpose, so that a reload's long statements do not hold up the short
    ones that answer questions (WAL lets them read meanwhile). Only for the purpose: with a second
    connection open all along, writing a million passages took half as long again."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self._write_lock = asyncio.Lock()
        self._saving = asyncio.Lock()
        """Held while the snapshot is saved, on a connection of its own, and while question rows
        are written: written during the save, they would wait out SQLite's busy timeout behind
        this process's own write."""
        self._written: _Written | None = None
        self._questions: list[tuple] = []  # question rows not yet written
        self._writing_questions: asyncio.Task | None = None

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        db = await _connect(path)
        try:
            await _migrate(db)
        except Exception:
            await db.close()
            raise
        return cls(db, path)

    async def close(self) -> None:
        if self._writing_questions is not None:
            self._writing_questions.cancel()
        try:
            await self._flush_questions_or_warn()
        finally:
            await self.db.close()

    @contextlib.asynccontextmanager
    async def _bulk(self) -> AsyncIterator[aiosqlite.Connection]:
        """A connection for a long statement (the usual one for an archive in memory)."""
        if self._file is None:
            yield self.db
            return
        db = await _connect(self._file)
        try:
            yield db
        finally:
            await db.close()

    @property
    def _file(self) -> Path | None:
        """The archive's file, None when it lives in memory."""
        return None if str(self.path) == ":memory:" else self.path

    @contextlib.asynccontextmanager
    async def _transaction(self, db: aiosqlite.Connection | None = None) -> AsyncIterator[None]:
        """All of what runs inside on `db` (default: the store's connection), or none of it."""
        db = db or self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await db.rollback()
            raise
        await db.commit()

    @contextlib.asynccontextmanager
    async def _large_cache(self) -> AsyncIterator[None]:
        """A page cache large enough for bulk writes to the passages index, while it lasts."""
        previous = await self._scalar("PRAGMA cache_size")
        await self.db.execute(f"PRAGMA cache_size = {-INGEST_CACHE_KB}")
        try:
            yield
        finally:
            await self.db.execute(f"PRAGMA cache_size = {int(previous)}")

    async def schema_version(self) -> int:
        return await self._scalar("PRAGMA user_version")

    # ingest ---------------------------------------------------------------------------------

    async def ingest(self, paths: Sequence[str | Path], analyzer: Analyzer, *,
                     prune: bool = False, progress: Progress | None = None,
                     workers: int | None = None) -> IngestReport:
        """Read `paths` into the store: new stories added, changed ones replaced, bad files
        reported and skipped. With `prune`, stories whose file is gone from `paths` (or whose
        file was read cleanly without them) are removed. Files are read and analyzed on
        `workers` processes (None: as many as pay, 0: on one thread)."""
        async with self._write_lock:
            self._written = _Written()
            try:
                return await self._ingest(paths, analyzer, prune, progress, workers)
            except BaseException:
                self._written = None  # what a failed ingest wrote is read back, if ever wanted
                raise

    async def _ingest(self, paths: Sequence[str | Path], analyzer: Analyzer, prune: bool,
                      progress: Progress | None, workers: int | None) -> IngestReport:
        await self.ensure_analyzer(analyzer)
        started = time.monotonic()
        report = IngestReport(paths=[str(p) for p in paths])
        ingest_id = await self._start_record(report)
        files = list(archive_files(paths))
        digests = await asyncio.to_thread(_digests, files)
        unchanged = await self._unchanged_files(digests)
        stored = await self._stored(excluding=unchanged)  # the others' stories are looked up when read
        hashes, sources = await asyncio.to_thread(intake.stored_hashes, stored)
        origins = await asyncio.to_thread(lambda: {story_id: origin for story_id, *_, origin in stored})
        reading = _Reading(report, dict(hashes), origins, files, progress)
        for path, stories in (await self._stories_from(unchanged)).items():
            reading.skip(path, stories)
        files = [f for f in files if str(f) not in unchanged]
        workers = intake.workers_for(files) if workers is None else workers
        async with self._large_cache(), intake.PartReader(analyzer, hashes, sources, workers, self._file) as reader:
            async for part, reads in reader.read(files):
                if isinstance(part, Problem):
                    report.problems.append(part)
                    continue
                if reading.needs_content(reads):
                    reads = await reader.reread(part)
                for batch in reading.take(part, reads):
                    await self._write_batch(batch, reading)
        await self._write_batch(reading.rest(), reading)
        if prune:
            report.removed = await self._prune(paths, reading, stored)
        await self._remember_files(reading, digests)
        report.seconds = time.monotonic() - started
        await self._finish_record(ingest_id, report)
        self._written.generation = await self.generation()
        return report

    async def _unchanged_files(self, digests: dict[str, str]) -> set[str]:
        """Those of the files with `digests` that the store holds exactly as they are now; the
        others are forgotten: they are read, and remembered again if the store then holds them
        exactly."""
        async with self.db.execute("SELECT path, digest FROM files") as cursor:
            remembered = dict(await cursor.fetchall())
        unchanged = {path for path, digest in digests.items() if remembered.get(path) == digest}
        await self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in digests if p not in unchanged])
        return unchanged

    async def _remember_files(self, reading: _Reading, digests: dict[str, str]) -> None:
        counts = await self._stories_from(reading.clean - reading.unchanged_files)
        held = await asyncio.to_thread(reading.held_exactly, counts)
        # hashed again: a file edited while it was read holds something else than what was read
        now = await asyncio.to_thread(_digests, [Path(path) for path in held])
        await self.db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?)",
                                  [(path, digest) for path, digest in now.items() if digests.get(path) == digest])

    async def _write_batch(self, batch: list[tuple[intake.Story, str]], reading: _Reading) -> None:
        latest = {story.id: (story, origin) for story, origin in batch}  # last copy wins
        if reading.unchanged_files:  # their stories were not looked up when the ingest began
            reading.learn(await self._rows_of("SELECT id, content_hash, origin FROM stories",
                                              [i for i in latest if i not in reading.hashes]))
        fresh = []
        for story, origin in latest.values():
            if reading.hashes.get(story.id) == story.digest or reading.held_later(story.id, origin):
                reading.report.unchanged += 1
            else:
                fresh.append((story, origin, story.id in reading.hashes))
        if not fresh:
            return
        now = _now()
        # a file some of whose stories are now written from another no longer holds them all
        left = {reading.origins[s.id] for s, origin, existed in fresh
                if existed and reading.origins.get(s.id) not in (None, origin)}
        async with self._transaction():
            await self.db.executemany("DELETE FROM files WHERE path = ?", [(path,) for path in left])
            # new ones too: another process (a bot replica) may have written the same story since
            await self.db.executemany("DELETE FROM passages WHERE story_id = ?", [(s.id,) for s, _, _ in fresh])
            await self.db.executemany(_UPSERT_STORY, [(*s.row, origin, now, s.title_terms, s.source)
                                                      for s, origin, _ in fresh])
            first = int(await self._scalar("SELECT value FROM settings WHERE key = 'last_passage'")) + 1
            rows = [(s.id, seq, start, end, terms) for s, _, _ in fresh
                    for seq, (start, end, terms) in enumerate(s.passages)]
            await self.db.executemany(
                'INSERT INTO passages (id, story_id, seq, start, "end", terms) VALUES (?, ?, ?, ?, ?, ?)',
                [(first + i, *row) for i, row in enumerate(rows)])
            await self.db.execute("UPDATE settings SET value = ? WHERE key = 'last_passage'",
                                  (str(first + len(rows) - 1),))
            await self._bump_generation()
        self._written.add([(s, existed) for s, _, existed in fresh], first)
        reading.hashes.update((s.id, s.digest) for s, _, _ in fresh)
        reading.origins.update((s.id, origin) for s, origin, _ in fresh)
        reading.report.updated += sum(1 for *_, existed in fresh if existed)
        reading.report.added += sum(1 for *_, existed in fresh if not existed)

    async def _stored(self, excluding: set[str]) -> list[tuple[str, str, str | None, str | None]]:
        """Each story's id, content hash, digest of the line it was read from, and origin; but
        not of the stories from the files `excluding` names."""
        async with self._bulk() as db, db.execute(
                "SELECT id, content_hash, source_hash, origin FROM stories"
                " WHERE origin IS NULL OR origin NOT IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(excluding)),)) as cursor:
            return await cursor.fetchall()

    async def _stories_from(self, files: set[str]) -> dict[str, int]:
        """How many stored stories were written from each of `files` (a scan of every story: on
        the second connection, so that answers' story reads need not wait for it)."""
        async with self._bulk() as db, db.execute(
                "SELECT origin, count(*) FROM stories WHERE origin IN (SELECT value FROM json_each(?))"
                " GROUP BY origin", (json.dumps(sorted(files)),)) as cursor:
            counts = dict(await cursor.fetchall())
        return {path: counts.get(path, 0) for path in files}

    async def _prune(self, paths: Sequence[str | Path], reading: _Reading,
                     stored: list[tuple[str, str, str | None, str | None]]) -> int:
        """Remove the `stored` stories (as the ingest began: those written since were read, so
        stay) whose file is gone or was read cleanly without them."""
        doomed = await asyncio.to_thread(_doomed, stored, paths, reading.seen, reading.clean)
        if not doomed:
            return 0
        async with self._transaction():
            for chunk in _chunks(doomed, 900):
                await self.db.execute(
                    f"DELETE FROM stories WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            await self.db.executemany("DELETE FROM files WHERE path = ?",
                                      [(path,) for path in {reading.origins.get(s) for s in doomed} - {None}])
            await self._bump_generation()
        return len(doomed)

    async def _start_record(self, report: IngestReport) -> int:
        cursor = await self.db.execute("INSERT INTO ingests (started_at, paths) VALUES (?, ?)",
                                       (_now(), json.dumps(report.paths)))
        return cursor.lastrowid

    async def _finish_record(self, ingest_id: int, report: IngestReport) -> None:
        await self.db.execute(
            "UPDATE ingests SET finished_at = ?, files = ?, added = ?, updated = ?, unchanged = ?,"
            " removed = ?, failed = ?, problems = ? WHERE id = ?",
            (_now(), report.files, report.added, report.updated, report.unchanged, report.removed,
             report.failed, json.dumps([[p.path, p.line, p.reason] for p in report.problems]),
             ingest_id))

    async def ensure_analyzer(self, analyzer: Analyzer) -> None:
        """Re-analyze every passage if the stored terms came from a different analysis."""
        stored = await self._scalar("SELECT value FROM settings WHERE key = 'analyzer'")
        if stored == analyzer.key:
            return
        if stored is not None:
            await self._reanalyze(analyzer)
        await self.db.execute("INSERT OR REPLACE INTO settings VALUES ('analyzer', ?)", (analyzer.key,))

    async def _reanalyze(self, analyzer: Analyzer) -> None:
        async with self._transaction():
            async with self.db.execute(
                    'SELECT p.id, s.body, p.start, p.end FROM passages p JOIN stories s ON s.id = p.story_id') as cur:
                rows = await cur.fetchall()
            updates = await asyncio.to_thread(
                lambda: [(" ".join(analyzer.terms(body[start:end])), pid) for pid, body, start, end in rows])
            await self.db.executemany("UPDATE passages SET terms = ? WHERE id = ?", updates)
            async with self.db.execute("SELECT id, title FROM stories") as cur:
                titles = await cur.fetchall()
            await self.db.executemany("UPDATE stories SET title_terms = ? WHERE id = ?",
                                      [(" ".join(analyzer.terms(title)), sid) for sid, title in titles])
            await self._bump_generation()

    # reading --------------------------------------------------------------------------------

    async def generation(self) -> int:
        """A number that changes whenever passages are added, changed or removed."""
        return int(await self._scalar("SELECT value FROM settings WHERE key = 'generation'"))

    async def _bump_generation(self) -> None:
        await self.db.execute(
            "UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    async def passage_rows(self, after: int = 0) -> list[tuple[int, str, int, int, str]]:
        """Passages with ids above `after`, in id order: (id, story id, start, end, terms)."""
        async with self._bulk() as db, db.execute(
                'SELECT id, story_id, start, "end", terms FROM passages WHERE id > ? ORDER BY id',
                (after,)) as cursor:
            return list(await cursor.fetchall())

    async def new_passages(self, after: int = 0) -> PassageColumns:
        """The passages with ids above `after`: as the last ingest wrote them when they are
        exactly those (nothing else changed the passages since), else read back."""
        written, self._written = self._written, None  # used once: it holds much memory
        if (written is not None and written.valid and written.generation == await self.generation()
                and (written.first is None or written.first > after)
                and len(written.story_ids) == await self._scalar("SELECT count(*) FROM passages WHERE id > ?",
                                                                 (after,))):
            return await asyncio.to_thread(written.columns)
        return await asyncio.to_thread(PassageColumns.from_rows, await self.passage_rows(after))

    async def passage_ids(self) -> list[int]:
        async with self._bulk() as db, db.execute("SELECT id FROM passages ORDER BY id") as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def save_blobs(self, blobs: dict[str, memoryview | bytes]) -> None:
        """Replace the stored index snapshot with `blobs`, in one transaction (not for an
        archive in memory, which ends with the process)."""
        if self._file is not None:
            async with self._saving:
                await asyncio.to_thread(_write_blobs, self._file, blobs)

    async def load_blobs(self) -> dict[str, bytes]:
        async with self._bulk() as db, db.execute("SELECT name, data FROM snapshot_blobs") as cursor:
            return {name: data for name, data in await cursor.fetchall()}

    async def story_headers(self, ids: Iterable[str] | None = None) -> list[tuple[str, str, str | None, str | None, str, str]]:
        """(id, title, ISO date, url, title terms, the first 15 hex digits of the content hash)
        of every story, or of those of `ids`."""
        sql = "SELECT id, title, date, url, title_terms, substr(content_hash, 1, 15) FROM stories"
        async with self._bulk() as db:
            if ids is None:
                async with db.execute(sql) as cursor:
                    return list(await cursor.fetchall())
            return await self._rows_of(sql, ids, db)

    async def story_count(self) -> int:
        async with self._bulk() as db:  # a count of every story: kept off the connection answers use
            return await self._scalar("SELECT count(*) FROM stories", db=db)

    async def story_ids(self) -> list[str]:
        async with self._bulk() as db, db.execute("SELECT id FROM stories") as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def passages_up_to(self, last: int) -> int:
        """How many passages have ids up to `last`."""
        async with self._bulk() as db:
            return await self._scalar("SELECT count(*) FROM passages WHERE id <= ?", (last,), db)

    async def stories(self, ids: Iterable[str]) -> dict[str, StoryRecord]:
        rows = await self._rows_of("SELECT id, title, date, url, body, substr(content_hash, 1, 15) FROM stories", ids)
        return {story_id: StoryRecord(story_id, title, _parse_date(date), url, body, int(digest, 16))
                for story_id, title, date, url, body, digest in rows}

    async def _rows_of(self, sql: str, ids: Iterable[str], db: aiosqlite.Connection | None = None) -> list[tuple]:
        """The rows of `sql` (a SELECT from stories) whose id is one of `ids`, asked in chunks
        that stay under SQLite's limit on bound values."""
        rows: list[tuple] = []
        for chunk in _chunks(list(dict.fromkeys(ids)), 900):
            # one call to the connection's thread, not three (execute, fetch, close): each waits its
            # turn at the interpreter lock, a wait that grows when a reload's threads run
            rows += await (db or self.db).execute_fetchall(f"{sql} WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return rows

    async def counts(self) -> dict[str, object]:
        async with self.db.execute(
                "SELECT (SELECT count(*) FROM stories), (SELECT count(*) FROM passages),"
                " (SELECT min(date) FROM stories), (SELECT max(date) FROM stories)") as cursor:
            stories, passages, first, last = await cursor.fetchone()
        return {"stories": stories, "passages": passages, "first_date": first, "last_date": last}

    async def last_ingest(self) -> dict[str, object] | None:
        async with self.db.execute(
                "SELECT started_at, finished_at, files, added, updated, unchanged, removed, failed"
                " FROM ingests WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1") as cursor:
            row = await cursor.fetchone()
        keys = ("started_at", "finished_at", "files", "added", "updated", "unchanged", "removed", "failed")
        return dict(zip(keys, row)) if row else None

    # questions ------------------------------------------------------------------------------

    async def record_question(self, chat_type: str, latency_ms: float, citations: int,
                              question: str | None = None) -> None:
        """Note an answered question for the statistics. Its row is written within
        QUESTIONS_EVERY seconds, with the others noted meanwhile (`flush_questions`: at once)."""
        self._questions.append((_now(), chat_type, latency_ms, citations, question))
        if self._writing_questions is None:
            self._writing_questions = asyncio.get_running_loop().create_task(self._write_questions_soon())

    async def _write_questions_soon(self) -> None:
        await asyncio.sleep(QUESTIONS_EVERY)
        self._writing_questions = None
        await self._flush_questions_or_warn()

    async def _flush_questions_or_warn(self) -> None:
        try:
            await self.flush_questions()
        except Exception as error:  # the answers went out; the rows wait for the next try
            log.warning("could not record questions for the statistics yet: %s", error)

    async def flush_questions(self) -> None:
        """Write the rows of the questions noted so far (after a snapshot save, if one runs), on
        a connection of their own: while they wait for another process's write (a replica's
        reload), answers' reads do not wait behind them. Rows that cannot be written are kept
        for the next try, the newest QUESTIONS_KEPT of them."""
        async with self._saving:
            rows, self._questions = self._questions, []
            if not rows:
                return
            try:
                # all rows or none: a failed try must not leave some written and keep them too
                async with self._bulk() as db, self._transaction(db):
                    await db.executemany(
                        "INSERT INTO questions (asked_at, chat_type, latency_ms, citations, question)"
                        " VALUES (?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._questions = (rows + self._questions)[-QUESTIONS_KEPT:]
                raise

    async def question_latencies(self) -> list[float]:
        await self.flush_questions()
        async with self.db.execute("SELECT latency_ms FROM questions ORDER BY latency_ms") as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def _scalar(self, sql: str, params: Sequence = (), db: aiosqlite.Connection | None = None) -> object:
        rows = await (db or self.db).execute_fetchall(sql, params)
        return rows[0][0] if rows else None


def _write_blobs(path: Path, blobs: dict[str, memoryview | bytes]) -> None:
    """Write `blobs` into snapshot_blobs a piece at a time: the interpreter is free while SQLite
    copies each piece, where a whole array bound as a parameter would be copied holding it."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        for pragma in PRAGMAS:
            db.execute(pragma)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM snapshot_blobs")
            for name, data in blobs.items():
                view = memoryview(data).cast("B")
                row = db.execute("INSERT INTO snapshot_blobs VALUES (?, zeroblob(?))", (name, len(view))).lastrowid
                with db.blobopen("snapshot_blobs", "data", row) as blob:
                    for start in range(0, len(view), BLOB_PIECE):
                        blob.write(view[start:start + BLOB_PIECE])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _digests(files: list[Path | Problem]) -> dict[str, str]:
    """The SHA-256 of each readable file's bytes, by path."""
    digests = {}
    for path in files:
        if isinstance(path, Path):
            with contextlib.suppress(OSError), path.open("rb") as stream:  # the reading reports it
                digests[str(path)] = hashlib.file_digest(stream, "sha256").hexdigest()
    return digests


def _doomed(stored: list[tuple[str, str, str | None, str | None]], paths: Sequence[str | Path],
            seen: dict[str, set[str]], clean_files: set[str]) -> list[str]:
    """The stored stories (id, ..., origin) that a pruning ingest of `paths` removes."""
    roots = [str(Path(p)) for p in paths]
    read_now = set().union(*seen.values())  # a story read from another file (moved) stays
    doomed = []
    for story_id, *_, origin in stored:
        if story_id in read_now:
            continue
        if origin is None or not any(origin == r or origin.startswith(r.rstrip("/") + "/") for r in roots):
            continue
        gone = origin not in seen and not Path(origin).exists()
        dropped = origin in clean_files and story_id not in seen[origin]
        if gone or dropped:
            doomed.append(story_id)
    return doomed


async def _connect(path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)  # transactions are explicit
    try:
        for pragma in PRAGMAS:
            await db.execute(pragma)
    except Exception:
        await db.close()
        raise
    return db


async def _migrate(db: aiosqlite.Connection) -> None:
    async with db.execute("PRAGMA user_version") as cursor:
        (version,) = await cursor.fetchone()
    if version > len(MIGRATIONS):
        raise ArchiveError(f"the archive file has schema version {version}, newer than this "
                           f"program knows ({len(MIGRATIONS)}): upgrade archive-bot")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await db.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _parse_date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
