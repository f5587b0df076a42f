"""Learn the quote model's weights from development questions (retrieval/answer/quote_model.json).

    python -m bench.train_quotes SET.jsonl [SET2.jsonl ...] --db FILE [--out FILE] [--split dev]

For every answerable question with expected phrases, in the split asked for (a set without
splits counts whole), each window of one or two sentences of the first expected story the
archive holds is a candidate, and a window holding an expected phrase is right. The model is a conditional logit (a
softmax over one question's windows, see bench/learning.py): it learns which sentences of a story
to quote, so only features that differ between windows of one story matter. It prints the share of questions whose best-scored sentence is an answer, on
the questions it was fitted on and by 5-fold cross-validation (fitted on four fifths of the
questions, scored on the fifth), beside the same share for BM25 alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.learning import Group, accuracy, cross_validated, fit
from bot.config import load_settings
from retrieval.answer.quotes import FEATURES, MODEL_FILE, contains_phrase
from retrieval.evaluation import load_questions
from retrieval.service import ArchiveService

def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    groups = asyncio.run(_groups(args.db, args.sets, args.split))
    if not groups:
        print("bench.train_quotes: no question with an expected phrase found in its story", file=sys.stderr)
        return 2
    weights = fit(groups)
    bm25_only = np.eye(len(FEATURES))[FEATURES.index("bm25")]
    print(f"{len(groups)} questions, {sum(len(g.right) for g in groups)} candidate windows")
    print(f"{'':<28}{'fitted':>8}{'5-fold':>8}")
    print(f"{'BM25 alone':<28}{accuracy(groups, bm25_only):>8.3f}{accuracy(groups, bm25_only):>8.3f}")
    print(f"{'learned':<28}{accuracy(groups, weights):>8.3f}{cross_validated(groups):>8.3f}")
    for name, weight in zip(FEATURES, weights):
        print(f"  {name:<24}{weight:+.3f}")
    trained_on = (f"{len(groups)} questions of {', '.join(Path(s).parent.name + '/' + Path(s).name for s in args.sets)}"
                  f" (split {args.split}), {datetime.now(timezone.utc):%Y-%m-%d}")
    Path(args.out).write_text(json.dumps({"features": list(FEATURES), "weights": [round(w, 6) for w in weights],
                                          "trained_on": trained_on, "made_by": "python -m bench.train_quotes"},
                                         indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.train_quotes", description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", metavar="SET.jsonl", help="question sets (JSON Lines)")
    parser.add_argument("--db", required=True, metavar="FILE", help="an archive holding their stories")
    parser.add_argument("--split", default="dev", help="the split to learn from (default dev)")
    parser.add_argument("--out", default=str(MODEL_FILE), help=f"where the weights go (default {MODEL_FILE})")
    return parser


async def _groups(db: str, sets: Sequence[str], split: str) -> list[Group]:
    service = await ArchiveService.open(db, load_settings().retrieval)
    groups = []
    try:
        for path in sets:
            for question in load_questions(path):
                if question.split not in (None, split) or not question.expect:
                    continue
                for story in question.stories:
                    found = await service.quote_candidates(question.q, story)
                    if found is None:
                        continue
                    body, windows, features = found
                    answers = np.array([any(contains_phrase(body[s:e], p) for p in question.expect)
                                        for s, e in windows])
                    if answers.any():
                        groups.append(Group(features, answers))
                        break
    finally:
        await service.close()
    return groups


if __name__ == "__main__":
    sys.exit(main())
