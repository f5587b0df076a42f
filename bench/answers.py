"""Every answer to question sets, one JSON line a question: the golden dump a change is diffed by.

    PYTHONHASHSEED=0 python -m bench.answers SET.jsonl [SET2.jsonl ...] --db FILE > answers.jsonl
    python -m bench.answers --diff BEFORE.jsonl AFTER.jsonl

The dump holds what a user would see (message, cited stories, quotes, scores), not the time taken,
so a refactor must leave it byte-identical. Fix PYTHONHASHSEED: story scores add their parts in
an order that follows string hashing, so their last bits (~1e-15) move from one process to the next. `--diff` lists the questions whose answers changed,
and, for sets with known answers, whether each got better or worse (by the first expected story's
rank, then by whether the first quote holds an expected phrase).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import load_settings
from retrieval.evaluation import DEPTH, Question, load_questions, outcome
from retrieval.models import Answer
from retrieval.service import ArchiveService


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.diff:
        before, after = (_read(Path(p)) for p in args.sets)
        print(format_diff(before, after))
        return 0
    asyncio.run(_dump(args.db, args.sets, args.k))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", metavar="FILE", help="question sets (or two dumps with --diff)")
    parser.add_argument("--db", metavar="FILE", help="the archive's SQLite file")
    parser.add_argument("-k", type=int, default=DEPTH, help=f"citations asked for (default {DEPTH})")
    parser.add_argument("--diff", action="store_true", help="compare two dumps")
    return parser


async def _dump(db: str, sets: Sequence[str], k: int) -> None:
    service = await ArchiveService.open(db, load_settings().retrieval)
    try:
        for path in sets:
            for question in load_questions(path):
                answer = await service.ask(question.q, k=k)
                row = {"set": Path(path).parent.name + "/" + Path(path).name, "id": question.id,
                       "q": question.q, "message": answer.message,
                       "citations": [c.to_json() for c in answer.citations], **_grade(question, answer)}
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        await service.close()


def _grade(question: Question, answer: Answer) -> dict:
    result = outcome(question, answer)
    if not question.answerable:
        return {"right": not answer.citations}
    return {"rank": result.rank, "quote_hit": result.quote_hit}


def _read(path: Path) -> dict[tuple[str, str], dict]:
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {(row["set"], row["id"]): row for row in rows}


def _merit(row: dict) -> tuple:
    """Higher is better: an unanswerable question refused, else a better rank, then a quote hit."""
    if "right" in row:
        return (row["right"],)
    rank = row["rank"]
    return (-(rank if rank is not None else 99), row["quote_hit"])


def format_diff(before: dict, after: dict) -> str:
    """The questions whose answers differ, grouped into better, worse and other changes."""
    groups: dict[str, list[str]] = {"better": [], "worse": [], "changed": []}
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key], after[key]
        if old == new:
            continue
        verdict = ("better" if _merit(new) > _merit(old) else
                   "worse" if _merit(new) < _merit(old) else "changed")
        groups[verdict].append(f"  {key[0]} {key[1]} {new['q']!r}: {_brief(old)} -> {_brief(new)}")
    lines = [f"{len(before.keys() & after.keys())} questions in both dumps; median first quote "
             f"{_median_quote(before)} -> {_median_quote(after)} characters"]
    for verdict, rows in groups.items():
        lines.append(f"{verdict}: {len(rows)}")
        lines.extend(rows)
    return "\n".join(lines)


def _median_quote(rows: dict) -> int:
    lengths = sorted(len(row["citations"][0]["quote"]) for row in rows.values() if row["citations"])
    return lengths[len(lengths) // 2] if lengths else 0


def _brief(row: dict) -> str:
    if "right" in row:
        return "refused" if row["right"] else "answered"
    return f"rank {row['rank']}, quote {'hit' if row['quote_hit'] else 'miss'}"


if __name__ == "__main__":
    sys.exit(main())
