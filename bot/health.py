"""The health check over HTTP, for a reverse proxy or an orchestrator: `GET /healthz` on
HEALTH_PORT (off when 0) answers 200 "healthy: ..." or 503 "unhealthy: ..." in one line of text.

It checks the running bot's own archive: the database answers, the index in service finds the
archive's example question, the inbox is read (its counts in the line), and getMe accepts the token; `/healthz?offline=1` leaves getMe out
(a liveness probe should not restart the bot because Telegram is unreachable). A tiny asyncio
server of its own, so it works the same in polling and webhook mode.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs, urlsplit

from bot.config import Settings
from bot.maintenance import Health, check_inbox, check_service, check_token
from retrieval import ArchiveService, Inbox

log = logging.getLogger(__name__)

PATH = "/healthz"
READ_TIMEOUT = 5.0
MAX_REQUEST_BYTES = 8192


async def live_health(service: ArchiveService, inbox: Inbox, settings: Settings, offline: bool) -> Health:
    """The running bot's health; never raises."""
    health = Health()
    try:
        await check_service(service, health)
        await check_inbox(inbox, health)
        if not offline:
            await check_token(settings, health)
    except Exception as error:
        health.add(False, f"{type(error).__name__}: {error}")
    return health


async def start_health_server(settings: Settings, service: ArchiveService, inbox: Inbox) -> asyncio.Server | None:
    """Listen on HEALTH_LISTEN:HEALTH_PORT; None when HEALTH_PORT is 0. Close it when done."""
    if not settings.health_port:
        return None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ") + [""]
            url = urlsplit(target)
            if url.path != PATH:
                status, body = 404, "not found: the health check is at " + PATH
            elif method not in ("GET", "HEAD"):
                status, body = 405, "method not allowed"
            else:
                offline = parse_qs(url.query).get("offline", ["0"])[-1] not in ("0", "false", "")
                health = await live_health(service, inbox, settings, offline)
                status, body = (200 if health.ok else 503), health.line([settings.token, settings.webhook_secret])
                if not health.ok:
                    log.warning("health check: %s", body)
            payload = (body + "\n").encode()
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
            writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         f"Content-Length: {len(payload)}\r\nCache-Control: no-store\r\n"
                         f"Connection: close\r\n\r\n".encode() + (b"" if method == "HEAD" else payload))
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, UnicodeError, ValueError):
            pass  # a probe that hung up or sent garbage gets nothing
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass

    server = await asyncio.start_server(handle, settings.health_listen, settings.health_port,
                                        limit=MAX_REQUEST_BYTES)
    log.info("health check at http://%s:%d%s", settings.health_listen, settings.health_port, PATH)
    return server
