"""End to end, as a new user's channel post would bring it: a burst of questions from many chats,
the bot process SIGKILLed once a quarter of them is answered, then started again on the same
archive. Every question is answered, and once: twice only where the answer had left when the kill
came but the inbox row was not yet marked done (counted from the inbox file right after the kill).

The bot runs as `python -m bot.cli run` against the tests' Bot API server on 127.0.0.1, by long
polling and by webhook; in webhook mode the test plays Telegram and posts each update again until
it gets a 200.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from fakebotapi import BotAPIServer
from retrieval.storage.inbox import inbox_path
from tests.bot_harness import free_port, write_archive
from tests.bot_process import BotProcess

CHATS = 80
PER_CHAT = 3
BURST_SECONDS = 0.5
QUESTIONS = ["Can Russia prevent Ukraine from joining NATO?", "NATO summit in Brussels",
             "Ukraine air defence request", "Poland backs Kyiv", "Baltic states NATO troops"]
WAIT = 300
"""Seconds to wait for something that must happen (a start, the answers): generous, never a limit
on how fast."""
WEBHOOK_PATH = "/telegram"
SECRET = "kill-test-secret"


@dataclass
class Burst:
    """The questions sent, by (chat, message id), and the bot's answers to them."""

    api: BotAPIServer
    questions: dict[tuple[int, int], int] = field(default_factory=dict)  # -> update id

    def answers(self, before: float = math.inf) -> dict[tuple[int, int], int]:
        """How many answers each question has had so far, of those sent before `before` (the
        time the server received the sendMessage, which may take effect a moment later)."""
        counts = dict.fromkeys(self.questions, 0)
        for call in self.api.sent("sendMessage"):
            if call.time >= before:
                continue
            key = (int(call.params["chat_id"]), (call.params.get("reply_parameters") or {}).get("message_id"))
            if key in counts:
                counts[key] += 1
        return counts

    def answered(self) -> int:
        return sum(1 for n in self.answers().values() if n)

    async def send(self) -> None:
        """CHATS × PER_CHAT questions within BURST_SECONDS."""
        total = CHATS * PER_CHAT
        for n in range(total):
            chat = 30_000 + n % CHATS
            message = self.api.private_text(chat, QUESTIONS[n % len(QUESTIONS)])
            self.questions[(chat, message["message"]["message_id"])] = message["update_id"]
            await asyncio.sleep(BURST_SECONDS / total)


class Telegram:
    """Webhook delivery: each update POSTed until the bot answers 200 (Telegram retries too)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: aiohttp.ClientSession | None = None
        self.posting: set[asyncio.Task] = set()

    def __call__(self, update: dict) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(update))
        self.posting.add(task)
        task.add_done_callback(self.posting.discard)

    async def _deliver(self, update: dict) -> None:
        self.session = self.session or aiohttp.ClientSession()
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        while True:
            try:
                async with self.session.post(self.url, json=update, headers=headers) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass  # the bot is down: try again, as Telegram would
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        for task in self.posting:
            task.cancel()
        await asyncio.gather(*self.posting, return_exceptions=True)
        if self.session is not None:
            await self.session.close()


async def until(condition, what: str, bot: BotProcess) -> None:
    """Wait for `condition()`, failing with the bot's log if it never comes."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline or not bot.alive():
            raise AssertionError(f"{what}: not within {WAIT} s; the bot's log:\n{bot.logs[-1].read_text()[-3000:]}")
        await asyncio.sleep(0.02)


async def serving(api: BotAPIServer, bot: BotProcess, since: float, port: int | None) -> None:
    """Until the bot polls (or has set its webhook and listens on `port`) after `since`."""
    method = "setWebhook" if port else "getUpdates"
    await until(lambda: any(c.method == method and c.time > since for c in api.calls), f"{method} after start", bot)
    while port:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)


def inbox_rows(db: Path, bot_id: int) -> dict[int, str]:
    """Update id -> state, as the bot's inbox file holds them (read-write: recovers the killed WAL)."""
    with sqlite3.connect(inbox_path(db, bot_id)) as connection:
        return dict(connection.execute("SELECT update_id, state FROM inbox"))


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_burst_survives_a_sigkill_answered_once(mode, tmp_path, capsys):
    api = BotAPIServer(username="ArchiveBot")
    await api.start()
    db = tmp_path / "archive.sqlite"
    port = free_port() if mode == "webhook" else None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WEBHOOK_"))}
    env.update(TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_BASE_URL=api.base_url, TELEGRAM_BASE_FILE_URL=api.base_file_url,
               ARCHIVE_DB=str(db), ARCHIVE_PATHS=str(write_archive(tmp_path / "archive")),
               RATE_LIMIT_PER_MINUTE="0", LOG_FORMAT="json", PYTHONUNBUFFERED="1")
    telegram = None
    if port:
        env.update(WEBHOOK_URL=f"https://bot.example.org{WEBHOOK_PATH}", WEBHOOK_SECRET=SECRET,
                   WEBHOOK_LISTEN="127.0.0.1", WEBHOOK_PORT=str(port))
        api.deliver = telegram = Telegram(f"http://127.0.0.1:{port}{WEBHOOK_PATH}")
    bot = BotProcess(env, tmp_path)
    burst = Burst(api)
    try:
        started = time.monotonic()
        bot.start()
        await serving(api, bot, started, port)
        await burst.send()
        quarter = len(burst.questions) // 4
        await until(lambda: burst.answered() >= quarter, f"{quarter} answers", bot)
        killed_at = time.monotonic()
        bot.kill()
        done_at_kill = {update_id for update_id, state in inbox_rows(db, api.bot_id).items() if state == "done"}
        restarted = time.monotonic()
        bot.start()
        await serving(api, bot, restarted, port)
        await until(lambda: burst.answered() == len(burst.questions), "every question answered", bot)
        assert await bot.stop() == 0
        answers, at_kill = burst.answers(), burst.answers(before=killed_at)
        rows = inbox_rows(db, api.bot_id)
    finally:
        if bot.alive():
            bot.kill()
        if telegram is not None:
            await telegram.close()
        await api.stop()
    in_flight = {key for key, n in at_kill.items() if n and burst.questions[key] not in done_at_kill}
    twice = {key for key, n in answers.items() if n == 2}
    figures = {"mode": mode, "questions": len(burst.questions), "answered before the kill": sum(map(bool, at_kill.values())),
               "answer out but row not done at the kill (may come twice)": len(in_flight),
               "answered twice": len(twice), "lost": sum(1 for n in answers.values() if not n),
               "inbox rows not done at the end": sum(1 for state in rows.values() if state != "done")}
    with capsys.disabled():
        print("\n" + json.dumps(figures), flush=True)
    assert all(n >= 1 for n in answers.values())
    assert all(n == 1 or (n == 2 and key in in_flight) for key, n in answers.items()), \
        {key: n for key, n in answers.items() if n > 1}
    assert figures["inbox rows not done at the end"] == 0
    assert set(rows) == set(burst.questions.values())
    assert not [line for log in bot.logs for line in log.read_text().splitlines()
                if '"level": "ERROR"' in line or "Traceback" in line]
