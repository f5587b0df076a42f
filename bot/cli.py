"""The `archive-bot` command: ingest archives, ask questions, show statistics, run the bot.

    archive-bot ingest PATH...            read story files, JSON Lines or CSV into the archive
    archive-bot ask "QUESTION" [--json]   answer one question (or one per line from stdin)
    archive-bot timeline SUBJECT [--out FILE.png] [--json]
                                          how many stories mention it, per week, month or year
    archive-bot stats                     what the archive holds
    archive-bot run                       the Telegram bot (settings from the environment)
    archive-bot health [--offline]        is the archive (and the token) fine? exit 0 or 1
    archive-bot backup FILE               a consistent copy of the archive, safe while the bot runs
    archive-bot restore FILE              put a backup in place of the archive (stop the bot first)

`--db FILE` picks the archive file everywhere, before the command or after it (default:
$ARCHIVE_DB or data/archive.sqlite). `archive-bot COMMAND --help` tells more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bot.args import SuggestingParser
from bot.config import ConfigError, Settings, load_settings
from bot.render import render_text, timeline_text
from retrieval import (ArchiveError, ArchiveService, BackupError, DateError, IngestReport, language_code,
                       parse_date_option)

QUESTION_SYNTAX = """\
questions (and timeline subjects) are plain words; besides, they understand:
  "exact words"       in quotes: the passage must hold them as written
  -word               leave out the stories that hold the word
  a date in words     in October 2021, in 2021, on 25 October 2021, since March 1987,
                      after 2020, before 2022, between March 1987 and April 1987:
                      only the stories published then (--since and --until narrow it too)
"""
ASK_EXAMPLES = """\
examples:
  archive-bot ask "What did the Kremlin say about NATO?"
  archive-bot ask '"Black Sea" fleet -Turkey in 2021'
  archive-bot ask --json -k 5 "cocoa arrivals in Bahia" --since 1987-02-01 --until "March 1987"
  archive-bot ask --json < questions.txt      one question a line, one JSON object a line
  archive-bot ask --lang ru "Что сказал Песков?"  the question's language given, not detected
"""
TIMELINE_EXAMPLES = """\
examples:
  archive-bot timeline NATO --out nato.png
  archive-bot timeline '"Black Sea" -Turkey since 2021' --json
"""


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
    parser = SuggestingParser(prog="archive-bot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", metavar="FILE", help="the archive's SQLite file")
    # after the command too; not set there unless given, so as not to undo one given before it
    db = SuggestingParser(add_help=False)
    db.add_argument("--db", metavar="FILE", default=argparse.SUPPRESS, help="the archive's SQLite file")
    dates = SuggestingParser(add_help=False)
    dates.add_argument("--since", help="only stories on or after this date (2021-10-25, 'October 2021', 2021)")
    dates.add_argument("--until", help="only stories on or before this date")
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="command_name")

    def command(name: str, parents: Sequence[argparse.ArgumentParser] = (), **kwargs) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[db, *parents], **kwargs)

    ingest = command("ingest", help="read archive files into the archive")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    ingest.add_argument("--prune", action="store_true",
                        help="remove stories whose files are gone from PATHs")
    ingest.set_defaults(command=_ingest)

    ask = command("ask", [dates], help="answer a question (without one: each line of stdin)",
                  description="Answer a question with quotes from the archive, each cited with its story's "
                              "title, date and code.",
                  epilog=QUESTION_SYNTAX + "\n" + ASK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ask.add_argument("question", nargs="?", help="the question, in plain words (none: one a line from stdin)")
    ask.add_argument("--json", action="store_true", help="one JSON object per answer")
    ask.add_argument("-k", type=int, default=None, help="how many stories to cite (default 3)")
    ask.add_argument("--lang", metavar="LANGUAGE", default=None,
                     help="the question's language (ru, russian, fa ...), instead of detecting it")
    ask.set_defaults(command=_ask)

    timeline = command("timeline", [dates], help="how many stories mention a subject, per week, month or year",
                       description="Count the stories that mention a subject per week, month or year (by the "
                                   "span), and draw them as a chart or print them.",
                       epilog=QUESTION_SYNTAX + "\n" + TIMELINE_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    timeline.add_argument("subject", help="what to count the stories of, in the words of a question")
    timeline.add_argument("--out", metavar="FILE.png", help="draw the chart into this PNG file")
    timeline.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    timeline.set_defaults(command=_timeline)

    stats = command("stats", help="what the archive holds")
    stats.add_argument("--json", action="store_true", help="one JSON object")
    stats.set_defaults(command=_stats)

    run = command("run", help="run the Telegram bot")
    run.set_defaults(command=_run)

    health = command("health", help="check the archive, its index and the token (exit 0 or 1)")
    health.add_argument("--offline", action="store_true", help="skip the token check (getMe)")
    health.set_defaults(command=_health, config_exit_code=1)  # exit 2 means "reserved" to Docker

    backup = command("backup", help="copy the archive consistently, even while the bot runs")
    backup.add_argument("file", metavar="FILE", help="the backup file (or a directory for a dated one)")
    backup.set_defaults(command=_backup)

    restore = command("restore", help="replace the archive with a backup (stop the bot first)")
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
    since, until = _dates(args)
    k = args.k if args.k is not None else settings.citations
    if k < 1:
        raise ConfigError("-k must be at least 1")
    try:
        language = language_code(args.lang) if args.lang is not None else None
    except ValueError as error:
        raise ConfigError(f"--lang: {error}") from None
    service = await ArchiveService.open(settings.db_path, settings.retrieval)
    try:
        questions = [args.question] if args.question is not None else _stdin_lines()
        for question in questions:
            answer = await service.ask(question, k=k, since=since, until=until, language=language)
            if args.json:
                print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
            else:
                print(render_text(answer), end="\n\n" if args.question is None else "\n", flush=True)
    finally:
        await service.close()
    return 0


async def _timeline(args: argparse.Namespace, settings: Settings) -> int:
    since, until = _dates(args)
    service = await ArchiveService.open(settings.db_path, settings.retrieval)
    try:
        timeline = await service.timeline(args.subject, since, until)
    finally:
        await service.close()
    if args.out and timeline.chartable:
        from bot.charts import draw_timeline  # matplotlib: only for the command that draws

        Path(args.out).write_bytes(draw_timeline(timeline))
    print(json.dumps(timeline.to_json(), ensure_ascii=False) if args.json else timeline_text(timeline))
    if args.out and not timeline.chartable:
        print(f"archive-bot: no chart written to {args.out}: there is nothing to chart", file=sys.stderr)
        return 1
    if args.out and not args.json:
        print(f"\nChart: {args.out}")
    return 0


def _dates(args: argparse.Namespace) -> tuple[date | None, date | None]:
    """The --since and --until options as dates (None when not given)."""
    since = parse_date_option(args.since) if args.since else None
    until = parse_date_option(args.until, end=True) if args.until else None
    return since, until


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
    if report.languages:
        print(f"  by language: {report.by_language()}")
    for problem in report.problems:
        print(f"  skipped {problem}")


if __name__ == "__main__":
    sys.exit(main())
