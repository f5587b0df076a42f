"""Talking to the Bot API through failures: Telegram's flood limits and passing network faults."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)


def is_transient(error: Exception) -> bool:
    """A fault worth retrying: the request surely did not take effect (a 5xx, a dropped
    connection, a garbled response). A timeout is not: the message may have been sent."""
    if isinstance(error, (TimedOut, BadRequest)):
        return False
    return isinstance(error, NetworkError) or type(error) is TelegramError


class ResilientRateLimiter(AIORateLimiter):
    """`AIORateLimiter` (Telegram's limits, `RetryAfter` honoured) that also retries transient
    faults with a short backoff. Long polling is left to the updater's own retry loop."""

    def __init__(self, retries: int = 4, backoff: float = 0.25, **kwargs: Any) -> None:
        super().__init__(max_retries=kwargs.pop("max_retries", 5), **kwargs)
        self.retries = retries
        self.backoff = backoff

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):  # type: ignore[override]
        attempt = 0
        while True:
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except TelegramError as error:
                if endpoint == "getUpdates" or not is_transient(error) or attempt >= self.retries:
                    raise
                attempt += 1
                log.warning("%s failed (%s); retry %d of %d", endpoint, error, attempt, self.retries)
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
