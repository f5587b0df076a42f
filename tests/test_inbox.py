"""The inbox file: updates stored once, claimed by one process at a time, answered or dropped."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from retrieval import ArchiveError, Inbox, InboxCounts, inbox_path
from retrieval.storage.schema import INBOX_MIGRATIONS

BOT = 123456


class Clock:
    """A clock the test moves by hand (unix seconds)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def updates(*ids: int) -> list[tuple[int, str]]:
    return [(update_id, json.dumps({"update_id": update_id, "message": {"text": f"q{update_id}"}}))
            for update_id in ids]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def inbox(tmp_db: Path, clock: Clock):
    opened = await Inbox.open(tmp_db, BOT, lease=10, clock=clock)
    yield opened
    await opened.close()


def test_the_inbox_file_lies_beside_the_archive(tmp_path: Path):
    assert inbox_path(tmp_path / "archive.sqlite", BOT) == tmp_path / "archive.inbox-123456.sqlite"
    assert inbox_path(":memory:", BOT) == Path(":memory:")


async def test_each_bot_has_an_inbox_of_its_own(inbox: Inbox, tmp_db: Path):
    other_bot = await Inbox.open(tmp_db, BOT + 1)
    try:
        await inbox.add(updates(1))
        assert await other_bot.add(updates(1)) == 1  # its update 1 is another update
        assert (await other_bot.claim(5, max_age=3600, max_attempts=5))[0].update_id == 1
        assert (await inbox.counts()).pending == 1
    finally:
        await other_bot.close()


async def test_a_new_inbox_file_has_the_latest_schema(inbox: Inbox, tmp_db: Path):
    assert inbox.path.is_file() and inbox.path != tmp_db
    with sqlite3.connect(inbox.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(INBOX_MIGRATIONS)


async def test_an_inbox_file_from_a_newer_program_is_refused(tmp_db: Path):
    with sqlite3.connect(inbox_path(tmp_db, BOT)) as db:
        db.execute(f"PRAGMA user_version = {len(INBOX_MIGRATIONS) + 1}")
    with pytest.raises(ArchiveError, match="inbox file has schema version"):
        await Inbox.open(tmp_db, BOT)


async def test_an_update_is_stored_once_whatever_its_state(inbox: Inbox):
    assert await inbox.add(updates(1, 2, 3)) == 3
    assert await inbox.add(updates(2, 3, 4)) == 1  # a redelivery: 2 and 3 are there already
    for row in await inbox.claim(10, max_age=3600, max_attempts=5):
        await inbox.done([row.update_id])
    assert await inbox.add(updates(1)) == 0  # answered: a webhook retry of it changes nothing
    assert await inbox.counts() == InboxCounts(pending=0, answered=4, dropped=0)
    assert await inbox.claim(10, max_age=3600, max_attempts=5) == []


async def test_rows_are_claimed_oldest_first_with_their_payload(inbox: Inbox, clock: Clock):
    await inbox.add(updates(30, 31))
    clock.now += 1
    await inbox.add(updates(7))  # a later batch (update ids may start again after a quiet week)
    first = await inbox.claim(2, max_age=3600, max_attempts=5)
    assert [row.update_id for row in first] == [30, 31]
    assert json.loads(first[0].payload)["message"]["text"] == "q30"
    assert first[0].attempts == 1
    assert [row.update_id for row in await inbox.claim(5, max_age=3600, max_attempts=5)] == [7]


async def test_a_claimed_row_goes_to_another_process_only_when_its_lease_runs_out(inbox, tmp_db, clock):
    other = await Inbox.open(tmp_db, BOT, lease=10, clock=clock)
    try:
        assert other.owner != inbox.owner
        await inbox.add(updates(1, 2, 3))
        assert [row.update_id for row in await inbox.claim(2, max_age=3600, max_attempts=5)] == [1, 2]
        assert [row.update_id for row in await other.claim(5, max_age=3600, max_attempts=5)] == [3]
        clock.now += 9
        await inbox.renew([1])  # still answering 1; 2 is answered but its done mark failed
        await other.renew([1, 3])  # not its row 1: no change to it
        clock.now += 9
        assert [row.update_id for row in await other.claim(5, max_age=3600, max_attempts=5)] == [2]
        await other.renew([2, 3])
        clock.now += 2  # the first process died: no renewal came
        again = await other.claim(5, max_age=3600, max_attempts=5)
        assert [(row.update_id, row.attempts) for row in again] == [(1, 2)]
    finally:
        await other.close()


async def test_two_processes_claiming_at_once_never_share_a_row(tmp_db: Path):
    first, second = await Inbox.open(tmp_db, BOT), await Inbox.open(tmp_db, BOT)
    try:
        await first.add(updates(*range(1, 401)))

        async def drain(inbox: Inbox) -> list[int]:
            taken = []
            while rows := await inbox.claim(7, max_age=3600, max_attempts=5):
                taken += [row.update_id for row in rows]
                await inbox.done(taken[-len(rows):])
            return taken

        a, b = await asyncio.gather(drain(first), drain(second))
        assert not set(a) & set(b)
        assert sorted(a + b) == list(range(1, 401))  # (how the rows split between them is up to SQLite's locks)
    finally:
        await first.close()
        await second.close()


async def test_a_row_given_back_waits_its_delay(inbox: Inbox, clock: Clock):
    await inbox.add(updates(5))
    await inbox.claim(1, max_age=3600, max_attempts=5)
    await inbox.retry_later(5, delay=4)
    assert await inbox.claim(1, max_age=3600, max_attempts=5) == []
    assert (await inbox.counts()).pending == 1
    clock.now += 4
    assert [row.attempts for row in await inbox.claim(1, max_age=3600, max_attempts=5)] == [2]


async def test_stale_and_exhausted_rows_are_dropped_not_claimed(inbox: Inbox, clock: Clock):
    start = clock.now
    await inbox.add(updates(1))
    await inbox.claim(1, max_age=3600, max_attempts=2)
    await inbox.retry_later(1, delay=4000)
    clock.now = start + 3000
    await inbox.add(updates(2, 3))
    for _ in range(2):  # update 2 claimed twice, its process dying each time
        await inbox.claim(1, max_age=3600, max_attempts=2)
        clock.now += 11
    clock.now = start + 4001  # update 1 is due again, and older than an hour
    assert [row.update_id for row in await inbox.claim(5, max_age=3600, max_attempts=2)] == [3]
    assert await inbox.drop(max_age=3600, max_attempts=2) == ([1], [2])
    assert await inbox.counts() == InboxCounts(pending=1, answered=0, dropped=2)
    assert await inbox.drop(max_age=3600, max_attempts=2) == ([], [])  # update 3 is held


async def test_trim_deletes_only_rows_finished_long_enough_ago(inbox: Inbox, clock: Clock):
    await inbox.add(updates(1, 2, 3))
    await inbox.claim(1, max_age=3600, max_attempts=5)
    await inbox.done([1])
    clock.now += 86_401
    await inbox.add(updates(4))
    await inbox.claim(1, max_age=10**9, max_attempts=5)
    await inbox.done([2])
    assert await inbox.trim(keep=86_400) == 1  # update 1; update 2 was answered just now
    assert await inbox.counts() == InboxCounts(pending=2, answered=1, dropped=0)
    assert await inbox.add(updates(1)) == 1  # a day on, Telegram holds no copy to send again


async def test_an_archive_in_memory_has_its_inbox_in_memory():
    inbox = await Inbox.open(":memory:", BOT)
    try:
        assert await inbox.add(updates(1)) == 1
        assert (await inbox.counts()).pending == 1
    finally:
        await inbox.close()
