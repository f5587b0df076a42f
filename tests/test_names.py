"""Names asked: a story that never names a name the question is about does not answer it."""

from __future__ import annotations

import json

import pytest

from conftest import add_stories, add_story
from retrieval.answer import citing, names
from retrieval.answer.names import KEY_SHARE, key_terms, written_as_name
from retrieval.models import AnswerKind
from retrieval.text.analysis import Analyzer

ENGLISH = Analyzer()


@pytest.mark.parametrize("word, bodies, name", [
    ("Finland", ["Talks with Finland resumed. Officials in Finland agreed."], True),
    ("Finland", ["Finland said no.", "Prices in Finland rose."], True),  # a sentence's first word does not count
    ("Finland", ["Finland said no. Finland agreed."], False),  # nor do only first words
    ("green", ["The green party won. Green coffee rose, and green bonds fell."], False),
    ("Apple", ["Shares in Apple and in IBM fell, and apple growers protested."], False),
    ("IBM", ["Shares in Apple and in IBM fell, and apple growers protested."], True),
    ("Finland", [], False),
])
def test_a_word_is_a_name_when_the_archive_writes_it_with_a_capital(word, bodies, name):
    assert written_as_name(ENGLISH.terms(word)[0], bodies, ENGLISH) is name


def test_the_names_a_question_is_about_weigh_enough_and_are_no_dates():
    weights = {"finland": 8.0, "nato": 6.0, "american": 1.0, "march": 9.0}
    assert key_terms(weights, weights, ENGLISH) == ["finland", "nato"]
    assert 1.0 < KEY_SHARE * sum(weights.values())
    assert key_terms({"wahl": 5.0}, {"wahl": 5.0}, Analyzer("de")) == []  # German capitalises every noun


FINLAND = "Finland applied for NATO membership on Wednesday, and Russia said it would respond."


@pytest.fixture
async def nordic_archive(archive, tmp_path):
    """The seed (Russia, Ukraine and NATO) and a story naming Finland, on another subject."""
    path = tmp_path / "nordic.jsonl"
    path.write_text(json.dumps({"id": "n1", "title": "Nordic ministers meet", "date": "2021-11-02",
                                "body": "Ministers met in Oslo. Ties with Finland and Sweden were discussed, "
                                        "and trade with Finland grew."}), encoding="utf-8")
    await archive.ingest([path])
    return archive


async def test_a_story_that_never_names_the_name_asked_is_not_an_answer(nordic_archive):
    answer = await nordic_archive.ask("Can Russia stop finland from joining NATO?")
    assert answer.kind is AnswerKind.NOT_NAMED and answer.citations == []
    assert answer.message == ("No story that matches the rest of the question names “finland” "
                              "(stories in the archive that do: 1).")
    assert (await nordic_archive.ask("Can Russia stop Ukraine from joining NATO?")).kind is AnswerKind.ANSWERED


async def test_a_word_the_archive_writes_only_as_a_rare_acronym_is_not_required(archive, tmp_path):
    """The archive's one "APP" is a news agency: the question's "app" is a word, and the story
    matching the rest answers, saying it does not name it."""
    path = tmp_path / "agency.jsonl"
    path.write_text(json.dumps({"id": "a1", "title": "Rain in Karachi", "date": "2021-11-02",
                                "body": "Heavy rain fell in Karachi, the official APP news agency reported."}),
                    encoding="utf-8")
    await archive.ingest([path])
    answer = await archive.ask("can russia stop ukraine joining nato, says the app")
    assert answer.kind is AnswerKind.ANSWERED and answer.citations[0].story_id == "960351"
    assert answer.message == "None of these stories names “app”; they match the rest of the question."
    named = await archive.ask("can russia stop ukraine joining nato, says the APP")  # written as the name
    assert named.kind is AnswerKind.NOT_NAMED and named.citations == []


async def test_a_story_writing_out_the_initials_asked_names_them(archive, tmp_path):
    """"pm" is a name of the archive ("The PM of Ruritania"), and the story asked about writes it
    out as the archive's stories holding it do: "Prime Minister"."""
    await add_stories(archive, tmp_path, "pm", [
        {"id": "p1", "title": "Doe steps down", "date": "2021-11-02",
         "body": "Prime Minister Jane Doe resigned on Friday, citing her health."},
        {"id": "p2", "title": "Visit", "date": "2021-11-03",
         "body": "The PM of Ruritania, Prime Minister John Roe, visited Oslo on a PM tour."},
    ])
    answer = await archive.ask("why did doe quit as pm")
    assert answer.kind is AnswerKind.ANSWERED and answer.citations[0].story_id == "p1"
    assert answer.message is None  # named: not passed over as a rare acronym


async def test_a_story_writing_out_a_name_the_best_match_held_names_it(archive, tmp_path):
    """The best match for "un ... headquarters" names the UN but not Haiti; the Haiti story
    names the UN as two of the archive's UN stories write it out, "United Nations"; a story
    holding "United States" and "national" does not."""
    await add_stories(archive, tmp_path, "un", [
        {"id": "u1", "title": "UN offices move", "date": "2010-01-02",
         "body": "The UN said its headquarters in Geneva would move, a UN spokesman said."},
        {"id": "u2", "title": "Aid for Chad", "date": "2010-01-05",
         "body": "The United Nations (UN) sent food to Chad."},
        {"id": "u3", "title": "Mali visit", "date": "2010-01-06",
         "body": "A United Nations team (UN) visited Mali."},
        {"id": "h1", "title": "Quake in Haiti", "date": "2010-01-13",
         "body": "Rescuers rushed to Haiti.\n\nThe United Nations said its headquarters in Haiti had collapsed."},
        {"id": "h2", "title": "Haiti embassy", "date": "2010-01-14",
         "body": "The United States said its national headquarters in Haiti had collapsed."},
    ])
    answer = await archive.ask("what did the un say about its haiti headquarters")
    assert answer.kind is AnswerKind.ANSWERED and [c.story_id for c in answer.citations] == ["h1"]
    assert "headquarters in Haiti had collapsed" in answer.citations[0].quote


async def test_the_story_naming_the_name_is_cited_before_one_matching_more_words(nordic_archive, tmp_path,
                                                                                 monkeypatch):
    path = tmp_path / "finland.jsonl"
    path.write_text(json.dumps({"id": "f1", "title": "Helsinki applies", "date": "2022-05-18",
                                "body": "Leaders met in Helsinki on Tuesday.\n\n" + FINLAND}), encoding="utf-8")
    await nordic_archive.ingest([path])
    question = "Can Russia prevent finland from joining NATO?"
    answer = await nordic_archive.ask(question)
    assert answer.kind is AnswerKind.ANSWERED and [c.story_id for c in answer.citations] == ["f1"]
    monkeypatch.setattr(names, "KEY_SHARE", 1.1)  # no name counts: the seed's words win
    assert (await nordic_archive.ask(question)).citations[0].story_id not in ("f1", "n1")


async def test_a_story_naming_the_name_answers_with_the_rest_told_in_other_paragraphs(nordic_archive, tmp_path):
    await add_story(nordic_archive, tmp_path, "s1", "Helsinki diary", "2022-05-18", "\n\n".join([
        "Finland's leaders met in Helsinki on Tuesday.", "Russia warned of a military response.",
        "Nobody can stop it, officials said.", "Joining takes a year.", "NATO welcomed the bid."]))
    answer = await nordic_archive.ask("Can Russia stop finland from joining NATO?")
    assert answer.kind is AnswerKind.ANSWERED and [c.story_id for c in answer.citations] == ["s1"]


async def test_a_story_naming_only_the_name_lacking_is_not_cited_for_the_others(nordic_archive, tmp_path):
    path = tmp_path / "euro.jsonl"
    path.write_text(json.dumps({"id": "e1", "title": "Finland stops joining talks", "date": "2022-06-01",
                                "body": "Finland will stop joining the euro talks. Joining them was costly, "
                                        "Finland said."}), encoding="utf-8")
    await nordic_archive.ingest([path])
    answer = await nordic_archive.ask("Can Russia stop finland from joining NATO?")
    assert answer.kind is AnswerKind.NOT_NAMED and answer.citations == []


async def test_the_message_is_in_the_questions_language(nordic_archive, tmp_path):
    path = tmp_path / "ru.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"r{i}", "title": "Новости", "date": "2023-01-0" + str(i), "lang": "ru",
                                          "body": body}) for i, body in enumerate([
        "Министры встретились в Москве. Переговоры с Финляндией продолжатся, сказал Песков.",
        "Россия и Украина обсудили поставки зерна. Стороны договорились продолжить переговоры о зерне.",
    ], 1)), encoding="utf-8")
    await nordic_archive.ingest([path])
    answer = await nordic_archive.ask("обсудили ли Россия и Финляндией поставки зерна?")
    assert answer.kind is AnswerKind.NOT_NAMED
    assert answer.message.startswith("Ни один материал") and "Финляндией" in answer.message


async def test_a_question_reads_each_story_once_the_names_samples_with_the_best_story(nordic_archive, monkeypatch):
    """The best story, the stories sampled to tell whether the name it lacks is written as one,
    and the first stories to cite are read in one call to the store, and none twice."""
    calls: list[list[str]] = []
    stories = nordic_archive.citing.read

    async def reading(wanted):
        calls.append(list(wanted))
        return await stories(calls[-1])

    monkeypatch.setattr(nordic_archive.citing, "read", reading)
    await nordic_archive.ask("Can Russia stop finland from joining NATO?")
    read = [sid for call in calls for sid in call]
    assert "n1" in calls[0] and len(read) == len(set(read))
    calls.clear()
    assert (await nordic_archive.ask("Can Russia stop Ukraine from joining NATO?")).kind is AnswerKind.ANSWERED
    assert len(calls) == 1


async def test_asked_again_with_the_names_required_the_stories_are_not_ranked_again(nordic_archive, monkeypatch):
    """When the best story lacks a name asked, the ranking is filtered again, not searched again."""
    limits: list[int] = []
    rank = citing.rank_stories

    def ranking(snapshot, query, required, limit, weights):
        limits.append(limit)
        return rank(snapshot, query, required, limit, weights)

    monkeypatch.setattr(citing, "rank_stories", ranking)
    answer = await nordic_archive.ask("Can Russia stop finland from joining NATO?")
    assert answer.kind is AnswerKind.NOT_NAMED and limits and len(limits) == len(set(limits))
