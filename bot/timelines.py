"""/timeline SUBJECT: a chart of how often the archive mentions a subject, sent as a photo with
its caption, and a "Stories from <period>" button per peak that answers with that period's
citations.

A peak's button carries only its period and an offset ("p:<first day>:<last day>:<offset>"): the
subject is the message the chart replies to, as for "More", so the buttons work after a restart
and on another replica.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import ContextTypes

from bot.charts import draw_timeline
from bot.handlers import action_if_slow, admitted, after_command, question_in, quoting, send_answer
from bot.render import period_label, render_timeline, render_timeline_words
from bot.runtime import runtime
from retrieval import Period, Timeline

log = logging.getLogger(__name__)

USAGE = ("Name a subject and I chart how often the archive mentions it, for example:\n"
         "<code>/timeline NATO</code> or <code>/timeline \"Black Sea\" since 2021</code>")
_PEAK_DATA = re.compile(r"^p:(\d{4}-\d{2}-\d{2}):(\d{4}-\d{2}-\d{2}):(\d+)$")


async def timeline_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/timeline SUBJECT and /timeline@ThisBot SUBJECT, in private chats and groups."""
    await reply_with_timeline(update, context, " ".join(context.args or []))


async def channel_timeline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A channel post that starts with /timeline (or /timeline@ThisBot) gets the chart as a reply post."""
    subject = after_command(update.channel_post.text or "", "timeline", context.bot.username)
    if subject is not None:
        await reply_with_timeline(update, context, subject)


async def reply_with_timeline(update: Update, context: ContextTypes.DEFAULT_TYPE, subject: str) -> None:
    """The chart of `subject` in reply to the update's message; words when there is nothing to
    chart (no story mentions it, or one)."""
    rt = runtime(context)
    message = update.effective_message
    if not await admitted(update, context, subject, USAGE):
        return
    timeline = await rt.service.timeline(subject)
    log.info("timeline chat_type=%s kind=%s stories=%d", update.effective_chat.type, timeline.kind.value,
             timeline.dated + timeline.undated)
    if not timeline.chartable:
        await message.reply_html(str(render_timeline_words(timeline)), do_quote=quoting(message),
                                 disable_web_page_preview=True)
        return
    png = await action_if_slow(context, message, asyncio.to_thread(draw_timeline, timeline), ChatAction.UPLOAD_PHOTO)
    await message.reply_photo(InputFile(png, filename="timeline.png"), caption=str(render_timeline(timeline)),
                              parse_mode=ParseMode.HTML, reply_markup=peak_keyboard(timeline),
                              do_quote=quoting(message))


def peak_keyboard(timeline: Timeline) -> InlineKeyboardMarkup:
    """A "Stories from <period>" button per peak, busiest first."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"Stories from {period_label(peak, timeline.unit)}",
                                                       callback_data=_peak_data(peak) + "0")]
                                 for peak in timeline.peaks])


def _peak_data(period: Period) -> str:
    """The callback data of a peak's buttons, without the offset (the "More" under its
    answer carries the next one)."""
    return f"p:{period.start.isoformat()}:{period.end.isoformat()}:"


async def peak_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A peak's button (or "More" under its answer): the citations for the subject from that
    period, as a reply to the /timeline message."""
    rt = runtime(context)
    query = update.callback_query
    found = _PEAK_DATA.match(query.data or "")
    asked = query.message.reply_to_message if isinstance(query.message, Message) else None
    subject = question_in(asked, context.bot.username) if asked is not None else ""
    if not found or not subject.strip():
        await query.answer("This chart has expired: please ask for it again.", show_alert=True)
        return
    await query.answer()
    period = Period(date.fromisoformat(found[1]), date.fromisoformat(found[2]), 0)
    offset = int(found[3])
    answer = await rt.service.ask(subject, k=rt.settings.citations, offset=offset, since=period.start,
                                  until=period.end)
    await send_answer(asked, answer, offset=offset, more=_peak_data(period))
