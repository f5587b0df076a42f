"""A subject's timeline: the stories that mention it, counted by week, month or year, and the
busiest periods.

A story mentions the subject when it holds each of the subject's searched words (or a spelling
of it searched with it) in its title or a passage, and each "exact phrase" in its title or body;
the date range and the left-out words filter as they do for questions.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np

from retrieval.answer.citing import ReadStories
from retrieval.answer.query import Query
from retrieval.answer.quotes import contains_phrase
from retrieval.models import Period
from retrieval.snapshot import Snapshot

WEEKS_UP_TO = timedelta(days=120)
"""A subject spanning at most this long is counted by week (at most 18 bars)."""
MONTHS_UP_TO = timedelta(days=5 * 366)
"""Up to this, by month (at most 61 bars); longer, by year."""
MAX_PEAKS = 3
PEAK_SHARE = 0.5
"""A peak other than the busiest period holds at least this share of the busiest's stories."""
PAGE = 500
"""Stories whose bodies are read at a time to look for phrases."""


async def mentioning(snapshot: Snapshot, query: Query, read: ReadStories) -> list[int]:
    """The positions in `snapshot` of the stories that mention `query`'s subject, ascending."""
    allowed = snapshot.stories_allowed(query.excluded, query.since, query.until)
    holding = np.ones(len(snapshot.stories), dtype=bool) if allowed is None else allowed
    for spellings in _spellings(query).values():
        holding &= np.logical_or.reduce([snapshot.stories_with(term) for term in spellings])
    found = np.flatnonzero(holding).tolist()
    return await _with_phrases(snapshot, found, query.phrases, read) if query.phrases else found


def _spellings(query: Query) -> dict[str, list[str]]:
    """Each searched term of the question's own with the alternatives searched for it."""
    groups: dict[str, list[str]] = {t: [t] for t in query.terms if t not in query.alternatives}
    for alternative, term in query.alternatives.items():
        groups[term].append(alternative)
    return groups


async def _with_phrases(snapshot: Snapshot, stories: list[int], phrases: Sequence[str],
                        read: ReadStories) -> list[int]:
    """Those of `stories` whose title or body holds every phrase."""
    kept = []
    for at in range(0, len(stories), PAGE):
        page = stories[at:at + PAGE]
        records = await read(snapshot.stories.ids[s] for s in page)
        for story in page:
            record = records.get(snapshot.stories.ids[story])
            if record and all(contains_phrase(record.title, p) or contains_phrase(record.body, p) for p in phrases):
                kept.append(story)
    return kept


def count_periods(days: Sequence[date]) -> tuple[str, list[Period]]:
    """The unit that suits the span of `days` (not empty) and the stories per period, every
    period from the first day's to the last's."""
    first, last = min(days), max(days)
    unit = "week" if last - first <= WEEKS_UP_TO else "month" if last - first <= MONTHS_UP_TO else "year"
    counts = Counter(period_start(day, unit) for day in days)
    periods, start = [], period_start(first, unit)
    while start <= last:
        following = _next_start(start, unit)
        periods.append(Period(start, following - timedelta(days=1), counts[start]))
        start = following
    return unit, periods


def period_start(day: date, unit: str) -> date:
    """The first day of the week (a Monday), month or year that holds `day`."""
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if unit == "month" else day.replace(month=1, day=1)


def _next_start(start: date, unit: str) -> date:
    if unit == "week":
        return start + timedelta(days=7)
    if unit == "month":
        return start + timedelta(days=calendar.monthrange(start.year, start.month)[1])
    return start.replace(year=start.year + 1)


def peaks(periods: Sequence[Period]) -> list[Period]:
    """The busiest periods, busiest first (the earlier first among equals): each holds more
    stories than the period before and no fewer than the one after, and at least PEAK_SHARE of
    the busiest's; at most MAX_PEAKS."""
    counts = [0, *(p.stories for p in periods), 0]
    floor = PEAK_SHARE * max(counts)
    tops = [i for i in range(1, len(counts) - 1)
            if counts[i] >= floor and counts[i - 1] < counts[i] >= counts[i + 1]]
    tops.sort(key=lambda i: (-counts[i], i))
    return [periods[i - 1] for i in tops[:MAX_PEAKS]]
