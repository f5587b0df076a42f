"""Builders of the updates a user or a channel makes: texts, button presses, queries, documents.

:class:`UpdateBuilders` is a mixin of :class:`fakebotapi.BotAPIServer`: each builder makes a
Telegram-shaped update, gives it to the server's ``_push`` (the getUpdates queue, or the
server's ``deliver`` callable) and returns it.
"""

from __future__ import annotations

import itertools
import mimetypes
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from fakebotapi.html import utf16_len

JSON = dict[str, Any]

_COMMAND_RE = re.compile(r"(?<![^\s(])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])",
                         re.ASCII)
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{3,32}(?!\w)", re.ASCII)


def auto_entities(text: str) -> list[JSON]:
    """``bot_command`` and ``mention`` entities for /commands and @mentions anywhere in ``text``."""
    found = [("bot_command", m) for m in _COMMAND_RE.finditer(text)]
    covered = [m.span() for _, m in found]
    found += [("mention", m) for m in _MENTION_RE.finditer(text)
              if not any(a <= m.start() < b for a, b in covered)]
    entities = [{"type": kind, "offset": utf16_len(text[:m.start()]),
                 "length": utf16_len(m.group(0))} for kind, m in found]
    return sorted(entities, key=lambda e: e["offset"])


def without_reply(message: JSON) -> JSON:
    """A message as it appears inside ``reply_to_message`` (Telegram nests only one level)."""
    return {k: v for k, v in message.items() if k != "reply_to_message"}


@dataclass
class StoredFile:
    """A file the server holds: uploaded by the bot or sent by a user."""

    content: bytes
    file_unique_id: str
    file_path: str


class UpdateBuilders:
    """The builders; the server's state they use is declared here, set by the server."""

    messages: dict[tuple[int, int], JSON]
    files: dict[str, StoredFile]
    _ids: itertools.count
    _last_message_id: dict[int, int]
    _push: Callable[[JSON], JSON]

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
            fields["reply_to_message"] = without_reply(reply_to)
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
        self.files[file_id] = StoredFile(content, unique, f"documents/file_{n}.{suffix}")
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return {"file_id": file_id, "file_unique_id": unique, "file_name": filename,
                "mime_type": mime, "file_size": len(content)}

    def _query_id(self) -> str:
        """A fresh callback/inline query id (Telegram's are long numeric strings)."""
        return str(4_000_000_000_000_000 + next(self._ids))
