"""Who may ask and how often: the chat allowlist and a per-sender rate limit."""

from __future__ import annotations

import time
from collections import OrderedDict, deque


class SenderRateLimit:
    """At most `per_minute` questions per sender in any 60 seconds; 0 means no limit."""

    def __init__(self, per_minute: int, window: float = 60.0, max_senders: int = 100_000) -> None:
        self.per_minute = per_minute
        self.window = window
        self.max_senders = max_senders
        self._asked: OrderedDict[int, deque[float]] = OrderedDict()

    def check(self, sender: int, now: float | None = None) -> float:
        """0 if `sender` may ask now (and counts the question), else seconds until they may."""
        if not self.per_minute:
            return 0.0
        now = time.monotonic() if now is None else now
        times = self._asked.pop(sender, None) or deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        self._asked[sender] = times  # most recently seen last, for eviction
        if len(self._asked) > self.max_senders:
            self._asked.popitem(last=False)
        if len(times) >= self.per_minute:
            return self.window - (now - times[0])
        times.append(now)
        return 0.0


class Allowlist:
    """Chats (and users) the bot serves; empty means everyone. Admins are always served."""

    def __init__(self, chats: frozenset[int], admins: frozenset[int]) -> None:
        self.chats = chats
        self.admins = admins

    def allows(self, chat_id: int | None, user_id: int | None) -> bool:
        return (not self.chats or chat_id in self.chats or user_id in self.chats
                or user_id in self.admins)
