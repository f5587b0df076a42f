"""Writing an ingest into the archive file: new stories added, changed ones replaced, gone ones
pruned, each batch one transaction; and the passages written kept for the next snapshot, which
then need not read them back."""

from __future__ import annotations

import asyncio
import json
import time
from itertools import count
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.ingest import intake, ledger
from retrieval.ingest.formats import Problem, archive_files
from retrieval.ingest.ledger import IngestReport, Ledger, Progress, StoredStory
from retrieval.storage.schema import (INSERT_PASSAGE, UPSERT_STORY, PassageColumns, StoryRow, chunks,
                                      utc_now)
from retrieval.text.analysis import Analyzers

if TYPE_CHECKING:
    from retrieval.storage.store import Store


class WrittenPassages:
    """The passages one ingest wrote, in id order."""

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
                              np.asarray(self.ends, dtype=np.int32), self.texts)


class Ingest:
    """One ingest into `store`, analyzed with `analyzers`, its passages noted in `written`."""

    def __init__(self, store: Store, analyzers: Analyzers, written: WrittenPassages) -> None:
        self.store = store
        self.db = store.db
        self.analyzers = analyzers
        self.written = written

    async def run(self, paths: Sequence[str | Path], prune: bool, progress: Progress | None,
                  workers: int | None) -> IngestReport:
        """Read `paths` into the store (see `Store.ingest`)."""
        await self.store.ensure_analyzer(self.analyzers)
        started = time.monotonic()
        report = IngestReport(paths=[str(p) for p in paths])
        ingest_id = await self._start_record(report)
        files = list(archive_files(paths))
        digests = await asyncio.to_thread(ledger.digests, files)
        unchanged = await self._unchanged_files(digests)
        stored = await self._stored(excluding=unchanged)  # the others' stories are looked up when read
        hashes, sources = await asyncio.to_thread(intake.stored_hashes, stored)
        origins = await asyncio.to_thread(lambda: {story_id: origin for story_id, *_, origin in stored})
        book = Ledger(report, dict(hashes), origins, files, progress)
        for path, stories in (await self._stories_from(unchanged)).items():
            book.skip_unchanged(path, stories)
        files = [f for f in files if str(f) not in unchanged]
        workers = intake.workers_for(files) if workers is None else workers
        async with self.store.large_cache(), self.store.indexed_after():
            async with intake.PartReader(self.analyzers, hashes, sources, workers, self.store.file) as reader:
                async for part, reads in reader.read(files):
                    if isinstance(part, Problem):
                        report.problems.append(part)
                        continue
                    if book.needs_content(reads):
                        reads = await reader.reread(part)
                    for batch in book.batches(part, reads):
                        await self._write_batch(batch, book)
            await self._write_batch(book.last_batch(), book)
        if prune:
            report.removed = await self._prune(paths, book, stored)
        await self._remember_files(book, digests)
        report.seconds = time.monotonic() - started
        await self._finish_record(ingest_id, report)
        self.written.generation = await self.store.generation()
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

    async def _remember_files(self, book: Ledger, digests: dict[str, str]) -> None:
        counts = await self._stories_from(book.clean - book.unchanged_files)
        held = await asyncio.to_thread(book.held_exactly, counts)
        # hashed again: a file edited while it was read holds something else than what was read
        now = await asyncio.to_thread(ledger.digests, [Path(path) for path in held])
        await self.db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?)",
                                  [(path, digest) for path, digest in now.items() if digests.get(path) == digest])

    async def _write_batch(self, batch: list[tuple[intake.Story, str]], book: Ledger) -> None:
        latest = {story.id: (story, origin) for story, origin in batch}  # last copy wins
        if book.unchanged_files:  # their stories were not looked up when the ingest began
            book.note_stored(await self.store.rows_of("SELECT id, content_hash, origin FROM stories",
                                                      [i for i in latest if i not in book.hashes]))
        fresh = []
        for story, origin in latest.values():
            if book.hashes.get(story.id) == story.digest or book.stored_later(story.id, origin):
                book.report.unchanged += 1
            else:
                fresh.append((story, origin, story.id in book.hashes))
        if not fresh:
            return
        now = utc_now()
        # a file some of whose stories are now written from another no longer holds them all
        left = {book.origins[s.id] for s, origin, existed in fresh
                if existed and book.origins.get(s.id) not in (None, origin)}
        async with self.store.transaction():
            await self.db.executemany("DELETE FROM files WHERE path = ?", [(path,) for path in left])
            # new ones too: another process (a bot replica) may have written the same story since;
            # of the stories the file holds only, found by id: a first ingest's passages have no
            # index by story to find theirs by (Store.indexed_after)
            held = await self.store.rows_of("SELECT id FROM stories", [s.id for s, _, _ in fresh])
            await self.db.executemany("DELETE FROM passages WHERE story_id = ?", held)
            # `ArticleColumns` are StoryRow's first columns, and plain tuples are PassageRows: no
            # dict a story nor a named tuple a passage (ten million of them at the largest)
            await self.db.executemany(UPSERT_STORY, [
                StoryRow(*s.row, origin=origin, ingested_at=now, title_terms=s.title_terms,
                         source_hash=s.source, language=s.language) for s, origin, _ in fresh])
            first = int(await self.store.scalar("SELECT value FROM settings WHERE key = 'last_passage'")) + 1
            rows = [(s.id, seq, start, end, terms) for s, _, _ in fresh
                    for seq, (start, end, terms) in enumerate(s.passages)]
            await self.db.executemany(INSERT_PASSAGE, [(passage, *row) for passage, row in zip(count(first), rows)])
            await self.db.execute("UPDATE settings SET value = ? WHERE key = 'last_passage'",
                                  (str(first + len(rows) - 1),))
            await self.store.bump_generation()
        self.written.add([(s, existed) for s, _, existed in fresh], first)
        book.note_written(fresh)

    async def _stored(self, excluding: set[str]) -> list[StoredStory]:
        """Each stored story but those from the files `excluding` names."""
        async with self.store.bulk() as db, db.execute(
                "SELECT id, content_hash, source_hash, origin FROM stories"
                " WHERE origin IS NULL OR origin NOT IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(excluding)),)) as cursor:
            return await cursor.fetchall()

    async def _stories_from(self, files: set[str]) -> dict[str, int]:
        """How many stored stories were written from each of `files` (a scan of every story: on
        the second connection, so that answers' story reads need not wait for it)."""
        async with self.store.bulk() as db, db.execute(
                "SELECT origin, count(*) FROM stories WHERE origin IN (SELECT value FROM json_each(?))"
                " GROUP BY origin", (json.dumps(sorted(files)),)) as cursor:
            counts = dict(await cursor.fetchall())
        return {path: counts.get(path, 0) for path in files}

    async def _prune(self, paths: Sequence[str | Path], book: Ledger, stored: list[StoredStory]) -> int:
        """Remove the `stored` stories (as the ingest began: those written since were read, so
        stay) whose file is gone or was read cleanly without them."""
        removed = await asyncio.to_thread(ledger.doomed, stored, paths, book.seen, book.clean)
        if not removed:
            return 0
        async with self.store.transaction():
            for chunk in chunks(removed, 900):
                await self.db.execute(f"DELETE FROM stories WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            await self.db.executemany("DELETE FROM files WHERE path = ?",
                                      [(path,) for path in {book.origins.get(s) for s in removed} - {None}])
            await self.store.bump_generation()
        return len(removed)

    async def _start_record(self, report: IngestReport) -> int:
        cursor = await self.db.execute("INSERT INTO ingests (started_at, paths) VALUES (?, ?)",
                                       (utc_now(), json.dumps(report.paths)))
        return cursor.lastrowid

    async def _finish_record(self, ingest_id: int, report: IngestReport) -> None:
        await self.db.execute(
            "UPDATE ingests SET finished_at = ?, files = ?, added = ?, updated = ?, unchanged = ?,"
            " removed = ?, failed = ?, problems = ? WHERE id = ?",
            (utc_now(), report.files, report.added, report.updated, report.unchanged, report.removed,
             report.failed, json.dumps([[p.path, p.line, p.reason] for p in report.problems]),
             ingest_id))
