"""The server: its lifecycle, the HTTP front, the update queue, faults and the ways to observe.

:class:`BotAPIServer` listens on 127.0.0.1, records every request as a :class:`Call`, applies
any fault the :class:`~fakebotapi.faults.FaultPlan` picks, and runs the method from
:class:`~fakebotapi.methods.BotAPIMethods`; the update builders come from
:class:`~fakebotapi.updates.UpdateBuilders`.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import socket
import time
from typing import Any, Callable

import aiohttp
from aiohttp import web

from fakebotapi.calls import Call, json_response, read_params
from fakebotapi.faults import ApiError, Fault, FaultPlan
from fakebotapi.methods import BotAPIMethods
from fakebotapi.updates import StoredFile, UpdateBuilders

JSON = dict[str, Any]

_UPDATE_MESSAGE_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post",
                        "business_message", "edited_business_message")


def _fault_response(request: web.Request, fault: Fault) -> web.StreamResponse:
    """The answer (or hang-up) for a fault other than "slow"."""
    if fault.kind == "429":
        seconds = int(fault.seconds)
        return json_response(ApiError(429, f"Too Many Requests: retry after {seconds}",
                                      {"retry_after": seconds}).body(), 429)
    if fault.kind == "500":
        return json_response(ApiError(500, "Internal Server Error").body(), 500)
    if fault.kind == "malformed":
        return web.Response(status=200, content_type="text/html",
                            text="<html><body><h1>502 Bad Gateway</h1></body></html>")
    if request.transport is not None:   # "drop": hang up without an answer
        request.transport.abort()
    return web.Response(status=500)     # never reaches the client


class BotAPIServer(BotAPIMethods, UpdateBuilders):
    """An in-process fake of api.telegram.org for one bot (see :mod:`fakebotapi`).

    ``deliver``, if given, receives each update the builders make (``private_text`` etc.),
    already registered (``update_id`` set, its message remembered), instead of the getUpdates
    queue: a bench posting to webhooks, say.  It may be set later as the attribute ``deliver``.
    """

    def __init__(self, token: str = "123456:TEST-token", username: str = "ArchiveBot",
                 bot_id: int = 123456, *, deliver: Callable[[JSON], None] | None = None) -> None:
        self.token = token
        self.username = username
        self.bot_id = bot_id
        self.base_url = ""
        self.base_file_url = ""
        self.calls: list[Call] = []
        self.fault_counts: collections.Counter[str] = collections.Counter()
        self.chats: dict[int, JSON] = {}
        self.messages: dict[tuple[int, int], JSON] = {}   # (chat_id, message_id) -> message
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook: JSON = {}                            # setWebhook parameters, {} if none
        self.deliver = deliver
        self._updates: list[JSON] = []
        self._allowed_updates: list[str] = []
        self._update_ids = itertools.count(1)
        self._last_update_id = 0
        self._ids = itertools.count(1)
        self._last_message_id: dict[int, int] = {}
        self._open_queries: set[str] = set()
        self._latest_poll: Call | None = None
        self._wakeup = asyncio.Event()
        self._closing = False
        self._waiters: list[tuple[str, Callable[[Call], bool], asyncio.Future[Call]]] = []
        self._faults = FaultPlan()
        self._listeners: list[Callable[[Call], None]] = []
        self._runner: web.AppRunner | None = None
        self._methods = self._method_table()
        self._canonical = {name.lower(): name for name in self._methods}

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port and set ``base_url`` / ``base_file_url``."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"

    async def stop(self) -> None:
        """Answer pending long polls with [] and shut the listener down."""
        self._closing = True
        self._wake()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotAPIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- observing -------------------------------------------------------------------------

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Successful calls, optionally only to ``method`` and/or with ``chat_id``."""
        method = self._canonical_name(method) if method else None
        return [c for c in self.calls if c.ok and (method is None or c.method == method)
                and (chat_id is None or c.params.get("chat_id") == chat_id)]

    async def wait_for(self, method: str, predicate: Callable[[Call], bool] = lambda c: True,
                       timeout: float = 10) -> Call:
        """The first successful call to ``method`` matching ``predicate``, past or future.

        Raises AssertionError, listing the recent calls, if none arrives within ``timeout``.
        """
        method = self._canonical_name(method)
        for call in self.calls:
            if call.ok and call.method == method and predicate(call):
                return call
        waiter = (method, predicate, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter[2], timeout)
        except asyncio.TimeoutError:
            raise AssertionError(self._timeout_report(method, timeout)) from None
        finally:
            self._waiters.remove(waiter)

    def _timeout_report(self, method: str, timeout: float) -> str:
        recent = [c for c in self.calls if c.method != "getUpdates" or method == "getUpdates"]
        polls = len(self.calls) - len(recent)
        lines = [f"no successful {method} call matching the predicate within {timeout}s; "
                 f"{len(self.calls)} calls received ({polls} getUpdates not shown), last ones:"]
        lines += [f"  {c.describe()}" for c in recent[-20:]] or ["  (none)"]
        return "\n".join(lines)

    def _finish(self, call: Call, result: Any) -> None:
        """Mark ``call`` successful, wake the waiters it satisfies and tell the listeners."""
        call.ok, call.result = True, result
        for method, predicate, future in list(self._waiters):
            if future.done() or method != call.method:
                continue
            try:
                if predicate(call):
                    future.set_result(call)
            except Exception as exc:  # a broken predicate fails the test, not the server
                future.set_exception(exc)
        for listener in list(self._listeners):
            listener(call)

    def add_listener(self, listener: Callable[[Call], None]) -> None:
        """Call ``listener(call)`` for every successful call from now on, once it has succeeded.

        It runs in the server's request handler before the answer leaves: keep it quick; an
        exception in it becomes the HTTP 500 of that request.
        """
        self._listeners.append(listener)

    # ---- faults ----------------------------------------------------------------------------

    def inject(self, fault: Fault, method: str | None = None, times: int = 1) -> None:
        """Give the next ``times`` calls (to ``method``, or to any method) ``fault``."""
        self._faults.inject(fault, self._canonical_name(method) if method else None, times)

    def set_fault_rates(self, rates: dict[str, float], rng_seed: int = 0,
                        methods: set[str] | None = None, *, retry_after: int = 1,
                        slow_seconds: float = 1.0) -> None:
        """Fault each call (to one of ``methods``, or any) at random with the given probabilities.

        Keys are fault kinds ("429", "500", "malformed", "slow", "drop"; "retry_after" and
        "server_error" are accepted as aliases).  Random 429s ask for ``retry_after`` seconds and
        random slow answers take ``slow_seconds``.  ``set_fault_rates({})`` turns them off.
        """
        names = {self._canonical_name(m) for m in methods} if methods else None
        self._faults.set_rates(rates, rng_seed, names, retry_after, slow_seconds)

    # ---- HTTP ------------------------------------------------------------------------------

    def _canonical_name(self, method: str) -> str:
        """Telegram method names are case-insensitive."""
        return self._canonical.get(method.lower(), method)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        """``/bot<token>/<method>``: record the call, apply any fault, then run the method."""
        if request.match_info["token"] != self.token:
            return json_response(ApiError(401, "Unauthorized").body(), 401)
        method = self._canonical_name(request.match_info["method"])
        try:
            params = await read_params(request)
        except ApiError as exc:
            return json_response(exc.body(), exc.code)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if method == "getUpdates":
            self._latest_poll = call
            self._wake()
        fault = self._faults.next_fault(method)
        if fault is not None:
            call.fault = fault.kind
            self.fault_counts[fault.kind] += 1
            if fault.kind != "slow":
                return _fault_response(request, fault)
            await asyncio.sleep(fault.seconds)
        return await self._dispatch(call)

    async def _dispatch(self, call: Call) -> web.Response:
        """Run the method handler and wrap its result or ApiError in Telegram's envelope."""
        handler = self._methods.get(call.method)
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            result = handler(call)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            call.error = exc.description
            return json_response(exc.body(), exc.code)
        self._finish(call, result)
        return json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        """``/file/bot<token>/<file_path>``: the bytes of a stored file."""
        stored = next((f for f in self.files.values()
                       if f.file_path == request.match_info["path"]), None)
        if request.match_info["token"] != self.token or stored is None:
            return json_response(ApiError(404, "Not Found").body(), 404)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    # ---- updates ---------------------------------------------------------------------------

    def push_update(self, update: JSON) -> int:
        """Queue ``update`` for getUpdates (assigning ``update_id`` if missing); returns the id."""
        self.register_update(update)
        self._updates.append(update)
        self._wake()
        return update["update_id"]

    def register_update(self, update: JSON) -> None:
        """Give ``update`` an id and remember the chats, messages and queries it carries."""
        if "update_id" not in update:
            update["update_id"] = max(next(self._update_ids), self._last_update_id + 1)
        self._last_update_id = max(self._last_update_id, update["update_id"])
        for key in _UPDATE_MESSAGE_KEYS:
            if key in update:
                self._remember_message(update[key])
        for key in ("callback_query", "inline_query"):
            if key in update:
                self._open_queries.add(update[key]["id"])

    def _remember_message(self, message: JSON) -> None:
        """Store ``message`` (and its chat) so replies, edits and callbacks can find it."""
        chat = message["chat"]
        self.chats[chat["id"]] = {**self.chats.get(chat["id"], {}), **chat}
        self.messages[(chat["id"], message["message_id"])] = message
        last = self._last_message_id.get(chat["id"], 0)
        self._last_message_id[chat["id"]] = max(last, message["message_id"])

    def _wake(self) -> None:
        """Wake every long poll so it re-checks the queue."""
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def _push(self, update: JSON) -> JSON:
        """Where the builders' updates go: to ``deliver`` if set, else to the getUpdates queue."""
        if self.deliver is None:
            self.push_update(update)
        else:
            self.register_update(update)
            self.deliver(update)
        return update

    # ---- webhook delivery ------------------------------------------------------------------

    async def post_webhook(self, url: str, update: JSON, secret_token: str | None) -> int:
        """POST ``update`` to the bot's webhook ``url`` like Telegram does; returns the status.

        A 2xx answer counts as delivered: the update leaves the getUpdates queue if it was there.
        """
        self.register_update(update)
        headers = {} if secret_token is None else {"X-Telegram-Bot-Api-Secret-Token": secret_token}
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=update, headers=headers) as response:
                await response.read()
                status = response.status
        if 200 <= status < 300:
            self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
        return status

