"""Answering from the inbox: every update the bot handles was stored there first (bot/polling.py,
bot/webhook.py); the dispatcher claims stored rows oldest first, hands each to the `Application`,
and marks it done when its handlers are through.

A row is done when its answer went out, or failed for good (the user blocked the bot, the chat is
gone, a bug: the error handler apologised), and also after a timeout, since the message may well
have been sent. A row whose handling met a passing fault (the Bot API down past the retries of
bot/delivery.py) is given back and tried again a little later, MAX_ATTEMPTS times at most. Rows
older than INBOX_MAX_AGE are dropped with a log line instead of answering a stale question.

Killed while answering, the process leaves its claimed rows to the lease: LEASE seconds after its
last renewal they are claimed again, by the restarted process or another replica, and answered
then (those whose answer had already gone out, twice). The same happens to a row whose done mark
or give-back cannot be written: only the rows in hand are renewed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Awaitable
from typing import TypeVar

from telegram import Update
from telegram.ext import Application

from bot.delivery import is_transient
from bot.runtime import runtime
from retrieval import Inbox, InboxRow

log = logging.getLogger(__name__)
T = TypeVar("T")

CONCURRENT_UPDATES = 64
"""Updates handled at once."""
LEASE = 15.0
"""Seconds a claim lasts unless renewed; renewed every LEASE / 3 while the process lives."""
CLAIM_EVERY = 1.0
"""Seconds between looks for rows nobody announced: another replica's, or a dead process's."""
RETRY_DELAY = 5.0
"""Seconds before a row whose handling met a passing fault is tried again."""
MAX_ATTEMPTS = 5
"""Claims of one row before it is dropped (a fault that does not pass, or an update that kills
the process each time)."""
KEEP_DONE = 86_400.0
"""Seconds answered rows are kept, so that a redelivery is known: Telegram keeps an update a day."""
TRIM_EVERY = 3600.0


class Dispatcher:
    """Claims rows of `inbox` and answers them through `app`, CONCURRENT_UPDATES at a time, from
    `start` until `close`."""

    def __init__(self, app: Application, inbox: Inbox, max_age: float) -> None:
        self.app = app
        self.inbox = inbox
        self.max_age = max_age
        self._wake = asyncio.Event()
        self._closing = False
        self._announced = False  # rows were stored since the last claim
        self._full = False  # the last claim filled every free place: more rows may be due
        self._running: dict[asyncio.Task, int] = {}  # the update id each task answers
        self._answered: list[int] = []  # waiting for their done mark, written a turn at a time
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        """New rows are in the inbox: claim them now rather than at the next look."""
        self._announced = True
        self._wake.set()

    async def close(self) -> None:
        """Claim no more; wait for the updates being answered."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        """Until closed and every claimed update is answered: claims while not closing, and
        lease renewals while any row is held (a /reload under way at a SIGTERM keeps its own)."""
        trimmed = looked = renewed = -math.inf
        while not self._closing or self._running:
            self._wake.clear()  # before the writes: a wake during them makes another turn
            now = time.monotonic()
            if now - trimmed >= TRIM_EVERY:
                trimmed = now
                await self._trim()
            looking = now - looked >= CLAIM_EVERY
            if looking:
                looked = now
                await self._drop()
            if now - renewed >= LEASE / 3:
                renewed = now
                held = [*self._running.values(), *self._answered]
                await _guarded(self.inbox.renew(held), "renew the inbox leases")
            await self._mark_answered()
            if not self._closing and (self._announced or self._full or looking):
                self._announced = False
                await _guarded(self._claim(), "claim updates from the inbox")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), CLAIM_EVERY)
        await self._mark_answered()

    async def _drop(self) -> None:
        dropped = await _guarded(self.inbox.drop(self.max_age, MAX_ATTEMPTS), "drop stale updates")
        for update_id in dropped.stale if dropped else ():
            log.warning("dropped update %d from the inbox: older than INBOX_MAX_AGE (%.0f s), "
                        "too late to answer", update_id, self.max_age)
        for update_id in dropped.exhausted if dropped else ():
            log.warning("dropped update %d from the inbox: tried %d times", update_id, MAX_ATTEMPTS)

    async def _claim(self) -> None:
        free = CONCURRENT_UPDATES - len(self._running)
        if free <= 0:
            return
        rows = await self.inbox.claim(free, self.max_age, MAX_ATTEMPTS)
        self._full = len(rows) == free
        for row in rows:
            task = asyncio.get_running_loop().create_task(self._answer(row))
            self._running[task] = row.update_id
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        del self._running[task]
        self._wake.set()  # its done mark, and a free place for rows left waiting

    async def _mark_answered(self) -> None:
        answered, self._answered = self._answered, []
        if answered and await _guarded(self.inbox.done(answered), "mark updates answered") is None:
            self._answered = answered + self._answered  # tried again next turn; the lease holds

    async def _answer(self, row: InboxRow) -> None:
        """Handle one row's update; then it waits for its done mark, or is given back when a
        passing fault stopped it."""
        try:
            await self.app.process_update(Update.de_json(json.loads(row.payload), self.app.bot))
        except Exception:  # the update cannot be read: answering it again would not help
            log.exception("update %d in the inbox could not be handled", row.update_id)
        error = runtime(self.app).failures.pop(row.update_id, None)
        if error is not None and is_transient(error):
            await _guarded(self.inbox.retry_later(row.update_id, RETRY_DELAY), "give an update back")
        else:
            self._answered.append(row.update_id)

    async def _trim(self) -> None:
        if trimmed := await _guarded(self.inbox.trim(KEEP_DONE), "trim the inbox"):
            log.info("trimmed %d answered updates from the inbox", trimmed)


async def _guarded(work: Awaitable[T], what: str) -> T | None:
    """`work`'s result; None, with a warning, if the inbox file cannot do it now (the lease and
    the next claim make up for a missed write)."""
    try:
        return await work
    except Exception as error:
        log.warning("could not %s: %s", what, error)
        return None
