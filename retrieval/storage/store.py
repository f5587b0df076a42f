"""The SQLite file that holds the archive: stories, their passages and analyzed terms, a record of
every ingest, the index snapshot, and the questions served. One `Store` wraps one `aiosqlite`
connection, and opens a second one for a reload's long statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import aiosqlite
import numpy as np

from retrieval.ingest.ledger import IngestReport, Progress
from retrieval.models import StoryRecord, declared_language
from retrieval.storage import arrays as array_files
from retrieval.storage import schema
from retrieval.storage.questions import QuestionLog
from retrieval.storage.schema import PassageColumns, chunks, connect, migrate
from retrieval.storage.writer import Ingest, WrittenPassages
from retrieval.text.analysis import Analyzers

INGEST_CACHE_KB = 256 * 1024
"""SQLite's page cache during an ingest (2 MB by default): with less, writing a million passages
spends much of its time evicting and re-reading index pages."""
INDEXING = ".indexing"
"""What the file beside the archive that an ingest writing passages without their index by story
locks is named with (after the archive's name)."""
BLOB_PIECE = 2**20
"""Bytes of a snapshot blob written at a time."""
FILES_BLOB = "files"
"""The snapshot blob that says where the snapshot's arrays are (`arrays.write`'s description)."""

StoryHeaderRow = tuple[str, str, "str | None", "str | None", str, str, "str | None"]
"""(id, title, ISO date, url, title terms, the first 15 hex digits of the content hash, language)."""


class Store:
    """The archive's SQLite file. Open with `await Store.open(path)`; close when done.

    Reading and saving the whole archive's index data goes through a connection (and thread) of
    its own, opened for the purpose, so that a reload's long statements do not hold up the short
    ones that answer questions (WAL lets them read meanwhile). Only for the purpose: with a second
    connection open all along, writing a million passages took half as long again."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self.saving = asyncio.Lock()
        """Held while the snapshot is saved, on a connection of its own, and while question rows
        are written."""
        self.questions = QuestionLog(self)
        self._write_lock = asyncio.Lock()
        self._written: WrittenPassages | None = None

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        db = await connect(path)
        try:
            await migrate(db)
            await _story_index_remade(db, None if str(path) == ":memory:" else path)
        except Exception:
            await db.close()
            raise
        return cls(db, path)

    async def close(self) -> None:
        try:
            await self.questions.close()
        finally:
            await self.db.close()

    # connections ----------------------------------------------------------------------------

    @property
    def file(self) -> Path | None:
        """The archive's file, None when it lives in memory."""
        return None if str(self.path) == ":memory:" else self.path

    @contextlib.asynccontextmanager
    async def bulk(self) -> AsyncIterator[aiosqlite.Connection]:
        """A connection for a long statement (the usual one for an archive in memory)."""
        if self.file is None:
            yield self.db
            return
        db = await connect(self.file)
        try:
            yield db
        finally:
            await db.close()

    @contextlib.asynccontextmanager
    async def transaction(self, db: aiosqlite.Connection | None = None) -> AsyncIterator[None]:
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
    async def large_cache(self) -> AsyncIterator[None]:
        """A page cache large enough for bulk writes to the passages index, while it lasts."""
        previous = await self.scalar("PRAGMA cache_size")
        await self.db.execute(f"PRAGMA cache_size = {-INGEST_CACHE_KB}")
        try:
            yield
        finally:
            await self.db.execute(f"PRAGMA cache_size = {int(previous)}")

    @contextlib.asynccontextmanager
    async def indexed_after(self) -> AsyncIterator[None]:
        """Inside, when the archive holds no passages, they are written without their index by
        story, which is made once when it ends, however it ends (if the process dies meanwhile,
        the next open makes it). A row at a time, in an order that is not their stories', the
        writes rewrote the index's pages every transaction: most of a first ingest's WAL traffic."""
        with _locked_beside(self.file) as locked:
            dropped = locked and await self._story_index_dropped()
            try:
                yield
            finally:
                if dropped:
                    async with self.transaction():
                        await self.db.execute(schema.MAKE_STORY_INDEX)

    async def _story_index_dropped(self) -> bool:
        """Drop the passages' index by story if the archive holds no passages; whether it did."""
        async with self.transaction():
            if await self.scalar("SELECT EXISTS (SELECT 1 FROM passages)"):
                return False
            await self.db.execute(f"DROP INDEX IF EXISTS {schema.STORY_INDEX}")
        return True

    async def scalar(self, sql: str, params: Sequence = (), db: aiosqlite.Connection | None = None) -> object:
        """The first column of the first row of `sql`, or None."""
        rows = await (db or self.db).execute_fetchall(sql, params)
        return rows[0][0] if rows else None

    async def rows_of(self, sql: str, ids: Iterable[str], db: aiosqlite.Connection | None = None) -> list[tuple]:
        """The rows of `sql` (a SELECT from stories) whose id is one of `ids`, asked in chunks
        that stay under SQLite's limit on bound values."""
        rows: list[tuple] = []
        for chunk in chunks(list(dict.fromkeys(ids))):
            # one call to the connection's thread, not three (execute, fetch, close): each waits its
            # turn at the interpreter lock, a wait that grows when a reload's threads run
            rows += await (db or self.db).execute_fetchall(f"{sql} WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return rows

    async def schema_version(self) -> int:
        return await self.scalar("PRAGMA user_version")

    # writing --------------------------------------------------------------------------------

    async def ingest(self, paths: Sequence[str | Path], analyzers: Analyzers, *,
                     prune: bool = False, progress: Progress | None = None,
                     workers: int | None = None) -> IngestReport:
        """Read `paths` into the store: new stories added, changed ones replaced, bad files
        reported and skipped. With `prune`, stories whose file is gone from `paths` (or whose
        file was read cleanly without them) are removed. Files are read and analyzed on
        `workers` processes (None: as many as pay, 0: on one thread)."""
        async with self._write_lock:
            self._written = WrittenPassages()
            try:
                return await Ingest(self, analyzers, self._written).run(paths, prune, progress, workers)
            except BaseException:
                self._written = None  # what a failed ingest wrote is read back, if ever wanted
                raise

    async def ensure_analyzer(self, analyzers: Analyzers) -> None:
        """Re-analyze every story if the stored terms came from a different analysis."""
        stored = await self.scalar("SELECT value FROM settings WHERE key = 'analyzer'")
        if stored == analyzers.key:
            return
        if stored is not None:
            await self._reanalyze(analyzers)
        await self.db.execute("INSERT OR REPLACE INTO settings VALUES ('analyzer', ?)", (analyzers.key,))

    async def _reanalyze(self, analyzers: Analyzers) -> None:
        async with self.transaction():
            stories = await self.db.execute_fetchall("SELECT id, title, body, metadata FROM stories")
            languages = await asyncio.to_thread(_story_languages, analyzers, stories)
            await self.db.executemany("UPDATE stories SET language = ?, title_terms = ? WHERE id = ?",
                                      [(languages[sid], " ".join(analyzers.of(languages[sid]).terms(title)), sid)
                                       for sid, title, _, _ in stories])
            del stories
            rows = await self.db.execute_fetchall(
                'SELECT p.id, s.id, s.body, p.start, p.end FROM passages p JOIN stories s ON s.id = p.story_id')
            updates = await asyncio.to_thread(
                lambda: [(" ".join(analyzers.of(languages[sid]).terms(body[start:end])), pid)
                         for pid, sid, body, start, end in rows])
            await self.db.executemany("UPDATE passages SET terms = ? WHERE id = ?", updates)
            await self.bump_generation()

    async def bump_generation(self) -> None:
        """Note that passages were added, changed or removed (inside the transaction that did it)."""
        await self.db.execute(
            "UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    async def save_index(self, generation: int, blobs: dict[str, bytes], arrays: dict[str, np.ndarray]) -> None:
        """Replace the saved index snapshot of `generation`: `arrays` in a folder beside the
        file (`arrays.write`), `blobs` and where the arrays are in the file, in one transaction;
        then the other snapshots' folders are removed. Not for an archive in memory, which
        ends with the process."""
        if self.file is not None:
            async with self.saving:
                await asyncio.to_thread(_save_index, self.file, generation, blobs, arrays)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path | None]:
        """A folder beside the archive file for the files of arrays being built, which
        `save_index` links instead of writing them again (`arrays.scratch`); None for an archive
        in memory."""
        if self.file is None:
            yield None
            return
        with array_files.scratch(self.file) as folder:
            yield folder

    # reading --------------------------------------------------------------------------------

    async def generation(self) -> int:
        """A number that changes whenever passages are added, changed or removed."""
        return int(await self.scalar("SELECT value FROM settings WHERE key = 'generation'"))

    async def passage_rows(self, after: int = 0) -> list[tuple[int, str, int, int, str]]:
        """Passages with ids above `after`, in id order: (id, story id, start, end, terms)."""
        async with self.bulk() as db, db.execute(
                'SELECT id, story_id, start, "end", terms FROM passages WHERE id > ? ORDER BY id',
                (after,)) as cursor:
            return list(await cursor.fetchall())

    async def new_passages(self, after: int = 0) -> PassageColumns:
        """The passages with ids above `after`: as the last ingest wrote them when they are
        exactly those (nothing else changed the passages since), else read back."""
        written, self._written = self._written, None  # used once: it holds much memory
        if (written is not None and written.valid and written.generation == await self.generation()
                and (written.first is None or written.first > after)
                and len(written.story_ids) == await self.scalar("SELECT count(*) FROM passages WHERE id > ?",
                                                                (after,))):
            return await asyncio.to_thread(written.columns)
        return await asyncio.to_thread(PassageColumns.from_rows, await self.passage_rows(after))

    async def passage_ids(self) -> list[int]:
        async with self.bulk() as db, db.execute("SELECT id FROM passages ORDER BY id") as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def load_index(self) -> tuple[dict[str, bytes], dict[str, np.ndarray] | None]:
        """The saved index snapshot's blobs, and its arrays mapped from their files (None when
        there are none, or they are missing or damaged: logged)."""
        async with self.bulk() as db, db.execute("SELECT name, data FROM snapshot_blobs") as cursor:
            blobs = {name: data for name, data in await cursor.fetchall()}
        files = blobs.pop(FILES_BLOB, None)
        if files is None or self.file is None:
            return blobs, None
        return blobs, await asyncio.to_thread(array_files.mapped, self.file, json.loads(files))

    async def story_headers(self, ids: Iterable[str] | None = None) -> list[StoryHeaderRow]:
        """The header of every story, or of those of `ids`."""
        sql = "SELECT id, title, date, url, title_terms, substr(content_hash, 1, 15), language FROM stories"
        async with self.bulk() as db:
            if ids is None:
                async with db.execute(sql) as cursor:
                    return list(await cursor.fetchall())
            return await self.rows_of(sql, ids, db)

    async def story_count(self) -> int:
        async with self.bulk() as db:  # a count of every story: kept off the connection answers use
            return await self.scalar("SELECT count(*) FROM stories", db=db)

    async def story_ids(self) -> list[str]:
        async with self.bulk() as db, db.execute("SELECT id FROM stories") as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def passages_up_to(self, last: int) -> int:
        """How many passages have ids up to `last`."""
        async with self.bulk() as db:
            return await self.scalar("SELECT count(*) FROM passages WHERE id <= ?", (last,), db)

    async def stories(self, ids: Iterable[str]) -> dict[str, StoryRecord]:
        rows = await self.rows_of("SELECT id, title, date, url, body, substr(content_hash, 1, 15) FROM stories", ids)
        return {story_id: StoryRecord(story_id, title, _parse_date(date), url, body, int(digest, 16))
                for story_id, title, date, url, body, digest in rows}

    async def counts(self) -> dict[str, object]:
        async with self.db.execute(
                "SELECT (SELECT count(*) FROM stories), (SELECT count(*) FROM passages),"
                " (SELECT min(date) FROM stories), (SELECT max(date) FROM stories)") as cursor:
            stories, passages, first, last = await cursor.fetchone()
        languages = dict(await self.db.execute_fetchall(
            "SELECT coalesce(language, '?'), count(*) FROM stories GROUP BY 1 ORDER BY 2 DESC, 1"))
        return {"stories": stories, "passages": passages, "first_date": first, "last_date": last,
                "languages": languages}

    async def last_ingest(self) -> dict[str, object] | None:
        async with self.db.execute(
                "SELECT started_at, finished_at, files, added, updated, unchanged, removed, failed"
                " FROM ingests WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1") as cursor:
            row = await cursor.fetchone()
        keys = ("started_at", "finished_at", "files", "added", "updated", "unchanged", "removed", "failed")
        return dict(zip(keys, row)) if row else None

    async def question_latencies(self) -> list[float]:
        """Every logged question's latency (ms), in increasing order."""
        await self.questions.flush()
        async with self.db.execute("SELECT latency_ms FROM questions ORDER BY latency_ms") as cursor:
            return [row[0] for row in await cursor.fetchall()]


async def _story_index_remade(db: aiosqlite.Connection, file: Path | None) -> None:
    """Make the passages' index by story if an ingest that wrote them without it died before it
    made it. An ingest still writing them holds the lock beside the file: it makes it itself.
    (Made if not made meanwhile: the ingest may end between the look and the lock.)"""
    if (await db.execute_fetchall(schema.HAS_STORY_INDEX))[0][0]:
        return
    with _locked_beside(file) as locked:
        if locked:
            await db.execute("BEGIN IMMEDIATE")
            await db.execute(schema.MAKE_STORY_INDEX)
            await db.commit()


@contextlib.contextmanager
def _locked_beside(file: Path | None) -> Iterator[bool]:
    """Inside, whether this process holds the lock of the file INDEXING names beside `file` (True
    for an archive in memory, which no other process opens); the lock goes with the process
    however it ends. Not waited for: False when another holds it."""
    if file is None:
        yield True
        return
    beside = file.with_name(file.name + INDEXING)
    fd = os.open(beside, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        locked = _locked(fd)
        try:
            yield locked
        finally:
            if locked:  # gone before the lock goes, so no two processes hold a lock of that name
                beside.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _locked(fd: int) -> bool:
    """Lock the file `fd` holds open, unless another process holds its lock; whether it did."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _save_index(path: Path, generation: int, blobs: dict[str, bytes], arrays: dict[str, np.ndarray]) -> None:
    files = array_files.write(path, generation, arrays)
    try:
        _write_blobs(path, {**blobs, FILES_BLOB: json.dumps(files).encode()})
    except BaseException:
        shutil.rmtree(path.with_name(files["folder"]), ignore_errors=True)
        raise
    array_files.remove_others(path, files["folder"])


def _write_blobs(path: Path, blobs: dict[str, memoryview | bytes]) -> None:
    """Write `blobs` into snapshot_blobs a piece at a time: the interpreter is free while SQLite
    copies each piece, where a whole array bound as a parameter would be copied holding it."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        for pragma in schema.PRAGMAS:
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


def _parse_date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _story_languages(analyzers: Analyzers, stories: Iterable[tuple[str, str, str, str]]) -> dict[str, str | None]:
    """Each story's language, by id, from its (id, title, body, metadata) row."""
    return {sid: analyzers.story_language(title, body, declared_language(json.loads(metadata)))
            for sid, title, body, metadata in stories}
