"""Telegram's HTML parse mode, parsed as strictly as the Bot API documentation demands.

:func:`parse_html_entities` turns a text in HTML parse mode into the plain text and message
entities Telegram would make of it, or raises :class:`HTMLParseError` with Telegram's (tdlib's)
wording.  :func:`utf16_len` counts what Telegram's offsets and limits count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram uses for offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


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
