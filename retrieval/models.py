"""The values that flow through the archive: stories, passages, citations and answers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum


@dataclass(frozen=True)
class Article:
    """One story as read from an archive file."""

    id: str
    title: str
    date: datetime | None
    body: str
    url: str | None = None
    source: str | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def language(self) -> str | None:
        """The language its record declares (a `lang` or `language` field), if any."""
        return declared_language(self.metadata)

    def content_hash(self) -> str:
        """A digest of everything stored about the story: equal hashes mean nothing changed."""
        payload = json.dumps(
            [self.title, self.date.isoformat() if self.date else None, self.body, self.url,
             self.source, self.metadata],
            sort_keys=True, ensure_ascii=False, default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def declared_language(metadata: dict) -> str | None:
    """The language a story's metadata declares (`lang` or `language`), if any."""
    value = metadata.get("lang") or metadata.get("language")
    return str(value).strip() or None if value else None


@dataclass(frozen=True)
class StoryRecord:
    """A stored story without its passages."""

    id: str
    title: str
    date: datetime | None
    url: str | None
    body: str
    digest: int
    """The first 60 bits of its content hash, as `StoryHeader.digest`."""


@dataclass(frozen=True)
class Citation:
    """One story cited in an answer, with the verbatim quote that answers the question."""

    story_id: str
    title: str
    date: datetime | None
    quote: str
    score: float
    url: str | None = None
    copies: tuple[str, ...] = ()
    """Ids of the stories that repeat this one (Reuters files a story again under a new id),
    folded into this citation."""
    highlights: tuple[tuple[int, int], ...] = ()
    """Spans of `quote` that match the question's words (by their terms) or phrases: what a
    front end shows in bold. Sorted and disjoint."""
    marks: tuple[str, str] = ("", "")
    """The quotation marks to show before and after `quote` (never part of it): those of the
    quotations it starts or ends inside, so that someone's words read as theirs."""

    def to_json(self) -> dict:
        data = {
            "story_id": self.story_id,
            "title": self.title,
            "date": self.date.isoformat() if self.date else None,
            "quote": self.quote,
            "score": self.score,
            "url": self.url,
        }
        if self.copies:
            data["copies"] = list(self.copies)
        return data


class AnswerKind(str, Enum):
    """What kind of answer the archive gave: what a front end reads instead of the message's words."""

    ANSWERED = "answered"
    """Citations from the dates asked for (or any date)."""
    OTHER_DATES = "other_dates"
    """Nothing was reported in the dates asked for; citations from the days just after them, or
    from other dates that name them."""
    NOTHING_RELEVANT = "nothing_relevant"
    NEVER_MENTIONED = "never_mentioned"
    """The question names a word the archive never holds."""
    NOT_NAMED = "not_named"
    """The stories that match the question do not name a name it asks about, do not give a
    figure it gives ("4 trillion"), do not tell of what it asks about ("about China"), or do not
    give the words of whom it asks them of ("what did Tim Cook say")."""
    NO_WORDS = "no_words"
    """Nothing searchable in the question."""
    EMPTY_ARCHIVE = "empty_archive"
    OTHER_LANGUAGE = "other_language"
    """The question is in a language the archive holds no stories in."""

    @property
    def worth_rewording(self) -> bool:
        """Whether other words or dates might find something: the place for search tips."""
        return self is AnswerKind.NOTHING_RELEVANT


@dataclass(frozen=True)
class Answer:
    """What the archive says to a question: citations in rank order, or a reason there are none."""

    question: str
    citations: list[Citation]
    took_ms: float
    message: str | None = None
    """Why there are no citations (no searchable words, nothing relevant, empty archive), or a
    note to read before them (they come from outside the dates asked for)."""
    more: bool = False
    """Whether citations ranked after these exist."""
    kind: AnswerKind = AnswerKind.ANSWERED
    language: str = "en"
    """The question's language (ISO 639-1), which the answer is best shown in."""

    def to_json(self) -> dict:
        data = {
            "question": self.question,
            "kind": self.kind.value,
            "took_ms": round(self.took_ms, 3),
            "citations": [c.to_json() for c in self.citations],
        }
        if self.message:
            data["message"] = self.message
        return data


@dataclass(frozen=True)
class Period:
    """One bar of a timeline: its first and last day and how many stories fall in them."""

    start: date
    end: date
    stories: int

    def to_json(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "stories": self.stories}


@dataclass(frozen=True)
class Timeline:
    """How many stories mention a subject, period by period; or, as for an `Answer`, why none do."""

    subject: str
    kind: AnswerKind
    message: str | None = None
    unit: str = "month"
    """What a period is: "week" (from Monday), "month" or "year"."""
    periods: list[Period] = field(default_factory=list)
    """Consecutive, from the first story's period to the last's, those without stories included."""
    peaks: list[Period] = field(default_factory=list)
    """The busiest periods, busiest first."""
    top: Citation | None = None
    """The story an answer about the subject cites first in the busiest period."""
    first: date | None = None
    last: date | None = None
    """The days of the first and last dated stories."""
    undated: int = 0
    """Stories that mention the subject and carry no date (in no period)."""

    @property
    def dated(self) -> int:
        return sum(period.stories for period in self.periods)

    @property
    def chartable(self) -> bool:
        """Whether a chart says more than words: two dated stories or more."""
        return self.dated >= 2

    def to_json(self) -> dict:
        data = {
            "subject": self.subject,
            "kind": self.kind.value,
            "unit": self.unit,
            "stories": self.dated + self.undated,
            "undated": self.undated,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "periods": [p.to_json() for p in self.periods],
            "peaks": [p.to_json() for p in self.peaks],
            "top": self.top.to_json() if self.top else None,
        }
        if self.message:
            data["message"] = self.message
        return data
