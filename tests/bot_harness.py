"""A running bot for end-to-end tests: the real `Application` over HTTP against `BotAPIServer`."""

from __future__ import annotations

import asyncio
import shutil
import socket
from dataclasses import dataclass, replace
from pathlib import Path

from bot.app import build_application, serve
from bot.config import Settings
from fakebotapi import BotAPIServer, Call, parse_html
from retrieval import Inbox
from retrieval.service import ArchiveService

ROOT = Path(__file__).resolve().parents[1]
ADMIN = 4242
USER = 1001

EXTRA_STORIES = {
    # story code: (date line, title, paragraphs)
    "970001": ("2021-11-02", "NATO Summit Opens in Brussels",
               ["NATO leaders gathered in Brussels for a summit on eastern security.",
                "The alliance discussed Ukraine and the Black Sea, officials said."]),
    "970002": ("2021-11-05", "Ukraine Asks NATO for Air Defence",
               ["Ukraine asked NATO members for air defence systems on Friday.",
                "Kyiv said the request was urgent as tensions with Moscow grew."]),
    "970003": ("2021-11-09", "Poland Backs Kyiv's Alliance Bid",
               ["Poland said it supported Kyiv's membership bid and NATO's open door.",
                "Warsaw called on other members of the alliance to do the same."]),
    "970004": ("2021-11-12", "Baltic States Call for More NATO Troops",
               ["The Baltic states called for more NATO troops on their soil.",
                "Estonia, Latvia and Lithuania said Russia's moves near Ukraine worried them."]),
}


def story_text(code: str, day: str, title: str, paragraphs: list[str]) -> str:
    """A story in the archive's native text format."""
    return f" date {day} 0\n\n{title}\n\nStory Code : {code}\n" + "\n\n".join(paragraphs) + "\n"


def write_archive(folder: Path, stories: dict = EXTRA_STORIES) -> Path:
    """The shipped seed story plus `stories`, as story files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "seeds" / "960351.txt", folder / "960351.txt")
    for code, (day, title, paragraphs) in stories.items():
        (folder / f"{code}.txt").write_text(story_text(code, day, title, paragraphs), encoding="utf-8")
    return folder


@dataclass
class RunningBot:
    api: BotAPIServer
    settings: Settings
    service: ArchiveService
    inbox: Inbox
    archive: Path
    stop: asyncio.Event
    task: asyncio.Task

    async def ask_private(self, text: str, user: int = USER, timeout: float = 10) -> list[Call]:
        """Send `text` in a private chat and return the bot's messages sent after it."""
        before = len(self.api.calls)
        self.api.private_text(user, text)
        return await self.messages_to(user, before, timeout=timeout)

    async def messages_to(self, chat_id: int, after: int, timeout: float = 10) -> list[Call]:
        """The bot's messages to `chat_id` among the calls after the first `after` (waits for one)."""
        def to_chat(call: Call) -> bool:
            return int(call.params.get("chat_id", 0)) == chat_id and self.api.calls.index(call) >= after
        await self.api.wait_for("sendMessage", to_chat, timeout=timeout)
        await asyncio.sleep(0.1)  # a multi-message answer arrives back to back
        return [c for c in self.api.sent("sendMessage") if to_chat(c)]

    async def replies_to(self, message: dict, timeout: float = 10, method: str = "sendMessage") -> list[Call]:
        """The bot's messages (sent by `method`) in reply to `message` (waits for the first)."""
        def replies(call: Call) -> bool:
            reply = call.params.get("reply_parameters") or {}
            return (int(call.params.get("chat_id")) == message["chat"]["id"]
                    and reply.get("message_id") == message["message_id"])
        await self.api.wait_for(method, replies, timeout=timeout)
        await asyncio.sleep(0.1)  # a multi-message answer arrives back to back
        return [c for c in self.api.sent(method) if replies(c)]


async def start_bot(api: BotAPIServer, folder: Path, **overrides) -> RunningBot:
    """Ingest an archive in `folder` and run the bot against `api` until `stop_bot`."""
    archive = write_archive(folder / "archive")
    settings = Settings(token=api.token, admin_ids=frozenset({ADMIN}), db_path=folder / "archive.sqlite",
                        archive_paths=(archive,), base_url=api.base_url, base_file_url=api.base_file_url,
                        rate_limit_per_minute=1000)
    settings = replace(settings, **overrides)
    service = await ArchiveService.open(settings.db_path, settings.retrieval)
    await service.ingest([archive])
    inbox = await Inbox.open(settings.db_path, settings.bot_id)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(build_application(settings, service, inbox), settings, stop, poll_timeout=1))
    running = RunningBot(api, settings, service, inbox, archive, stop, task)
    if not settings.webhook_url:
        await api.wait_for("getUpdates", timeout=30)
    return running


async def stop_bot(running: RunningBot) -> None:
    running.stop.set()
    await running.task
    await running.inbox.close()
    await running.service.close()


def plain(call: Call, key: str = "text") -> str:
    """A sent message's text (or caption: `key`) as Telegram shows it (HTML parsed)."""
    text = call.params[key]
    return parse_html(text) if call.params.get("parse_mode") == "HTML" else text


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a webhook or health server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
