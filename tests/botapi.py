"""A fake Telegram Bot API server for end-to-end tests.

The real python-telegram-bot ``Application`` talks HTTP to :class:`BotAPIServer` on 127.0.0.1
(``base_url`` = ``server.base_url``, ``base_file_url`` = ``server.base_file_url``).  The server
answers the methods an ordinary bot uses with Telegram's JSON shapes, validates what Telegram
validates (HTML entities, text length, button data, inline results) with Telegram's wording, and
can inject faults (429, 500, malformed body, slow answer, dropped connection).

Tests feed updates with :meth:`BotAPIServer.push_update` or the builders (``private_text``,
``group_text``, ``callback``, ...), and observe the bot through :attr:`BotAPIServer.calls`,
:meth:`BotAPIServer.sent` and :meth:`BotAPIServer.wait_for`.

The server knows nothing of the bot under test; it only knows the Bot API.

Fidelity notes:

* Text limits (4096 for messages, 1024 for captions) are counted after entity parsing in UTF-16
  code units, which is never more lenient than Telegram.
* HTML is parsed strictly, as the Bot API documentation demands (a bare ``&`` or an unknown
  entity such as ``&nbsp;`` is an error); MarkdownV2/Markdown texts are accepted unparsed.
* Telegram method names are case-insensitive; ``Call.method`` holds the canonical spelling.
* A second concurrent getUpdates ends the first with 409 Conflict, as Telegram does; getUpdates
  while a webhook is set is a 409 too.
* Editing without ``reply_markup`` removes the inline keyboard, as on Telegram.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import json
import mimetypes
import random
import re
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

JSON = dict[str, Any]

MAX_TEXT_LENGTH = 4096        # UTF-16 code units, after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_NEXT_OFFSET_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram uses for offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# HTML parse mode
# --------------------------------------------------------------------------------------------

class HTMLParseError(ValueError):
    """Text is not valid Telegram HTML; the message follows Telegram's (tdlib's) wording."""


_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]*));")
_TAG_NAME_RE = re.compile(r"[A-Za-z0-9-]*")
_ATTR_RE = re.compile(
    r"""([A-Za-z0-9_-]+)(?:[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_END_TAG_RE = re.compile(r"</([A-Za-z0-9-]*)[ \t\r\n]*>")
_SPACE_RE = re.compile(r"[ \t\r\n]*")

_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "span": "spoiler", "tg-spoiler": "spoiler", "a": "text_link",
    "code": "code", "pre": "pre", "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}


@dataclass
class _OpenTag:
    """A start tag waiting for its end tag."""

    name: str
    entity: JSON          # type plus extra fields; offset/length filled in when closed
    offset: int           # UTF-16 offset in the plain text where the tag started


class _HTMLParser:
    """Telegram's HTML parse mode: plain text plus message entities, or an HTMLParseError."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.out: list[str] = []
        self.out_len = 0                    # UTF-16 length of "".join(out)
        self.stack: list[_OpenTag] = []
        self.entities: list[JSON] = []

    def byte_offset(self, index: int) -> int:
        return len(self.text[:index].encode("utf-8"))

    def fail(self, message: str, index: int | None = None) -> HTMLParseError:
        if index is not None:
            message += f" at byte offset {self.byte_offset(index)}"
        return HTMLParseError(message)

    def emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.out_len += utf16_len(chunk)

    def run(self) -> tuple[str, list[JSON]]:
        text = self.text
        while self.pos < len(text):
            nxt = min((i for i in (text.find("<", self.pos), text.find("&", self.pos)) if i >= 0),
                      default=len(text))
            if nxt > self.pos:
                self.emit(text[self.pos:nxt])
                self.pos = nxt
            elif text[nxt] == "&":
                self.emit(self.decode_entity(nxt))
            elif text.startswith("</", nxt):
                self.end_tag(nxt)
            else:
                self.start_tag(nxt)
        if self.stack:
            raise self.fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def decode_entity(self, index: int) -> str:
        """Decode the character entity at ``index`` and move past it."""
        match = _ENTITY_RE.match(self.text, index)
        if not match:
            raise self.fail("Character entity expected: replace '&' with '&amp;'", index)
        decimal, hexadecimal, name = match.groups()
        self.pos = match.end()
        if name is not None:
            if name not in _NAMED_ENTITIES:
                raise self.fail(f'Unsupported HTML entity "&{name};"', index)
            return _NAMED_ENTITIES[name]
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise self.fail(f"Invalid character entity {match.group(0)}", index)
        return chr(code)

    def decode_value(self, value: str, name: str, index: int) -> str:
        """An attribute value with its character entities decoded (errors point at the tag)."""
        try:
            return _decode_attribute(value)
        except HTMLParseError:
            raise self.fail(f'Bad character entity in an attribute value of the tag "{name}"',
                            index) from None

    def start_tag(self, index: int) -> None:
        text = self.text
        name_match = _TAG_NAME_RE.match(text, index + 1)
        name = name_match.group(0).lower()
        if name not in _ENTITY_TYPES:
            raise self.fail(f'Unsupported start tag "{name}"', index)
        attrs, end = self.attributes(name, name_match.end(), index)
        self.stack.append(_OpenTag(name, self.tag_entity(name, attrs, index), self.out_len))
        self.pos = end

    def attributes(self, name: str, pos: int, index: int) -> tuple[dict[str, str], int]:
        """Parse ``attr="value"`` pairs up to ``>``; returns them and the index after ``>``."""
        text, attrs = self.text, {}
        while True:
            pos = _SPACE_RE.match(text, pos).end()
            if pos >= len(text):
                raise self.fail("Unclosed start tag", index)
            if text[pos] == ">":
                return attrs, pos + 1
            match = _ATTR_RE.match(text, pos)
            if not match or match.end() == pos:
                raise self.fail(f'Unexpected character in the tag "{name}"', pos)
            key, *values = match.groups()
            raw = next((v for v in values if v is not None), "")
            attrs[key.lower()] = self.decode_value(raw, name, index)
            pos = match.end()

    def tag_entity(self, name: str, attrs: dict[str, str], index: int) -> JSON:
        """The entity a start tag opens, checking the attributes Telegram requires."""
        entity: JSON = {"type": _ENTITY_TYPES[name]}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise self.fail('Tag "span" must have class "tg-spoiler"', index)
        if name == "a":
            if not attrs.get("href"):
                raise self.fail('Tag "a" must have attribute "href"', index)
            entity["url"] = attrs["href"]
        if name == "tg-emoji":
            if not attrs.get("emoji-id"):
                raise self.fail('Tag "tg-emoji" must have attribute "emoji-id"', index)
            entity["custom_emoji_id"] = attrs["emoji-id"]
        if name == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        if name == "code" and attrs.get("class", "").startswith("language-"):
            entity["language"] = attrs["class"][len("language-"):]
        return entity

    def end_tag(self, index: int) -> None:
        match = _END_TAG_RE.match(self.text, index)
        if not match:
            raise self.fail("Unclosed end tag", index)
        name = match.group(1).lower()
        if not self.stack:
            raise self.fail("Unexpected end tag", index)
        top = self.stack.pop()
        if top.name != name:
            raise self.fail(f'Unmatched end tag at byte offset {self.byte_offset(index)}, '
                            f'expected "</{top.name}>", found "</{name}>"')
        self.close(top)
        self.pos = match.end()

    def close(self, tag: _OpenTag) -> None:
        """Turn a closed tag into an entity; ``<code>`` directly inside ``<pre>`` merges into it."""
        parent = self.stack[-1] if self.stack else None
        if tag.name == "code" and parent is not None and parent.name == "pre":
            if "language" in tag.entity:
                parent.entity["language"] = tag.entity["language"]
            return
        if tag.name == "code":
            tag.entity.pop("language", None)
        length = self.out_len - tag.offset
        if length > 0:
            self.entities.append({**tag.entity, "offset": tag.offset, "length": length})


def _decode_attribute(value: str) -> str:
    """Decode character entities in an attribute value (tags are not allowed there)."""
    parser = _HTMLParser(value)
    chunks = []
    while parser.pos < len(value):
        amp = value.find("&", parser.pos)
        if amp < 0:
            chunks.append(value[parser.pos:])
            break
        chunks.append(value[parser.pos:amp])
        chunks.append(parser.decode_entity(amp))
    return "".join(chunks)


def parse_html_entities(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram HTML into ``(plain_text, entities)``; entity offsets are in UTF-16 units.

    Raises :class:`HTMLParseError` for anything Telegram refuses: unsupported tags (allowed: b,
    strong, i, em, u, ins, s, strike, del, span class="tg-spoiler", tg-spoiler, a href, code, pre,
    blockquote [expandable], tg-emoji emoji-id), unclosed or badly nested tags, entities other than
    &lt; &gt; &amp; &quot; and numeric ones, and a bare ``<`` or ``&``.  A bare ``>`` is accepted,
    as Telegram does.
    """
    return _HTMLParser(text).run()


def parse_html(text: str) -> str:
    """The plain text Telegram would show for ``text`` in HTML parse mode (see above)."""
    return parse_html_entities(text)[0]


# --------------------------------------------------------------------------------------------
# Calls, faults, errors
# --------------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Fault:
    """A fault to inject.  ``kind`` is one of "429", "500", "malformed", "slow", "drop".

    Build them with the class methods: ``Fault.retry_after(3)``, ``Fault.server_error()``,
    ``Fault.malformed()``, ``Fault.slow(2.0)``, ``Fault.drop()``.
    """

    kind: str
    seconds: float = 0

    @classmethod
    def retry_after(cls, seconds: int) -> Fault:
        """HTTP 429 with ``parameters.retry_after``; the call does not take effect."""
        return cls("429", int(seconds))

    @classmethod
    def server_error(cls) -> Fault:
        """HTTP 500 with a Telegram-style error body; the call does not take effect."""
        return cls("500")

    @classmethod
    def malformed(cls) -> Fault:
        """HTTP 200 with a body that is not JSON; the call does not take effect."""
        return cls("malformed")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally after ``seconds``; the call does take effect (even if the client left)."""
        return cls("slow", seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without an answer; the call does not take effect."""
        return cls("drop")


FAULT_KINDS = ("429", "500", "malformed", "slow", "drop")
_FAULT_ALIASES = {"retry_after": "429", "server_error": "500"}


@dataclass
class _Injection:
    fault: Fault
    method: str | None
    remaining: int


class ApiError(Exception):
    """A Telegram error answer: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


# --------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------

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


async def _read_params(request: web.Request) -> JSON:
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


# --------------------------------------------------------------------------------------------
# Message helpers
# --------------------------------------------------------------------------------------------

_COMMAND_RE = re.compile(r"(?<![^\s(])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])",
                         re.ASCII)
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{3,32}(?!\w)", re.ASCII)
_UPDATE_MESSAGE_KEYS = ("message", "edited_message", "channel_post", "edited_channel_post",
                        "business_message", "edited_business_message")
_DEFAULT_EXCLUDED_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice",
                 "upload_voice", "upload_document", "choose_sticker", "find_location",
                 "record_video_note", "upload_video_note"}
_BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                   "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                   "copy_text", "callback_game", "pay")
_INLINE_RESULT_TYPES = {"article", "photo", "gif", "mpeg4_gif", "video", "audio", "voice",
                        "document", "location", "venue", "contact", "game", "sticker"}
_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WEBHOOK_PORTS = {80, 88, 443, 8443}


def auto_entities(text: str) -> list[JSON]:
    """``bot_command`` and ``mention`` entities for /commands and @mentions anywhere in ``text``."""
    found = [("bot_command", m) for m in _COMMAND_RE.finditer(text)]
    covered = [m.span() for _, m in found]
    found += [("mention", m) for m in _MENTION_RE.finditer(text)
              if not any(a <= m.start() < b for a, b in covered)]
    entities = [{"type": kind, "offset": utf16_len(text[:m.start()]),
                 "length": utf16_len(m.group(0))} for kind, m in found]
    return sorted(entities, key=lambda e: e["offset"])


def _without_reply(message: JSON) -> JSON:
    """A message as it appears inside ``reply_to_message`` (Telegram nests only one level)."""
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _update_type(update: JSON) -> str:
    return next((k for k in update if k != "update_id"), "")


@dataclass
class _StoredFile:
    content: bytes
    file_unique_id: str
    file_path: str


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

class BotAPIServer:
    """An in-process fake of api.telegram.org for one bot (see the module docstring)."""

    def __init__(self, token: str = "123456:TEST-token", username: str = "ArchiveBot",
                 bot_id: int = 123456) -> None:
        self.token = token
        self.username = username
        self.bot_id = bot_id
        self.base_url = ""
        self.base_file_url = ""
        self.calls: list[Call] = []
        self.fault_counts: collections.Counter[str] = collections.Counter()
        self.chats: dict[int, JSON] = {}
        self.messages: dict[tuple[int, int], JSON] = {}   # (chat_id, message_id) -> message
        self.files: dict[str, _StoredFile] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook: JSON = {}                            # setWebhook parameters, {} if none
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
        self._injections: list[_Injection] = []
        self._rates: dict[str, float] = {}
        self._rate_methods: set[str] | None = None
        self._rng = random.Random(0)
        self._rate_retry_after = 1
        self._rate_slow_seconds = 1.0
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Callable[[Call], Any]] = {
            "getMe": self._get_me, "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook, "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info, "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands, "getMyCommands": self._get_my_commands,
            "sendMessage": self._send_message, "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query, "getFile": self._get_file,
            "sendDocument": self._send_document, "deleteMessage": self._delete_message,
            "close": self._true, "logOut": self._true,
        }
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
        """Mark ``call`` successful and wake the waiters it satisfies."""
        call.ok, call.result = True, result
        for method, predicate, future in list(self._waiters):
            if future.done() or method != call.method:
                continue
            try:
                if predicate(call):
                    future.set_result(call)
            except Exception as exc:  # a broken predicate fails the test, not the server
                future.set_exception(exc)

    # ---- faults ----------------------------------------------------------------------------

    def inject(self, fault: Fault, method: str | None = None, times: int = 1) -> None:
        """Give the next ``times`` calls (to ``method``, or to any method) ``fault``."""
        name = self._canonical_name(method) if method else None
        self._injections.append(_Injection(fault, name, times))

    def set_fault_rates(self, rates: dict[str, float], rng_seed: int = 0,
                        methods: set[str] | None = None, *, retry_after: int = 1,
                        slow_seconds: float = 1.0) -> None:
        """Fault each call (to one of ``methods``, or any) at random with the given probabilities.

        Keys are fault kinds ("429", "500", "malformed", "slow", "drop"; "retry_after" and
        "server_error" are accepted as aliases).  Random 429s ask for ``retry_after`` seconds and
        random slow answers take ``slow_seconds``.  ``set_fault_rates({})`` turns them off.
        """
        self._rates = {_FAULT_ALIASES.get(k, k): v for k, v in rates.items()}
        unknown = set(self._rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        self._rng = random.Random(rng_seed)
        self._rate_methods = {self._canonical_name(m) for m in methods} if methods else None
        self._rate_retry_after, self._rate_slow_seconds = retry_after, slow_seconds

    def _next_fault(self, method: str) -> Fault | None:
        for injection in self._injections:
            if injection.method in (None, method):
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                return injection.fault
        if not self._rates or (self._rate_methods is not None and method not in self._rate_methods):
            return None
        draw = self._rng.random()
        for kind, rate in self._rates.items():
            if draw < rate:
                delays = {"slow": self._rate_slow_seconds, "429": self._rate_retry_after}
                return Fault(kind, delays.get(kind, 0))
            draw -= rate
        return None

    def _fault_response(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        """The answer (or hang-up) for a fault other than "slow"."""
        if fault.kind == "429":
            seconds = int(fault.seconds)
            return self._json(ApiError(429, f"Too Many Requests: retry after {seconds}",
                                       {"retry_after": seconds}).body(), 429)
        if fault.kind == "500":
            return self._json(ApiError(500, "Internal Server Error").body(), 500)
        if fault.kind == "malformed":
            return web.Response(status=200, content_type="text/html",
                                text="<html><body><h1>502 Bad Gateway</h1></body></html>")
        if request.transport is not None:   # "drop": hang up without an answer
            request.transport.abort()
        return web.Response(status=500)     # never reaches the client

    # ---- HTTP ------------------------------------------------------------------------------

    @staticmethod
    def _json(body: JSON, status: int = 200) -> web.Response:
        return web.json_response(body, status=status,
                                 dumps=lambda o: json.dumps(o, ensure_ascii=False))

    def _canonical_name(self, method: str) -> str:
        """Telegram method names are case-insensitive."""
        return self._canonical.get(method.lower(), method)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        """``/bot<token>/<method>``: record the call, apply any fault, then run the method."""
        if request.match_info["token"] != self.token:
            return self._json(ApiError(401, "Unauthorized").body(), 401)
        method = self._canonical_name(request.match_info["method"])
        try:
            params = await _read_params(request)
        except ApiError as exc:
            return self._json(exc.body(), exc.code)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if method == "getUpdates":
            self._latest_poll = call
            self._wake()
        fault = self._next_fault(method)
        if fault is not None:
            call.fault = fault.kind
            self.fault_counts[fault.kind] += 1
            if fault.kind != "slow":
                return self._fault_response(request, fault)
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
            return self._json(exc.body(), exc.code)
        self._finish(call, result)
        return self._json({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        """``/file/bot<token>/<file_path>``: the bytes of a stored file."""
        stored = next((f for f in self.files.values()
                       if f.file_path == request.match_info["path"]), None)
        if request.match_info["token"] != self.token or stored is None:
            return self._json(ApiError(404, "Not Found").body(), 404)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    # ---- updates ---------------------------------------------------------------------------

    def push_update(self, update: JSON) -> int:
        """Queue ``update`` for getUpdates (assigning ``update_id`` if missing); returns the id."""
        self._register_update(update)
        self._updates.append(update)
        self._wake()
        return update["update_id"]

    def _register_update(self, update: JSON) -> None:
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

    # ---- update builders -------------------------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    @staticmethod
    def user(user_id: int) -> JSON:
        """The ``User`` object the builders use for ``user_id``."""
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                "username": f"user{user_id}", "language_code": "en"}

    def _private_chat(self, user_id: int) -> JSON:
        return {"id": user_id, "type": "private", "first_name": f"User{user_id}",
                "username": f"user{user_id}"}

    def _incoming(self, chat: JSON, text: str | None, sender: JSON, **fields: Any) -> JSON:
        """A message from a user or a channel, with automatic command/mention entities."""
        message: JSON = {"message_id": self._next_message_id(chat["id"]),
                         "date": int(time.time()), "chat": chat, **sender}
        if text is not None:
            message["text"] = text
            if entities := auto_entities(text):
                message["entities"] = entities
        message.update(fields)
        return message

    def private_text(self, user_id: int, text: str, **kw: Any) -> JSON:
        """Push a text message from ``user_id`` to the bot in their private chat.

        Extra keywords become fields of the message (e.g. ``entities=[...]``, ``reply_to_message``).
        """
        message = self._incoming(self._private_chat(user_id), text, {"from": self.user(user_id)},
                                 **kw)
        return self._push({"message": message})

    def group_text(self, chat_id: int, user_id: int, text: str, *, reply_to: JSON | None = None,
                   thread_id: int | None = None, chat_type: str = "supergroup",
                   is_forum: bool = False, **kw: Any) -> JSON:
        """Push a text message from ``user_id`` in group ``chat_id``.

        ``reply_to`` is the replied-to message as the server recorded it; ``thread_id`` puts the
        message in a forum topic (or reply thread).  /commands and @mentions get entities.
        """
        chat: JSON = {"id": chat_id, "type": chat_type, "title": f"Group {abs(chat_id)}"}
        if is_forum:
            chat["is_forum"] = True
        fields: JSON = {}
        if reply_to is not None:
            fields["reply_to_message"] = _without_reply(reply_to)
        if thread_id is not None:
            fields["message_thread_id"] = thread_id
            if is_forum:
                fields["is_topic_message"] = True
        message = self._incoming(chat, text, {"from": self.user(user_id)}, **fields, **kw)
        return self._push({"message": message})

    def channel_post(self, chat_id: int, text: str, **kw: Any) -> JSON:
        """Push a post in channel ``chat_id`` (``sender_chat`` set, no ``from``)."""
        chat = {"id": chat_id, "type": "channel", "title": f"Channel {abs(chat_id)}"}
        return self._push({"channel_post": self._incoming(chat, text, {"sender_chat": chat}, **kw)})

    def callback(self, user_id: int, message: JSON, data: str) -> JSON:
        """Push ``user_id`` pressing a callback button with ``data`` under ``message``.

        The update carries the message's current version if the server still has it (edits
        included); the server does not check that a button with ``data`` exists.
        """
        key = (message["chat"]["id"], message["message_id"])
        query = {"id": self._query_id(), "from": self.user(user_id),
                 "message": self.messages.get(key, message),
                 "chat_instance": str(abs(hash(key[0]))), "data": data}
        return self._push({"callback_query": query})

    def inline_query(self, user_id: int, query: str, offset: str = "") -> JSON:
        """Push an inline query ``@bot query`` from ``user_id``."""
        inline = {"id": self._query_id(), "from": self.user(user_id),
                  "query": query, "offset": offset}
        return self._push({"inline_query": inline})

    def document(self, chat_id: int, user_id: int, filename: str, content: bytes,
                 caption: str | None = None, chat_type: str = "private") -> JSON:
        """Push a document message; the file is stored so getFile and the download work."""
        if chat_type == "private":
            chat = self._private_chat(chat_id)
        else:
            chat = {"id": chat_id, "type": chat_type, "title": f"Group {abs(chat_id)}"}
        fields: JSON = {"document": self.store_file(filename, content)}
        if caption is not None:
            fields["caption"] = caption
            if entities := auto_entities(caption):
                fields["caption_entities"] = entities
        message = self._incoming(chat, None, {"from": self.user(user_id)}, **fields)
        return self._push({"message": message})

    def store_file(self, filename: str, content: bytes, mime_type: str | None = None) -> JSON:
        """Store ``content`` as a file and return its ``Document`` object."""
        n = next(self._ids)
        file_id, unique = f"BQACAgIAAx{n:08d}TEST", f"AgAD{n:06d}"
        suffix = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
        self.files[file_id] = _StoredFile(content, unique, f"documents/file_{n}.{suffix}")
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return {"file_id": file_id, "file_unique_id": unique, "file_name": filename,
                "mime_type": mime, "file_size": len(content)}

    def _query_id(self) -> str:
        """A fresh callback/inline query id (Telegram's are long numeric strings)."""
        return str(4_000_000_000_000_000 + next(self._ids))

    def _push(self, update: JSON) -> JSON:
        self.push_update(update)
        return update

    # ---- webhook delivery ------------------------------------------------------------------

    async def post_webhook(self, url: str, update: JSON, secret_token: str | None) -> int:
        """POST ``update`` to the bot's webhook ``url`` like Telegram does; returns the status.

        A 2xx answer counts as delivered: the update leaves the getUpdates queue if it was there.
        """
        self._register_update(update)
        headers = {} if secret_token is None else {"X-Telegram-Bot-Api-Secret-Token": secret_token}
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=update, headers=headers) as response:
                await response.read()
                status = response.status
        if 200 <= status < 300:
            self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
        return status

    # ---- methods: bot and updates ----------------------------------------------------------

    def bot_user(self) -> JSON:
        """The bot's ``User`` object (``from`` of the messages it sends)."""
        return {"id": self.bot_id, "is_bot": True, "first_name": self.username,
                "username": self.username}

    def _true(self, call: Call) -> bool:
        return True

    def _get_me(self, call: Call) -> JSON:
        return {**self.bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": True, "can_connect_to_business": False,
                "has_main_web_app": False}

    async def _get_updates(self, call: Call) -> list[JSON]:
        """Long polling: confirm older updates, then answer once updates exist or time is up."""
        p = call.params
        if self.webhook.get("url"):
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        self._confirm(int(p.get("offset") or 0))
        if "allowed_updates" in p:
            self._allowed_updates = list(p["allowed_updates"] or [])
        limit = min(max(int(p.get("limit") or 100), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(p.get("timeout") or 0), 0)
        while True:
            if self._latest_poll is not call:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                    "that only one bot instance is running")
            ready = self._deliverable(limit)
            remaining = deadline - loop.time()
            if ready or self._closing or remaining <= 0:
                return ready
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _confirm(self, offset: int) -> None:
        """``offset`` confirms every update with a smaller id; a negative one keeps the last -N."""
        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self, limit: int) -> list[JSON]:
        """Drop queued updates of types not allowed, and return up to ``limit`` of the rest."""
        allowed = self._allowed_updates
        self._updates = [u for u in self._updates
                         if (_update_type(u) in allowed if allowed
                             else _update_type(u) not in _DEFAULT_EXCLUDED_UPDATES)]
        return self._updates[:limit]

    def _set_webhook(self, call: Call) -> bool:
        p = call.params
        url = p.get("url") or ""
        if not url:
            return self._delete_webhook(call)
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (parts.port or 443) not in _WEBHOOK_PORTS:
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self._updates.clear()
        if "allowed_updates" in p:
            self._allowed_updates = list(p["allowed_updates"] or [])
        self.webhook = dict(p)
        return True

    def _delete_webhook(self, call: Call) -> bool:
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = {}
        return True

    def _get_webhook_info(self, call: Call) -> JSON:
        info: JSON = {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                      "pending_update_count": len(self._updates)}
        if info["url"]:
            info["max_connections"] = int(self.webhook.get("max_connections") or 40)
            if self._allowed_updates:
                info["allowed_updates"] = self._allowed_updates
        return info

    # ---- methods: commands -----------------------------------------------------------------

    @staticmethod
    def _commands_key(p: JSON) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")

    def _set_my_commands(self, call: Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be an array of at most 100 BotCommand")
        for command in commands:
            if not _COMMAND_NAME_RE.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(call.params)] = commands
        return True

    def _delete_my_commands(self, call: Call) -> bool:
        self.commands.pop(self._commands_key(call.params), None)
        return True

    def _get_my_commands(self, call: Call) -> list[JSON]:
        return self.commands.get(self._commands_key(call.params), [])

    # ---- methods: validation helpers -------------------------------------------------------

    @staticmethod
    def _parse_text(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[JSON]]:
        """Plain text and entities for ``text`` in ``parse_mode`` (only HTML is parsed)."""
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                return parse_html_entities(text)
            except HTMLParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        if mode not in ("", "markdown", "markdownv2"):
            raise bad_request(f"unsupported parse_mode {parse_mode!r}")
        return text, list(entities or [])

    def _message_text(self, p: JSON, key: str = "text") -> tuple[str, list[JSON]]:
        """Validated message text: parses, is not blank, and fits in 4096 characters.

        The length is counted after entity parsing, in UTF-16 code units (an emoji outside the
        BMP counts 2): never more lenient than Telegram, so what fits here fits there.
        """
        plain, entities = self._parse_text(str(p.get(key) or ""), p.get("parse_mode"),
                                           p.get("entities"))
        if not plain.strip():
            raise bad_request("message text is empty")
        if utf16_len(plain) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return plain, entities

    @staticmethod
    def _check_markup(markup: Any) -> JSON | None:
        """Validate ``reply_markup``; returns it if it is an inline keyboard worth echoing."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None        # reply keyboards etc. are not echoed in Message.reply_markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an "
                              "Array of Arrays")
        for button in (b for row in rows for b in row):
            BotAPIServer._check_button(button)
        return markup if any(rows) else None

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not str(button.get("text", "")).strip():
            raise bad_request("BUTTON_TEXT_INVALID")
        actions = [k for k in _BUTTON_ACTIONS if k in button]
        if not actions:
            raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in "
                              "the inline keyboard")
        data = button.get("callback_data")
        if "callback_data" in button and not (
                isinstance(data, str) and 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES):
            raise bad_request("BUTTON_DATA_INVALID")
        url = button.get("url")
        if "url" in button and not re.match(r"(https?|tg)://\S+$", str(url)):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")

    def _chat(self, chat_id: Any) -> JSON:
        """The chat ``chat_id`` refers to; unseen numeric ids become private/group chats."""
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            known = next((c for c in self.chats.values()
                          if chat_id and f"@{c.get('username')}" == chat_id), None)
            if known is None:
                raise bad_request("chat not found" if chat_id else "chat_id is empty")
            return known
        if chat_id not in self.chats:
            if chat_id > 0:
                self.chats[chat_id] = self._private_chat(chat_id)
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                self.chats[chat_id] = {"id": chat_id, "type": kind, "title": f"Group {-chat_id}"}
        return self.chats[chat_id]

    def _new_bot_message(self, p: JSON, **content: Any) -> JSON:
        """A message from the bot in ``p["chat_id"]`` with reply, thread and keyboard applied."""
        chat = self._chat(p.get("chat_id"))
        reply_to = self._reply_target(p, chat["id"])
        markup = self._check_markup(p.get("reply_markup"))
        sender = {"sender_chat": chat} if chat["type"] == "channel" else {"from": self.bot_user()}
        message: JSON = {"message_id": self._next_message_id(chat["id"]),
                         **sender, "date": int(time.time()), "chat": chat}
        thread_id = p.get("message_thread_id") or (reply_to or {}).get("message_thread_id")
        if thread_id and chat["type"] != "private":
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        if reply_to is not None:
            message["reply_to_message"] = _without_reply(reply_to)
        message.update({k: v for k, v in content.items() if v})
        if markup is not None:
            message["reply_markup"] = markup
        self._remember_message(message)
        return message

    def _reply_target(self, p: JSON, chat_id: int) -> JSON | None:
        """The message ``reply_parameters`` / ``reply_to_message_id`` point at, if any."""
        params = p.get("reply_parameters")
        if params is None and p.get("reply_to_message_id"):
            params = {"message_id": p["reply_to_message_id"],
                      "allow_sending_without_reply": p.get("allow_sending_without_reply")}
        if not params:
            return None
        target = self.messages.get((chat_id, params.get("message_id")))
        if target is None and not params.get("allow_sending_without_reply"):
            raise bad_request("message to be replied not found")
        return target

    # ---- methods: messages -----------------------------------------------------------------

    def _send_message(self, call: Call) -> JSON:
        text, entities = self._message_text(call.params)
        return self._new_bot_message(call.params, text=text, entities=entities)

    def _editable(self, p: JSON) -> JSON:
        """The bot's message ``chat_id``/``message_id`` refer to, or Telegram's error."""
        chat_id = p.get("chat_id")
        message = self.messages.get((chat_id, p.get("message_id")))
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id and "sender_chat" not in message:
            raise bad_request("message can't be edited")
        return message

    def _store_edit(self, old: JSON, new: JSON) -> JSON:
        """Save an edit unless it changes nothing (Telegram's 'message is not modified')."""
        fields = ("text", "entities", "reply_markup")
        if all(old.get(k) == new.get(k) for k in fields):
            raise bad_request("message is not modified: specified new message content and reply "
                              "markup are exactly the same as a current content and reply markup "
                              "of the message")
        new["edit_date"] = int(time.time())
        self._remember_message(new)
        return new

    def _edit_message_text(self, call: Call) -> JSON | bool:
        p = call.params
        text, entities = self._message_text(p)
        markup = self._check_markup(p.get("reply_markup"))
        if p.get("inline_message_id"):
            return True
        old = self._editable(p)
        if "text" not in old:
            raise bad_request("there is no text in the message to edit")
        new = {k: v for k, v in old.items() if k not in ("entities", "reply_markup")}
        new["text"] = text
        if entities:
            new["entities"] = entities
        if markup is not None:     # no reply_markup in the edit removes the inline keyboard
            new["reply_markup"] = markup
        return self._store_edit(old, new)

    def _edit_message_reply_markup(self, call: Call) -> JSON | bool:
        p = call.params
        markup = self._check_markup(p.get("reply_markup"))
        if p.get("inline_message_id"):
            return True
        old = self._editable(p)
        new = {k: v for k, v in old.items() if k != "reply_markup"}
        if markup is not None:
            new["reply_markup"] = markup
        return self._store_edit(old, new)

    def _delete_message(self, call: Call) -> bool:
        key = (call.params.get("chat_id"), call.params.get("message_id"))
        if self.messages.pop(key, None) is None:
            raise bad_request("message to delete not found")
        return True

    def _send_chat_action(self, call: Call) -> bool:
        self._chat(call.params.get("chat_id"))
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _send_document(self, call: Call) -> JSON:
        p = call.params
        document = p.get("document")
        if isinstance(document, Upload):
            stored = self.store_file(document.filename or "file", document.content,
                                     document.content_type)
        elif isinstance(document, str) and document in self.files:
            stored = self._document_for(document)
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        caption, entities = self._parse_text(str(p.get("caption") or ""), p.get("parse_mode"),
                                             p.get("caption_entities"))
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        return self._new_bot_message(p, document=stored, caption=caption,
                                     caption_entities=entities)

    def _document_for(self, file_id: str) -> JSON:
        stored = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content)}

    def _get_file(self, call: Call) -> JSON:
        file_id = call.params.get("file_id")
        if file_id not in self.files:
            raise bad_request("invalid file_id")
        stored = self.files[file_id]
        if len(stored.content) > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {**self._document_for(file_id), "file_path": stored.file_path}

    # ---- methods: queries ------------------------------------------------------------------

    def _take_query(self, query_id: Any) -> None:
        """Close an open callback/inline query; each can be answered once."""
        if query_id not in self._open_queries:
            raise bad_request("query is too old and response timeout expired or query ID is "
                              "invalid")
        self._open_queries.discard(query_id)

    def _answer_callback_query(self, call: Call) -> bool:
        self._take_query(call.params.get("callback_query_id"))
        return True

    def _answer_inline_query(self, call: Call) -> bool:
        p = call.params
        results = p.get("results")
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise bad_request("RESULTS_TOO_MUCH")
        if len(str(p.get("next_offset") or "").encode("utf-8")) > MAX_NEXT_OFFSET_BYTES:
            raise bad_request("NEXT_OFFSET_INVALID")
        ids: set[str] = set()
        for result in results:
            self._check_inline_result(result, ids)
        self._take_query(p.get("inline_query_id"))
        return True

    def _check_inline_result(self, result: Any, ids: set[str]) -> None:
        if not isinstance(result, dict) or result.get("type") not in _INLINE_RESULT_TYPES:
            raise bad_request("RESULT_TYPE_INVALID")
        result_id = str(result.get("id") or "")
        if not 1 <= len(result_id.encode("utf-8")) <= 64:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in ids:
            raise bad_request("RESULT_ID_DUPLICATE")
        ids.add(result_id)
        if result["type"] == "article" and not str(result.get("title") or "").strip():
            raise bad_request("RESULT_TITLE_EMPTY")
        content = result.get("input_message_content")
        if result["type"] == "article" and not isinstance(content, dict):
            raise bad_request("MESSAGE_EMPTY")
        if isinstance(content, dict) and "message_text" in content:
            self._message_text(content, "message_text")
        self._check_markup(result.get("reply_markup"))
