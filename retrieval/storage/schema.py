"""The schemas of the archive file and of its inbox file beside it: their migrations, the settings
of every connection, and the rows the store writes and reads, named."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import aiosqlite
import numpy as np


class ArchiveError(RuntimeError):
    """The archive file cannot be used by this program (e.g. made by a newer version)."""


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
    # the language a story is analyzed in (an ISO 639-1 code); NULL: not yet known (re-analysis decides)
    """
    ALTER TABLE stories ADD COLUMN language TEXT;
    """,
    # the stories read from each file, counted at every ingest: without it a count read the whole
    # table, bodies and all (3.8 s at ten million passages, twice a reload)
    """
    CREATE INDEX stories_by_origin ON stories(origin);
    """,
]

INBOX_MIGRATIONS: list[str] = [
    # every update as the Bot API sent it, until it is answered (inbox.py says the states)
    """
    CREATE TABLE inbox (
        update_id INTEGER PRIMARY KEY,
        payload TEXT NOT NULL,
        received_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'done', 'dropped')),
        owner TEXT,
        not_before REAL NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        finished_at REAL
    );
    CREATE INDEX inbox_open ON inbox(received_at, update_id) WHERE state IN ('pending', 'claimed');
    CREATE INDEX inbox_finished ON inbox(finished_at) WHERE state IN ('done', 'dropped');
    """,
]
"""The inbox file's (retrieval/storage/inbox.py): unix times in seconds; `not_before` is when a
claimed row's lease ends, or when a pending row may be tried again."""

STORY_INDEX = "passages_by_story"
"""The passages' index by story (the first migration makes it): a first ingest into an archive
without passages writes them without it and makes it once, after (`Store.indexed_after`)."""
MAKE_STORY_INDEX = f"CREATE INDEX IF NOT EXISTS {STORY_INDEX} ON passages(story_id)"
HAS_STORY_INDEX = f"SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = '{STORY_INDEX}')"

PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL",
           "PRAGMA busy_timeout=5000")
"""Set on every connection to the archive file."""


class StoryRow(NamedTuple):
    """The columns of a story as an ingest writes it."""

    id: str
    title: str
    date: str | None
    url: str | None
    source: str | None
    metadata: str
    body: str
    content_hash: str
    origin: str | None
    """The file it was read from."""
    ingested_at: str
    title_terms: str
    source_hash: str | None
    """The digest of the JSON line it was read from."""
    language: str
    """The language its terms were analyzed in (ISO 639-1)."""


UPSERT_STORY = (f"INSERT INTO stories ({', '.join(StoryRow._fields)}) VALUES ({', '.join('?' * len(StoryRow._fields))})"
                " ON CONFLICT(id) DO UPDATE SET "
                + ", ".join(f"{name} = excluded.{name}" for name in StoryRow._fields if name != "id"))


class PassageRow(NamedTuple):
    """A passage as stored: `story.body[start:end]` analyzed into `terms` (space-separated)."""

    id: int
    story_id: str
    seq: int
    start: int
    end: int
    terms: str


INSERT_PASSAGE = 'INSERT INTO passages (id, story_id, seq, start, "end", terms) VALUES (?, ?, ?, ?, ?, ?)'


@dataclass(frozen=True)
class PassageColumns:
    """Passages in id order, column by column: passage i of the columns is document i of an index
    built from `texts` (each passage's terms, space-separated)."""

    ids: np.ndarray        # int64
    story_ids: list[str]
    starts: np.ndarray     # int32
    ends: np.ndarray       # int32
    texts: list[str]

    @classmethod
    def from_rows(cls, rows: list[tuple[int, str, int, int, str]]) -> PassageColumns:
        """From stored rows (id, story id, start, end, terms)."""
        ids, story_ids, starts, ends, texts = zip(*rows) if rows else ((),) * 5
        count = len(rows)
        return cls(np.fromiter(ids, dtype=np.int64, count=count), list(story_ids),
                   np.fromiter(starts, dtype=np.int32, count=count), np.fromiter(ends, dtype=np.int32, count=count),
                   list(texts))


async def connect(path: Path) -> aiosqlite.Connection:
    """A connection to the archive file with PRAGMAS set; transactions are explicit."""
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            await db.execute(pragma)
    except Exception:
        await db.close()
        raise
    return db


async def migrate(db: aiosqlite.Connection, migrations: list[str] = MIGRATIONS, what: str = "archive file") -> None:
    """Bring the file's schema up to this program's `migrations`; refuse one made by a newer
    program (`what` names the file in that message)."""
    async with db.execute("PRAGMA user_version") as cursor:
        (version,) = await cursor.fetchone()
    if version > len(migrations):
        raise ArchiveError(f"the {what} has schema version {version}, newer than this "
                           f"program knows ({len(migrations)}): upgrade archive-bot")
    for number, script in enumerate(migrations[version:], start=version + 1):
        await db.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")


def chunks(items: list, size: int = 900) -> list[list]:
    """`items` in lists of at most `size`: SQLite caps the values bound in one statement."""
    return [items[start:start + size] for start in range(0, len(items), size)]


def utc_now() -> str:
    """Now, as the file's time columns hold it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
