"""Answer quality of an archive on question sets: one table per set, and the questions it got wrong.

    python -m bench.quality SET.jsonl [SET2.jsonl ...] --db FILE [--json] [-k 10]
    python -m bench.quality ../shared/data/news-dev/questions.jsonl --db FILE --split dev --by kind

`--split` keeps one split of sets that have them (tune on dev, report test); `--by kind` or
`--by split` or `--by lang` adds a table per group (a question of several kinds counts in each). Every rate
comes with its 95% interval (Wilson's), so two runs can be told apart from noise.

Questions are asked through `ArchiveService.ask`, as the bot asks them, with the retrieval
settings the bot would use (the environment: BM25_VARIANT, BM25_K1, BM25_B, ANALYZER_LANGUAGE);
`--variant`, `--k1` and `--b` override them for a comparison. See `retrieval.evaluation` for what
each metric counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.config import ConfigError, load_settings
from retrieval.evaluation import DEPTH, METRICS, QuestionSetError, Report, Wrong, by_group, evaluate, score
from retrieval.bm25.index import VARIANTS
from retrieval.service import ArchiveService, RetrievalSettings

RATES = set(METRICS) - {"MRR@10"}
"""The metrics that are shares of questions (MRR is a mean of reciprocal ranks: no Wilson interval)."""
QUOTE_CHARS = 160
"""How much of a wrong answer's first quote the table shows."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for a bad set, database or setting)."""
    args = _parser().parse_args(argv)
    try:
        settings = _retrieval_settings(args)
        for path in [*args.sets, args.db]:
            if not Path(path).is_file():
                raise FileNotFoundError(f"no such file: {path}")
        reports = asyncio.run(_run(args.db, args.sets, settings, args.k, args.split, args.by))
    except (ConfigError, QuestionSetError, FileNotFoundError) as error:
        print(f"bench.quality: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"db": str(args.db), "k": args.k, "bm25": _describe(settings), "split": args.split,
                          "sets": [r.to_json() | {"by": {key: [g.to_json() for g in parts] for key, parts in groups.items()}}
                                   for r, groups in reports]}, ensure_ascii=False))
    else:
        print(f"archive {args.db}, {_describe(settings)}, k={args.k}" + (f", split {args.split}" if args.split else "") + "\n")
        for report, groups in reports:
            print(format_report(report, args.max_wrong))
            for key, parts in groups.items():
                print(format_groups(key, parts))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", metavar="SET.jsonl", help="question sets (JSON Lines)")
    parser.add_argument("--db", required=True, metavar="FILE", help="the archive's SQLite file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-k", type=int, default=DEPTH, help=f"citations asked for (default {DEPTH})")
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="BM25 variant (default: the environment's)")
    parser.add_argument("--k1", type=float, help="BM25 k1 (default: the environment's)")
    parser.add_argument("--b", type=float, help="BM25 b (default: the environment's)")
    parser.add_argument("--split", help="only the questions of this split (dev or test)")
    parser.add_argument("--by", action="append", choices=["kind", "split", "lang"], default=[],
                        help="also a table by kind, split or language (repeatable)")
    parser.add_argument("--max-wrong", type=int, default=None, metavar="N",
                        help="list at most N wrong questions per set (default: all)")
    return parser


def _retrieval_settings(args: argparse.Namespace) -> RetrievalSettings:
    settings = load_settings().retrieval
    bm25 = settings.bm25
    if args.variant:
        bm25 = replace(bm25, variant=args.variant)
    if args.k1 is not None:
        bm25 = replace(bm25, k1=args.k1)
    if args.b is not None:
        bm25 = replace(bm25, b=args.b)
    return replace(settings, bm25=bm25)


def _describe(settings: RetrievalSettings) -> str:
    bm25 = settings.bm25
    return f"bm25 {bm25.variant} k1={bm25.k1} b={bm25.b}"


async def _run(db: str, sets: Sequence[str], settings: RetrievalSettings, k: int, split: str | None,
               groups: Sequence[str]) -> list[tuple[Report, dict[str, list[Report]]]]:
    """A report per set, with one per group of its questions for every key of `groups`."""
    service = await ArchiveService.open(db, settings)
    reports = []
    try:
        for path in sets:
            report, outcomes = await evaluate(service, path, k, split)
            reports.append((report, {key: [score(name, part) for name, part in by_group(outcomes, key).items()]
                                     for key in groups}))
    finally:
        await service.close()
    return reports


def format_report(report: Report, max_wrong: int | None = None) -> str:
    """The metrics table of one set, then its wrong questions."""
    lines = [f"== {report.name}: {report.questions} questions "
             f"({report.answerable} answerable, {report.unanswerable} not)",
             f"{'metric':<22}{'value':>8}{'95% interval':>16}{'of':>6}"]
    for metric in report.metrics:
        value = "-" if metric.value is None else f"{metric.value:.3f}"
        interval = "" if metric.interval is None or metric.name not in RATES else \
            f"{metric.interval[0]:.2f}-{metric.interval[1]:.2f}"
        lines.append(f"{metric.name:<22}{value:>8}{interval:>16}{metric.total:>6}")
    shown = report.wrong if max_wrong is None else report.wrong[:max_wrong]
    lines.append(f"\nwrong: {len(report.wrong)}" + (f" (first {len(shown)} shown)" if len(shown) < len(report.wrong) else ""))
    lines.extend(format_wrong(w) for w in shown)
    return "\n".join(lines) + "\n"


GROUP_COLUMNS = {"Hit@1": "Hit@1", "Hit@3": "Hit@3", "quote-hit": "quote-hit", "no-answer accuracy": "no-answer"}


def format_groups(key: str, reports: Sequence[Report]) -> str:
    """One row per group: its size and its main rates with their 95% intervals."""
    lines = [f"{key:<14}{'n':>4}" + "".join(f"{label:>20}" for label in GROUP_COLUMNS.values())]
    for report in reports:
        cells = []
        for name in GROUP_COLUMNS:
            metric = next(m for m in report.metrics if m.name == name)
            cells.append("-" if metric.value is None else
                         f"{metric.value:.2f} ({metric.interval[0]:.2f}-{metric.interval[1]:.2f})")
        lines.append(f"{report.name:<14}{report.questions:>4}" + "".join(f"{c:>20}" for c in cells))
    return "\n".join(lines) + "\n"


def format_wrong(wrong: Wrong) -> str:
    """One wrong question: id, question, what was expected, why, and what came first."""
    expected = ", ".join(wrong.expected) or "nothing relevant"
    if wrong.expect:
        expected += " / " + " | ".join(wrong.expect)
    if wrong.first is None:
        came = f"(no citations) {wrong.message or ''}".rstrip()
    else:
        quote = " ".join(wrong.first.quote.split())
        quote = quote if len(quote) <= QUOTE_CHARS else quote[:QUOTE_CHARS - 1] + "\u2026"
        came = f"{wrong.first.story_id} \u201c{wrong.first.title}\u201d {(wrong.first.date or '')[:10]}: {quote}"
    return (f"- {wrong.id}: {wrong.question}\n"
            f"    expected: {expected}\n"
            f"    {wrong.reason}; first: {came}")


if __name__ == "__main__":
    sys.exit(main())
