"""Timelines: which stories mention a subject, counted per week, month or year, their peaks, and
the chart drawn of them (a real PNG)."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import date, timedelta

import pytest
from PIL import Image

from bot.charts import HEIGHT, WIDTH, draw_timeline
from retrieval.answer.timeline import count_periods, peaks
from retrieval.models import AnswerKind, Period

# story id: (date, title, body); NATO in a passage or in the title, in 2022 (and one undated)
NATO_STORIES = {
    "n1": ("2022-01-03", "Alliance Meets", "NATO ministers met in Brussels on the Black Sea."),
    "n2": ("2022-01-20", "Talks in Geneva", "Diplomats discussed NATO and Ukraine in Geneva."),
    "n3": ("2022-02-07", "NATO Sends Ships", "Warships sailed to the Black Sea, officials said."),
    "n4": ("2022-02-08", "Ministers Confer", "NATO defence ministers spoke about Ukraine."),
    "n5": ("2022-02-10", "Summit Planned", "A NATO summit is planned for the spring."),
    "n6": ("2022-02-24", "Sirens in Kyiv", "NATO leaders condemned the attack on Ukraine."),
    "n7": ("2022-04-01", "Spring Exercises", "NATO troops trained in Estonia, near the Black Sea of pines."),
    "u1": (None, "An Undated Note", "NATO was founded in 1949."),
    "x1": ("2022-03-01", "Grain Prices", "Wheat prices rose on the Black Sea ports."),
}


@pytest.fixture
async def nato_archive(archive, tmp_path):
    """The seed archive (one NATO story, October 2021) plus the stories above."""
    path = tmp_path / "nato.jsonl"
    path.write_text("\n".join(json.dumps({"id": sid, "title": title, "body": body, **({"date": day} if day else {})})
                              for sid, (day, title, body) in NATO_STORIES.items()), encoding="utf-8")
    assert (await archive.ingest([path])).added == len(NATO_STORIES)
    return archive


def counts(timeline) -> list[tuple[str, int]]:
    return [(p.start.isoformat(), p.stories) for p in timeline.periods]


async def test_a_timeline_counts_the_stories_mentioning_the_subject_per_month(nato_archive):
    timeline = await nato_archive.timeline("NATO")
    assert timeline.kind is AnswerKind.ANSWERED and timeline.unit == "month"
    assert counts(timeline) == [("2021-10-01", 1), ("2021-11-01", 0), ("2021-12-01", 0), ("2022-01-01", 2),
                                ("2022-02-01", 4), ("2022-03-01", 0), ("2022-04-01", 1)]
    assert (timeline.first, timeline.last, timeline.undated) == (date(2021, 10, 25), date(2022, 4, 1), 1)
    # January's 2 is no peak (February, after it, holds more), October's 1 is under half of 4
    assert timeline.peaks == [Period(date(2022, 2, 1), date(2022, 2, 28), 4)]
    assert timeline.chartable


async def test_the_top_story_is_what_an_answer_cites_first_in_the_busiest_period(nato_archive):
    timeline = await nato_archive.timeline("NATO")
    busiest = timeline.peaks[0]
    answer = await nato_archive.ask("NATO", k=1, since=busiest.start, until=busiest.end)
    assert timeline.top == answer.citations[0]
    assert busiest.start <= timeline.top.date.date() <= busiest.end


async def test_a_timeline_takes_the_words_and_filters_of_a_question(nato_archive):
    weekly = await nato_archive.timeline("NATO in February 2022")
    assert weekly.unit == "week"
    assert counts(weekly) == [("2022-02-07", 3), ("2022-02-14", 0), ("2022-02-21", 1)]
    assert weekly.peaks[0] == Period(date(2022, 2, 7), date(2022, 2, 13), 3)
    without = await nato_archive.timeline("NATO -Ukraine since 2022")
    assert without.dated == 4 and without.first == date(2022, 1, 3)  # n1, n3, n5, n7
    phrase = await nato_archive.timeline('NATO "Black Sea"')
    assert phrase.dated == 3 and phrase.last == date(2022, 4, 1)  # n1, n3 (NATO in its title), n7


async def test_a_subject_the_archive_never_mentions_is_told_so(nato_archive):
    timeline = await nato_archive.timeline("Zyzzogeton")
    assert timeline.kind is AnswerKind.NEVER_MENTIONED and "never mentions" in timeline.message
    assert not timeline.chartable and not timeline.periods
    nothing = await nato_archive.timeline("NATO in 2019")
    assert nothing.kind is AnswerKind.NOTHING_RELEVANT and "2019" in nothing.message


async def test_a_single_story_is_not_charted(nato_archive):
    timeline = await nato_archive.timeline("Geneva diplomats")
    assert timeline.dated == 1 and not timeline.chartable
    assert timeline.top.story_id == "n2"


def test_the_unit_follows_the_span():
    start = date(2021, 1, 4)
    assert count_periods([start, start + timedelta(days=120)])[0] == "week"
    assert count_periods([start, start + timedelta(days=121)])[0] == "month"
    assert count_periods([start, start + timedelta(days=5 * 366)])[0] == "month"
    unit, periods = count_periods([start, start + timedelta(days=5 * 366 + 1)])
    assert unit == "year" and [p.start.year for p in periods] == [2021, 2022, 2023, 2024, 2025, 2026]


def test_weeks_start_on_monday_and_empty_periods_are_kept():
    unit, periods = count_periods([date(2021, 11, 3), date(2021, 11, 21), date(2021, 11, 21)])
    assert unit == "week"
    assert periods == [Period(date(2021, 11, 1), date(2021, 11, 7), 1), Period(date(2021, 11, 8), date(2021, 11, 14), 0),
                       Period(date(2021, 11, 15), date(2021, 11, 21), 2)]


def test_peaks_are_local_maxima_near_the_busiest_busiest_first():
    def period(n: int, stories: int) -> Period:
        return Period(date(2021, n, 1), date(2021, n, 28), stories)

    months = [period(n, s) for n, s in enumerate([1, 6, 6, 2, 5, 1, 2, 9, 3], 1)]
    assert [p.start.month for p in peaks(months)] == [8, 2, 5]  # 9, the first of the two 6s, 5; not 2 (under half of 9)
    assert [p.start.month for p in peaks(months[:1])] == [1]


async def test_the_chart_is_a_png_a_phone_can_read(nato_archive):
    png = draw_timeline(await nato_archive.timeline("NATO"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT) and WIDTH >= 1000
    colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 16)}
    assert (0x1D, 0x5F, 0xA6) in colours  # the peaks' bars are drawn


async def test_a_subject_with_dollar_signs_is_drawn_as_written_not_as_mathtext(nato_archive):
    timeline = replace(await nato_archive.timeline("NATO"), subject=r"$\frac{$ NATO $5")
    assert draw_timeline(timeline).startswith(b"\x89PNG")  # mathtext would refuse to parse it
