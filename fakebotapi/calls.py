"""What crosses HTTP: the :class:`Call` record of each request, its parameters, the JSON answer.

Telegram accepts parameters in the query string and in a JSON, urlencoded or multipart body, with
non-string values JSON-encoded in the latter two; :func:`read_params` decodes them all alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fakebotapi.faults import bad_request

JSON = dict[str, Any]


@dataclass
class Upload:
    """A file uploaded in a multipart request."""

    filename: str
    content: bytes
    content_type: str


@dataclass
class Call:
    """One API request as the server received it.

    ``params`` holds the parameters from the query string and the JSON, form or multipart body,
    with JSON-encoded values (numbers, booleans, ``reply_markup``, ``entities``, ...) decoded.
    ``time`` is ``time.monotonic()`` at arrival.  ``ok`` becomes True once the call succeeded;
    a failed call has ``error`` (Telegram's description), a faulted one has ``fault`` (its kind).
    """

    method: str
    params: JSON
    time: float
    ok: bool = False
    result: Any = None
    error: str | None = None
    fault: str | None = None

    def describe(self) -> str:
        """One line for failure reports."""
        if self.ok:
            status = "ok (slow)" if self.fault else "ok"
        elif self.error:
            status = f"error {self.error!r}"
        else:
            status = f"fault {self.fault}" if self.fault else "pending"
        params = json.dumps(self.params, default=repr, ensure_ascii=False)
        if len(params) > 300:
            params = params[:300] + "..."
        return f"{self.method} {status} {params}"


# Parameters that are strings even when they look like JSON ("123", "true").
_STRING_PARAMS = frozenset({
    "text", "caption", "parse_mode", "caption_parse_mode", "callback_query_id",
    "inline_query_id", "inline_message_id", "next_offset", "url", "secret_token", "action",
    "file_id", "description", "short_description", "name", "title", "language_code",
    "ip_address", "emoji", "business_connection_id", "message_effect_id", "switch_pm_text",
    "switch_pm_parameter", "custom_title", "document", "photo", "audio", "video", "animation",
    "voice", "video_note", "sticker", "thumbnail", "question",
})


def _decode_value(name: str, value: Any) -> Any:
    """Decode a JSON-encoded parameter value, as Telegram does for non-string parameters."""
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> JSON:
    """Parameters from the query string and a JSON, urlencoded or multipart body."""
    params: JSON = {k: _decode_value(k, v) for k, v in request.query.items()}
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        params.update({k: _decode_value(k, v) for k, v in body.items()})
        return params
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            params[key] = Upload(value.filename, value.file.read(), value.content_type)
        else:
            params[key] = _decode_value(key, value)
    return params


def json_response(body: JSON, status: int = 200) -> web.Response:
    """``body`` as JSON, non-ASCII characters as they are (as Telegram answers)."""
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))
