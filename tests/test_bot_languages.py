"""End to end in other languages: a Persian and a Russian question through the real Application,
answered from the stories in their language. The stories are made up for the test."""

from __future__ import annotations

import pytest

from tests.bot_harness import USER, plain, start_bot, stop_bot, story_text

STORIES = {
    "980001": ("2023-05-03", "Совет одобрил новый мост через реку",
               ["Городской совет одобрил строительство нового моста через реку, сообщили в мэрии.",
                "Стоимость моста оценивается в 3 миллиарда рублей, сказал глава комиссии."]),
    "980002": ("2023-05-04", "تصویب ساخت پل تازه روی رودخانه",
               ["شورای شهر ساخت یک پل تازه روی رودخانه را تصویب کرد.",
                "هزینه ساخت پل ۱۲۰ میلیارد تومان برآورد شده است."]),
}


@pytest.fixture
async def bot(api, tmp_path):
    running = await start_bot(api, tmp_path)
    for code, (day, title, paragraphs) in STORIES.items():
        (running.archive / f"{code}.txt").write_text(story_text(code, day, title, paragraphs), encoding="utf-8")
    await running.service.ingest([running.archive])
    yield running
    await stop_bot(running)


@pytest.mark.parametrize("question, quote, source", [
    ("Сколько будет стоить новый мост?", "3 миллиарда рублей", "3 мая 2023\u202fг. · материал 980001"),
    ("هزينه ساخت پل تازه چقدر است؟", "۱۲۰ میلیارد تومان", "4 مه 2023 · خبر 980002"),  # typed with Arabic yeh
])
async def test_a_question_in_another_language_is_answered_in_it(bot, question, quote, source):
    replies = await bot.ask_private(question)
    text = plain(replies[0])
    assert quote in text and source in text  # the date and the story code in the reader's language
    assert "NATO" not in text  # the English stories never answer it


async def test_help_is_in_the_language_the_sender_reads(bot, api):
    russian = {**api.user(USER), "language_code": "ru"}
    before = len(api.calls)
    api.private_text(USER, "/help", **{"from": russian})
    (reply,) = await bot.messages_to(USER, before)
    text = plain(reply)
    assert text.startswith("Я отвечаю на вопросы по архиву новостей") and "Пришлите вопрос" in text
    assert "/timeline" in text and "Спросите что-нибудь об архиве" in text


async def test_buttons_and_tips_are_in_the_question_language(bot):
    replies = await bot.ask_private("Сколько будет стоить новый мост?")
    labels = [b["text"] for row in replies[-1].params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[:1] == ["Весь материал"]
