"""Long polling into the inbox: each batch getUpdates returns is stored in one transaction before
the next getUpdates, whose offset tells Telegram the batch arrived, is sent. A batch that cannot
be stored is not confirmed: it comes again with the next call.

This replaces python-telegram-bot's `Updater`, which confirms a batch with its next call while
the batch's questions are still being answered: a crash in between lost them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from telegram import Bot, Update

from retrieval import Inbox

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 5.0
"""Seconds to wait after a failed getUpdates or inbox write: doubling from the first to the
most, back to the first after a success."""


async def poll(bot: Bot, inbox: Inbox, stored: Callable[[], None], timeout: float) -> None:
    """Fetch updates for ever (cancel to stop), store each batch in `inbox` and call `stored()`.
    `timeout`: the seconds one getUpdates may wait for updates."""
    offset: int | None = None
    delay = BACKOFF_FIRST
    while True:
        try:
            updates = await bot.get_updates(offset=offset, timeout=int(timeout), allowed_updates=Update.ALL_TYPES)
            if updates:
                await inbox.add([(update.update_id, update.to_json()) for update in updates])
                offset = updates[-1].update_id + 1
                stored()
        except Exception as error:  # the Bot API or the inbox file: both come back, in time
            log.warning("getUpdates or storing its updates failed (%s); polling goes on in %.1f s",
                        error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)
            continue
        delay = BACKOFF_FIRST
