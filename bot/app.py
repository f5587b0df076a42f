"""The python-telegram-bot `Application`, built in one place, and the loop that serves it: updates
come into the inbox (bot/polling.py or bot/webhook.py) and are answered from it (bot/dispatch.py)."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import signal
from collections.abc import Awaitable, Callable

from telegram import BotCommand, Update
from telegram.error import TelegramError, TimedOut
from telegram.ext import (Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler,
                          ContextTypes, InlineQueryHandler, MessageHandler, filters)

from bot import admin, handlers, timelines
from bot.config import Settings
from bot.delivery import ResilientRateLimiter, is_transient
from bot.dispatch import Dispatcher
from bot.health import start_health_server
from bot.http import AiohttpRequest
from bot.logs import setup_logging
from bot.polling import poll
from bot.runtime import Runtime, runtime
from bot.webhook import start_webhook_server
from retrieval import ArchiveService, Inbox, say

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("ask", "Ask the archive a question"),
    BotCommand("timeline", "Chart how often the archive mentions a subject"),
    BotCommand("help", "How to ask, with an example"),
    BotCommand("stats", "Archive statistics (admins)"),
    BotCommand("reload", "Reload the archive (admins)"),
]
CONNECTION_POOL = 8
"""Bot API connections kept open: the flood limiter keeps far fewer than 8 requests in flight."""
BOOTSTRAP_RETRIES = 5
"""getMe, deleteWebhook / setWebhook at start: tried this often (timeouts too) before the start fails."""


def build_application(settings: Settings, service: ArchiveService, inbox: Inbox) -> Application:
    """The bot: settings, the archive, its inbox, every handler. No `Updater`: updates come
    through the inbox (`serve`)."""
    builder = (
        ApplicationBuilder()
        .token(settings.require_token())
        .updater(None)
        .rate_limiter(ResilientRateLimiter(overall_max_rate=settings.messages_per_second))
        .request(AiohttpRequest(CONNECTION_POOL, connect_timeout=5, read_timeout=10, pool_timeout=10))
        .get_updates_request(AiohttpRequest(1, connect_timeout=5, read_timeout=30, pool_timeout=10))
    )
    if settings.base_url:
        builder = builder.base_url(settings.base_url).base_file_url(
            settings.base_file_url or _file_url(settings.base_url))
    application = builder.build()
    application.bot_data["runtime"] = Runtime(service, settings, inbox)
    _add_handlers(application)
    return application


def _add_handlers(app: Application) -> None:
    new_messages = filters.UpdateType.MESSAGE
    private = filters.ChatType.PRIVATE & new_messages
    app.add_handler(CommandHandler(["start", "help"], help_command, filters=new_messages))
    app.add_handler(CommandHandler("ask", handlers.ask_command, filters=new_messages))
    app.add_handler(CommandHandler("timeline", timelines.timeline_command, filters=new_messages))
    app.add_handler(CommandHandler("reload", admin.reload_command, filters=new_messages))
    app.add_handler(CommandHandler("stats", admin.stats_command, filters=new_messages))
    app.add_handler(MessageHandler(private & filters.Document.ALL, admin.document_received))
    app.add_handler(MessageHandler(private & (filters.TEXT | filters.CAPTION) & ~filters.COMMAND,
                                   handlers.private_message))
    app.add_handler(MessageHandler(private & ~filters.COMMAND, handlers.non_text))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & new_messages & filters.TEXT & ~filters.COMMAND,
                                   handlers.group_message))
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST & filters.Regex(r"(?i)^/timeline\b"),
                                   timelines.channel_timeline))
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST & filters.TEXT, handlers.channel_post))
    app.add_handler(InlineQueryHandler(handlers.inline_query))
    app.add_handler(CallbackQueryHandler(handlers.more_pressed, pattern=r"^m:"))
    app.add_handler(CallbackQueryHandler(handlers.full_story_pressed, pattern=r"^s:"))
    app.add_handler(CallbackQueryHandler(timelines.peak_pressed, pattern=r"^p:"))
    app.add_error_handler(on_error)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start and /help: what the bot does, with the archive's own date range and an example."""
    rt = runtime(context)
    stats = await rt.service.stats()
    language = handlers.reader_language(update)
    count = f"{stats['stories']:,}"
    span = (say("{count} stories from {first} to {last}", language, count=count, first=stats["first_date"][:10],
                last=stats["last_date"][:10]) if stats["first_date"] else say("{count} stories", language, count=count))
    chat_type = update.effective_chat.type
    how = (say("Send me a question in plain words.", language) if chat_type == "private" else
           say("Ask with /ask, mention @{bot}, or reply to one of my messages.", language, bot=context.bot.username))
    intro = say("I answer questions about a news archive of {span}, quoting the stories word for word.", language,
                span=span)
    syntax = (say("Add a date (“in October 2021”, “before 2022”), put exact words in quotes, or leave a word out "
                  "with -word.", language) + "\n" + say("/timeline and a subject charts how often the archive mentions it.",
                                                       language))
    parts = [_escaped(f"{intro}\n{how}"), handlers.usage(rt, None if chat_type == "private" else "/ask", language),
             _escaped(syntax)]
    await update.effective_message.reply_html("\n\n".join(parts))


def _escaped(text: str) -> str:
    return html.escape(text, quote=False)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log with context, and note the error for the dispatcher; the person gets a short apology,
    unless the update will be handled again (a passing fault); the bot goes on."""
    where = ""
    if isinstance(update, Update):
        chat = update.effective_chat
        where = f" (update {update.update_id}, chat type {chat.type if chat else '-'})"
        runtime(context).failures[update.update_id] = context.error
    if isinstance(context.error, TimedOut):
        # The request may well have taken effect (the answer sent): no retry, and no apology after it.
        log.warning("a Bot API request timed out%s; it may have gone through, so it is not repeated", where)
        return
    if is_transient(context.error):
        log.warning("the Bot API failed%s (%s); the update is handled again later", where, context.error)
        return
    log.error("error while handling an update%s", where, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message and update.effective_chat.type != "channel":
        try:
            await update.effective_message.reply_text("Sorry, something went wrong on my side. Please try again.")
        except Exception as error:
            log.warning("could not send the apology: %s", error)


async def _register_commands(app: Application) -> None:
    try:
        await app.bot.set_my_commands(COMMANDS)
    except Exception as error:  # non-essential: the bot works without a command menu
        log.warning("set_my_commands failed: %s", error)


def _file_url(base_url: str) -> str:
    """http://host/bot → http://host/file/bot, as a local Bot API server lays out its files."""
    head, sep, tail = base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}" if sep else base_url


async def serve(app: Application, settings: Settings, stop: asyncio.Event,
                poll_timeout: float = 10) -> None:
    """Run `app` until `stop` is set: updates come into its inbox by long polling, or by a webhook
    when WEBHOOK_URL is set, and are answered from there, what the inbox held at the start first;
    and every ARCHIVE_FOLLOW_SECONDS, take in the changes other processes make to the archive."""
    await _initialize(app)
    follower = None
    async with app:
        await app.start()
        await _register_commands(app)  # PTB calls post_init hooks only from run_polling/run_webhook
        dispatcher = Dispatcher(app, runtime(app).inbox, settings.inbox_max_age)
        dispatcher.start()
        stop_receiving = None
        try:  # a failed start must still stop the app, or leaving `async with` hides the error
            stop_receiving = await _start_receiving(app, settings, dispatcher.wake, poll_timeout)
            log.info("bot @%s is up (%s)", app.bot.username, "webhook" if settings.webhook_url else "polling")
            if settings.follow_seconds:
                follower = asyncio.create_task(follow_archive(runtime(app).service, settings.follow_seconds))
            await stop.wait()
        finally:
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            if stop_receiving is not None:
                await stop_receiving()
            await dispatcher.close()
            await app.stop()


async def _start_receiving(app: Application, settings: Settings, stored: Callable[[], None],
                           poll_timeout: float) -> Callable[[], Awaitable[None]]:
    """Updates into the inbox, `stored()` after each batch: the webhook server and setWebhook,
    or deleteWebhook and long polling. Returns what stops it."""
    inbox = runtime(app).inbox
    if settings.webhook_url:
        server = await start_webhook_server(settings, inbox, stored)
        try:
            await _bootstrap(lambda: app.bot.set_webhook(
                settings.webhook_url, secret_token=settings.webhook_secret, allowed_updates=Update.ALL_TYPES),
                "setWebhook")
        except BaseException:
            await server.cleanup()
            raise
        return server.cleanup
    await _bootstrap(app.bot.delete_webhook, "deleteWebhook")
    polling = asyncio.create_task(poll(app.bot, inbox, stored, poll_timeout))

    async def stop_polling() -> None:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
    return stop_polling


async def _initialize(app: Application) -> None:
    """`app.initialize()` (getMe), retried like the webhook set-up."""
    try:
        await _bootstrap(app.initialize, "getMe")
    except TelegramError:
        await app.bot.shutdown()  # its open HTTP sessions, which aiohttp reports if left open
        raise


async def _bootstrap(request: Callable[[], Awaitable[object]], what: str) -> None:
    """`request()`, tried BOOTSTRAP_RETRIES times when it fails in passing (a timeout included:
    getMe, deleteWebhook and setWebhook may be repeated safely)."""
    for attempt in range(1, BOOTSTRAP_RETRIES + 1):
        try:
            await request()
            return
        except TelegramError as error:
            if attempt == BOOTSTRAP_RETRIES or not (isinstance(error, TimedOut) or is_transient(error)):
                raise
            log.warning("%s failed at start (%s); retry %d of %d", what, error, attempt, BOOTSTRAP_RETRIES)
            await asyncio.sleep(attempt)


async def follow_archive(service: ArchiveService, every: float) -> None:
    """Every `every` seconds, take in what another process changed in the archive file: the
    /reload of another replica behind the same load balancer, or an `archive-bot ingest`."""
    while True:
        await asyncio.sleep(every)
        try:
            if await service.follow():
                log.info("the archive file changed: answering from %d passages now", service.passages)
        except Exception:
            log.exception("could not take in a change to the archive file; the index in service stays")


async def run_bot(settings: Settings) -> int:
    """`archive-bot run`: open the archive (ingesting ARCHIVE_PATHS if it is empty) and serve."""
    setup_logging(settings.log_level, settings.log_format, [settings.token or "", settings.webhook_secret or ""])
    settings.require_token()
    service = await ArchiveService.open(settings.db_path, settings.retrieval)
    inbox = health = None
    try:
        inbox = await Inbox.open(settings.db_path, settings.bot_id)
        if not service.passages and settings.archive_paths:
            report = await service.ingest(settings.archive_paths)
            log.info("archive was empty; ingested %s", report.summary())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        health = await start_health_server(settings, service, inbox)  # None unless HEALTH_PORT is set
        await serve(build_application(settings, service, inbox), settings, stop)
    finally:
        if health is not None:
            health.close()
        if inbox is not None:
            await inbox.close()
        await service.close()
    log.info("bot stopped")
    return 0
