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
then (those whose answer had already gone out, twice).
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
        self._full = False  # the last claim filled every free place: more rows may be due
        self._running: set[asyncio.Task] = set()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        """New rows are in the inbox: claim them now rather than at the next look."""
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
        renewed = trimmed = -math.inf
        while not self._closing or self._running:
            self._wake.clear()  # before the claim: a wake during it makes another one
            if time.monotonic() - trimmed >= TRIM_EVERY:
                trimmed = time.monotonic()
                await self._trim()
            if time.monotonic() - renewed >= LEASE / 3:
                renewed = time.monotonic()
                await _guarded(self.inbox.renew(), "renew the inbox leases")
            if not self._closing:
                await _guarded(self._claim(), "claim updates from the inbox")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), CLAIM_EVERY)

    async def _claim(self) -> None:
        free = CONCURRENT_UPDATES - len(self._running)
        if free <= 0:
            return
        claimed = await self.inbox.claim(free, self.max_age, MAX_ATTEMPTS)
        self._full = len(claimed.rows) == free
        for update_id in claimed.stale:
            log.warning("dropped update %d from the inbox: older than INBOX_MAX_AGE (%.0f s), "
                        "too late to answer", update_id, self.max_age)
        for update_id in claimed.exhausted:
            log.warning("dropped update %d from the inbox: tried %d times", update_id, MAX_ATTEMPTS)
        for row in claimed.rows:
            task = asyncio.get_running_loop().create_task(self._answer(row))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        if self._full or self._closing:  # a place is free for rows left waiting; or the last one is done
            self._wake.set()

    async def _answer(self, row: InboxRow) -> None:
        """Handle one row's update; done, or given back when a passing fault stopped it."""
        try:
            await self.app.process_update(Update.de_json(json.loads(row.payload), self.app.bot))
        except Exception:  # the update cannot be read: answering it again would not help
            log.exception("update %d in the inbox could not be handled", row.update_id)
        error = runtime(self.app).failures.pop(row.update_id, None)
        if error is not None and is_transient(error):
            await _guarded(self.inbox.retry_later(row.update_id, RETRY_DELAY), "give an update back")
        else:
            await _guarded(self.inbox.done(row.update_id), "mark an update answered")

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
