"""The Bot API methods the server implements, with Telegram's JSON shapes and errors.

:class:`BotAPIMethods` is a mixin of :class:`fakebotapi.BotAPIServer`.  Each method takes the
:class:`~fakebotapi.calls.Call` and returns the ``result`` of Telegram's answer (awaitable for
getUpdates), or raises :class:`~fakebotapi.faults.ApiError`.  :meth:`BotAPIMethods._method_table`
maps Telegram's method names to them.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from fakebotapi.calls import Call, Upload
from fakebotapi.checks import (caption_text, check_inline_results, check_markup, check_photo,
                               message_text, png_size)
from fakebotapi.faults import ApiError, bad_request
from fakebotapi.updates import StoredFile, without_reply

JSON = dict[str, Any]

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024

_DEFAULT_EXCLUDED_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice",
                 "upload_voice", "upload_document", "choose_sticker", "find_location",
                 "record_video_note", "upload_video_note"}
_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WEBHOOK_PORTS = {80, 88, 443, 8443}


def _update_type(update: JSON) -> str:
    return next((k for k in update if k != "update_id"), "")


class BotAPIMethods:
    """The methods; the server's state they use is declared here, set by the server."""

    bot_id: int
    username: str
    chats: dict[int, JSON]
    messages: dict[tuple[int, int], JSON]
    files: dict[str, StoredFile]
    commands: dict[tuple[str, str], list[JSON]]
    webhook: JSON
    _updates: list[JSON]
    _allowed_updates: list[str]
    _latest_poll: Call | None
    _wakeup: asyncio.Event
    _closing: bool
    _open_queries: set[str]
    _private_chat: Callable[[int], JSON]
    _next_message_id: Callable[[int], int]
    _remember_message: Callable[[JSON], None]
    store_file: Callable[..., JSON]

    def _method_table(self) -> dict[str, Callable[[Call], Any]]:
        """Telegram's method names (canonical spelling) and their implementations."""
        return {
            "getMe": self._get_me, "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook, "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info, "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands, "getMyCommands": self._get_my_commands,
            "sendMessage": self._send_message, "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query, "getFile": self._get_file,
            "sendDocument": self._send_document, "sendPhoto": self._send_photo,
            "deleteMessage": self._delete_message,
            "close": self._true, "logOut": self._true,
        }

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

    # ---- methods: chats and the bot's messages ---------------------------------------------

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
        markup = check_markup(p.get("reply_markup"))
        sender = {"sender_chat": chat} if chat["type"] == "channel" else {"from": self.bot_user()}
        message: JSON = {"message_id": self._next_message_id(chat["id"]),
                         **sender, "date": int(time.time()), "chat": chat}
        thread_id = p.get("message_thread_id") or (reply_to or {}).get("message_thread_id")
        if thread_id and chat["type"] != "private":
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        if reply_to is not None:
            message["reply_to_message"] = without_reply(reply_to)
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
        text, entities = message_text(call.params)
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
        text, entities = message_text(p)
        markup = check_markup(p.get("reply_markup"))
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
        markup = check_markup(p.get("reply_markup"))
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
        caption, entities = caption_text(p)
        return self._new_bot_message(p, document=stored, caption=caption,
                                     caption_entities=entities)

    def _send_photo(self, call: Call) -> JSON:
        """A photo uploaded (multipart) or sent again by file_id: checked (:func:`check_photo`),
        kept as a file, and sent as one ``PhotoSize`` of its own dimensions."""
        p = call.params
        photo = p.get("photo")
        if isinstance(photo, Upload):
            width, height = check_photo(photo.content)
            file_id = self.store_file(photo.filename or "photo.png", photo.content, "image/png")["file_id"]
        elif isinstance(photo, str) and photo in self.files and png_size(self.files[photo].content):
            file_id = photo
            width, height = png_size(self.files[photo].content)
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        caption, entities = caption_text(p)
        size = {**self._document_for(file_id), "width": width, "height": height}
        return self._new_bot_message(p, photo=[size], caption=caption, caption_entities=entities)

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
        check_inline_results(call.params)
        self._take_query(call.params.get("inline_query_id"))
        return True
