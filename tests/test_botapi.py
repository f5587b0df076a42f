"""Tests of the fake Bot API server, fakebotapi, driven by python-telegram-bot's own client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import io

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from telegram import (Bot, InlineKeyboardButton, InlineKeyboardMarkup,
                      InlineQueryResultArticle, InputTextMessageContent, Update)
from telegram.error import (BadRequest, Conflict, NetworkError, RetryAfter, TelegramError,
                            TimedOut)
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from fakebotapi import BotAPIServer, Fault, HTMLParseError, parse_html, parse_html_entities
from fakebotapi.checks import MAX_PHOTO_BYTES

ACCEPTED_HTML = '<b>a &amp; b</b><blockquote>x</blockquote><a href="https://x">y</a>'


@pytest_asyncio.fixture
async def server():
    api = BotAPIServer()
    await api.start()
    yield api
    await api.stop()


def make_bot(server: BotAPIServer, read_timeout: float = 5.0) -> Bot:
    return Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url,
               request=HTTPXRequest(read_timeout=read_timeout, connect_timeout=2),
               get_updates_request=HTTPXRequest(read_timeout=read_timeout, connect_timeout=2))


@pytest_asyncio.fixture
async def bot(server: BotAPIServer):
    async with make_bot(server) as client:
        yield client


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("press", callback_data=data)]])


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


# ---- basics -----------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_get_me(bot: Bot, server: BotAPIServer) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "ArchiveBot" and me.id == server.bot_id
    assert me.supports_inline_queries and me.can_join_groups
    assert not me.can_read_all_group_messages


@pytest.mark.asyncio
async def test_send_message_round_trip(bot: Bot, server: BotAPIServer) -> None:
    first = await bot.send_message(42, "hello", reply_markup=keyboard("d1"))
    second = await bot.send_message(42, "again", reply_parameters={"message_id": first.message_id})
    assert first.text == "hello" and first.chat.type == "private"
    assert first.from_user.id == server.bot_id
    assert second.message_id == first.message_id + 1
    assert second.reply_to_message.message_id == first.message_id
    call = await server.wait_for("sendMessage", lambda c: c.params["text"] == "hello")
    assert call.params["chat_id"] == 42
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "d1"
    assert [c.params["text"] for c in server.sent("sendMessage", chat_id=42)] == ["hello", "again"]
    group = await bot.send_message(-1001, "in a group")
    assert group.chat.type == "supergroup"


@pytest.mark.asyncio
async def test_reply_to_unknown_message_is_rejected(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)message to be replied not found"):
        await bot.send_message(42, "x", reply_parameters={"message_id": 999})


@pytest.mark.asyncio
async def test_html_is_parsed_into_text_and_entities(bot: Bot) -> None:
    message = await bot.send_message(7, ACCEPTED_HTML, parse_mode="HTML")
    assert message.text == "a & bxy"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 5), ("blockquote", 5, 1), ("text_link", 6, 1)]
    assert message.entities[2].url == "https://x"


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["<b>unclosed", "a < b", "&nbsp;", "<script>", "a & b",
                                  "<b>x</i>", "<a>no href</a>", '<span class="x">s</span>'])
async def test_invalid_html_is_rejected(bot: Bot, server: BotAPIServer, text: str) -> None:
    with pytest.raises(BadRequest, match="(?i)Can't parse entities"):
        await bot.send_message(7, text, parse_mode="HTML")
    with pytest.raises(HTMLParseError):
        parse_html(text)
    assert server.sent("sendMessage") == []


def test_parse_html_details() -> None:
    assert parse_html("x > y &lt;&gt;&quot;&#39;&#x1F600;") == "x > y <>\"'\U0001F600"
    text, entities = parse_html_entities('<pre><code class="language-py">x</code></pre>')
    assert (text, entities) == ("x", [{"type": "pre", "language": "py", "offset": 0, "length": 1}])
    _, entities = parse_html_entities("\U0001F600<i>é</i>")
    assert entities == [{"type": "italic", "offset": 2, "length": 1}]    # UTF-16 offsets
    assert parse_html_entities("<blockquote expandable>q</blockquote>")[1][0]["type"] == \
        "expandable_blockquote"


@given(st.text())
def test_parse_html_inverts_escape(text: str) -> None:
    assert parse_html(html.escape(text, quote=False)) == text
    assert parse_html(html.escape(text, quote=True)) == text


@pytest.mark.asyncio
async def test_text_length_and_emptiness(bot: Bot) -> None:
    await bot.send_message(7, "x" * 4096)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(7, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(7, "<b>" + "&amp;" * 4097 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(7, "<b></b>", parse_mode="HTML")


@pytest.mark.asyncio
async def test_callback_data_limit(bot: Bot) -> None:
    await bot.send_message(7, "ok", reply_markup=keyboard("é" * 32))          # 64 bytes
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(7, "too much", reply_markup=keyboard("é" * 32 + "x"))


@pytest.mark.asyncio
async def test_edit_message_text(bot: Bot, server: BotAPIServer) -> None:
    sent = await bot.send_message(7, "v1", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("v1", 7, sent.message_id, reply_markup=keyboard("a"))
    edited = await bot.edit_message_text("<i>v1</i>", 7, sent.message_id, parse_mode="HTML")
    assert edited.text == "v1" and edited.reply_markup is None    # no markup: keyboard removed
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("v2", 7, 999)
    user_message = server.private_text(7, "mine")["message"]
    with pytest.raises(BadRequest, match="(?i)message can't be edited"):
        await bot.edit_message_text("v2", 7, user_message["message_id"])
    assert await bot.delete_message(7, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(7, sent.message_id)


@pytest.mark.asyncio
async def test_unknown_method_is_404(server: BotAPIServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.base_url}{server.token}/sendTelepathy",
                                     json={"chat_id": 1})
        wrong_token = await client.post(f"{server.base_url}999:nope/getMe")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert wrong_token.status_code == 401


@pytest.mark.asyncio
async def test_commands_and_chat_action(bot: Bot) -> None:
    await bot.set_my_commands([("start", "Start"), ("ask", "Ask a question")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "ask"]
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Name", "x")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.send_chat_action(7, "typing")


# ---- updates ----------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_long_poll_returns_pushed_update_and_offset_confirms(
        bot: Bot, server: BotAPIServer) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await server.wait_for("getMe")                 # the fixture's call; then let the poll arrive
    while not any(c.method == "getUpdates" for c in server.calls):
        await asyncio.sleep(0.01)
    pushed = server.private_text(5, "/start hello")
    updates = await poll
    assert [u.update_id for u in updates] == [pushed["update_id"]]
    assert updates[0].message.text == "/start hello"
    assert updates[0].message.entities[0].type == "bot_command"
    assert await bot.get_updates(offset=pushed["update_id"] + 1, timeout=0) == ()
    assert await bot.get_updates(timeout=0) == ()


@pytest.mark.asyncio
async def test_second_poll_ends_the_first_with_conflict(bot: Bot, server: BotAPIServer) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    while not any(c.method == "getUpdates" for c in server.calls):
        await asyncio.sleep(0.01)
    assert await bot.get_updates(timeout=0) == ()
    with pytest.raises(Conflict):
        await first


@pytest.mark.asyncio
async def test_deliver_takes_the_builders_updates_instead_of_the_queue(
        bot: Bot, server: BotAPIServer) -> None:
    delivered: list[dict] = []
    server.deliver = delivered.append
    press = server.callback(5, server.private_text(5, "hello")["message"], "more")
    assert delivered == [{"update_id": 1, "message": delivered[0]["message"]}, press]
    assert press["update_id"] == 2 and await bot.answer_callback_query(press["callback_query"]["id"])
    assert await bot.get_updates(timeout=0) == ()
    server.deliver = None
    queued = server.private_text(5, "again")
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [queued["update_id"]]


@pytest.mark.asyncio
async def test_listeners_hear_each_successful_call(bot: Bot, server: BotAPIServer) -> None:
    heard: list[str] = []
    server.add_listener(lambda call: heard.append(f"{call.method} {call.ok}"))
    await bot.send_message(5, "hi")
    with pytest.raises(BadRequest):
        await bot.send_message(5, " ")
    await bot.get_my_commands()
    assert heard == ["sendMessage True", "getMyCommands True"]


@pytest.mark.asyncio
async def test_long_poll_times_out_empty(bot: Bot) -> None:
    assert await bot.get_updates(timeout=1) == ()


@pytest.mark.asyncio
async def test_update_builders_parse_in_ptb(bot: Bot, server: BotAPIServer) -> None:
    sent = await bot.send_message(-1005, "question?", reply_markup=keyboard("more"))
    group = server.group_text(-1005, 9, "\U0001F600 hey @ArchiveBot see /ask@ArchiveBot now",
                              reply_to=sent.to_dict(), thread_id=3, is_forum=True)
    message = Update.de_json(group, bot).message
    assert message.reply_to_message.message_id == sent.message_id
    assert message.is_topic_message and message.message_thread_id == 3
    assert sorted(message.parse_entities().values()) == ["/ask@ArchiveBot", "@ArchiveBot"]
    post = Update.de_json(server.channel_post(-1007, "news"), bot).channel_post
    assert post.sender_chat.id == -1007 and post.from_user is None
    press = Update.de_json(server.callback(9, sent.to_dict(), "more"), bot).callback_query
    assert press.data == "more" and press.message.message_id == sent.message_id
    assert await bot.answer_callback_query(press.id)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(press.id)


@pytest.mark.asyncio
async def test_inline_query_answers(bot: Bot, server: BotAPIServer) -> None:
    def article(i: int, text: str = "t") -> InlineQueryResultArticle:
        return InlineQueryResultArticle(str(i), f"title {i}", InputTextMessageContent(
            text, parse_mode="HTML"))

    too_many = server.inline_query(3, "q")["inline_query"]["id"]
    with pytest.raises(BadRequest, match="(?i)RESULTS_TOO_MUCH"):
        await bot.answer_inline_query(too_many, [article(i) for i in range(51)])
    with pytest.raises(BadRequest):
        await bot.answer_inline_query(too_many, [article(1)], next_offset="x" * 65)
    with pytest.raises(BadRequest, match="(?i)Can't parse entities"):
        await bot.answer_inline_query(too_many, [article(1, "<b>oops")])
    assert await bot.answer_inline_query(too_many, [article(i) for i in range(50)],
                                         next_offset="50")


@pytest.mark.asyncio
async def test_document_get_file_and_download(bot: Bot, server: BotAPIServer) -> None:
    update = server.document(5, 5, "story.txt", b"archive bytes \x00\xff", caption="/ingest")
    document = Update.de_json(update, bot).message.document
    assert document.file_name == "story.txt" and document.mime_type == "text/plain"
    downloaded = await (await bot.get_file(document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"archive bytes \x00\xff"
    uploaded = await bot.send_document(5, b"report", filename="report.csv", caption="<b>r</b>",
                                       parse_mode="HTML")
    assert uploaded.caption == "r" and uploaded.document.file_name == "report.csv"
    assert bytes(await (await bot.get_file(uploaded.document.file_id)).download_as_bytearray()) \
        == b"report"
    with pytest.raises(BadRequest, match="(?i)invalid file_id"):
        await bot.get_file("nope")


def png(width: int, height: int) -> bytes:
    """A real PNG of that size (Pillow, which matplotlib brings)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.asyncio
async def test_send_photo_takes_a_png_within_telegrams_limits(bot: Bot, server: BotAPIServer) -> None:
    chart = png(1280, 960)
    sent = await bot.send_photo(5, chart, caption="<b>NATO</b>: 3 stories", parse_mode="HTML",
                                filename="chart.png")
    assert sent.caption == "NATO: 3 stories" and sent.caption_entities[0].type == "bold"
    [size] = sent.photo
    assert (size.width, size.height) == (1280, 960)
    assert bytes(await (await bot.get_file(size.file_id)).download_as_bytearray()) == chart
    again = await bot.send_photo(5, size.file_id)
    assert again.photo[0].file_id == size.file_id
    refused = [(b"GIF89a" + bytes(100), "IMAGE_PROCESS_FAILED"), (png(9000, 1001), "PHOTO_INVALID_DIMENSIONS"),
               (png(2100, 100), "PHOTO_INVALID_DIMENSIONS"),
               (chart + bytes(MAX_PHOTO_BYTES), "PHOTO_SAVE_FILE_INVALID")]
    for content, error in refused:
        with pytest.raises(BadRequest, match=f"(?i){error}"):  # PTB capitalizes the description
            await bot.send_photo(5, content, filename="x.png")
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_photo(5, chart, caption="x" * 1025)


# ---- webhooks ---------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_webhook_setup_and_delivery(bot: Bot, server: BotAPIServer) -> None:
    with pytest.raises(BadRequest, match="(?i)HTTPS"):
        await bot.set_webhook("http://example.test/hook")
    with pytest.raises(BadRequest, match="(?i)ports"):
        await bot.set_webhook("https://example.test:8080/hook")
    await bot.set_webhook("https://example.test/hook", secret_token="s3cret")
    with pytest.raises(Conflict):
        await bot.get_updates(timeout=0)
    received: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                         await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        update = server.private_text(5, "via webhook")
        assert (await bot.get_webhook_info()).pending_update_count == 1
        status = await server.post_webhook(f"http://127.0.0.1:{port}/hook", update, "s3cret")
    finally:
        await runner.cleanup()
    assert status == 200
    assert received == [("s3cret", update)]
    info = await bot.get_webhook_info()
    assert info.url == "https://example.test/hook" and info.pending_update_count == 0
    await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


# ---- faults -----------------------------------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after(bot: Bot, server: BotAPIServer) -> None:
    server.inject(Fault.retry_after(3), "sendMessage")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(7, "x")
    assert seconds(caught.value.retry_after) == 3
    assert server.sent("sendMessage") == [] and 7 not in {k[0] for k in server.messages}
    assert (await bot.send_message(7, "x")).message_id == 1
    assert server.fault_counts["429"] == 1


@pytest.mark.asyncio
async def test_server_error(bot: Bot, server: BotAPIServer) -> None:
    server.inject(Fault.server_error(), times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(7, "x")
    await bot.send_message(7, "x")
    assert len(server.sent("sendMessage")) == 1 and server.fault_counts["500"] == 2


@pytest.mark.asyncio
async def test_malformed_body(bot: Bot, server: BotAPIServer) -> None:
    server.inject(Fault.malformed(), "sendMessage")
    with pytest.raises(TelegramError, match="Invalid server response"):
        await bot.send_message(7, "x")
    assert server.sent("sendMessage") == []


@pytest.mark.asyncio
async def test_dropped_connection(bot: Bot, server: BotAPIServer) -> None:
    server.inject(Fault.drop(), "sendMessage")
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(7, "x")
    assert not isinstance(caught.value, TimedOut)
    assert server.sent("sendMessage") == []
    await bot.send_message(7, "after the drop")


@pytest.mark.asyncio
async def test_slow_answer_times_out_but_takes_effect(server: BotAPIServer) -> None:
    server.inject(Fault.slow(0.5), "sendMessage")
    async with make_bot(server, read_timeout=0.1) as client:
        with pytest.raises(TimedOut):
            await client.send_message(7, "late")
    call = await server.wait_for("sendMessage", lambda c: c.params["text"] == "late")
    assert call.fault == "slow" and call.result["text"] == "late"


@pytest.mark.asyncio
async def test_random_fault_rates(bot: Bot, server: BotAPIServer) -> None:
    server.set_fault_rates({"500": 1.0}, rng_seed=1, methods={"sendChatAction"})
    with pytest.raises(NetworkError):
        await bot.send_chat_action(7, "typing")
    await bot.send_message(7, "unaffected")
    server.set_fault_rates({})
    assert await bot.send_chat_action(7, "typing")


@pytest.mark.asyncio
async def test_wait_for_timeout_reports_recent_calls(bot: Bot, server: BotAPIServer) -> None:
    await bot.send_message(7, "something else")
    with pytest.raises(AssertionError, match="something else"):
        await server.wait_for("sendMessage", lambda c: c.params["text"] == "never", timeout=0.2)


# ---- with a real Application ------------------------------------------------------------------

@pytest.mark.asyncio
async def test_application_polls_and_replies(server: BotAPIServer) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_html(f"hi <b>{update.effective_user.first_name}</b>")

    app = (Application.builder().token(server.token).base_url(server.base_url)
           .base_file_url(server.base_file_url).build())
    app.add_handler(CommandHandler("start", start))
    server.inject(Fault.server_error(), "getUpdates")      # polling must survive it
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=1, poll_interval=0)
        server.private_text(77, "/start")
        call = await server.wait_for("sendMessage", lambda c: c.params["chat_id"] == 77)
        await app.updater.stop()
        await app.stop()
    assert call.result["text"] == "hi User77"
    assert call.result["entities"] == [{"type": "bold", "offset": 3, "length": 6}]
