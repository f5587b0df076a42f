"""Measuring answer quality: ask a set of questions with known answers and score the citations.

A question set is JSON Lines, one question a line:

    {"id": "hw-01", "q": "How much cocoa had arrived in Bahia?", "story": "reuters-1",
     "expect": ["5.93 mln"]}

`story` is the id of the story that answers it, a list of ids when any of several will do (Reuters
repeats itself), or null when the archive cannot answer it. `expect` lists short verbatim phrases
of the answering sentence; it may be empty.

Every question goes through `ArchiveService.ask`, the code path the bot uses, and the answers are
scored with:

- Hit@1, Hit@3, MRR@10: where the first expected story appears among the cited stories
  (answerable questions);
- quote-hit: the first citation is from an expected story and its quote holds one of the
  `expect` phrases, case and runs of white space ignored (answerable questions with `expect`);
- no-answer accuracy: questions with `"story": null` answered with no citations;
- false-no-answer rate: answerable questions answered with no citations.

Scoring (`score`) is a pure function of the outcomes, so its arithmetic is testable without an
archive.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from retrieval.models import Answer
from retrieval.answer.quotes import contains_phrase
from retrieval.service import ArchiveService

DEPTH = 10
"""How many citations are asked for: MRR@10 needs ten."""


class QuestionSetError(ValueError):
    """A question set that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Question:
    """One question of a set and what a right answer looks like."""

    id: str
    q: str
    stories: tuple[str, ...] = ()
    """Ids of the stories that answer it (any one counts); empty when the archive cannot."""
    expect: tuple[str, ...] = ()
    """Verbatim phrases, one of which a right quote contains."""
    kinds: tuple[str, ...] = ()
    """What kind of question it is (`kind`, or the set's `tags`): who, number, paraphrase..."""
    split: str | None = None
    """`dev` (tune on it) or `test` (report it), when the set is split."""
    lang: str | None = None
    """The question's language, when the set says."""

    @property
    def answerable(self) -> bool:
        return bool(self.stories)


@dataclass(frozen=True)
class Cited:
    """One citation of an answer, as far as scoring needs it."""

    story_id: str
    title: str
    date: str | None
    quote: str
    copies: tuple[str, ...] = ()
    """Stories folded into this citation as copies of it."""

    def is_from(self, stories: tuple[str, ...]) -> bool:
        """Whether this citation, or a copy folded into it, is one of `stories`."""
        return self.story_id in stories or any(copy in stories for copy in self.copies)


@dataclass(frozen=True)
class Outcome:
    """A question and the citations the archive answered it with, in rank order."""

    question: Question
    cited: tuple[Cited, ...] = ()
    message: str | None = None
    """Why there are no citations, when there are none."""

    @property
    def rank(self) -> int | None:
        """1-based rank of the first citation from an expected story; None when none is cited."""
        for position, citation in enumerate(self.cited, 1):
            if citation.is_from(self.question.stories):
                return position
        return None

    @property
    def quote_hit(self) -> bool:
        """Whether the first citation is from an expected story and quotes an expected phrase."""
        if not self.cited or not self.cited[0].is_from(self.question.stories):
            return False
        return any(contains_phrase(self.cited[0].quote, phrase) for phrase in self.question.expect)


@dataclass(frozen=True)
class Metric:
    """A rate over the questions it applies to; `value` is None when none does."""

    name: str
    hits: float
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """A 95% interval of the rate (Wilson's score interval), None when no question counts."""
        if not self.total:
            return None
        n, p, z = self.total, self.hits / self.total, 1.96
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Wrong:
    """A question the archive answered wrongly: what was expected and what came first."""

    id: str
    question: str
    expected: list[str]
    expect: list[str]
    reason: str
    first: Cited | None
    message: str | None = None


@dataclass(frozen=True)
class Report:
    """The scores of one question set."""

    name: str
    questions: int
    answerable: int
    unanswerable: int
    metrics: list[Metric] = field(default_factory=list)
    wrong: list[Wrong] = field(default_factory=list)

    def metric(self, name: str) -> float | None:
        """The value of the metric called `name` (KeyError when there is none)."""
        for metric in self.metrics:
            if metric.name == name:
                return metric.value
        raise KeyError(name)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "questions": self.questions,
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "metrics": {m.name: {"value": m.value, "hits": m.hits, "total": m.total, "interval": m.interval}
                        for m in self.metrics},
            "wrong": [asdict(w) for w in self.wrong],
        }


HIT1, HIT3, MRR10 = "Hit@1", "Hit@3", "MRR@10"
QUOTE_HIT, NO_ANSWER, FALSE_NO_ANSWER = "quote-hit", "no-answer accuracy", "false-no-answer rate"
METRICS = (HIT1, HIT3, MRR10, QUOTE_HIT, NO_ANSWER, FALSE_NO_ANSWER)


def load_questions(path: str | Path) -> list[Question]:
    """Read a question set; raises `QuestionSetError` naming the file and line of a bad entry."""
    questions: list[Question] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                question = parse_question(json.loads(line))
            except (ValueError, TypeError, KeyError) as error:
                raise QuestionSetError(f"{path}:{number}: {error}") from None
            if question.id in seen:
                raise QuestionSetError(f"{path}:{number}: duplicate id {question.id!r}")
            seen.add(question.id)
            questions.append(question)
    return questions


def parse_question(data: dict) -> Question:
    """One question from its JSON object."""
    if not isinstance(data, dict):
        raise TypeError("a question must be a JSON object")
    story = data.get("story")
    stories = (story,) if isinstance(story, str) else tuple(story or ())
    expect = tuple(data.get("expect") or ())
    text = data["q"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'q' must be a non-empty string")
    if not all(isinstance(s, str) and s for s in stories + expect):
        raise ValueError("'story' and 'expect' must hold non-empty strings")
    kinds = (data["kind"],) if data.get("kind") else tuple(data.get("tags") or ())
    return Question(id=str(data["id"]), q=text, stories=stories, expect=expect, kinds=kinds,
                    split=data.get("split"), lang=data.get("lang"))


def outcome(question: Question, answer: Answer) -> Outcome:
    """What scoring keeps of `answer`."""
    cited = tuple(Cited(c.story_id, c.title, c.date.isoformat() if c.date else None, c.quote, c.copies)
                  for c in answer.citations)
    return Outcome(question, cited, None if cited else answer.message)


async def ask_all(service: ArchiveService, questions: Iterable[Question],
                  k: int = DEPTH) -> list[Outcome]:
    """Ask every question through `service.ask` with `k` citations, in order."""
    return [outcome(q, await service.ask(q.q, k=k)) for q in questions]


def score(name: str, outcomes: Sequence[Outcome]) -> Report:
    """The metrics and the wrong answers of one set's outcomes."""
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    with_expect = [o for o in answerable if o.question.expect]
    ranks = [o.rank for o in answerable]
    metrics = [
        Metric(HIT1, sum(r == 1 for r in ranks), len(answerable)),
        Metric(HIT3, sum(r is not None and r <= 3 for r in ranks), len(answerable)),
        Metric(MRR10, sum(1 / r for r in ranks if r is not None and r <= DEPTH), len(answerable)),
        Metric(QUOTE_HIT, sum(o.quote_hit for o in with_expect), len(with_expect)),
        Metric(NO_ANSWER, sum(not o.cited for o in unanswerable), len(unanswerable)),
        Metric(FALSE_NO_ANSWER, sum(not o.cited for o in answerable), len(answerable)),
    ]
    wrong = [w for o in outcomes if (w := judge(o)) is not None]
    return Report(name, len(outcomes), len(answerable), len(unanswerable), metrics, wrong)


def judge(result: Outcome) -> Wrong | None:
    """Why `result` is wrong (story not first, quote missed, answered when it should not be, or
    not answered), or None when it is right."""
    question = result.question
    first = result.cited[0] if result.cited else None
    if not question.answerable:
        reason = "answered a question the archive cannot answer" if first else None
    elif first is None:
        reason = "answered nothing relevant"
    elif result.rank != 1:
        reason = f"expected story at rank {result.rank}" if result.rank else f"expected story not in top {len(result.cited)}"
    elif question.expect and not result.quote_hit:
        reason = "right story, quote misses the expected phrases"
    else:
        reason = None
    if reason is None:
        return None
    return Wrong(question.id, question.q, list(question.stories), list(question.expect), reason,
                 first, result.message)


def by_group(outcomes: Sequence[Outcome], key: str) -> dict[str, list[Outcome]]:
    """The outcomes by `key`: "kind" (a question of several kinds counts in each), "split" or "lang"."""
    groups: dict[str, list[Outcome]] = {}
    for result in outcomes:
        question = result.question
        names = question.kinds if key == "kind" else (getattr(question, key),)
        for name in names or ("-",):
            groups.setdefault(name or "-", []).append(result)
    return dict(sorted(groups.items()))


async def evaluate(service: ArchiveService, path: str | Path, k: int = DEPTH,
                   split: str | None = None) -> tuple[Report, list[Outcome]]:
    """Load the set at `path` (only its questions of `split`, when given, and those of no split), ask it, score it;
    the report is named after the file. The outcomes come too, for reports by group."""
    questions = [q for q in load_questions(path) if split is None or q.split in (None, split)]
    outcomes = await ask_all(service, questions, k)
    return score(Path(path).name, outcomes), outcomes
