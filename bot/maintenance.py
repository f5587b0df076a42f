"""Health checks, backups and restores: what `archive-bot health|backup|restore` and the HTTP
health path do. The SQLite work itself lives in `retrieval.storage.backup`; this module adds the bot's
side (the token check with getMe) and keeps every message to one line without the token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.config import Settings
from retrieval import (AnswerKind, ArchiveService, FileCheck, Inbox, backup_archive, check_archive,
                       restore_archive)

GETME_TIMEOUT = 10.0
"""Seconds to wait for the Bot API's answer to getMe."""


@dataclass
class Health:
    """The outcome of a health check: healthy or not, and the findings that say why."""

    ok: bool = True
    findings: list[str] = field(default_factory=list)

    def add(self, ok: bool, finding: str) -> None:
        self.ok = self.ok and ok
        self.findings.append(finding)

    def line(self, secrets: list[str | None] = ()) -> str:
        """One line: "healthy: ..." or "unhealthy: ...", with every secret redacted."""
        text = ("healthy: " if self.ok else "unhealthy: ") + "; ".join(self.findings)
        return redact(" ".join(text.split()), secrets)


def redact(text: str, secrets: list[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


async def check_health(settings: Settings, offline: bool = False) -> Health:
    """`archive-bot health`: the archive file opens and passes `quick_check`, its index loads and
    answers the archive's example question, the bot's inbox is read (with a token to tell the
    bot), and (unless `offline`) getMe accepts the token. An empty archive is healthy, and the line says it is empty. Never raises."""
    health = Health()
    try:
        found = await asyncio.to_thread(check_archive, settings.db_path, True)
        if not found.ok:
            health.add(False, f"archive {found.summary()}")
            return health
        service = await ArchiveService.open(settings.db_path, settings.retrieval)
        try:
            await check_service(service, health)
        finally:
            await service.close()
        if settings.token:
            inbox = await Inbox.open(settings.db_path, settings.bot_id)
            try:
                await check_inbox(inbox, health)
            finally:
                await inbox.close()
        if not offline:
            await check_token(settings, health)
    except Exception as error:  # a health check reports, it never crashes
        health.add(False, f"{type(error).__name__}: {error}")
    return health


async def check_service(service: ArchiveService, health: Health) -> None:
    """The archive answers: the database is read, the index is in service and finds the
    archive's own example question (the newest story's title)."""
    counts = await service.counts()
    passages = service.passages
    if not passages:
        health.add(True, f"archive is empty ({_count(counts['stories'], 'story', 'stories')} stored):"
                         " ingest some stories or /reload")
        return
    question = service.example_question()
    answer = await service.ask(question, k=1)
    if not answer.citations and answer.kind is not AnswerKind.NO_WORDS:
        health.add(False, f"the index ({passages:,} passages) found nothing for the archive's own "
                          f"example question {question!r}")
        return
    health.add(True, f"archive {_count(counts['stories'], 'story', 'stories')}, index "
                     f"{_count(passages, 'passage', 'passages')}, example question answered in "
                     f"{answer.took_ms:.0f} ms")


async def check_inbox(inbox: Inbox, health: Health) -> None:
    """What the inbox holds: updates waiting, answered (the last day's), dropped."""
    counts = await inbox.counts()
    health.add(True, f"inbox {counts.pending:,} pending, {counts.answered:,} answered, {counts.dropped:,} dropped")


async def check_token(settings: Settings, health: Health) -> None:
    """getMe with the token, at TELEGRAM_BASE_URL when set."""
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut

    from bot.http import AiohttpRequest

    if not settings.token:
        health.add(False, "TELEGRAM_BOT_TOKEN is not set (--offline skips the token check)")
        return
    request = AiohttpRequest(1, connect_timeout=5, read_timeout=GETME_TIMEOUT, pool_timeout=5)
    await request.initialize()
    kwargs = {"base_url": settings.base_url} if settings.base_url else {}
    bot = Bot(settings.token, request=request, **kwargs)
    try:
        me = await bot.get_me()
        health.add(True, f"token ok (@{me.username})")
    except InvalidToken:
        health.add(False, "the Bot API rejected the token (getMe: Unauthorized)")
    except TimedOut:
        health.add(False, f"the Bot API did not answer getMe within {GETME_TIMEOUT:.0f} s")
    except NetworkError as error:
        health.add(False, f"cannot reach the Bot API: {error}")
    except TelegramError as error:
        health.add(False, f"getMe failed: {error}")
    finally:
        await request.shutdown()


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


async def backup(settings: Settings, target: str) -> FileCheck:
    """A consistent copy of the live archive, made in a thread. Raises `BackupError`."""
    return await asyncio.to_thread(backup_archive, settings.db_path, target)


async def restore(settings: Settings, source: str) -> tuple[FileCheck, object]:
    """Put a checked backup in place of the archive (no process may have it open)."""
    return await asyncio.to_thread(restore_archive, source, settings.db_path)
