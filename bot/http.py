"""Bot API requests over aiohttp, not PTB's default httpx.

Under load httpx cost the bot more interpreter time than answering: before each request httpcore
checks every pooled connection for expiry, and each check has AnyIO build all of the socket's
attributes (a getpeername system call among them). aiohttp hands out an idle connection without
looking at the others, and parses responses in C.
"""

from __future__ import annotations

import asyncio

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """PTB's `BaseRequest` on an aiohttp session with at most `pool_size` connections.

    Timeouts map onto aiohttp's: `pool_timeout` + `connect_timeout` to get a connection,
    `connect_timeout` to open one, `read_timeout` between reads. aiohttp has no write timeout:
    `write_timeout` is accepted and not enforced (the Bot API's requests here are small).
    Timeouts raise `TimedOut`, other transport failures and bad URLs `NetworkError`, as with
    `HTTPXRequest`, and never with the URL (it holds the token) in the message."""

    def __init__(self, pool_size: int, connect_timeout: float | None = 5.0, read_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0) -> None:
        self._pool_size = pool_size
        self._timeouts = {"connect": connect_timeout, "read": read_timeout, "pool": pool_timeout}
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts["read"]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=BaseRequest.DEFAULT_NONE, write_timeout=BaseRequest.DEFAULT_NONE,
                         connect_timeout=BaseRequest.DEFAULT_NONE,
                         pool_timeout=BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        connect = self._given(connect_timeout, "connect")
        pool = self._given(pool_timeout, "pool")
        timeout = aiohttp.ClientTimeout(
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect, sock_read=self._given(read_timeout, "read"))
        try:
            async with self._session.request(method, url, timeout=timeout, **_body(request_data)) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as error:  # aiohttp's own timeouts are TimeoutErrors too
            raise TimedOut from error
        except (aiohttp.ClientError, ValueError) as error:  # ValueError: a host name IDNA cannot encode
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {_without(url, error)}") from error

    def _given(self, value: object, name: str) -> float | None:
        # PTB marks "not given" with instances of the class of DEFAULT_NONE (whose module is private)
        return self._timeouts[name] if isinstance(value, _DEFAULT) else value  # type: ignore[return-value]


_DEFAULT = type(BaseRequest.DEFAULT_NONE)


def _without(url: str, error: Exception) -> str:
    """The error's message without the request's URL, whose path holds the bot token (aiohttp
    puts the URL in the message of an invalid one)."""
    message = str(error)
    path = url.split("://", 1)[-1].partition("/")[2]
    for secret in (url, path):
        if secret:
            message = message.replace(secret, "<Bot API URL>")
    return message


def _body(request_data: RequestData | None) -> dict[str, object]:
    """The request's body and its type: JSON, or a multipart form when it uploads files.
    (JSON, not a urlencoded form: quoting a long answer's text costs the interpreter more.)"""
    if request_data is None:
        return {}
    files = request_data.multipart_data
    if not files:
        return {"data": request_data.json_payload, "headers": {"Content-Type": "application/json"}}
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return {"data": form}
