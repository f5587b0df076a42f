"""Answer quality: the metric arithmetic on a hand-made case, and floors on a small real archive.

The floors hold the metrics of `tests/data/quality_small.jsonl` (questions from the two development
sets in bench/data/) over an archive of the seed story and the first 2,000 Reuters stories. They
sit a little below what the code measured when they were set: a change that makes answers worse
fails here; one that makes them better should raise them.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest

from retrieval.evaluation import (FALSE_NO_ANSWER, HIT1, HIT3, MRR10, NO_ANSWER, QUOTE_HIT,
                                  Cited, Metric, Outcome, Question, QuestionSetError, Report,
                                  evaluate, judge, load_questions, parse_question, score)
from conftest import shared_file
from retrieval.service import ArchiveService

REPO = Path(__file__).resolve().parents[1]
SMALL_SET = REPO / "tests/data/quality_small.jsonl"
SMALL_ARCHIVE_STORIES = 2000

FLOORS = {              # measured with coverage ranking, aliases, quote cues and folded copies:
    HIT1: 0.94,         # 1.000 (18/18); 0.944 at the first baseline
    HIT3: 0.94,         # 1.000 (18/18)
    MRR10: 0.95,        # 1.000
    QUOTE_HIT: 0.84,    # 0.923 (12/13); 0.538 at the first baseline
    NO_ANSWER: 0.66,    # 1.000 (3/3); 0.333 at the first baseline
}
"""Lowest acceptable value of each metric on the small set (higher is better)."""
CEILINGS = {
    FALSE_NO_ANSWER: 0.06,  # 0.000 (0/18)
}
"""Highest acceptable value of each metric on the small set (lower is better)."""


# --- the arithmetic, on a hand-made case ------------------------------------------------------

def cited(story_id: str, quote: str = "") -> Cited:
    return Cited(story_id, f"title of {story_id}", "1987-03-01T00:00:00", quote)


def outcomes() -> list[Outcome]:
    """Six questions: first-rank hit, rank 2, rank 4, a miss, no answer, and two without answers."""
    return [
        Outcome(Question("a", "qa", ("s1",), ("cocoa arrivals",)),
                (cited("s1", "Cocoa ARRIVALS  rose."), cited("s2"))),                 # rank 1, quote hit
        Outcome(Question("b", "qb", ("s1", "s1-copy"), ("grain",)),
                (cited("s9", "grain"), cited("s1-copy", "grain"))),                    # rank 2 via a copy
        Outcome(Question("c", "qc", ("s3",)),
                (cited("s7"), cited("s8"), cited("s6"), cited("s3"))),                 # rank 4, no expect
        Outcome(Question("d", "qd", ("s4",), ("tin",)),
                tuple(cited(f"x{i}") for i in range(10))),                             # not in top 10
        Outcome(Question("e", "qe", ("s5",), ("sugar",)), (), "Nothing matches."),     # no answer
        Outcome(Question("f", "qf"), (), "Nothing matches."),                          # right: nothing
        Outcome(Question("g", "qg"), (cited("s1"),)),                                  # wrong: answered
    ]


def test_metrics_arithmetic() -> None:
    report = score("tiny", outcomes())
    assert (report.questions, report.answerable, report.unanswerable) == (7, 5, 2)
    assert report.metric(HIT1) == pytest.approx(1 / 5)
    assert report.metric(HIT3) == pytest.approx(2 / 5)
    assert report.metric(MRR10) == pytest.approx((1 + 1 / 2 + 1 / 4) / 5)
    assert report.metric(QUOTE_HIT) == pytest.approx(1 / 4)  # question c has no expect
    assert report.metric(NO_ANSWER) == pytest.approx(1 / 2)
    assert report.metric(FALSE_NO_ANSWER) == pytest.approx(1 / 5)


def test_a_copy_folded_into_a_citation_counts_as_its_story() -> None:
    result = Outcome(Question("g", "qg", ("s1-copy",), ("grain",)),
                     (cited("s9"), Cited("s1", "t", None, "grain", ("s1-copy",))))
    assert result.rank == 2
    first = Outcome(result.question, result.cited[1:])
    assert first.rank == 1 and first.quote_hit


def test_wrong_questions_and_reasons() -> None:
    report = score("tiny", outcomes())
    reasons = {w.id: w.reason for w in report.wrong}
    assert set(reasons) == {"b", "c", "d", "e", "g"}
    assert reasons["b"] == "expected story at rank 2"
    assert reasons["d"] == "expected story not in top 10"
    assert reasons["e"] == "answered nothing relevant"
    assert reasons["g"] == "answered a question the archive cannot answer"
    wrong_b = next(w for w in report.wrong if w.id == "b")
    assert wrong_b.first is not None and wrong_b.first.story_id == "s9"
    assert next(w for w in report.wrong if w.id == "e").message == "Nothing matches."


def test_right_story_wrong_quote_is_wrong() -> None:
    result = Outcome(Question("h", "qh", ("s1",), ("five pct",)), (cited("s1", "Prices rose."),))
    assert result.rank == 1 and not result.quote_hit
    assert judge(result).reason == "right story, quote misses the expected phrases"


def test_metrics_without_questions_are_none() -> None:
    report = score("empty", [])
    assert all(metric.value is None for metric in report.metrics)
    assert report.wrong == []


def test_report_json_round_trips() -> None:
    data = json.loads(json.dumps(score("tiny", outcomes()).to_json()))
    hit1 = data["metrics"][HIT1]
    assert {k: hit1[k] for k in ("value", "hits", "total")} == {"value": 0.2, "hits": 1, "total": 5}
    low, high = hit1["interval"]
    assert 0 < low < 0.2 < high < 1  # Wilson's interval around 1 of 5
    assert {w["id"] for w in data["wrong"]} == {"b", "c", "d", "e", "g"}


def test_an_interval_narrows_with_more_questions_and_stays_within_0_and_1() -> None:
    few, many = Metric("m", 1, 5).interval, Metric("m", 20, 100).interval
    assert many[1] - many[0] < few[1] - few[0]
    assert Metric("m", 0, 7).interval[0] == 0.0 and Metric("m", 7, 7).interval[1] == 1.0
    assert Metric("m", 0, 0).interval is None


def test_parse_question_forms() -> None:
    assert parse_question({"id": "1", "q": "x?", "story": "s1"}).stories == ("s1",)
    assert parse_question({"id": "2", "q": "x?", "story": ["s1", "s2"], "expect": ["p"]}).stories == ("s1", "s2")
    none = parse_question({"id": 3, "q": "x?", "story": None})
    assert none.id == "3" and not none.answerable and none.expect == ()


def test_load_questions_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "1", "q": "fine?", "story": null}\n\n{"id": "2", "story": "s"}\n',
                    encoding="utf-8")
    with pytest.raises(QuestionSetError, match=r"set\.jsonl:3"):
        load_questions(path)
    path.write_text('{"id": "1", "q": "a?"}\n{"id": "1", "q": "b?"}\n', encoding="utf-8")
    with pytest.raises(QuestionSetError, match="duplicate id"):
        load_questions(path)


def test_committed_sets_load() -> None:
    """The development sets parse, and their sizes are what the issue asks for."""
    known = load_questions(REPO / "bench/data/known_item.jsonl")
    handwritten = load_questions(REPO / "bench/data/handwritten.jsonl")
    small = load_questions(SMALL_SET)
    assert len(known) == 500 and all(q.answerable for q in known)
    assert len(handwritten) >= 60
    assert sum(not q.answerable for q in handwritten) >= 10
    assert all(q.expect for q in handwritten if q.answerable)
    assert 10 <= len(small) <= 25


# --- floors on a small real archive --------------------------------------------------------------

@pytest.fixture(scope="module")
def small_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """The small set evaluated over the seed story plus the first 2,000 Reuters stories."""
    reuters = shared_file("reuters21578.jsonl.gz")
    folder = tmp_path_factory.mktemp("quality")
    stories = folder / "reuters-first.jsonl"
    with gzip.open(reuters, "rt", encoding="utf-8") as source, open(stories, "w", encoding="utf-8") as out:
        for number, line in enumerate(source):
            if number >= SMALL_ARCHIVE_STORIES:
                break
            out.write(line)
    return asyncio.run(_evaluate_small(folder / "archive.sqlite", stories))


async def _evaluate_small(db: Path, stories: Path) -> Report:
    service = await ArchiveService.open(db)
    try:
        report = await service.ingest([stories, REPO / "seeds"])
        assert not report.problems
        report, _ = await evaluate(service, SMALL_SET)
        return report
    finally:
        await service.close()


@pytest.mark.data
def test_small_archive_holds_the_expected_stories(small_report: Report) -> None:
    assert small_report.questions == len(load_questions(SMALL_SET))
    assert small_report.answerable >= 10 and small_report.unanswerable >= 2


@pytest.mark.data
@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_quality_floor(small_report: Report, metric: str) -> None:
    value = small_report.metric(metric)
    assert value is not None and value >= FLOORS[metric], _explain(small_report, metric, value)


@pytest.mark.data
@pytest.mark.parametrize("metric", sorted(CEILINGS))
def test_quality_ceiling(small_report: Report, metric: str) -> None:
    value = small_report.metric(metric)
    assert value is not None and value <= CEILINGS[metric], _explain(small_report, metric, value)


def _explain(report: Report, metric: str, value: float | None) -> str:
    wrong = "\n".join(f"  {w.id}: {w.question} -> {w.reason}" for w in report.wrong)
    return f"{metric} = {value} on {report.name}; wrong answers:\n{wrong}"
