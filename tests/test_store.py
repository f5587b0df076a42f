"""The SQLite archive file: schema, idempotent ingest, updates, failures that leave it intact, prune."""

from __future__ import annotations

import asyncio

import fcntl
import json
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from retrieval.text.analysis import Analyzer, Analyzers
from retrieval.service import ArchiveService, RetrievalSettings
from retrieval.ingest import intake
from retrieval.bm25.postings import Postings
from retrieval.ingest import ledger
from retrieval.storage.schema import MIGRATIONS, PRAGMAS, PassageColumns, StoryRow
from retrieval.storage.store import Store
from retrieval.storage.writer import Ingest

ANALYZER = Analyzers()


def story_text(code: str, body: str, title: str = "A title") -> str:
    return f" date 2021-10-25 0\nMonday 25 October 2021 - 02:51\n\n{title}\n\nStory Code : {code}\n{body}\n"


def write_story(folder: Path, code: str, body: str, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{code}.txt")
    path.write_text(story_text(code, body), encoding="utf-8")
    return path


def table(db_path: Path, sql: str) -> list[tuple]:
    """Rows read through a separate, plain sqlite3 connection: what another reader would see."""
    with sqlite3.connect(db_path) as db:
        return db.execute(sql).fetchall()


def passages(db_path: Path) -> list[tuple]:
    return table(db_path, 'SELECT id, story_id, seq, start, "end", terms FROM passages ORDER BY id')


def bodies(db_path: Path) -> dict[str, str]:
    return dict(table(db_path, "SELECT id, body FROM stories"))


@pytest.fixture
async def store(tmp_db):
    store = await Store.open(tmp_db)
    yield store
    await store.close()


@pytest.fixture
def stories_dir(tmp_path) -> Path:
    folder = tmp_path / "stories"
    write_story(folder, "1", "Cocoa arrivals rose in Bahia. Farmers were pleased.\n\nPrices fell.")
    write_story(folder, "2", "Peskov said NATO cannot be stopped.\n\nThe Kremlin agreed.")
    return folder


# Schema ----------------------------------------------------------------------------------------


async def test_a_new_file_has_the_latest_schema_and_wal_mode(store, tmp_db):
    assert await store.schema_version() == len(MIGRATIONS)
    assert table(tmp_db, "PRAGMA journal_mode") == [("wal",)]
    assert {name for (name,) in table(tmp_db, "SELECT name FROM sqlite_master WHERE type = 'table'")} >= {
        "stories", "passages", "ingests", "settings", "questions"}


async def test_an_older_file_is_migrated_and_keeps_its_stories(tmp_db):
    with sqlite3.connect(tmp_db) as db:
        db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
        db.execute("INSERT INTO stories (id, title, body, content_hash, ingested_at)"
                   " VALUES ('old', 'Old', 'Old body.', 'x', '2020-01-01')")
    store = await Store.open(tmp_db)
    try:
        assert await store.schema_version() == len(MIGRATIONS)
        assert (await store.counts())["stories"] == 1
        store.questions.record("private", 1.5, 0)
    finally:
        await store.close()


async def test_a_file_from_a_newer_program_is_refused(tmp_db):
    with sqlite3.connect(tmp_db) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        await Store.open(tmp_db)


# Ingest ----------------------------------------------------------------------------------------


async def test_ingesting_the_same_files_twice_changes_nothing(store, tmp_db, stories_dir):
    first = await store.ingest([stories_dir], ANALYZER)
    assert (first.files, first.added, first.updated, first.unchanged, first.failed) == (2, 2, 0, 0, 0)
    stored_passages, stored_stories = passages(tmp_db), table(tmp_db, "SELECT * FROM stories")

    second = await store.ingest([stories_dir], ANALYZER)
    assert (second.files, second.added, second.updated, second.unchanged, second.failed) == (2, 0, 0, 2, 0)
    assert not second.changed
    assert passages(tmp_db) == stored_passages
    assert table(tmp_db, "SELECT * FROM stories") == stored_stories
    last = await store.last_ingest()
    assert (last["files"], last["added"], last["unchanged"]) == (2, 0, 2)


async def test_passages_are_the_analyzed_paragraphs_of_the_body(store, tmp_db, stories_dir):
    await store.ingest([stories_dir], ANALYZER)
    body = bodies(tmp_db)["1"]
    rows = table(tmp_db, 'SELECT start, "end", terms FROM passages WHERE story_id = \'1\' ORDER BY seq')
    assert [body[start:end] for start, end, _ in rows] == [
        "Cocoa arrivals rose in Bahia. Farmers were pleased.", "Prices fell."]
    assert [terms for *_, terms in rows] == [
        "cocoa arriv rose bahia farmer pleas", "price fell"]


async def test_a_changed_story_replaces_its_passages(store, tmp_db, stories_dir):
    await store.ingest([stories_dir], ANALYZER)
    untouched = [row for row in passages(tmp_db) if row[1] == "2"]
    write_story(stories_dir, "1", "Cocoa exports doubled.")

    report = await store.ingest([stories_dir], ANALYZER)

    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    assert bodies(tmp_db)["1"] == "Cocoa exports doubled."
    assert [row[2:] for row in passages(tmp_db) if row[1] == "1"] == [
        (0, 0, len("Cocoa exports doubled."), "cocoa export doubl")]
    assert [row for row in passages(tmp_db) if row[1] == "2"] == untouched


async def test_every_ingest_is_recorded_with_its_problems(store, tmp_db, stories_dir):
    (stories_dir / "empty.txt").write_bytes(b"")
    report = await store.ingest([stories_dir, stories_dir / "missing.txt"], ANALYZER)
    assert report.failed == 2
    [(files, added, failed, problems)] = table(tmp_db, "SELECT files, added, failed, problems FROM ingests")
    assert (files, added, failed) == (3, 2, 2)
    assert [reason for _, _, reason in json.loads(problems)] == ["empty file", "no such file or directory"]


class PoisonedAnalyzer(Analyzer):
    """The default analysis, except that it fails on a passage containing "poison"."""

    def terms(self, text: str) -> list[str]:
        if "poison" in text:
            raise RuntimeError("analyzer failed")
        return super().terms(text)


class PoisonedAnalyzers(Analyzers):
    """The default analyzers, the main language's poisoned."""

    def __init__(self, *settings) -> None:
        super().__init__(*settings)
        self.main = PoisonedAnalyzer()
        self._of = {self.main.code: self.main}


def fail_inserting_passages(store: Store, monkeypatch) -> None:
    """Make the passages insert write half its rows, then fail: a crash inside the transaction."""
    real = store.db.executemany

    async def executemany(sql, rows):
        if "INSERT INTO passages" in sql:
            rows = list(rows)
            await real(sql, rows[:len(rows) // 2])
            raise RuntimeError("disk failed")
        return await real(sql, rows)

    monkeypatch.setattr(store.db, "executemany", executemany)


@pytest.mark.parametrize("failure", ["analyzer", "insert"])
async def test_a_failure_mid_ingest_leaves_the_previous_state_intact(store, tmp_db, stories_dir,
                                                                     monkeypatch, failure):
    await store.ingest([stories_dir], ANALYZER)
    before = (bodies(tmp_db), passages(tmp_db))
    write_story(stories_dir, "1", "Cocoa exports doubled.")
    write_story(stories_dir, "2", "NATO said nothing.")
    write_story(stories_dir, "3", "A new story that poisons the batch.")

    analyzer = ANALYZER
    if failure == "analyzer":
        analyzer = PoisonedAnalyzers()
    else:
        fail_inserting_passages(store, monkeypatch)
    with pytest.raises(RuntimeError, match="failed"):
        await store.ingest([stories_dir], analyzer)

    assert (bodies(tmp_db), passages(tmp_db)) == before  # as another reader sees the file
    assert (await store.counts())["stories"] == 2  # and as the store itself does
    assert store._written is None  # nor does it keep in memory what the failed ingest wrote
    monkeypatch.undo()
    report = await store.ingest([stories_dir], ANALYZER)
    assert (report.added, report.updated, report.unchanged) == (1, 2, 0)


async def test_a_failure_mid_ingest_keeps_the_service_answering(tmp_db, stories_dir, monkeypatch):
    service = await ArchiveService.open(tmp_db)
    try:
        await service.ingest([stories_dir])
        write_story(stories_dir, "1", "Something else entirely.")
        fail_inserting_passages(service.store, monkeypatch)
        with pytest.raises(RuntimeError):
            await service.ingest([stories_dir])
        answer = await service.ask("cocoa arrivals in Bahia")
        assert [c.story_id for c in answer.citations] == ["1"]
        assert "Cocoa arrivals rose in Bahia." in answer.citations[0].quote
    finally:
        await service.close()


# Prune -----------------------------------------------------------------------------------------


async def test_prune_removes_stories_of_deleted_files_but_not_of_broken_ones(store, tmp_db, stories_dir):
    write_story(stories_dir, "3", "A third story.")
    await store.ingest([stories_dir], ANALYZER)
    (stories_dir / "1.txt").unlink()
    (stories_dir / "2.txt").write_bytes(b"\x00\x01 binary garbage")

    report = await store.ingest([stories_dir], ANALYZER, prune=True)

    assert report.removed == 1
    assert [p.path for p in report.problems] == [str(stories_dir / "2.txt")]
    assert sorted(bodies(tmp_db)) == ["2", "3"]
    assert {row[1] for row in passages(tmp_db)} == {"2", "3"}


async def test_prune_keeps_stories_whose_file_was_renamed(store, tmp_db, stories_dir):
    await store.ingest([stories_dir], ANALYZER)
    shutil.move(stories_dir / "1.txt", stories_dir / "renamed.txt")

    report = await store.ingest([stories_dir], ANALYZER, prune=True)

    assert (report.removed, report.unchanged) == (0, 2)
    assert sorted(bodies(tmp_db)) == ["1", "2"]


async def test_prune_removes_a_story_dropped_from_a_file_read_cleanly(store, tmp_db, tmp_path):
    path = tmp_path / "feed.jsonl"
    records = [{"id": f"r{n}", "title": f"T{n}", "body": f"Body {n}."} for n in range(3)]
    path.write_text("\n".join(map(json.dumps, records)))
    await store.ingest([path], ANALYZER)
    path.write_text("\n".join(map(json.dumps, records[:2])))

    report = await store.ingest([path], ANALYZER, prune=True)

    assert report.removed == 1
    assert sorted(bodies(tmp_db)) == ["r0", "r1"]


async def test_prune_leaves_stories_from_other_paths_alone(store, tmp_db, tmp_path, stories_dir):
    other = write_story(tmp_path / "other", "9", "Elsewhere.")
    await store.ingest([stories_dir, other], ANALYZER)
    report = await store.ingest([stories_dir], ANALYZER, prune=True)
    assert report.removed == 0
    assert sorted(bodies(tmp_db)) == ["1", "2", "9"]


# Analysis changes ------------------------------------------------------------------------------


async def test_a_different_analysis_reanalyzes_stored_passages(store, tmp_db, stories_dir):
    await store.ingest([stories_dir], ANALYZER)
    keep_stopwords = Analyzers(stopwords=False)

    await store.ensure_analyzer(keep_stopwords)

    assert table(tmp_db, "SELECT value FROM settings WHERE key = 'analyzer'") == [(keep_stopwords.key,)]
    body = bodies(tmp_db)["1"]
    rows = table(tmp_db, 'SELECT start, "end", terms FROM passages WHERE story_id = \'1\' ORDER BY seq')
    assert [terms.split() for _, _, terms in rows] == [keep_stopwords.main.terms(body[s:e]) for s, e, _ in rows]
    assert "in" in rows[0][2].split()


async def test_opening_with_another_analysis_setting_reanalyzes(tmp_db, stories_dir):
    service = await ArchiveService.open(tmp_db)
    await service.ingest([stories_dir])
    await service.close()

    service = await ArchiveService.open(tmp_db, RetrievalSettings(stopwords=False))
    try:
        stored = table(tmp_db, "SELECT value FROM settings WHERE key = 'analyzer'")
        assert stored == [(Analyzers(stopwords=False).key,)]
        answer = await service.ask("what were the cocoa arrivals in Bahia")
        assert [c.story_id for c in answer.citations][:1] == ["1"]
    finally:
        await service.close()


# Reading on worker processes ---------------------------------------------------------------------


def archive_folder(folder: Path) -> Path:
    """Stories in several formats, a few of them broken, some ids repeated with other content."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"r{i % 1500}", "title": f"Cocoa {i}", "date": "1987-03-02",
                         "body": f"Cocoa arrivals in Bahia rose {i} pct. Mr. Smith said so.\n\nOil fell {i}."})
             for i in range(2500)]
    lines[7] = "{not json"
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    for code in range(60):
        write_story(folder, f"t{code}", f"Story {code} about NATO.\n\nThe Kremlin said {code}.")
    (folder / "b.csv").write_text("id,title,body\nc1,Coffee,Coffee quota talks.\nc2,,\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("workers", [0, 2])
async def test_reading_on_workers_gives_the_archive_one_thread_gives(tmp_path, workers):
    folder = archive_folder(tmp_path / "archive")
    serial, parallel = tmp_path / "serial.sqlite", tmp_path / f"workers-{workers}.sqlite"
    reports = []
    for db, count in ((serial, 0), (parallel, workers)):
        store = await Store.open(db)
        try:
            reports.append(await store.ingest([folder], ANALYZER, workers=count))
            reports.append(await store.ingest([folder], ANALYZER, workers=count))  # repeated ids: not a no-op
        finally:
            await store.close()
    summary = [(r.files, r.added, r.updated, r.unchanged, [str(p) for p in r.problems]) for r in reports]
    assert summary[:2] == summary[2:]
    assert summary[0][:3] == (63, 1561, 999) and len(summary[0][4]) == 3
    assert passages(serial) == passages(parallel)
    story_rows = 'SELECT id, title, date, body, content_hash, title_terms FROM stories ORDER BY id'
    assert table(serial, story_rows) == table(parallel, story_rows)


async def test_a_story_written_twice_in_one_ingest_ends_as_its_last_copy(store, tmp_db, tmp_path, monkeypatch):
    monkeypatch.setattr("retrieval.ingest.ledger.BATCH", 1)  # each copy written in a batch of its own
    folder = tmp_path / "stories"
    write_story(folder, "1", "Cocoa arrivals rose.", name="a.txt")
    await store.ingest([folder], ANALYZER)
    write_story(folder, "1", "Coffee exports fell.", name="b.txt")
    (folder / "a.txt").rename(folder / "c.txt")  # the stored copy, now read after the changed one
    report = await store.ingest([folder], ANALYZER)
    assert (report.updated, report.unchanged) == (2, 0)
    assert bodies(tmp_db) == {"1": "Cocoa arrivals rose."}
    assert [terms for *_, terms in passages(tmp_db)] == ["cocoa arriv rose"]


async def test_an_unchanged_json_line_is_known_without_parsing_it(store, tmp_db, tmp_path, monkeypatch):
    path = tmp_path / "a.jsonl"
    lines = [json.dumps({"id": f"r{i}", "title": f"Cocoa {i}", "body": f"Cocoa arrivals rose {i} pct."})
             for i in range(1500)] + ["{not json"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    await store.ingest([path], ANALYZER)
    lines[2] = lines[2].replace("Cocoa arrivals", "Coffee arrivals")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parsed = []
    real = intake.parse_line
    monkeypatch.setattr(intake, "parse_line", lambda path, number, chunk: parsed.append(number) or real(path, number, chunk))
    report = await store.ingest([path], ANALYZER)
    assert parsed == [3, 1501]  # the changed line, and the broken one (never stored)
    assert (report.added, report.updated, report.unchanged, report.failed) == (0, 1, 1499, 1)
    assert bodies(tmp_db)["r2"] == "Coffee arrivals rose 2 pct."


async def test_worker_processes_start_only_when_enough_new_input_lies_ahead(store, tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "PARALLEL_BYTES", 20_000)
    started = []
    real = intake.PartReader._start_pool

    async def counted(reader):
        started.append(reader.workers)
        await real(reader)

    monkeypatch.setattr(intake.PartReader, "_start_pool", counted)
    path = tmp_path / "a.jsonl"
    lines = [json.dumps({"id": f"r{i}", "title": f"Cocoa {i}", "body": f"Cocoa arrivals rose {i} pct in the week."})
             for i in range(1200)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (await store.ingest([path], ANALYZER, workers=2)).added == 1200
    assert started == [2]
    path.write_text("\n".join(lines + [lines[0].replace('"r0"', '"new"')]) + "\n", encoding="utf-8")
    report = await store.ingest([path], ANALYZER, workers=2)
    assert (report.added, report.unchanged) == (1, 1200)
    assert started == [2]  # one new story: read on a thread


def postings_by_passage(postings: Postings) -> dict[tuple[str, int], int]:
    terms = np.repeat(np.asarray(postings.terms, dtype=object), np.diff(postings.offsets))
    return dict(zip(zip(terms.tolist(), postings.docs.tolist()), postings.tfs.tolist()))


@pytest.mark.parametrize("batch", [500, 1])
async def test_the_passages_an_ingest_wrote_equal_those_read_back(store, tmp_path, monkeypatch, batch):
    monkeypatch.setattr("retrieval.ingest.ledger.BATCH", batch)  # 1: a story's second copy replaces its first
    folder = tmp_path / "archive"
    folder.mkdir()
    first = [{"id": f"s{i}", "title": f"Cocoa {i}", "body": f"Cocoa arrivals rose {i} pct.\n\nOil fell {i}."}
             for i in range(30)]
    again = [{"id": "s3", "title": "Coffee", "body": "Coffee quota talks in London collapsed."}]
    (folder / "a.jsonl").write_text("".join(json.dumps(s) + "\n" for s in first + again), encoding="utf-8")
    await store.ingest([folder], ANALYZER)
    assert store._written.valid == (batch > 1)  # else read back
    written = await store.new_passages()
    read_back = PassageColumns.from_rows(await store.passage_rows())
    assert written.ids.tolist() == read_back.ids.tolist()
    assert written.story_ids == read_back.story_ids
    assert (written.starts.tolist(), written.ends.tolist()) == (read_back.starts.tolist(), read_back.ends.tolist())
    assert written.texts == read_back.texts
    indexed, indexed_back = Postings.from_texts(written.texts), Postings.from_texts(read_back.texts)
    assert sorted(indexed.terms) == sorted(indexed_back.terms)  # none of the replaced copy's
    assert postings_by_passage(indexed) == postings_by_passage(indexed_back)


async def test_question_rows_wait_for_a_snapshot_save_without_holding_up_reads(store, stories_dir):
    """Written during the save, the rows would wait for SQLite's lock on the connection that
    answers' story reads use, and they with it."""
    await store.ingest([stories_dir], ANALYZER)
    async with store.saving:  # as save_index holds it
        store.questions.record("private", 3.0, 1)
        rows = asyncio.create_task(store.questions.flush())
        assert await store.stories(["1"])
        assert not rows.done()
    await rows
    assert await store.question_latencies() == [3.0]


async def test_question_rows_are_written_together_soon_and_at_close(tmp_db, monkeypatch):
    monkeypatch.setattr("retrieval.storage.questions.QUESTIONS_EVERY", 0.05)
    store = await Store.open(tmp_db)
    store.questions.record("private", 1.0, 1)
    store.questions.record("group", 2.0, 0)
    assert table(tmp_db, "SELECT count(*) FROM questions") == [(0,)]
    await asyncio.sleep(0.2)
    assert table(tmp_db, "SELECT latency_ms FROM questions ORDER BY id") == [(1.0,), (2.0,)]
    store.questions.record("private", 3.0, 1)
    await store.close()
    assert table(tmp_db, "SELECT latency_ms FROM questions ORDER BY id") == [(1.0,), (2.0,), (3.0,)]


async def test_question_rows_wait_for_another_process_without_holding_up_reads(store, tmp_db, stories_dir,
                                                                             monkeypatch, caplog):
    """Another process writes (a replica's reload): the rows wait on a connection of their own,
    answers' reads go on, and rows that could not be written are kept for the next try."""
    monkeypatch.setattr("retrieval.storage.schema.PRAGMAS", (*PRAGMAS[:-1], "PRAGMA busy_timeout=200"))
    await store.ingest([stories_dir], ANALYZER)
    other = sqlite3.connect(tmp_db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    store.questions.record("private", 1.0, 1)
    rows = asyncio.create_task(store.questions._flush_or_warn())
    await asyncio.sleep(0.02)
    assert await store.stories(["1"]) and not rows.done()
    await rows
    assert "could not record questions for the statistics yet: database is locked" in caplog.text
    other.rollback()
    other.close()
    store.questions.record("group", 2.0, 0)
    assert await store.question_latencies() == [1.0, 2.0]

async def test_question_rows_are_written_all_or_none(store, tmp_db):
    """A try that fails partway leaves no rows behind, so the rows kept for the next try are
    written once."""
    other = sqlite3.connect(tmp_db)
    other.execute("CREATE TRIGGER busy BEFORE INSERT ON questions WHEN NEW.latency_ms = 2 "
                  "BEGIN SELECT RAISE(ABORT, 'database is locked'); END")
    other.commit()
    for latency in (1.0, 2.0, 3.0):
        store.questions.record("private", latency, 1)
    with pytest.raises(sqlite3.IntegrityError):  # what RAISE(ABORT) raises
        await store.questions.flush()
    other.execute("DROP TRIGGER busy")
    other.commit()
    other.close()
    assert await store.question_latencies() == [1.0, 2.0, 3.0]


async def test_two_processes_adding_the_same_story_store_its_passages_once(tmp_db, stories_dir):
    """Two replicas' reloads (or a reload beside `archive-bot ingest`) both read the story as new."""
    first, second = await Store.open(tmp_db), await Store.open(tmp_db)
    try:
        await asyncio.gather(first.ingest([stories_dir], ANALYZER), second.ingest([stories_dir], ANALYZER))
    finally:
        await first.close()
        await second.close()
    assert table(tmp_db, "SELECT story_id, seq, count(*) FROM passages GROUP BY story_id, seq HAVING count(*) > 1") == []


# The passages' index by story ------------------------------------------------------------------

INDEX = [("CREATE INDEX passages_by_story ON passages(story_id)",)]


def story_index(db_path: Path) -> list[tuple]:
    """The passages' index by story as the file holds it: INDEX, or none."""
    return table(db_path, "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'passages_by_story'")


def spy_on_index(monkeypatch, db_path: Path) -> list[bool]:
    """Whether the file held the index when each batch of the ingests that follow was written."""
    seen: list[bool] = []
    real = Ingest._write_batch

    async def noting(ingest, batch, book):
        seen.append(story_index(db_path) == INDEX)
        await real(ingest, batch, book)

    monkeypatch.setattr(Ingest, "_write_batch", noting)
    return seen


async def test_a_first_ingest_makes_the_index_by_story_once_after_the_passages(store, tmp_db, stories_dir,
                                                                                 monkeypatch):
    seen = spy_on_index(monkeypatch, tmp_db)
    await store.ingest([stories_dir], ANALYZER)
    assert seen and not any(seen)
    assert story_index(tmp_db) == INDEX and not tmp_db.with_name(f"{tmp_db.name}.indexing").exists()
    seen.clear()
    write_story(stories_dir, "3", "Coffee quotas were suspended.")
    await store.ingest([stories_dir], ANALYZER)  # an archive that holds passages keeps it throughout
    assert seen and all(seen)
    write_story(stories_dir, "1", "Cocoa arrivals fell in Bahia.")
    await store.ingest([stories_dir], ANALYZER, prune=True)
    assert [story for _, story, *_ in passages(tmp_db)].count("1") == 1


async def test_a_first_ingest_that_fails_partway_makes_the_index_all_the_same(store, tmp_db, stories_dir,
                                                                             monkeypatch):
    monkeypatch.setattr("retrieval.ingest.ledger.BATCH", 1)
    real = Ingest._write_batch

    async def failing(ingest, batch, book):
        if passages(tmp_db):
            raise OSError("disk full")
        await real(ingest, batch, book)

    monkeypatch.setattr(Ingest, "_write_batch", failing)
    with pytest.raises(OSError):
        await store.ingest([stories_dir], ANALYZER)
    assert passages(tmp_db) and story_index(tmp_db) == INDEX


DYING_INGEST = """
import asyncio, os, sys
from retrieval.storage.store import Store

async def main():
    store = await Store.open(sys.argv[1])
    async with store.indexed_after():
        await store.db.execute("INSERT INTO stories (id, title, body, content_hash, ingested_at)"
                               " VALUES ('1', 't', 'b', 'h', 'now')")
        await store.db.execute("INSERT INTO passages VALUES (1, '1', 0, 0, 1, 'b')")
        os._exit(3)

asyncio.run(main())
"""


async def test_an_archive_whose_first_ingest_died_has_its_index_made_when_opened(tmp_db):
    await (await Store.open(tmp_db)).close()  # a new archive file
    died = subprocess.run([sys.executable, "-c", DYING_INGEST, str(tmp_db)], cwd=Path(__file__).parents[1])
    assert died.returncode == 3
    assert story_index(tmp_db) == [] and table(tmp_db, "SELECT id FROM passages") == [(1,)]
    lock = tmp_db.with_name(f"{tmp_db.name}.indexing")
    with open(lock) as held:  # as an ingest still writing holds it: left to that ingest
        fcntl.flock(held, fcntl.LOCK_EX)
        await (await Store.open(tmp_db)).close()
        assert story_index(tmp_db) == []
    store = await Store.open(tmp_db)
    await store.close()
    assert story_index(tmp_db) == INDEX and not lock.exists()
    assert table(tmp_db, "PRAGMA integrity_check") == [("ok",)]


# Unchanged files -------------------------------------------------------------------------------


def spy_on_reading(monkeypatch) -> list[str]:
    """The names of the files the ingests that follow read."""
    read: list[str] = []
    real = intake.parts
    monkeypatch.setattr(intake, "parts", lambda files: read.extend(Path(f).name for f in files) or real(files))
    return read


async def test_a_file_unchanged_since_it_was_read_is_not_read_again(store, tmp_db, stories_dir, monkeypatch):
    lines = stories_dir / "wire.jsonl"
    lines.write_text(json.dumps({"id": "w1", "title": "Cocoa", "body": "Cocoa arrivals rose."}) + "\n")
    await store.ingest([stories_dir], ANALYZER)
    read = spy_on_reading(monkeypatch)
    report = await store.ingest([stories_dir], ANALYZER, prune=True)
    assert read == []
    assert (report.files, report.unchanged, report.removed) == (3, 3, 0)
    write_story(stories_dir, "2", "Peskov said NATO cannot be stopped, again.")
    report = await store.ingest([stories_dir], ANALYZER, prune=True)
    assert read == ["2.txt"]
    assert (report.updated, report.unchanged) == (1, 2)
    assert bodies(tmp_db)["2"] == "Peskov said NATO cannot be stopped, again."


async def test_a_file_changed_between_hashing_and_reading_is_not_remembered(store, tmp_db, stories_dir,
                                                                              monkeypatch):
    """Else, changed back, it would be taken for unchanged, and the archive keep what was read."""
    original = (stories_dir / "2.txt").read_text(encoding="utf-8")
    real, calls = ledger.digests, []

    def digests_then_edit(files):
        found = real(files)
        if not calls:
            write_story(stories_dir, "2", "Peskov said nothing.")
        calls.append(files)
        return found

    monkeypatch.setattr(ledger, "digests", digests_then_edit)
    await store.ingest([stories_dir], ANALYZER)
    assert bodies(tmp_db)["2"] == "Peskov said nothing."
    (stories_dir / "2.txt").write_text(original, encoding="utf-8")
    await store.ingest([stories_dir], ANALYZER)
    assert bodies(tmp_db)["2"] == "Peskov said NATO cannot be stopped.\n\nThe Kremlin agreed."


async def test_a_broken_file_is_read_and_reported_every_time(store, stories_dir, monkeypatch):
    (stories_dir / "bad.jsonl").write_text('{"id": "b1", "title": "T", "body": "Cocoa."}\n{broken\n')
    await store.ingest([stories_dir], ANALYZER)
    read = spy_on_reading(monkeypatch)
    report = await store.ingest([stories_dir], ANALYZER)
    assert read == ["bad.jsonl"] and report.failed == 1


async def test_a_story_moved_to_another_file_makes_its_old_file_read_again(store, tmp_db, tmp_path, monkeypatch):
    folder = tmp_path / "stories"
    write_story(folder, "1", "Cocoa arrivals rose.", name="a.txt")
    await store.ingest([folder], ANALYZER)
    write_story(folder, "1", "Coffee exports fell.", name="b.txt")  # after a.txt: its copy wins
    await store.ingest([folder / "b.txt"], ANALYZER)
    read = spy_on_reading(monkeypatch)
    await store.ingest([folder], ANALYZER)
    assert read == ["a.txt"]  # b.txt is unchanged; a.txt no longer holds what is stored
    assert bodies(tmp_db) == {"1": "Coffee exports fell."}


_STEP = st.one_of(
    st.tuples(st.just("write"), st.integers(0, 2),
              st.lists(st.tuples(st.sampled_from("wxyz"), st.sampled_from(["Cocoa rose.", "Tin held."])), max_size=3)),
    st.tuples(st.just("delete"), st.integers(0, 2)),
    st.tuples(st.just("ingest"), st.booleans(), st.sampled_from(["all", 0, 1, 2])))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_STEP, min_size=1, max_size=8))
@example(steps=[("write", 0, [("w", "Tin held.")]), ("ingest", False, "all"),  # w stays without prune...
                ("write", 0, [("x", "Tin held.")]), ("ingest", False, "all")])  # ...so 0.jsonl is not all
async def test_skipping_unchanged_files_gives_the_archive_reading_them_all_gives(tmp_path, steps):
    """Two stores take the same ingests of the same edited files; the second forgets before each
    ingest which files it holds exactly, so it reads every file every time."""
    case = tmp_path / f"case-{uuid.uuid4().hex}"
    files = [case / "wire" / f"{n}.jsonl" for n in range(3)]
    files[0].parent.mkdir(parents=True)
    skipping, reading = await Store.open(case / "skip.sqlite"), await Store.open(case / "read.sqlite")
    try:
        for step in [*steps, ("ingest", True, "all")]:
            if step[0] == "write":
                files[step[1]].write_text("".join(json.dumps({"id": i, "title": "T", "body": b}) + "\n"
                                                  for i, b in step[2]))
            elif step[0] == "delete":
                files[step[1]].unlink(missing_ok=True)
            else:
                paths = [files[0].parent] if step[2] == "all" else [files[step[2]]]
                await reading.db.execute("DELETE FROM files")
                reports = [await s.ingest(paths, ANALYZER, prune=step[1]) for s in (skipping, reading)]
                assert reports[0].removed == reports[1].removed
                held = 'SELECT id, body, origin FROM stories ORDER BY id'
                assert table(case / "skip.sqlite", held) == table(case / "read.sqlite", held)
    finally:
        await skipping.close()
        await reading.close()


def test_an_article_s_columns_are_the_first_of_its_story_row():
    # the writer makes a StoryRow from an ArticleColumns by position
    assert StoryRow._fields[:len(intake.ArticleColumns._fields)] == intake.ArticleColumns._fields
