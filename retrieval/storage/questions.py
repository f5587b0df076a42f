"""The question log: a row per answered question (when, which kind of chat, how long, how many
citations, the text only if asked to keep it), written a second at a time, for the statistics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from retrieval.storage.schema import utc_now

if TYPE_CHECKING:
    from retrieval.storage.store import Store

log = logging.getLogger(__name__)

QUESTIONS_EVERY = 1.0
"""Seconds a question's statistics row may wait, to be written with the others of that time: one
call to SQLite's thread a second instead of one a question, each a turn at the interpreter lock."""
QUESTIONS_KEPT = 100_000
"""Question rows kept in memory while they cannot be written."""



class QuestionLog:
    """Question rows noted in memory and written soon after into `store`, on a connection of
    their own, while holding its `saving` lock (written during a snapshot save, they would wait
    out SQLite's busy timeout behind this process's own write)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._rows: list[tuple] = []  # not yet written
        self._writing: asyncio.Task | None = None

    def record(self, chat_type: str, latency_ms: float, citations: int, question: str | None = None) -> None:
        """Note an answered question. Its row is written within QUESTIONS_EVERY seconds, with the
        others noted meanwhile (`flush`: at once)."""
        self._rows.append((utc_now(), chat_type, latency_ms, citations, question))
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_soon())

    async def flush(self) -> None:
        """Write the rows noted so far (after a snapshot save, if one runs): while they wait for
        another process's write (a replica's reload), answers' reads do not wait behind them.
        Rows that cannot be written are kept for the next try, the newest QUESTIONS_KEPT of them."""
        async with self._store.saving:
            rows, self._rows = self._rows, []
            if not rows:
                return
            try:
                # all rows or none: a failed try must not leave some written and keep them too
                async with self._store.bulk() as db, self._store.transaction(db):
                    await db.executemany(
                        "INSERT INTO questions (asked_at, chat_type, latency_ms, citations, question)"
                        " VALUES (?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._rows = (rows + self._rows)[-QUESTIONS_KEPT:]
                raise

    async def close(self) -> None:
        """Stop waiting and write what is noted, or say why it cannot be."""
        if self._writing is not None:
            self._writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writing
        await self._flush_or_warn()

    async def _write_soon(self) -> None:
        await asyncio.sleep(QUESTIONS_EVERY)
        self._writing = None
        await self._flush_or_warn()

    async def _flush_or_warn(self) -> None:
        try:
            await self.flush()
        except Exception as error:  # the answers went out; the rows wait for the next try
            log.warning("could not record questions for the statistics yet: %s", error)
