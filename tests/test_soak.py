"""The soak: the bot as a real process, many people asking, the Bot API failing, admins
reloading, and one hard kill.

The bot runs as `python -m bot.cli run` against the tests' Bot API server (fakebotapi) on
127.0.0.1, which injects faults into every method, getUpdates and getMe included: 5% 429 with
retry_after, 2% 500, 1% dropped connections and 1% answers delayed past the bot's read timeout.
200 simulated people ask in private chats and groups; an admin sends /reload every few hundred
questions (one reload meets a corrupt file, one is cut short by SIGKILL, after which the bot is
started again, as systemd or Docker would). Then it reports and checks:

* questions sent, answered, answered twice, lost. An answer to question Q is a sendMessage whose
  reply_parameters.message_id is Q's message id in Q's chat. None may be lost: the bot stores
  every update in its inbox before it confirms it (getUpdates offset), and answers what the inbox
  holds after the restart. Only a question whose answer had left when the kill came, but whose
  inbox row was not yet marked done, may be answered twice: those are counted from the inbox file
  right after the kill.
* crashes: ERROR or CRITICAL log records (the error handler's included) and tracebacks on stderr;
* reloads completed; the integrity check of the SQLite files (the archive and its inbox) right
  after the kill and at the end;
* the bot's peak RSS, and its growth from the process's first thousand questions to its last.

`make soak` runs the full one (SOAK_QUESTIONS, default 10,000; SOAK_RATE questions a second,
default 12); `make test` runs a short one. Nothing here asserts on time.
"""

from __future__ import annotations

import asyncio
import collections
import gzip
import json
import os
import random
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest

from fakebotapi import BotAPIServer, Call, Fault, parse_html
from retrieval.storage.inbox import inbox_path
from tests.bot_harness import EXTRA_STORIES, free_port, story_text, write_archive
from tests.bot_process import BotProcess

USERS = 200
GROUPS = 60
ADMIN = 777_000_001
FAULT_RATES = {"429": 0.05, "500": 0.02, "drop": 0.01, "slow": 0.01}
BOT_READ_TIMEOUT = 10     # bot/app.py: .read_timeout(10)
SLOW_SECONDS = BOT_READ_TIMEOUT + 1.5
MAX_OUTSTANDING = 200     # questions sent but not yet answered before the sender waits
QUIET_SECONDS = 45        # the drain ends when nothing was answered for this long
START_WAIT = 120          # a bot that has not polled by then has failed to start
APOLOGY = "Sorry, something went wrong"
SEED_QUESTION = "Can Russia prevent Ukraine from joining NATO?"

PLACES = ["Brazil", "Kenya", "Norway", "Chile", "Japan", "Egypt", "Canada", "Peru", "India", "Ghana",
          "Spain", "Vietnam", "Mexico", "Poland", "Turkey", "Nigeria", "Sweden", "Colombia",
          "Indonesia", "Morocco"]
CITIES = ["London", "Chicago", "Singapore", "Rotterdam", "Dubai", "Sydney", "Geneva", "Mumbai"]
TOPICS = [("cocoa", "harvest"), ("copper", "mine"), ("wheat", "exports"), ("oil", "pipeline"),
          ("coffee", "prices"), ("railway", "strike"), ("election", "turnout"),
          ("bank", "interest rates"), ("fishing", "quota"), ("solar", "plant"), ("steel", "tariffs"),
          ("tourism", "season")]
MINISTRIES = ["trade", "finance", "energy", "agriculture", "transport"]


# The archive ------------------------------------------------------------------------------------

def story_record(number: int, rng: random.Random) -> dict:
    """A short synthetic news story as a JSON Lines record."""
    place = rng.choice(PLACES)
    a, b = rng.choice(TOPICS)
    day = date(2020, 1, 1) + timedelta(days=number % 1400)
    body = "\n\n".join([
        f"Officials in {place} said the {a} {b} figures for {day:%B %Y} were "
        f"{rng.randint(2, 98)} percent {rng.choice(['higher', 'lower'])} than a year earlier.",
        f"Traders in {rng.choice(CITIES)} expect the {a} market to {rng.choice(['recover', 'slow', 'swing'])} "
        f"as {rng.choice(PLACES)} changes its {b} policy. \"We are watching {place} closely,\" one said.",
        f"The ministry of {rng.choice(MINISTRIES)} in {place} declined to comment on the {b}.",
    ])
    return {"id": f"S{number:06d}", "title": f"{place} {a.title()} {b.title()}: Report {number}",
            "date": day.isoformat(), "body": body}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def question_text(rng: random.Random) -> str:
    place = rng.choice(PLACES)
    a, b = rng.choice(TOPICS)
    day = date(2020, 1, 1) + timedelta(days=rng.randrange(1400))
    return rng.choice([
        f"What did officials in {place} say about the {a} {b}?",
        f"{place} {a} {b}",
        f"{a} {b} in {place} in {day:%B %Y}",
        f'"{a} {b}" {place}',
        f"{place} {a} -{b.split()[0]}",
        f"Why do traders in {rng.choice(CITIES)} watch {place}?",
        SEED_QUESTION,
        "What did the Kremlin say about NATO?",
        "zebra quantum marmalade",
    ])


# The bot process --------------------------------------------------------------------------------

async def wait_until_polling(api: BotAPIServer, bot: BotProcess, since: float) -> None:
    """Until the bot's first successful getUpdates after `since`, restarting it if it dies."""
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if any(c.method == "getUpdates" and c.time > since for c in reversed(api.calls[-200:])):
            return
        if bot.restart_if_dead():
            since = time.monotonic()
        await asyncio.sleep(0.05)
    raise AssertionError(f"the bot did not start polling; its log:\n{bot.logs[-1].read_text()[-3000:]}")


# Watching the server ----------------------------------------------------------------------------

@dataclass
class Question:
    number: int
    chat_id: int
    message_id: int
    update_id: int
    kind: str
    sent: float
    text: str = ""


@dataclass
class Tracker:
    """Reads the server's calls as they come: answers by question, reload outcomes."""

    api: BotAPIServer
    seen: int = 0
    pending: list[Call] = field(default_factory=list)
    answers: dict[tuple[int, int], list[tuple[float, str]]] = field(
        default_factory=lambda: collections.defaultdict(list))
    apologies: int = 0
    reload_texts: list[str] = field(default_factory=list)
    reload_started: int = 0

    def scan(self) -> None:
        calls = self.api.calls
        fresh, self.seen = calls[self.seen:], len(calls)
        self.pending += [c for c in fresh if c.method in ("sendMessage", "editMessageText")]
        waiting = []
        for call in self.pending:
            if call.ok:
                self._record(call)
            elif call.error is None and call.fault in (None, "slow"):
                waiting.append(call)  # a slow answer takes effect after the delay
        self.pending = waiting

    def _record(self, call: Call) -> None:
        text = str(call.params.get("text") or "")
        if str(call.params.get("parse_mode") or "").lower() == "html":
            text = parse_html(text)
        chat = int(call.params.get("chat_id") or 0)
        if chat == ADMIN:
            if call.method == "editMessageText" and text.startswith(("Reload done", "Reload failed")):
                self.reload_texts.append(text)
            elif call.method == "sendMessage" and text.startswith("Reloading the archive"):
                self.reload_started += 1
            return
        if text.startswith(APOLOGY):
            self.apologies += 1
            return
        reply = call.params.get("reply_parameters") or {}
        if call.method == "sendMessage" and reply.get("message_id"):
            self.answers[(chat, int(reply["message_id"]))].append((call.time, text))

    def answered(self, question: Question) -> bool:
        return (question.chat_id, question.message_id) in self.answers


# The run ----------------------------------------------------------------------------------------

@dataclass
class SoakReport:
    sent: int = 0
    answered: int = 0
    twice: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    in_flight_sent: set[int] = field(default_factory=set)  # answer out, row not done: may be answered twice
    unanswered_at_kill: set[int] = field(default_factory=set)
    answered_after_restart: int = 0
    killed_at: float = 0.0
    done_at_kill: set[int] = field(default_factory=set)  # update ids the inbox held as done
    restarted_at: float = 0.0
    apologies: int = 0
    crashes: dict[str, int] = field(default_factory=dict)
    token_in_log: int = 0
    non_json_lines: int = 0
    answered_log_lines: int = 0
    reloads_sent: int = 0
    reloads_done: int = 0
    reloads_failed: int = 0
    broken_file_reported: bool = False
    health_probes: collections.Counter = field(default_factory=collections.Counter)
    integrity_after_kill: str = ""
    integrity_at_end: str = ""
    supervisor_restarts: list[int] = field(default_factory=list)
    final_exit: int | None = None
    rss: list[tuple[int, int, int]] = field(default_factory=list)  # (generation, questions sent, bytes)
    faults: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    seconds: float = 0.0

    def rss_growth(self) -> dict[int, float]:
        """MB growth per process: from its first thousand questions (or its first sample) to its last."""
        growth = {}
        for generation in sorted({g for g, _, _ in self.rss}):
            samples = [(n, b) for g, n, b in self.rss if g == generation]
            start = samples[0][0]
            after = [b for n, b in samples if n >= start + 1000] or [samples[0][1]]
            growth[generation] = (samples[-1][1] - after[0]) / 2**20
        return growth

    def table(self) -> str:
        peak = max((b for _, _, b in self.rss), default=0) / 2**20
        growth = ", ".join(f"process {g}: {mb:+.1f} MB" for g, mb in self.rss_growth().items())
        rows = [
            ("questions sent", f"{self.sent:,}"),
            ("answered", f"{self.answered:,}"),
            ("answered twice", f"{len(self.twice)} (allowed: answer out but inbox row not done at the "
                               f"kill, {len(self.in_flight_sent)})"),
            ("lost", f"{len(self.lost)} (allowed: 0)"),
            ("unanswered at the kill, answered after restart",
             f"{self.answered_after_restart} of {len(self.unanswered_at_kill)}"),
            ("apologies sent", f"{self.apologies}"),
            ("crashes (ERROR/CRITICAL records, tracebacks)",
             ", ".join(f"{k} {v}" for k, v in self.crashes.items()) or "0"),
            ("log lines not JSON / with the token", f"{self.non_json_lines} / {self.token_in_log}"),
            ("'answered' log lines", f"{self.answered_log_lines:,}"),
            ("reloads sent / completed / failed", f"{self.reloads_sent} / {self.reloads_done} / {self.reloads_failed}"),
            ("corrupt file reported by its reload", "yes" if self.broken_file_reported else "no"),
            ("health probes (/healthz?offline=1)", ", ".join(f"{k} {v}" for k, v in self.health_probes.items())),
            ("integrity_check after SIGKILL / at end", f"{self.integrity_after_kill} / {self.integrity_at_end}"),
            ("restarts after a failed start", f"{len(self.supervisor_restarts)}"
                                              + (f" (exit codes {self.supervisor_restarts})" if self.supervisor_restarts else "")),
            ("exit code on SIGTERM at the end", f"{self.final_exit}"),
            ("peak RSS", f"{peak:.1f} MB"),
            ("RSS growth, first 1,000 questions to last", growth),
            ("RSS by questions sent (process: MB)", "  ".join(
                f"{n:,}={g}:{b / 2**20:.0f}" for g, n, b in self.rss if n % 1000 == 0)),
            ("faults injected", ", ".join(f"{k} {v:,}" for k, v in sorted(self.faults.items()))),
            ("Bot API calls", f"{self.calls:,}"),
            ("wall time", f"{self.seconds:.0f} s"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


async def probe_health(port: int) -> str:
    """GET /healthz?offline=1 on the bot's health port: the status code, or why there was none."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        writer.write(b"GET /healthz?offline=1 HTTP/1.1\r\nHost: bot\r\n\r\n")
        await writer.drain()
        status = (await asyncio.wait_for(reader.readline(), 30)).split()[1].decode()
        writer.close()
        return status
    except (OSError, asyncio.TimeoutError, IndexError) as error:
        return type(error).__name__


def integrity(db: Path, bot_id: int) -> str:
    """The integrity check of the archive file and of the bot's inbox file."""
    found = []
    for path in (db, inbox_path(db, bot_id)):
        with sqlite3.connect(path) as connection:  # read-write: recovers the WAL a killed process left
            found += [row[0] for row in connection.execute("PRAGMA integrity_check")]
    return "; ".join(dict.fromkeys(found))


def inbox_done(db: Path, bot_id: int) -> set[int]:
    """The update ids the bot's inbox beside `db` holds as done."""
    with sqlite3.connect(inbox_path(db, bot_id)) as connection:
        return {row[0] for row in connection.execute("SELECT update_id FROM inbox WHERE state = 'done'")}


async def run_soak(folder: Path, questions: int, rate: float, stories: int, big_file_stories: int,
                   reload_every: int, seed: int = 1) -> SoakReport:
    rng = random.Random(seed)
    report = SoakReport()
    archive = write_archive(folder / "archive", EXTRA_STORIES)
    write_jsonl(archive / "corpus.jsonl", [story_record(n, rng) for n in range(stories)])
    db = folder / "archive.sqlite"
    api = BotAPIServer(username="ArchiveBot")
    await api.start()
    health_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WEBHOOK_"))}
    env.update(TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_BASE_URL=api.base_url,
               TELEGRAM_BASE_FILE_URL=api.base_file_url, ARCHIVE_DB=str(db), ARCHIVE_PATHS=str(archive),
               ADMIN_IDS=str(ADMIN), RATE_LIMIT_PER_MINUTE="0", LOG_FORMAT="json", LOG_LEVEL="INFO",
               HEALTH_PORT=str(health_port), PYTHONUNBUFFERED="1")
    bot = BotProcess(env, folder)
    tracker = Tracker(api)
    users = [20_000 + n for n in range(USERS)]
    groups = [-1_001_000_000_000 - n for n in range(GROUPS)]
    membership = {user: rng.sample(groups, 2) for user in users}
    sent: list[Question] = []
    kill_at = int(questions * 0.4)
    broken_at = reload_every * 2
    started = time.monotonic()
    api.set_fault_rates(FAULT_RATES, rng_seed=seed, slow_seconds=SLOW_SECONDS)
    try:
        bot.start()
        await wait_until_polling(api, bot, started)
        begin = time.monotonic()
        while len(sent) < questions:
            number = len(sent)
            # pace: `rate` a second, and never more than MAX_OUTSTANDING unanswered
            while True:
                tracker.scan()
                bot.restart_if_dead()
                outstanding = sum(1 for q in sent[-2 * MAX_OUTSTANDING:] if not tracker.answered(q))
                delay = begin + number / rate - time.monotonic()
                if outstanding < MAX_OUTSTANDING and delay <= 0:
                    break
                await asyncio.sleep(max(0.005, min(delay, 0.05)))
            sent.append(ask(api, rng, number, membership))
            if number % 100 == 0 and bot.alive():
                if (rss := bot.rss()) is not None:
                    report.rss.append((bot.generation, number, rss))
            if number and number % reload_every == 0 and number != kill_at:
                if number == broken_at:
                    write_broken_file(archive)
                (archive / f"new-{number}.txt").write_text(story_text(
                    f"98{number:05d}", "2022-01-15", f"Reload Story {number}",
                    [f"A story added before reload {number} about {rng.choice(PLACES)}."]), encoding="utf-8")
                api.private_text(ADMIN, "/reload")
                report.reloads_sent += 1
                report.health_probes[await probe_health(health_port)] += 1
            if number == kill_at:
                await kill_during_reload(api, bot, tracker, archive, rng, big_file_stories, report, sent, db,
                                         membership)
        await drain(bot, tracker, sent)
        report.final_exit = await bot.stop()
        tracker.scan()
    finally:
        if bot.alive():
            bot.process.kill()
            bot.process.wait()
        await api.stop()
    report.seconds = time.monotonic() - started
    report.integrity_at_end = integrity(db, api.bot_id)
    report.supervisor_restarts = bot.exits
    report.faults = dict(api.fault_counts)
    report.calls = len(api.calls)
    dump_calls(folder / "calls.jsonl", api.calls, sent)
    tally(report, tracker, sent)
    read_logs(report, bot.logs, api.token)
    return report


def ask(api: BotAPIServer, rng: random.Random, number: int, membership: dict[int, list[int]]) -> Question:
    user = rng.choice(list(membership))
    text = question_text(rng)
    if rng.random() < 0.65:
        update = api.private_text(user, text)
        kind = "private"
    else:
        group = rng.choice(membership[user])
        text = rng.choice([f"/ask {text}", f"@ArchiveBot {text}", f"/ask@ArchiveBot {text}"])
        update = api.group_text(group, user, text)
        kind = "group"
    message = update["message"]
    return Question(number, message["chat"]["id"], message["message_id"], update["update_id"], kind,
                    time.monotonic(), text)


def write_broken_file(archive: Path) -> None:
    """A gzip file cut short, as an interrupted upload leaves it."""
    whole = gzip.compress("".join(json.dumps(story_record(900_000 + n, random.Random(n))) + "\n"
                                  for n in range(50)).encode())
    (archive / "broken.jsonl.gz").write_bytes(whole[:len(whole) // 2])


async def kill_during_reload(api: BotAPIServer, bot: BotProcess, tracker: Tracker, archive: Path,
                             rng: random.Random, big_file_stories: int, report: SoakReport,
                             sent: list[Question], db: Path, membership: dict[int, list[int]]) -> None:
    """Add a large file, /reload, and SIGKILL the bot while it ingests and answers; then start it
    again. Just before the kill the bot's next getUpdates is held up (as a slow network would):
    the questions sent meanwhile come to the restarted process, while those of the batch it is
    answering come from its inbox."""
    write_jsonl(archive / "big.jsonl", [story_record(500_000 + n, rng) for n in range(big_file_stories)])
    before = tracker.reload_started
    api.private_text(ADMIN, "/reload")
    report.reloads_sent += 1
    deadline = time.monotonic() + 3 * SLOW_SECONDS
    while tracker.reload_started == before and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        tracker.scan()
    api.inject(Fault.slow(60), method="getUpdates")
    for _ in range(20):  # questions keep coming while it ingests
        await asyncio.sleep(1 / 20)
        sent.append(ask(api, rng, len(sent), membership))
    report.killed_at = time.monotonic()
    bot.kill()
    report.integrity_after_kill = integrity(db, api.bot_id)
    report.done_at_kill = inbox_done(db, api.bot_id)
    await asyncio.sleep(1)  # RestartSec
    report.restarted_at = time.monotonic()
    bot.start()
    await wait_until_polling(api, bot, report.restarted_at)


async def drain(bot: BotProcess, tracker: Tracker, sent: list[Question]) -> None:
    """Wait until every question is answered, or until nothing more is answered for QUIET_SECONDS."""
    last_progress, last_count = time.monotonic(), -1
    while time.monotonic() - last_progress < QUIET_SECONDS:
        tracker.scan()
        bot.restart_if_dead()
        count = sum(1 for q in sent if tracker.answered(q))
        if not tracker.pending and all(tracker.answered(q) for q in sent):
            return
        if count != last_count:
            last_progress, last_count = time.monotonic(), count
        await asyncio.sleep(0.2)


def dump_calls(path: Path, calls: list[Call], sent: list[Question]) -> None:
    """Every call and question, for looking into a failed run."""
    with open(path, "w", encoding="utf-8") as out:
        for q in sent:
            out.write(json.dumps({"question": q.__dict__}) + "\n")
        for c in calls:
            if c.method != "getUpdates" or c.fault:
                out.write(json.dumps({"t": c.time, "method": c.method, "ok": c.ok, "fault": c.fault,
                                      "error": c.error, "params": c.params}, default=repr) + "\n")


def tally(report: SoakReport, tracker: Tracker, sent: list[Question]) -> None:
    report.sent = len(sent)
    report.apologies = tracker.apologies
    for question in sent:
        answers = tracker.answers.get((question.chat_id, question.message_id), [])
        # an answer had left when its sendMessage reached the server, though a slow one took effect later
        if not any(t < report.killed_at for t, _ in answers):
            report.unanswered_at_kill.add(question.number)
        elif question.update_id not in report.done_at_kill:
            report.in_flight_sent.add(question.number)
        texts = [text for _, text in answers]
        if not texts:
            report.lost.append(question.number)
            continue
        report.answered += 1
        if len(texts) != len(set(texts)):
            report.twice.append(question.number)
        if question.number in report.unanswered_at_kill and any(t > report.restarted_at for t, _ in answers):
            report.answered_after_restart += 1
    report.reloads_done = sum(1 for t in tracker.reload_texts if t.startswith("Reload done"))
    report.reloads_failed = sum(1 for t in tracker.reload_texts if t.startswith("Reload failed"))
    report.broken_file_reported = any("broken.jsonl.gz" in t for t in tracker.reload_texts)


def read_logs(report: SoakReport, logs: list[Path], token: str) -> None:
    crashes: collections.Counter[str] = collections.Counter()
    for log in logs:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if token in line:
                report.token_in_log += 1
            try:
                entry = json.loads(line)
            except ValueError:
                report.non_json_lines += 1
                if "Traceback" in line:
                    crashes["traceback on stderr"] += 1
                continue
            if entry.get("level") in ("ERROR", "CRITICAL"):
                crashes[f"{entry['level']} {entry.get('logger')}: {entry.get('message', '')[:60]}"] += 1
            if str(entry.get("message", "")).startswith("answered chat_type="):
                report.answered_log_lines += 1
    report.crashes = dict(crashes)


def check(report: SoakReport, rss_limit_mb: float | None) -> None:
    assert report.sent > 0
    assert not report.lost, f"lost: {report.lost[:20]}"
    assert set(report.twice) <= report.in_flight_sent, f"answered twice: {report.twice[:20]}"
    assert not report.crashes, report.crashes
    assert report.token_in_log == 0
    assert report.non_json_lines == 0
    assert report.integrity_after_kill == "ok"
    assert report.integrity_at_end == "ok"
    assert report.reloads_done >= 1 and report.reloads_failed == 0
    assert report.broken_file_reported
    assert report.final_exit == 0
    if rss_limit_mb is not None:
        assert all(mb < rss_limit_mb for mb in report.rss_growth().values()), report.rss_growth()


def show(report: SoakReport, capsys: pytest.CaptureFixture, title: str) -> None:
    with capsys.disabled():
        print(f"\n{title}\n{report.table()}\n", flush=True)
    if path := os.environ.get("SOAK_REPORT"):
        Path(path).write_text(f"{title}\n{report.table()}\n", encoding="utf-8")


async def test_short_soak(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    report = await run_soak(tmp_path, questions=300, rate=20, stories=200, big_file_stories=1500,
                            reload_every=75)
    show(report, capsys, "short soak (300 questions)")
    check(report, rss_limit_mb=None)


@pytest.mark.soak
async def test_full_soak(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    questions = int(os.environ.get("SOAK_QUESTIONS", "10000"))
    rate = float(os.environ.get("SOAK_RATE", "12"))
    report = await run_soak(tmp_path, questions=questions, rate=rate, stories=1000,
                            big_file_stories=3000, reload_every=500)
    show(report, capsys, f"full soak ({questions:,} questions at up to {rate:g} a second)")
    check(report, rss_limit_mb=50)
