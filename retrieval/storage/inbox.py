"""The inbox: every update a bot receives, kept in a SQLite file beside the archive's until it is
answered, so that an update Telegram was told it delivered is never lost with the process. One
inbox file per bot: update ids are a bot's own, and a bot can answer only its own chats.

Updates are opaque here: an id and the JSON text the Bot API sent. A row is `pending` when
stored; `claimed` by one process (its `owner`) for a lease it renews while it answers; then
`done`, or `dropped` when too old or tried too often. Several processes may share one inbox file
(webhook replicas on one archive): a claim is one UPDATE, one write transaction, so a row goes to
one of them. Every write here is one statement, and so a transaction of its own.

Why a file of its own and not a table in the archive's: SQLite lets one writer at a time into a
file, and the archive's writers hold it long (an ingest's batches; a snapshot save writes hundreds
of megabytes in one transaction). Every update waits for its inbox write before Telegram hears it
arrived, and questions must keep being answered during a reload.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import aiosqlite

from retrieval.storage.schema import INBOX_MIGRATIONS, connect, migrate

_DUE = "state IN ('pending', 'claimed') AND not_before <= ?"
"""The rows not yet answered (the condition of the `inbox_open` index) whose time has come: pending
ones (given back ones after their delay) and claimed ones whose lease ran out."""


class InboxRow(NamedTuple):
    """A claimed update: its id, its JSON text, and how many times it has been claimed, this one
    included."""

    update_id: int
    payload: str
    attempts: int


class Dropped(NamedTuple):
    """The ids `drop` dropped, as older than the maximum age (`stale`) or tried too often
    (`exhausted`)."""

    stale: list[int]
    exhausted: list[int]


@dataclass(frozen=True)
class InboxCounts:
    """Rows by state: `pending` includes claimed ones; `answered` are done."""

    pending: int
    answered: int
    dropped: int


class Inbox:
    """The inbox file of one bot on one archive. Open with `await Inbox.open(archive_path, bot_id)`;
    close when done. `owner` names this process's claims."""

    def __init__(self, db: aiosqlite.Connection, path: Path, lease: float, clock: Callable[[], float]) -> None:
        self.db = db
        self.path = path
        self.lease = lease
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._clock = clock

    @classmethod
    async def open(cls, archive: str | Path, bot_id: int, lease: float = 15.0,
                   clock: Callable[[], float] = time.time) -> Inbox:
        """The inbox of bot `bot_id` beside the archive file `archive` (in memory for an archive
        in memory), created if absent. A claim holds a row for `lease` seconds unless renewed;
        `clock` tells the time (unix seconds)."""
        path = inbox_path(archive, bot_id)
        db = await connect(path)
        try:
            await migrate(db, INBOX_MIGRATIONS, "inbox file")
        except Exception:
            await db.close()
            raise
        return cls(db, path, lease, clock)

    async def close(self) -> None:
        await self.db.close()

    async def add(self, updates: Sequence[tuple[int, str]]) -> int:
        """Store `updates` (id, JSON text) in one transaction; an id the inbox holds already
        (in any state) is left as it is. How many were new."""
        # one statement whatever the batch's size (a statement is a transaction of its own): the
        # batch goes in as one JSON array of [id, text] pairs
        cursor = await self.db.execute(
            "INSERT OR IGNORE INTO inbox (update_id, payload, received_at)"
            " SELECT value ->> 0, value ->> 1, ? FROM json_each(?)",
            (self._clock(), json.dumps([[update_id, payload] for update_id, payload in updates])))
        return cursor.rowcount

    async def drop(self, max_age: float, max_attempts: int) -> Dropped:
        """Drop the rows not answered that were received more than `max_age` seconds ago, or
        claimed `max_attempts` times already, and are not held by a live claim."""
        now = self._clock()
        dropped = await self.db.execute_fetchall(
            "UPDATE inbox SET state = 'dropped', owner = NULL, finished_at = ?"
            f" WHERE {_DUE} AND (received_at < ? OR attempts >= ?) RETURNING update_id, received_at < ?",
            (now, now, now - max_age, max_attempts, now - max_age))
        return Dropped(sorted(update_id for update_id, stale in dropped if stale),
                       sorted(update_id for update_id, stale in dropped if not stale))

    async def claim(self, limit: int, max_age: float, max_attempts: int) -> list[InboxRow]:
        """Claim up to `limit` rows for this process, oldest first: pending ones due, and claimed
        ones whose lease ran out (their process died). Rows that `drop` would drop are left."""
        now = self._clock()
        rows = await self.db.execute_fetchall(
            "UPDATE inbox SET state = 'claimed', owner = ?, not_before = ?, attempts = attempts + 1"
            f" WHERE update_id IN (SELECT update_id FROM inbox WHERE {_DUE} AND received_at >= ? AND attempts < ?"
            " ORDER BY received_at, update_id LIMIT ?) RETURNING received_at, update_id, payload, attempts",
            (self.owner, now + self.lease, now, now - max_age, max_attempts, limit))
        return [InboxRow(*row[1:]) for row in sorted(rows)]  # RETURNING gives rows in no promised order

    async def renew(self, update_ids: Sequence[int]) -> None:
        """Extend the lease of those of `update_ids` this process holds."""
        await self.db.execute(
            "UPDATE inbox SET not_before = ? WHERE state = 'claimed' AND owner = ?"
            " AND update_id IN (SELECT value FROM json_each(?))",
            (self._clock() + self.lease, self.owner, json.dumps(list(update_ids))))

    async def done(self, update_ids: Sequence[int]) -> int:
        """Mark rows answered (or failed for good: nothing more is to be done for them); how many."""
        cursor = await self.db.execute(
            "UPDATE inbox SET state = 'done', owner = NULL, finished_at = ?"
            " WHERE update_id IN (SELECT value FROM json_each(?))", (self._clock(), json.dumps(list(update_ids))))
        return cursor.rowcount

    async def retry_later(self, update_id: int, delay: float) -> None:
        """Give a claimed row back, to be claimed again (by any process) after `delay` seconds."""
        await self.db.execute("UPDATE inbox SET state = 'pending', owner = NULL, not_before = ?"
                              " WHERE update_id = ? AND state = 'claimed'", (self._clock() + delay, update_id))

    async def trim(self, keep: float) -> int:
        """Delete done and dropped rows finished more than `keep` seconds ago; how many."""
        cursor = await self.db.execute(
            "DELETE FROM inbox WHERE state IN ('done', 'dropped') AND finished_at < ?", (self._clock() - keep,))
        return cursor.rowcount

    async def counts(self) -> InboxCounts:
        """How many rows wait, were answered and were dropped."""
        rows = dict(await self.db.execute_fetchall("SELECT state, count(*) FROM inbox GROUP BY state"))
        return InboxCounts(rows.get("pending", 0) + rows.get("claimed", 0), rows.get("done", 0),
                           rows.get("dropped", 0))


def inbox_path(archive: str | Path, bot_id: int) -> Path:
    """The inbox file of bot `bot_id` on the archive file `archive`: data/archive.sqlite →
    data/archive.inbox-123456.sqlite."""
    archive = Path(archive)
    if str(archive) == ":memory:":
        return archive
    return archive.with_name(f"{archive.stem}.inbox-{bot_id}{archive.suffix}")
