"""Handlers for people asking: private chats, groups, channels, inline mode and the buttons.

Each handler finds the question in its kind of update and hands it to `reply_with_answer`.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable
from typing import TypeVar

from telegram import (InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResultArticle,
                      InlineQueryResultsButton, InputTextMessageContent, Message, MessageEntity,
                      Update)
from telegram.constants import ChatAction, ParseMode
from telegram.ext import ContextTypes

from bot.render import format_date, render_answer, render_citation, render_story
from bot.runtime import Runtime, runtime
from retrieval import Answer, say

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CALLBACK_BYTES = 64
TYPING_AFTER = 0.5
"""Seconds an answer may take before the chat is shown "typing…"."""
INLINE_RESULTS = 10
TIPS = ("Tips: use the names, places and things you are after (“Peskov NATO”), "
        "put exact wording in quotes, and add a date such as “in October 2021”.")


# Where questions come from ---------------------------------------------------------------------

async def private_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat any text (or caption) is a question."""
    message = update.effective_message
    await reply_with_answer(update, context, message.text or message.caption or "")


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask QUESTION and /ask@ThisBot QUESTION, in any chat."""
    await reply_with_answer(update, context, " ".join(context.args or []), command="/ask")


async def group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a group: a message that mentions the bot or replies to it; other chatter is ignored."""
    message = update.effective_message
    text = message.text or ""
    if _mentions_bot(message, context.bot.username):
        await reply_with_answer(update, context, strip_mention(text, context.bot.username))
    elif _replies_to_bot(message, context.bot.id):
        await reply_with_answer(update, context, text)


async def channel_post(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a channel: a post that starts with /ask or mentions the bot gets a reply post."""
    post = update.channel_post
    text = post.text or ""
    asked = after_command(text, "ask", context.bot.username)
    if asked is not None:
        await reply_with_answer(update, context, asked, command="/ask")
    elif _mentions_bot(post, context.bot.username):
        await reply_with_answer(update, context, strip_mention(text, context.bot.username))


async def non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos without a caption and the like in a private chat."""
    await update.effective_message.reply_text(
        "I answer questions written in words: send me a question as text.")


# Answering -------------------------------------------------------------------------------------

async def reply_with_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str,
                            command: str | None = None) -> None:
    """Answer `question` in reply to the update's message, within the sender's limits."""
    rt = runtime(context)
    message = update.effective_message
    chat = update.effective_chat
    if not await admitted(update, context, question, usage(rt, command, reader_language(update))):
        return
    answer = await action_if_slow(context, message, rt.service.ask(question, k=rt.settings.citations))
    await _record(context, answer, chat.type)
    log.info("answered chat_type=%s latency_ms=%.1f citations=%d", chat.type, answer.took_ms,
             len(answer.citations))
    await send_answer(message, answer, offset=0)


async def admitted(update: Update, context: ContextTypes.DEFAULT_TYPE, asked: str, usage_html: str) -> bool:
    """Whether to answer what the update's message asks (`asked`): not when the chat or sender
    is off the allowlist (ignored), when nothing is asked (`usage_html` is the reply) or when
    the sender asks too fast (told so)."""
    rt = runtime(context)
    message = update.effective_message
    chat = update.effective_chat
    if not rt.allowlist.allows(chat.id, update.effective_user and update.effective_user.id):
        log.info("ignored a question from chat %s: not on the allowlist", chat.id)
        return False
    if not asked.strip():
        await message.reply_html(usage_html, do_quote=quoting(message))
        return False
    wait = rt.rate_limit.check(_sender_id(update))
    if wait:
        await message.reply_text(f"You are asking faster than I can read: try again in {wait:.0f} s.",
                                 do_quote=quoting(message))
        return False
    return True


async def send_answer(message: Message, answer: Answer, offset: int, more: str = "m:") -> None:
    """The answer's messages in reply to `message`, buttons under the last one ("More" carries
    `more` and the next offset)."""
    texts = render_answer(answer, first_number=offset + 1)
    if answer.kind.worth_rewording:
        texts[-1] += "\n\n" + html.escape(say(TIPS, answer.language), quote=False)
    keyboard = answer_keyboard(answer, offset, more)
    for number, text in enumerate(texts, 1):
        await message.reply_html(text, do_quote=quoting(message),
                                 reply_markup=keyboard if number == len(texts) else None,
                                 disable_web_page_preview=True)


def answer_keyboard(answer: Answer, offset: int, more: str = "m:") -> InlineKeyboardMarkup | None:
    """A "Full story" button per citation (whose id fits in callback data) and "More": it
    carries `more` and the next offset only; the question is the message the answer replies to."""
    rows = []
    for number, citation in enumerate(answer.citations, offset + 1):
        data = f"s:{citation.story_id}"
        if len(data.encode()) <= MAX_CALLBACK_BYTES:
            label = say("Full story {number}", answer.language, number=number) \
                if len(answer.citations) > 1 or offset else say("Full story", answer.language)
            rows.append(InlineKeyboardButton(label, callback_data=data))
    buttons = [rows[i:i + 3] for i in range(0, len(rows), 3)]
    if answer.more:
        buttons.append([InlineKeyboardButton(say("More ▸", answer.language),
                                             callback_data=f"{more}{offset + len(answer.citations)}")])
    return InlineKeyboardMarkup(buttons) if buttons else None


def usage(rt: Runtime, command: str | None, language: str = "en") -> str:
    """How to ask, with an example from the archive, in `language`."""
    example = rt.service.example_question()
    prefix = f"{command} " if command else ""
    return (html.escape(say("Ask me something about the archive, for example:", language), quote=False)
            + f"\n<code>{html.escape(prefix + example, quote=False)}</code>")


def reader_language(update: Update) -> str:
    """The language the sender's Telegram app is set to (its `language_code`, "pt-br" as "pt"),
    English when it does not say (channel posts have no sender)."""
    code = update.effective_user and update.effective_user.language_code
    return code.split("-")[0].lower() if code else "en"


# Buttons ---------------------------------------------------------------------------------------

async def more_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """"More": the next citations for the question the answer replied to, as a new reply to it.
    Nothing is kept between the answer and the press, so the button works after a restart and
    on another replica ("m:<offset>"; buttons from before carry a key too, "m:<key>:<offset>")."""
    rt = runtime(context)
    query = update.callback_query
    offset = query.data.rsplit(":", 1)[-1]
    asked = query.message.reply_to_message if isinstance(query.message, Message) else None
    question = question_in(asked, context.bot.username) if asked is not None else ""
    if not question.strip() or not offset.isdigit():
        await query.answer("This answer has expired: please ask the question again.", show_alert=True)
        return
    await query.answer()
    answer = await rt.service.ask(question, k=rt.settings.citations, offset=int(offset))
    await send_answer(asked, answer, offset=int(offset))


async def full_story_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """"Full story": the whole story, split across messages when long."""
    rt = runtime(context)
    query = update.callback_query
    story = await rt.service.story(query.data.split(":", 1)[1])
    if story is None or query.message is None:
        await query.answer("That story is no longer in the archive.", show_alert=True)
        return
    await query.answer()
    for text in render_story(story.title, story.date, story.id, story.body, story.url):
        await query.message.reply_html(text, do_quote=False, disable_web_page_preview=True)


# Inline mode -----------------------------------------------------------------------------------

async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """@ThisBot QUESTION in any chat: the top citations as results, each sending its quote."""
    rt = runtime(context)
    query = update.inline_query
    text = query.query.strip()
    if not rt.allowlist.allows(None, query.from_user.id):
        await query.answer([], cache_time=300, is_personal=True)
        return
    if not text:
        await query.answer([], cache_time=300, button=InlineQueryResultsButton(
            text="Type a question about the archive", start_parameter="help"))
        return
    if rt.rate_limit.check(query.from_user.id):
        await query.answer([], cache_time=0, is_personal=True, button=InlineQueryResultsButton(
            text="Too many questions: wait a moment", start_parameter="help"))
        return
    offset = int(query.offset) if query.offset.isdigit() else 0
    answer = await rt.service.ask(text, k=INLINE_RESULTS, offset=offset)
    await _record(context, answer, "inline")
    results = [
        InlineQueryResultArticle(
            id=f"{offset + n}",
            title=citation.title[:200],
            description=f"{format_date(citation.date, answer.language)} — {citation.quote[:200]}",
            input_message_content=InputTextMessageContent(
                str(render_citation(citation, language=answer.language)), parse_mode=ParseMode.HTML,
                link_preview_options=None),
        )
        for n, citation in enumerate(answer.citations)
    ]
    button = None if results or offset else InlineQueryResultsButton(
        text="Nothing relevant found: tap for tips", start_parameter="help")
    await query.answer(results, cache_time=30, is_personal=False, button=button,
                       next_offset=str(offset + len(results)) if answer.more else "")


# Small helpers ---------------------------------------------------------------------------------

async def _record(context: ContextTypes.DEFAULT_TYPE, answer: Answer, chat_type: str) -> None:
    """Note the question for the statistics: at once, since the store only notes it (it writes
    the rows of a second's questions together, later); if that fails, the statistics miss the
    question and the person still gets the answer."""
    rt = runtime(context)
    try:
        await rt.service.record(answer, chat_type, rt.settings.record_question_text)
    except Exception as error:
        log.warning("could not record a question for the statistics: %s", error)


def question_in(message: Message, username: str) -> str:
    """What a message asks the bot: its text (or caption) without /ask or /timeline, or without
    the bot's @mention."""
    text = message.text or message.caption or ""
    asked = after_command(text, "ask", username)
    asked = asked if asked is not None else after_command(text, "timeline", username)
    return asked if asked is not None else strip_mention(text, username)


def after_command(text: str, command: str, username: str) -> str | None:
    """What follows "/command" or "/command@username" at the start of `text`; None without it."""
    found = re.match(rf"^/{command}(?:@{re.escape(username)})?(?:\s+|$)", text, re.IGNORECASE)
    return text[found.end():] if found else None


def strip_mention(text: str, username: str) -> str:
    """`text` without "@username" (any case)."""
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip()


def _mentions_bot(message: Message, username: str) -> bool:
    for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
        if value.lower() == f"@{username}".lower() or (entity.user and entity.user.username == username):
            return True
    return False


def _replies_to_bot(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def _sender_id(update: Update) -> int:
    """The user who asked; in channels and anonymous group posts, the chat they posted as."""
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id
    return update.effective_user.id if update.effective_user else update.effective_chat.id


def quoting(message: Message) -> dict:
    """Reply to `message`, and still send if it was deleted meanwhile."""
    return message.build_reply_arguments(allow_sending_without_reply=True)


async def action_if_slow(context: ContextTypes.DEFAULT_TYPE, message: Message, work: Awaitable[T],
                         action: str = ChatAction.TYPING) -> T:
    """`work`'s result; the chat of `message` (its topic) is shown `action` ("typing…") if it takes
    more than TYPING_AFTER seconds. (Most answers take milliseconds: a chat action for each
    would halve how many answers fit under Telegram's flood limit.)"""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=TYPING_AFTER)
    if not done:
        thread_id = message.message_thread_id if message.is_topic_message else None
        try:
            await context.bot.send_chat_action(message.chat_id, action, message_thread_id=thread_id)
        except Exception as error:  # non-essential: never stops an answer
            log.warning("send_chat_action failed: %s", error)
    return await task
