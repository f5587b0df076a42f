"""The `archive-bot` command: ingest archives, ask questions, show statistics, run the bot.

    archive-bot ingest PATH...            read story files, JSON Lines or CSV into the archive
    archive-bot ask "QUESTION" [--json]   answer one question (or one per line from stdin)
    archive-bot stats                     what the archive holds
    archive-bot run                       the Telegram bot (settings from the environment)
    archive-bot health [--offline]        is the archive (and the token) fine? exit 0 or 1
    archive-bot backup FILE               a consistent copy of the archive, safe while the bot runs
    archive-bot restore FILE              put a backup in place of the archive (stop the bot first)

`--db FILE` picks the archive file everywhere (default: $ARCHIVE_DB or data/archive.sqlite).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.render import render_text
from retrieval import ArchiveError, ArchiveService, BackupError, DateError, IngestReport, parse_date_option


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.db:
            settings = _with_db(settings, args.db)
        return asyncio.run(args.command(args, settings)) or 0
    except (ConfigError, DateError) as error:
        print(f"archive-bot: {error}", file=sys.stderr)
        return getattr(args, "config_exit_code", 2)
    except ArchiveError as error:
        print(f"archive-bot: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`archive-bot ask ... | head`)
        sys.stdout = open(os.devnull, "w")
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archive-bot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", metavar="FILE", help="the archive's SQLite file")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="read archive files into the archive")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    ingest.add_argument("--prune", action="store_true",
                        help="remove stories whose files are gone from PATHs")
    ingest.set_defaults(command=_ingest)

    ask = commands.add_parser("ask", help="answer a question (without one: each line of stdin)")
    ask.add_argument("question", nargs="?", help="the question, in plain words")
    ask.add_argument("--json", action="store_true", help="one JSON object per answer")
    ask.add_argument("-k", type=int, default=None, help="how many stories to cite (default 3)")
    ask.add_argument("--since", help="only stories on or after this date (2021-10-25, 'October 2021', 2021)")
    ask.add_argument("--until", help="only stories on or before this date")
    ask.set_defaults(command=_ask)

    stats = commands.add_parser("stats", help="what the archive holds")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(command=_stats)

    run = commands.add_parser("run", help="run the Telegram bot")
    run.set_defaults(command=_run)

    health = commands.add_parser("health", help="check the archive, its index and the token (exit 0 or 1)")
    health.add_argument("--offline", action="store_true", help="skip the token check (getMe)")
    health.set_defaults(command=_health, config_exit_code=1)  # exit 2 means "reserved" to Docker

    backup = commands.add_parser("backup", help="copy the archive consistently, even while the bot runs")
    backup.add_argument("file", metavar="FILE", help="the backup file (or a directory for a dated one)")
    backup.set_defaults(command=_backup)

    restore = commands.add_parser("restore", help="replace the archive with a backup (stop the bot first)")
    restore.add_argument("file", metavar="FILE", help="a file made by archive-bot backup")
    restore.set_defaults(command=_restore)
    return parser


async def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    service = await ArchiveService.open(settings.db_path, settings.retrieval)
    try:
        report = await service.ingest(args.paths, prune=args.prune, progress=_progress_bar())
    finally:
        await service.close()
    _print_report(report)
    return 0


async def _ask(args: argparse.Namespace, settings: Settings) -> int:
    since = parse_date_option(args.since) if args.since else None
    until = parse_date_option(args.until, end=True) if args.until else None
    k = args.k if args.k is not None else settings.citations
    if k < 1:
        raise ConfigError("-k must be at least 1")
    service = await ArchiveService.open(settings.db_path, settings.retrieval)
    try:
        questions = [args.question] if args.question is not None else _stdin_lines()
        for question in questions:
            answer = await service.ask(question, k=k, since=since, until=until)
            if args.json:
                print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
            else:
                print(render_text(answer), end="\n\n" if args.question is None else "\n", flush=True)
    finally:
        await service.close()
    return 0


async def _stats(args: argparse.Namespace, settings: Settings) -> int:
    service = await ArchiveService.open(settings.db_path, settings.retrieval)
    try:
        stats = await service.stats()
    finally:
        await service.close()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, default=str))
    else:
        for key, value in stats.items():
            print(f"{key.replace('_', ' ')}: {value if value is not None else '-'}")
    return 0


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from telegram.error import InvalidToken, TelegramError

    from bot.app import run_bot

    try:
        return await run_bot(settings)
    except InvalidToken:  # its message holds the token
        print("archive-bot: the Bot API rejected TELEGRAM_BOT_TOKEN: check it with @BotFather", file=sys.stderr)
        return 2
    except TelegramError as error:  # the Bot API unreachable at start: one line, and exit 1 to be restarted
        print(f"archive-bot: could not start: {str(error).replace(settings.token or '', '[redacted]')}",
              file=sys.stderr)
        return 1


async def _health(args: argparse.Namespace, settings: Settings) -> int:
    import logging

    from bot.maintenance import check_health

    logging.disable(logging.CRITICAL)  # the verdict is one line; libraries' warnings would add more
    health = await check_health(settings, offline=args.offline)
    print(health.line([settings.token, settings.webhook_secret]), file=sys.stdout if health.ok else sys.stderr)
    return 0 if health.ok else 1


async def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.maintenance import backup

    try:
        copy = await backup(settings, args.file)
    except BackupError as error:
        print(f"archive-bot: backup failed: {error}", file=sys.stderr)
        return 1
    print(f"Backed up {settings.db_path} to {copy.summary()}; integrity check ok.")
    return 0


async def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from bot.maintenance import restore

    try:
        restored, kept = await restore(settings, args.file)
    except BackupError as error:
        print(f"archive-bot: restore failed: {error}", file=sys.stderr)
        return 1
    print(f"Restored {args.file} into {restored.summary()}."
          + (f" The archive it replaced is kept as {kept}." if kept else ""))
    return 0


def _stdin_lines():
    for line in sys.stdin:
        if line.strip():
            yield line.rstrip("\n")


def _with_db(settings: Settings, db: str) -> Settings:
    from dataclasses import replace

    return replace(settings, db_path=Path(db))


def _progress_bar():
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, stories: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} files, {stories} stories")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _print_report(report: IngestReport) -> None:
    print(f"Ingested {report.summary()}.")
    for problem in report.problems:
        print(f"  skipped {problem}")


if __name__ == "__main__":
    sys.exit(main())
