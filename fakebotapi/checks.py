"""What Telegram validates in what a bot sends: texts, keyboards and inline query results.

Each check raises Telegram's own ``400 Bad Request`` (:func:`fakebotapi.faults.bad_request`)
with Telegram's wording.  Text limits are counted after entity parsing in UTF-16 code units, which
is never more lenient than Telegram: what fits here fits there.
"""

from __future__ import annotations

import re
import struct
from typing import Any

from fakebotapi.faults import bad_request
from fakebotapi.html import HTMLParseError, parse_html_entities, utf16_len

JSON = dict[str, Any]

MAX_TEXT_LENGTH = 4096        # UTF-16 code units, after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_NEXT_OFFSET_BYTES = 64
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000      # width + height
MAX_PHOTO_RATIO = 20          # the longer side over the shorter
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                   "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                   "copy_text", "callback_game", "pay")
_INLINE_RESULT_TYPES = {"article", "photo", "gif", "mpeg4_gif", "video", "audio", "voice",
                        "document", "location", "venue", "contact", "game", "sticker"}


def parse_text(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[JSON]]:
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


def message_text(p: JSON, key: str = "text") -> tuple[str, list[JSON]]:
    """Validated message text: parses, is not blank, and fits in 4096 characters.

    The length is counted after entity parsing, in UTF-16 code units (an emoji outside the
    BMP counts 2): never more lenient than Telegram, so what fits here fits there.
    """
    plain, entities = parse_text(str(p.get(key) or ""), p.get("parse_mode"), p.get("entities"))
    if not plain.strip():
        raise bad_request("message text is empty")
    if utf16_len(plain) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return plain, entities


def caption_text(p: JSON) -> tuple[str, list[JSON]]:
    """Validated caption: parses and fits in 1024 characters (it may be empty)."""
    caption, entities = parse_text(str(p.get("caption") or ""), p.get("parse_mode"),
                                   p.get("caption_entities"))
    if utf16_len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return caption, entities


def check_markup(markup: Any) -> JSON | None:
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
        check_button(button)
    return markup if any(rows) else None


def check_button(button: Any) -> None:
    """An inline keyboard button: a text, a known action, valid callback data and URL."""
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


def check_inline_results(p: JSON) -> None:
    """The ``results`` and ``next_offset`` of an answerInlineQuery call."""
    results = p.get("results")
    if not isinstance(results, list):
        raise bad_request("can't parse inline query results JSON object")
    if len(results) > MAX_INLINE_RESULTS:
        raise bad_request("RESULTS_TOO_MUCH")
    if len(str(p.get("next_offset") or "").encode("utf-8")) > MAX_NEXT_OFFSET_BYTES:
        raise bad_request("NEXT_OFFSET_INVALID")
    ids: set[str] = set()
    for result in results:
        _check_inline_result(result, ids)


def _check_inline_result(result: Any, ids: set[str]) -> None:
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
        message_text(content, "message_text")
    check_markup(result.get("reply_markup"))


def check_photo(content: bytes) -> tuple[int, int]:
    """The width and height of an uploaded photo, which must be a PNG (the only kind of image
    this server reads) within Telegram's limits: at most 10 MB, width and height at most 10,000
    together, their ratio at most 20."""
    if len(content) > MAX_PHOTO_BYTES:
        raise bad_request("PHOTO_SAVE_FILE_INVALID")
    size = png_size(content)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if width + height > MAX_PHOTO_SIDES or max(width, height) > MAX_PHOTO_RATIO * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return width, height


def png_size(content: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's header chunk (IHDR, first after the signature); None when
    ``content`` is no PNG."""
    if len(content) < 24 or content[:8] != _PNG_SIGNATURE or content[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", content[16:24])
    return (width, height) if width and height else None
