"""`python -m bench.retrieval --bot`: the whole path, through the real bot.

The real bot (`archive-bot run`, in its own process, its settings from the environment) against
the fake Bot API server (`fakebotapi`) on 127.0.0.1 in the bench's process: time from pushing an
update to the reply's sendMessage arriving, one user at a time and then `--users` users at once,
and an admin /reload that adds 100 new stories while the users keep asking. With `--replicas N`,
N bot processes serve the one archive file in webhook mode, as behind a load balancer: the bench
posts each chat's updates to one of them (the admin's /reload reaches one; the others follow the
archive).

Nothing here asserts on time: it prints what it measured.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from bench.corpus import ROOT, Corpus
from bench.harness import (RSSSampler, archive_holds, archive_of, fmt, fresh_db, ingest_archive,
                           load_questions, log, machine, note_archive, percentile, rounded,
                           write_reload_stories)
from fakebotapi import BotAPIServer, Call
from retrieval import inbox_path

BOT_ADMIN = 4242
FIRST_USER = 500_000
WEBHOOK_PATH = "/telegram"
WEBHOOK_SECRET = "bench-webhook-secret"


def bot_child_main() -> int:
    """`archive-bot run`, its settings from the environment, as in production."""
    from bot.cli import main as cli_main

    return cli_main(["run"])


# ---------------------------------------------------------------------------------------------
# the Bot API server's side: questions out, replies in

class Probe:
    """The fake Bot API server, telling us when the reply to a question message arrives; with
    replicas, also their load balancer: each chat's updates are posted to one replica's webhook."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.api = BotAPIServer(deliver=self._post_later if ports else None)
        self.api.add_listener(self._on_call)
        self.replies: dict[tuple[int, int], asyncio.Future] = {}
        self.edits: list[tuple[float, str]] = []
        self.timeouts: list[float] = []
        self._posting: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None

    def _on_call(self, call: Call) -> None:
        if call.method == "sendMessage":
            reply = call.params.get("reply_parameters") or {}
            key = (int(call.params.get("chat_id")), reply.get("message_id"))
            future = self.replies.pop(key, None)
            if future is not None and not future.done():
                future.set_result(call)
        elif call.method == "editMessageText":
            self.edits.append((call.time, str(call.params.get("text", ""))))

    def _post_later(self, update: dict) -> None:
        port = self.ports[update["message"]["chat"]["id"] % len(self.ports)]
        task = asyncio.get_running_loop().create_task(self._post(port, update))
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    async def _post(self, port: int, update: dict) -> None:
        self._session = self._session or aiohttp.ClientSession()
        async with self._session.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", json=update,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) as response:
            await response.read()
            if response.status != 200:
                log(f"--bot: replica on port {port} answered the webhook with {response.status}")

    async def ask(self, user: int, text: str, timeout: float = 120) -> tuple[float, float]:
        """(when the question was pushed, ms until its reply arrived: inf if none within `timeout`)."""
        message = self.api.private_text(user, text)["message"]
        key = (user, message["message_id"])
        future = asyncio.get_running_loop().create_future()
        self.replies[key] = future
        pushed = time.monotonic()
        try:
            call = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            self.replies.pop(key, None)
            self.timeouts.append(pushed)
            return pushed, math.inf
        return pushed, (call.time - pushed) * 1000

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self.api.stop()


# ---------------------------------------------------------------------------------------------
# the bot processes

def _webhook_env(port: int) -> dict[str, str]:
    """A replica behind the bench's load balancer: Telegram would post to the public URL; the
    bench posts to the replica's own port."""
    return {"WEBHOOK_URL": f"https://bot.example.org{WEBHOOK_PATH}", "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bot_env(api: BotAPIServer, args, db: Path, paths: str) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_BASE_URL": api.base_url,
            "TELEGRAM_BASE_FILE_URL": api.base_file_url, "ADMIN_IDS": str(BOT_ADMIN),
            "ARCHIVE_DB": str(db), "ARCHIVE_PATHS": paths,
            "RATE_LIMIT_PER_MINUTE": "10000", "WEBHOOK_URL": "", "MESSAGES_PER_SECOND": str(args.messages_per_second),
            "LOG_LEVEL": os.environ.get("BENCH_BOT_LOG_LEVEL", "WARNING")}


async def _start_bot_child(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.retrieval", "--bot-child", cwd=ROOT,
                                                env={**os.environ, **env}, stdout=sys.stderr, stderr=sys.stderr)


async def _until_serving(api: BotAPIServer, procs: list, ports: list[int], started: float) -> None:
    """Until the bot polls, or every replica's webhook server accepts connections."""
    async def listening(port: int) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    while not (all([await listening(port) for port in ports]) if ports
               else any(c.method == "getUpdates" for c in api.calls)):
        if any(proc.returncode is not None for proc in procs) or time.perf_counter() - started > 1800:
            raise SystemExit("the bot did not start serving")
        await asyncio.sleep(0.05)


async def _stop_bot_child(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


def _cpu_seconds(procs: list) -> float:
    """The processor time the bot processes have used so far, all their threads together."""
    import psutil

    return sum(sum(psutil.Process(proc.pid).cpu_times()[:2]) for proc in procs)


# ---------------------------------------------------------------------------------------------
# the phases

def _latency_summary(values: list[float], elapsed: float | None) -> dict:
    return {"questions": len(values), "p50_ms": rounded(percentile(values, 50), 1),
            "p95_ms": rounded(percentile(values, 95), 1), "p99_ms": rounded(percentile(values, 99), 1),
            "questions_per_s": rounded(len(values) / elapsed, 1) if elapsed else None}


async def _users(probe: Probe, questions: list[str], count: int, per_user: int | None,
                 until: asyncio.Event | None, cap_s: float) -> tuple[list[tuple[float, float]], float]:
    """`count` users asking at once, each waiting for its answer before the next question, until
    `per_user` questions each, `until` is set or `cap_s` is up: (pushed, ms) samples, seconds."""
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + cap_s

    async def one(n: int) -> None:
        user = FIRST_USER + 10 + n
        asked = 0
        while time.monotonic() < deadline:
            if per_user is not None and asked >= per_user:
                return
            if until is not None and until.is_set():
                return
            samples.append(await probe.ask(user, questions[(n * 7 + asked) % len(questions)]))
            asked += 1

    began = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(count)))
    return samples, time.monotonic() - began


async def _one_user(probe: Probe, questions: list[str], pause: float) -> dict:
    for question in questions[:5]:  # warm up
        await probe.ask(FIRST_USER, question)
    sequential = []
    for question in questions:  # paced, so that the flood limiter's bucket is never the wait
        await asyncio.sleep(pause)
        sequential.append((await probe.ask(FIRST_USER + 1, question))[1])
    return _latency_summary(sequential, None)


async def _concurrent(probe: Probe, questions: list[str], procs: list, args) -> dict:
    cpu_before = _cpu_seconds(procs), time.process_time()
    samples, elapsed = await _users(probe, questions, args.users, args.per_user, None, cap_s=600)
    summary = _latency_summary([s[1] for s in samples], elapsed)
    summary["bot_cpu_ms_per_question"] = rounded((_cpu_seconds(procs) - cpu_before[0]) * 1000 / len(samples), 2)
    summary["bench_cpu_ms_per_question"] = rounded((time.process_time() - cpu_before[1]) * 1000 / len(samples), 2)
    return summary


async def _reload_done(probe: Probe, since: float, timeout: float) -> tuple[float | None, str]:
    """When the admin's reload summary arrived after `since`, and its text (tags taken out)."""
    while time.monotonic() - since < timeout:
        for at, text in probe.edits:
            if at >= since and ("Reload done" in text or "Reload failed" in text):
                return at, re.sub(r"<[^>]+>", "", text)
        await asyncio.sleep(0.05)
    return None, ""


async def _during_reload(probe: Probe, questions: list[str], args, pending: Path, extra: Path) -> dict:
    """The users keep asking while the admin's /reload takes in the 100 new stories."""
    done = asyncio.Event()
    load = asyncio.create_task(_users(probe, questions, args.users, None, done, cap_s=args.reload_timeout + 60))
    await asyncio.sleep(2)
    shutil.copyfile(pending, extra / pending.name)
    reload_pushed = time.monotonic()
    probe.api.private_text(BOT_ADMIN, "/reload")
    finished_at, summary = await _reload_done(probe, reload_pushed, args.reload_timeout)
    window_end = finished_at if finished_at is not None else time.monotonic()
    await asyncio.sleep(2)
    done.set()
    samples, elapsed = await load
    during = [s[1] for s in samples if reload_pushed <= s[0] <= window_end]
    return {"seconds": rounded(finished_at - reload_pushed, 2) if finished_at else None,
            "summary": summary.splitlines()[0] if summary else f"no summary within {args.reload_timeout:.0f} s",
            "during": _latency_summary(during, None),
            "whole_phase": _latency_summary([s[1] for s in samples], elapsed)}


# ---------------------------------------------------------------------------------------------
# the run

def _prepare_archive(workdir: Path, corpus: Corpus) -> tuple[Path, Path, Path]:
    """A copy of the built archive for the bot, an empty extra folder of ARCHIVE_PATHS, and the
    file of 100 new stories the reload will find there: (db, extra, pending)."""
    source_db = archive_of(workdir)
    if not archive_holds(workdir, corpus):
        log(f"--bot: ingesting {corpus.path.name} first")
        build = ingest_archive(corpus, source_db)
        if build.returncode != 0:
            raise SystemExit(f"ingest exited with {build.returncode}")
        note_archive(workdir, corpus)
    db = workdir / "bot.sqlite"
    fresh_db(db)
    shutil.copyfile(source_db, db)
    extra = workdir / "bot-extra"
    shutil.rmtree(extra, ignore_errors=True)
    extra.mkdir()
    pending = workdir / "bot-new-stories.jsonl"
    write_reload_stories(pending)
    return db, extra, pending


async def _phases(probe: Probe, procs: list, args, pending: Path, extra: Path) -> dict:
    questions = load_questions()
    result: dict = {"one_user": await _one_user(probe, questions, args.pause)}
    log(f"--bot: one user at a time: p50 {result['one_user']['p50_ms']} ms")
    result["concurrent"] = many = await _concurrent(probe, questions, procs, args)
    log(f"--bot: {args.users} users: {many['questions_per_s']} q/s, "
        f"p50 {many['p50_ms']} ms, bot CPU {many['bot_cpu_ms_per_question']} ms a question")
    result["reload"] = await _during_reload(probe, questions, args, pending, extra)
    log(f"--bot: reload {result['reload']['seconds']} s; p99 during it {result['reload']['during']['p99_ms']} ms")
    result["unanswered_after_120_s"] = len(probe.timeouts)
    return result


async def run_bot_bench(args, corpus: Corpus) -> dict:
    db, extra, pending = _prepare_archive(args.workdir, corpus)
    ports = [_free_port() for _ in range(args.replicas)] if args.replicas > 1 else []
    probe = Probe(ports)
    fresh_db(inbox_path(db, probe.api.bot_id))  # a new server's update ids start again at 1
    await probe.api.start()
    env = _bot_env(probe.api, args, db, f"{corpus.path},{extra}")
    started = time.perf_counter()
    procs = [await _start_bot_child({**env, **_webhook_env(port)} if ports else env) for port in ports or [None]]
    samplers = [RSSSampler(proc.pid, interval=0.5) for proc in procs]
    for sampler in samplers:
        sampler.start()
    result: dict = {"passages": corpus.passages, "messages_per_second": args.messages_per_second, "users": args.users,
                    "replicas": len(procs), "reload_timeout_s": args.reload_timeout}
    try:
        await _until_serving(probe.api, procs, ports, started)
        result["bot_start_s"] = time.perf_counter() - started
        log(f"--bot: {len(procs)} bot process(es) serve after {result['bot_start_s']:.1f} s")
        result.update(await _phases(probe, procs, args, pending, extra))
    finally:
        await asyncio.gather(*map(_stop_bot_child, procs))
        for sampler in samplers:
            sampler.done.set()
            sampler.join()
        await probe.close()
    result["bot_peak_rss_mb"] = round(max(sampler.peak for sampler in samplers) / 2**20, 1)
    return result


def render_bot(result: dict) -> str:
    one, many, rl = result["one_user"], result["concurrent"], result["reload"]
    lines = ["| figure | through the bot |", "|---|---|",
             f"| one user at a time ({one['questions']} questions, paced): p50 / p95 / p99 ms, update → reply | {one['p50_ms']} / {one['p95_ms']} / {one['p99_ms']} |",
             f"| {result['users']} users at once: questions/s | {many['questions_per_s']} ({many['questions']} questions) |",
             f"| {result['users']} users at once: p50 / p95 / p99 ms | {many['p50_ms']} / {many['p95_ms']} / {many['p99_ms']} |",
             f"| {result['users']} users at once: processor ms a question, bot processes; bench (Bot API server) | "
             f"{many['bot_cpu_ms_per_question']}; {many['bench_cpu_ms_per_question']} |",
             f"| /reload adding 100 stories, s (update → \"Reload done\") | "
             f"{rl['seconds'] if rl['seconds'] is not None else 'not done within ' + str(round(result['reload_timeout_s'])) + ' s'} |",
             f"| during the reload: p50 / p99 ms ({rl['during']['questions']} questions) | {rl['during']['p50_ms']} / {rl['during']['p99_ms']} |",
             f"| during the reload: questions/s | {rl['whole_phase']['questions_per_s']} |",
             f"| bot process: start until serving s; peak RSS MB{' (each)' if result['replicas'] > 1 else ''} | "
             f"{fmt(result['bot_start_s'])}; {fmt(result['bot_peak_rss_mb'], 0)} |",
             "",
             f"{result['passages']:,} passages; "
             + (f"{result['replicas']} bot processes in webhook mode, each chat's updates posted to one of them; "
                if result['replicas'] > 1 else "one bot process, long polling; ")
             + f"the bot's flood limiter at MESSAGES_PER_SECOND="
             f"{result['messages_per_second']:g} (shipped default 30); "
             f"reload report: {rl['summary']}",
             machine()]
    return "\n".join(lines)
