"""Admin commands: /reload the archive from ARCHIVE_PATHS, /stats, and story files sent as documents."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from pathlib import Path

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.render import Html, pack
from bot.runtime import runtime
from retrieval import SUFFIXES, IngestReport, Problem, read_file, ReloadInProgress

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0
"""Seconds between edits of the progress message."""
MAX_PROBLEMS_SHOWN = 20
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024  # the Bot API's download limit


async def refuse_unless_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """True for an admin; anyone else gets a polite refusal and the attempt is logged."""
    user = update.effective_user
    if runtime(context).is_admin(user and user.id):
        return False
    log.warning("refused admin action from user %s in chat %s", user and user.id, update.effective_chat.id)
    await update.effective_message.reply_text("Sorry, only the bot's admins can do that.")
    return True


async def reload_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reload: re-read ARCHIVE_PATHS, showing progress in one edited message."""
    if await refuse_unless_admin(update, context):
        return
    rt = runtime(context)
    if rt.service.reloading:
        await update.effective_message.reply_text("A reload is already running; wait for its summary.")
        return
    status = await update.effective_message.reply_text("Reloading the archive…")
    progress = _ProgressMessage(status)
    try:
        report = await rt.service.ingest(rt.settings.archive_paths, prune=True, progress=progress.update)
    except ReloadInProgress:
        await _edit(status, "A reload is already running; wait for its summary.")
        return
    except Exception as error:
        log.exception("reload failed")
        await _edit(status, f"Reload failed: {error}. The previous archive is still in service.")
        return
    finally:
        await progress.close()
    first, *rest = _report(report, await rt.service.stats(), "Reload done")
    await _edit(status, first, html_mode=True)
    for text in rest:
        await status.reply_html(text, do_quote=False)


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: what the archive holds, how fast it answers, and what its inbox holds."""
    if await refuse_unless_admin(update, context):
        return
    rt = runtime(context)
    stats = await rt.service.stats()
    inbox = await rt.inbox.counts()
    last = stats["last_ingest"]
    lines = [
        f"Stories: {stats['stories']:,}",
        f"Passages: {stats['passages']:,}",
        f"Dates: {_day(stats['first_date'])} to {_day(stats['last_date'])}",
        f"Last reload: {last['finished_at'] if last else 'never'}",
        f"Questions served: {stats['questions']:,}",
        f"Answer latency: p50 {_ms(stats['latency_p50_ms'])}, p95 {_ms(stats['latency_p95_ms'])}",
        f"Inbox: {inbox.pending:,} pending, {inbox.answered:,} answered, {inbox.dropped:,} dropped",
    ]
    await update.effective_message.reply_text("\n".join(lines))


async def document_received(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An admin's story or JSON Lines file: checked, stored under the first archive path, ingested."""
    if await refuse_unless_admin(update, context):
        return
    rt = runtime(context)
    message = update.effective_message
    document = message.document
    name = Path(document.file_name or "").name
    if not name.lower().endswith(SUFFIXES) or name.startswith("."):
        await message.reply_text(f"I can read {', '.join(SUFFIXES)} files; {name or 'this file'} is not one.")
        return
    if (document.file_size or 0) > MAX_DOCUMENT_BYTES:
        await message.reply_text("That file is larger than the 20 MB a bot can download.")
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        await (await document.get_file()).download_to_drive(path)
        records = await asyncio.to_thread(lambda: list(read_file(path)))
        if not any(not isinstance(r, Problem) for r in records):
            problems = "\n".join(str(r).replace(str(path), name) for r in records[:MAX_PROBLEMS_SHOWN])
            await message.reply_text(f"Nothing in {name} could be read, so it was not stored:\n{problems}")
            return
        target = rt.settings.archive_paths[0] if rt.settings.archive_paths else Path("archive")
        target = target if target.suffix == "" else target.parent
        target.mkdir(parents=True, exist_ok=True)
        stored = target / name
        shutil.copyfile(path, stored)
    try:
        report = await rt.service.ingest([stored])
    except ReloadInProgress:
        await message.reply_text(f"Stored {name}; a reload is running and will pick it up.")
        return
    for text in _report(report, await rt.service.stats(), f"Stored {name}"):
        await message.reply_html(text)


class _ProgressMessage:
    """Edits one message with ingest progress, at most once every PROGRESS_EVERY seconds."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.last = 0.0
        self.pending: set[asyncio.Task] = set()

    def update(self, done: int, total: int, stories: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        task = asyncio.get_running_loop().create_task(
            _edit(self.message, f"Reloading the archive… {done}/{total} files read, stories so far: {stories:,}"))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def close(self) -> None:
        await asyncio.gather(*self.pending, return_exceptions=True)


def _report(report: IngestReport, stats: dict, title: str) -> list[str]:
    """The ingest summary and its problems as HTML messages."""
    summary = Html.tag("b", Html.text(title)) + Html.text(
        f" in {report.seconds:.1f} s: {report.files} files, {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.removed} removed, "
        f"{report.failed} failed.\nArchive: {stats['stories']:,} stories, {stats['passages']:,} passages."
        + (f"\nAdded or updated by language: {report.by_language()}." if report.languages else ""))
    problems = [Html.text(f"• {p}") for p in report.problems[:MAX_PROBLEMS_SHOWN]]
    if report.failed > MAX_PROBLEMS_SHOWN:
        problems.append(Html.text(f"… and {report.failed - MAX_PROBLEMS_SHOWN} more"))
    return pack([summary, *problems], separator="\n")


async def _edit(message: Message, text: str, html_mode: bool = False) -> None:
    try:
        await message.edit_text(text, parse_mode="HTML" if html_mode else None)
    except BadRequest as error:  # "message is not modified" and the like
        log.info("could not edit the progress message: %s", error)


def _day(value: str | None) -> str:
    return value[:10] if value else "-"


def _ms(value: float | None) -> str:
    return f"{value:.1f} ms" if value is not None else "-"
