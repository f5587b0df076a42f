"""The webhook into the inbox: Telegram's POST of an update is answered 200 only once the update
is stored; one that cannot be stored gets a 503, so Telegram sends it again. A request without
WEBHOOK_SECRET in its X-Telegram-Bot-Api-Secret-Token header gets a 403, one that holds no update
a 400.

This replaces python-telegram-bot's `Updater` webhook server, which answers 200 before the update
is handled.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

from bot.config import Settings
from retrieval import Inbox

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024


async def start_webhook_server(settings: Settings, inbox: Inbox, stored: Callable[[], None]) -> web.AppRunner:
    """Listen on WEBHOOK_LISTEN:WEBHOOK_PORT at WEBHOOK_URL's path; store each update in `inbox`
    and call `stored()`. Clean the runner up when done."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if settings.webhook_secret and not hmac.compare_digest(given.encode(), settings.webhook_secret.encode()):
            return web.Response(status=403, text="wrong secret token")
        body = await request.text()
        update_id = _update_id(body)
        if update_id is None:
            return web.Response(status=400, text="not an update")
        try:
            await inbox.add([(update_id, body)])
        except Exception as error:  # Telegram sends it again after a 5xx
            log.warning("could not store update %d from the webhook (%s): answered 503", update_id, error)
            return web.Response(status=503, text="could not store the update")
        stored()
        return web.Response(text="ok")

    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app.router.add_post(urlsplit(settings.webhook_url).path or "/", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.webhook_listen, settings.webhook_port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def _update_id(body: str) -> int | None:
    """The update_id of the JSON object `body`, or None when it is not one."""
    try:
        update = json.loads(body)
    except ValueError:
        return None
    update_id = update.get("update_id") if isinstance(update, dict) else None
    return update_id if isinstance(update_id, int) and not isinstance(update_id, bool) else None
