"""End to end: the real Application, over HTTP, against a Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from datetime import date

import aiohttp
import pytest

from fakebotapi import Fault, parse_html, parse_html_entities
from fakebotapi.checks import png_size
from retrieval import Inbox
from tests.bot_harness import ADMIN, USER, plain, start_bot, stop_bot, story_text

GROUP = -100200
CHANNEL = -100300
SEED_QUESTION = "Can Russia prevent Ukraine from joining NATO?"


@pytest.fixture
async def bot(api, tmp_path):
    running = await start_bot(api, tmp_path)
    yield running
    await stop_bot(running)


async def wait_for_port(port: int) -> None:
    """Until something listens on 127.0.0.1:port (the webhook server starts after setWebhook)."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


def assert_seed_answer(text: str) -> None:
    assert "We cannot prevent it. It is impossible." in text
    assert "25 October 2021" in text
    assert "960351" in text


async def test_private_question_is_answered_with_quote_and_date(bot):
    replies = await bot.ask_private(SEED_QUESTION)
    assert replies[0].params["parse_mode"] == "HTML"
    assert_seed_answer(plain(replies[0]))


async def test_a_quick_answer_comes_without_a_typing_action(bot, api):
    await bot.ask_private(SEED_QUESTION)
    assert not api.sent("sendChatAction")


async def test_a_slow_answer_shows_typing_first(bot, api, monkeypatch):
    monkeypatch.setattr("bot.handlers.TYPING_AFTER", 0.0)  # every answer counts as slow
    replies = await bot.ask_private(SEED_QUESTION)
    [typing] = api.sent("sendChatAction")
    assert typing.params["action"] == "typing" and int(typing.params["chat_id"]) == USER
    assert api.calls.index(typing) < api.calls.index(replies[0])
    assert_seed_answer(plain(replies[0]))


async def test_start_and_help_explain_with_the_archive_itself(bot):
    for command in ("/start", "/help"):
        (reply,) = await bot.ask_private(command)
        text = plain(reply)
        assert "2021-10-25" in text or "2021" in text
        assert "example" in text


@pytest.mark.parametrize("text", [f"/ask {SEED_QUESTION}", f"/ask@ArchiveBot {SEED_QUESTION}",
                                  f"@ArchiveBot {SEED_QUESTION}"])
async def test_group_questions_by_command_and_mention(bot, api, text):
    update = api.group_text(GROUP, USER, text)
    replies = await bot.replies_to(update["message"])
    assert_seed_answer(plain(replies[0]))


async def test_group_reply_to_the_bot_is_a_question(bot, api):
    first = await bot.replies_to(api.group_text(GROUP, USER, "/ask NATO summit")["message"])
    bot_message = first[0].result
    update = api.group_text(GROUP, USER, SEED_QUESTION, reply_to=bot_message)
    assert_seed_answer(plain((await bot.replies_to(update["message"]))[0]))


async def test_group_chatter_and_other_bots_commands_are_ignored(bot, api):
    chatter = api.group_text(GROUP, USER, "did anyone see the NATO news?")["message"]
    other = api.group_text(GROUP, USER, f"/ask@OtherBot {SEED_QUESTION}")["message"]
    answered = api.group_text(GROUP, USER, f"/ask {SEED_QUESTION}")["message"]
    await bot.replies_to(answered)
    replied_to = {(c.params.get("reply_parameters") or {}).get("message_id") for c in api.sent("sendMessage")}
    assert chatter["message_id"] not in replied_to
    assert other["message_id"] not in replied_to


async def test_forum_topic_answer_goes_to_the_same_topic(bot, api):
    update = api.group_text(GROUP, USER, f"/ask {SEED_QUESTION}", thread_id=77, is_forum=True)
    (reply, *_) = await bot.replies_to(update["message"])
    assert reply.params.get("message_thread_id") == 77


async def test_channel_post_is_answered_with_a_reply_post(bot, api):
    update = api.channel_post(CHANNEL, f"/ask {SEED_QUESTION}")
    replies = await bot.replies_to(update["channel_post"])
    assert_seed_answer(plain(replies[0]))


async def test_inline_query_offers_citations(bot, api):
    api.inline_query(USER, SEED_QUESTION)
    call = await api.wait_for("answerInlineQuery")
    results = call.params["results"]
    assert results and results[0]["title"].startswith("Moscow Says Cannot Prevent Ukraine")
    assert "We cannot prevent it." in parse_html(results[0]["input_message_content"]["message_text"])


async def test_empty_inline_query_offers_a_hint(bot, api):
    api.inline_query(USER, "")
    call = await api.wait_for("answerInlineQuery")
    assert call.params["results"] == []
    assert "question" in call.params["button"]["text"].lower()


async def test_more_and_full_story_buttons(bot, api):
    replies = await bot.ask_private("NATO Ukraine")
    keyboard = replies[-1].params["reply_markup"]["inline_keyboard"]
    buttons = {b["text"]: b["callback_data"] for row in keyboard for b in row}
    assert "More ▸" in buttons
    before = len(api.sent("sendMessage"))
    api.callback(USER, replies[-1].result, buttons["More ▸"])
    await api.wait_for("answerCallbackQuery")
    await api.wait_for("sendMessage", lambda c: len(api.sent("sendMessage")) > before)
    more = plain(api.sent("sendMessage")[before])
    assert "4. " in more and "1. " not in more

    story_button = next(data for text, data in buttons.items() if text.startswith("Full story"))
    before = len(api.sent("sendMessage"))
    api.callback(USER, replies[-1].result, story_button)
    await api.wait_for("sendMessage", lambda c: len(api.sent("sendMessage")) > before)
    assert "story" in plain(api.sent("sendMessage")[before])


async def test_more_after_the_question_is_gone_says_so_kindly(bot, api):
    replies = await bot.ask_private("NATO Ukraine")
    answer = replies[-1].result
    del api.messages[(answer["chat"]["id"], answer["message_id"])]["reply_to_message"]  # the question deleted
    api.callback(USER, answer, "m:3")
    call = await api.wait_for("answerCallbackQuery")
    assert "expired" in call.params["text"]


async def test_more_works_after_a_restart_and_in_a_group(api, tmp_path):
    """The button keeps nothing in the bot: pressed after a restart (or on another replica), the
    question is the message the answer replied to, /ask and all; older buttons' keys are ignored."""
    running = await start_bot(api, tmp_path)
    try:
        before = len(api.calls)
        api.group_text(GROUP, USER, "/ask@ArchiveBot NATO Ukraine")
        [answer] = await running.messages_to(GROUP, before)
    finally:
        await stop_bot(running)
    running = await start_bot(api, tmp_path)
    try:
        for data in ("m:3", "m:oldkey:3"):
            before = len(api.sent("sendMessage"))
            api.callback(USER, answer.result, data)
            await api.wait_for("sendMessage", lambda c: len(api.sent("sendMessage")) > before)
            more = api.sent("sendMessage")[before]
            assert "4. " in plain(more) and "1. " not in plain(more)
            assert more.params["reply_parameters"]["message_id"] == answer.result["reply_to_message"]["message_id"]
    finally:
        await stop_bot(running)


async def test_admin_reload_picks_up_a_new_story(bot, api):
    (bot.archive / "980001.txt").write_text(story_text(
        "980001", "2021-12-01", "Finland Weighs Membership",
        ["Finland's parliament began a debate on joining the alliance after Sweden's vote."]))
    replies = await bot.ask_private("/reload", user=ADMIN)
    status = replies[0]
    done = await api.wait_for("editMessageText", lambda c: "Reload done" in plain(c)
                              and c.params["message_id"] == status.result["message_id"])
    assert "1 added" in plain(done)
    answer = await bot.ask_private("Finland parliament debate")
    assert "980001" in plain(answer[0])


async def test_a_story_another_process_ingests_is_answered_from(api, tmp_path):
    """`archive-bot ingest` run beside the bot (or another replica's /reload): the bot takes the
    change in within ARCHIVE_FOLLOW_SECONDS, without a /reload of its own."""
    running = await start_bot(api, tmp_path, follow_seconds=0.2)
    try:
        story = tmp_path / "980002.txt"
        story.write_text(story_text("980002", "2021-12-02", "Sweden Weighs Membership",
                                    ["Sweden's parliament began a debate on joining the alliance."]))
        ingest = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--db", str(running.settings.db_path), "ingest", str(story),
            stdout=asyncio.subprocess.DEVNULL)
        assert await ingest.wait() == 0
        for _ in range(50):
            if running.service.snapshot.generation == await running.service.store.generation():
                break
            await asyncio.sleep(0.1)
        answer = await running.ask_private("Sweden parliament debate")
        assert "980002" in plain(answer[0])
    finally:
        await stop_bot(running)


async def test_reload_by_a_non_admin_is_refused(bot, api):
    (reply,) = await bot.ask_private("/reload", user=USER)
    assert "only the bot's admins" in plain(reply)


async def test_reload_over_a_broken_file_reports_it_and_keeps_answering(bot, api):
    (bot.archive / "broken.jsonl").write_text('{"id": "x1", "title": "Half', encoding="utf-8")
    (bot.archive / "empty.txt").write_text("", encoding="utf-8")
    status = (await bot.ask_private("/reload", user=ADMIN))[0]
    done = await api.wait_for("editMessageText", lambda c: "Reload done" in plain(c)
                              and c.params["message_id"] == status.result["message_id"])
    assert "broken.jsonl" in plain(done) and "empty.txt" in plain(done)
    assert_seed_answer(plain((await bot.ask_private(SEED_QUESTION))[0]))


async def test_a_reload_while_one_runs_is_told_so(bot, api, monkeypatch):
    ingest = bot.service.store.ingest

    async def slowly(*args, **kwargs):
        await asyncio.sleep(1)
        return await ingest(*args, **kwargs)

    monkeypatch.setattr(bot.service.store, "ingest", slowly)
    running = asyncio.create_task(bot.service.ingest([bot.archive]))  # as another admin's /reload
    await asyncio.sleep(0.1)
    (reply,) = await bot.ask_private("/reload", user=ADMIN)
    assert "already running" in plain(reply)
    await running


async def test_stats_for_admins(bot, api):
    await bot.ask_private(SEED_QUESTION)
    while (await bot.inbox.counts()).answered < 1:  # marked once its answer is out
        await asyncio.sleep(0.01)
    (reply,) = await bot.ask_private("/stats", user=ADMIN)
    text = plain(reply)
    assert "Stories: 5" in text and "Questions served: 1" in text and "p50" in text
    assert "Inbox: 1 pending, 1 answered, 0 dropped" in text  # /stats itself is being answered


async def test_admin_uploads_a_story_file(bot, api):
    content = story_text("990001", "2022-01-10", "Norway Holds Talks", ["Norway held talks on Arctic fishing quotas."])
    before = len(api.calls)
    api.document(ADMIN, ADMIN, "990001.txt", content.encode())
    replies = await bot.messages_to(ADMIN, before)
    assert "1 added" in plain(replies[0])
    assert (bot.archive / "990001.txt").exists()
    assert "990001" in plain((await bot.ask_private("Arctic fishing quotas"))[0])


async def test_non_admin_upload_is_refused(bot, api):
    before = len(api.calls)
    api.document(USER, USER, "x.txt", b"date 2022-01-01 0\n\nT\n\nStory Code : 1\nBody words.")
    (reply,) = await bot.messages_to(USER, before)
    assert "only the bot's admins" in plain(reply)


@pytest.mark.parametrize("question", ["<b>&amp;</script>", "x" * 4096, "🙂🙂🙂", "هل يمكن لروسيا منع أوكرانيا",
                                      "NATO " * 819])
async def test_bad_input_gets_a_well_formed_reply(bot, question):
    replies = await bot.ask_private(question)
    for reply in replies:
        assert plain(reply).strip()
        assert "something went wrong" not in plain(reply)


async def test_empty_ask_gets_usage(bot, api):
    update = api.group_text(GROUP, USER, "/ask")
    (reply,) = await bot.replies_to(update["message"])
    assert "/ask" in plain(reply) and "example" in plain(reply)


async def test_sticker_in_private_gets_a_hint(bot, api):
    before = len(api.calls)
    api.private_text(USER, None, sticker={"file_id": "s1", "file_unique_id": "u1", "type": "regular",
                                                  "width": 512, "height": 512, "is_animated": False,
                                                  "is_video": False})
    (reply,) = await bot.messages_to(USER, before)
    assert "question" in plain(reply)


@pytest.mark.parametrize("fault", ["retry_after", "server_error", "malformed", "slow"])
async def test_faults_on_send_still_answer(bot, api, fault):
    kinds = {"retry_after": Fault.retry_after(1), "server_error": Fault.server_error(),
             "malformed": Fault.malformed(), "slow": Fault.slow(0.5)}
    api.inject(kinds[fault], method="sendMessage", times=2)
    replies = await bot.ask_private(SEED_QUESTION, timeout=20)
    assert_seed_answer(plain(replies[0]))


async def test_faults_on_get_updates_do_not_stop_polling(bot, api):
    for fault in (Fault.server_error(), Fault.malformed(), Fault.drop()):
        api.inject(fault, method="getUpdates")
    replies = await bot.ask_private(SEED_QUESTION, timeout=30)
    assert_seed_answer(plain(replies[0]))


async def test_rate_limit_replies_kindly(api, tmp_path):
    running = await start_bot(api, tmp_path, rate_limit_per_minute=1)
    try:
        await running.ask_private(SEED_QUESTION)
        (reply,) = await running.ask_private("NATO summit")
        assert "faster than I can read" in plain(reply)
    finally:
        await stop_bot(running)


async def test_webhook_mode_answers_and_rejects_a_wrong_secret(api, tmp_path, unused_tcp_port):
    url = f"http://127.0.0.1:{unused_tcp_port}/telegram"  # where the proxy would forward to
    running = await start_bot(api, tmp_path, webhook_url="https://bot.example.org/telegram",
                              webhook_secret="s3cret-token",
                              webhook_listen="127.0.0.1", webhook_port=unused_tcp_port)
    try:
        await api.wait_for("setWebhook")
        await wait_for_port(unused_tcp_port)
        update = api.private_text(USER, SEED_QUESTION)
        assert await api.post_webhook(url, update, "wrong") == 403
        assert await api.post_webhook(url, update, "s3cret-token") == 200
        replies = await running.replies_to(update["message"])
        assert_seed_answer(plain(replies[0]))
    finally:
        await stop_bot(running)


async def test_token_never_appears_in_logs(bot, api, caplog):
    api.inject(Fault.server_error(), method="sendMessage")
    await bot.ask_private(SEED_QUESTION)
    assert api.token not in caplog.text
    assert api.token.split(":")[1] not in caplog.text


async def test_a_get_me_timing_out_at_start_is_retried(api, tmp_path):
    api.inject(Fault.slow(11), method="getMe")  # past the bot's 10 s read timeout
    running = await start_bot(api, tmp_path)
    try:
        assert len([c for c in api.calls if c.method == "getMe"]) >= 2
        assert_seed_answer(plain((await running.ask_private(SEED_QUESTION))[0]))
    finally:
        await stop_bot(running)


async def test_the_bot_sets_its_command_menu_at_start(bot, api):
    [call] = api.sent("setMyCommands")
    assert [c["command"] for c in call.params["commands"]] == ["ask", "timeline", "help", "stats", "reload"]


async def test_a_question_the_statistics_cannot_record_is_still_answered(bot, monkeypatch, caplog):
    async def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(bot.service, "record", locked)
    replies = await bot.ask_private(SEED_QUESTION)
    assert_seed_answer(plain(replies[0]))
    warning = "could not record a question for the statistics: database is locked"
    for _ in range(500):  # the write runs beside the answer
        if warning in caplog.text:
            break
        await asyncio.sleep(0.01)
    assert warning in caplog.text


# Highlighted quotes and timelines --------------------------------------------------------------

def bold_parts(html_text: str) -> list[str]:
    """The texts a message in HTML shows in bold (entity offsets count UTF-16 units)."""
    plain, entities = parse_html_entities(html_text)
    units = plain.encode("utf-16-le")
    return [units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le")
            for e in entities if e["type"] == "bold"]


async def test_the_question_s_words_are_bold_in_the_quote_in_its_quotation_marks(bot, api):
    [reply] = await bot.ask_private(SEED_QUESTION)
    assert '"We cannot prevent it. It is impossible."' in plain(reply)  # Peskov's words, marked as his
    assert "prevent" in bold_parts(reply.params["text"])
    api.inline_query(USER, SEED_QUESTION)
    result = (await api.wait_for("answerInlineQuery")).params["results"][0]
    assert "prevent" in bold_parts(result["input_message_content"]["message_text"])


async def test_timeline_in_a_private_chat_sends_a_chart_with_its_caption(bot, api):
    update = api.private_text(USER, "/timeline NATO")
    [photo] = await bot.replies_to(update["message"], method="sendPhoto")
    [size] = photo.result["photo"]
    assert png_size(api.files[size["file_id"]].content) == (size["width"], size["height"]) == (1280, 960)
    top = (await bot.service.ask("NATO", k=1, since=date(2021, 11, 1), until=date(2021, 11, 7))).citations[0]
    assert plain(photo, "caption") == (
        "NATO: 5 stories from 25 October 2021 to 12 November 2021, by week.\n"
        f"Busiest: 1–7 November 2021, 2 stories; the top one:\n{top.title}\n{top.date.day} November 2021"
        f" · story {top.story_id}")
    keyboard = photo.params["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in keyboard] == [["Stories from 1–7 November 2021"]]


async def test_a_peak_s_button_answers_with_that_period_s_stories(bot, api):
    update = api.group_text(GROUP, USER, "/timeline@ArchiveBot NATO")
    [photo] = await bot.replies_to(update["message"], method="sendPhoto")
    [[button]] = photo.params["reply_markup"]["inline_keyboard"]
    api.callback(USER, photo.result, button["callback_data"])
    answer = plain((await bot.replies_to(update["message"]))[0])
    assert "970001" in answer and "970002" in answer  # 2 and 5 November
    assert "960351" not in answer and "970003" not in answer  # 25 October, 9 November


async def test_timeline_in_a_channel_and_the_words_when_there_is_nothing_to_chart(bot, api):
    post = api.channel_post(CHANNEL, "/timeline NATO")["channel_post"]
    assert await bot.replies_to(post, method="sendPhoto")
    unknown = api.group_text(GROUP, USER, "/timeline Zyzzogeton")["message"]
    assert "never mentions “Zyzzogeton”" in plain((await bot.replies_to(unknown))[0])
    single = api.private_text(USER, "/timeline Peskov")["message"]
    [reply] = await bot.replies_to(single)
    assert "Only one dated story mentions “Peskov”" in plain(reply) and "960351" in plain(reply)
    empty = api.private_text(USER, "/timeline")["message"]
    assert "/timeline NATO" in plain((await bot.replies_to(empty))[0])
    assert not api.sent("sendPhoto", chat_id=GROUP) and len(api.sent("sendPhoto")) == 1


# the inbox ------------------------------------------------------------------------------------

async def test_an_update_getupdates_delivers_again_is_answered_once(bot, api):
    update = api.private_text(USER, SEED_QUESTION)
    replies = await bot.replies_to(update["message"])
    api.push_update(dict(update))  # the same update_id again, as after a lost confirmation
    api.private_text(USER, "NATO summit")  # a later question: once it is answered, the copy was seen
    await bot.messages_to(USER, len(api.calls))
    assert len(await bot.replies_to(update["message"])) == len(replies) == 1


async def test_a_webhook_stores_before_it_answers_200_and_answers_once(api, tmp_path, unused_tcp_port, monkeypatch):
    url = f"http://127.0.0.1:{unused_tcp_port}/telegram"
    running = await start_bot(api, tmp_path, webhook_url="https://bot.example.org/telegram",
                              webhook_listen="127.0.0.1", webhook_port=unused_tcp_port)
    try:
        await api.wait_for("setWebhook")
        await wait_for_port(unused_tcp_port)
        update = api.private_text(USER, SEED_QUESTION)

        async def locked(updates):
            raise sqlite3.OperationalError("database is locked")

        with monkeypatch.context() as patched:
            patched.setattr(running.inbox, "add", locked)
            assert await api.post_webhook(url, update, None) == 503  # Telegram sends it again
        assert not api.sent("sendMessage")
        assert await api.post_webhook(url, update, None) == 200
        assert await api.post_webhook(url, update, None) == 200  # a retry after a lost 200
        async with aiohttp.ClientSession() as session, session.post(url, data=b'{"not": "an update"}') as response:
            assert response.status == 400
        await running.replies_to(update["message"])
        later = api.private_text(USER, "NATO summit")
        assert await api.post_webhook(url, later, None) == 200
        await running.replies_to(later["message"])
        assert len(await running.replies_to(update["message"])) == 1
    finally:
        await stop_bot(running)


async def test_at_start_the_inbox_is_answered_first_and_a_stale_row_dropped(api, tmp_path, caplog):
    kept: list[dict] = []
    api.deliver = kept.append  # made and known to the server, but never delivered
    waiting, stale = api.private_text(USER, SEED_QUESTION), api.private_text(USER + 1, SEED_QUESTION)
    api.deliver = None
    inbox = await Inbox.open(tmp_path / "archive.sqlite", api.bot_id, clock=lambda: time.time() - 7200)
    await inbox.add([(stale["update_id"], json.dumps(stale))])
    await inbox.close()
    inbox = await Inbox.open(tmp_path / "archive.sqlite", api.bot_id)
    await inbox.add([(waiting["update_id"], json.dumps(waiting))])
    await inbox.close()
    running = await start_bot(api, tmp_path)
    try:
        assert_seed_answer(plain((await running.replies_to(waiting["message"]))[0]))
        assert f"dropped update {stale['update_id']} from the inbox: older than INBOX_MAX_AGE" in caplog.text
        assert not [c for c in api.sent("sendMessage") if int(c.params["chat_id"]) == USER + 1]
        assert (await running.inbox.counts()).dropped == 1
    finally:
        await stop_bot(running)


async def test_an_answer_the_bot_api_keeps_failing_is_sent_later_without_an_apology(bot, api, monkeypatch):
    monkeypatch.setattr("bot.dispatch.RETRY_DELAY", 0.5)
    api.inject(Fault.server_error(), method="sendMessage", times=5)  # past bot/delivery.py's 4 retries
    replies = await bot.ask_private(SEED_QUESTION, timeout=30)
    assert_seed_answer(plain(replies[0]))
    assert not [c for c in api.sent("sendMessage") if plain(c).startswith("Sorry")]
    assert len([c for c in api.calls if c.method == "sendMessage"]) == 6


async def test_a_done_mark_that_cannot_be_written_is_written_later(bot, api, monkeypatch):
    write = bot.inbox.done
    failed = []

    async def locked_once(update_ids):
        if not failed:
            failed.append(list(update_ids))
            raise sqlite3.OperationalError("database is locked")
        return await write(update_ids)

    monkeypatch.setattr(bot.inbox, "done", locked_once)
    update = api.private_text(USER, SEED_QUESTION)
    await bot.replies_to(update["message"])
    while (await bot.inbox.counts()).answered < 1:  # the next turn writes it
        await asyncio.sleep(0.01)
    assert failed == [[update["update_id"]]]
    assert len(await bot.replies_to(update["message"])) == 1
