"""What every handler needs, built once with the `Application` and kept in `bot_data`."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram.ext import ContextTypes

from bot.config import Settings
from bot.limits import Allowlist, SenderRateLimit
from retrieval import ArchiveService, Inbox


@dataclass
class Runtime:
    service: ArchiveService
    settings: Settings
    inbox: Inbox
    rate_limit: SenderRateLimit = field(init=False)
    allowlist: Allowlist = field(init=False)
    failures: dict[int, Exception] = field(default_factory=dict)
    """The error that stopped the handling of an update, by update id, noted by the error handler
    for the dispatcher (bot/dispatch.py), which takes it out when the handling is through."""

    def __post_init__(self) -> None:
        self.rate_limit = SenderRateLimit(self.settings.rate_limit_per_minute)
        self.allowlist = Allowlist(self.settings.allowed_chats, self.settings.admin_ids)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.admin_ids


def runtime(context: ContextTypes.DEFAULT_TYPE) -> Runtime:
    return context.bot_data["runtime"]
