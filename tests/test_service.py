"""Answers from the archive: the seed story, quotes, filters, paging and the states with no answer."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
import random
import sys
from dataclasses import replace
from datetime import date, datetime
from unittest.mock import ANY

import pytest

import retrieval.service

from conftest import add_story
from retrieval.bm25.index import VARIANTS, BM25Params
from retrieval.answer.query import parse_query
from retrieval.answer.ranking import rank_stories
from retrieval.models import AnswerKind
from retrieval.service import EMPTY_ARCHIVE, RELOAD_SWITCH_INTERVAL, ArchiveService, RetrievalSettings

DEMO_QUESTION = "Can Russia prevent Ukraine from joining NATO?"
PESKOV = "We cannot prevent it. It is impossible."

COCOA_STORIES = [
    ("c1", "1987-02-26", "Cocoa arrivals in Bahia rose sharply, Comissaria Smith said.\n\n"
                         "Cocoa stocks in Bahia are high. Cocoa prices may fall."),
    ("c2", "1987-03-05", "Ghana cocoa output fell this season.\n\nCocoa prices rose in London."),
    ("c3", "1987-04-01", "Ivory Coast cocoa exports held steady, traders said."),
    ("c4", "1987-05-01", "Coffee and sugar prices rose. Cocoa was little changed among softs."),
    ("c5", "1987-06-01", "The International Cocoa Organization met in London. Delegates discussed the "
                         "buffer stock. The buffer stock manager may buy cocoa.\n\nNo deal was reached."),
]


@pytest.fixture
async def cocoa_archive(archive, tmp_path):
    """The seed archive plus five 1987 stories about cocoa."""
    path = tmp_path / "cocoa.jsonl"
    path.write_text("\n".join(json.dumps({"id": sid, "title": f"Cocoa story {sid}", "date": day, "body": body,
                                          "url": f"https://example.com/{sid}"})
                              for sid, day, body in COCOA_STORIES), encoding="utf-8")
    report = await archive.ingest([path])
    assert report.added == len(COCOA_STORIES)
    return archive


async def assert_quotes_are_verbatim(service: ArchiveService, answer) -> None:
    for citation in answer.citations:
        story = await service.story(citation.story_id)
        assert citation.quote and citation.quote in story.body
        assert citation.title == story.title and citation.date == story.date


# The seed archive ------------------------------------------------------------------------------


async def test_the_demo_question_quotes_peskov(archive):
    answer = await archive.ask(DEMO_QUESTION)
    assert answer.message is None
    [citation] = answer.citations
    assert citation.story_id == "960351"
    assert PESKOV in citation.quote
    assert citation.date.date() == date(2021, 10, 25)
    assert citation.title.startswith("Moscow Says Cannot Prevent Ukraine")
    assert citation.score > 0
    await assert_quotes_are_verbatim(archive, answer)


@pytest.mark.parametrize("variant", VARIANTS)
async def test_the_demo_question_quotes_peskov_under_every_bm25_variant(tmp_db, seed_dir, variant):
    service = await ArchiveService.open(tmp_db, RetrievalSettings(bm25=BM25Params(variant=variant)))
    try:
        await service.ingest([seed_dir])
        answer = await service.ask(DEMO_QUESTION)
        assert [c.story_id for c in answer.citations] == ["960351"]
        assert PESKOV in answer.citations[0].quote
    finally:
        await service.close()


@pytest.mark.parametrize("question, expected", [
    ("What did Peskov tell Rossiya 1?", "Peskov told the Rossiya 1 broadcaster"),
    ("When will Putin and Biden meet?", "Putin and US President Joe Biden should meet"),
    ("What did Lavrov announce about the permanent mission?", "mission to the alliance from November 1"),
    ("Is there anything wrong with suspending relations with NATO?", "there is nothing wrong with suspending"),
])
async def test_seed_questions_quote_the_sentence_that_answers(archive, question, expected):
    answer = await archive.ask(question)
    assert answer.citations[0].story_id == "960351"
    assert expected in answer.citations[0].quote
    await assert_quotes_are_verbatim(archive, answer)


async def test_every_quote_is_a_verbatim_substring_of_its_story(cocoa_archive):
    """Questions made of random words of the archive, with every kind of citation they produce."""
    words = " ".join(body for *_, body in COCOA_STORIES).split() + [
        "NATO", "Peskov", "Russia", "impossible", "broadcaster", "aggressiveness", "Biden", '"', "-", "..."]
    rng = random.Random(2)
    for _ in range(60):
        question = " ".join(rng.sample(words, rng.randint(1, 6)))
        answer = await cocoa_archive.ask(question, k=10)
        await assert_quotes_are_verbatim(cocoa_archive, answer)


# Questions that get no citations ---------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "the of and to", "?!", "\U0001F600", "in 2021"])
async def test_a_question_without_searchable_words_gets_a_message(archive, question):
    answer = await archive.ask(question)
    assert answer.citations == []
    assert "nothing to search for" in answer.message
    assert answer.kind is AnswerKind.NO_WORDS


@pytest.mark.parametrize("options", [{"since": date(2022, 1, 1)}, {"until": date(2021, 10, 24)}])
async def test_a_date_option_without_the_story_finds_nothing(archive, options):
    answer = await archive.ask("NATO", **options)
    assert answer.citations == []
    assert answer.message.startswith("Nothing in the archive matches")


async def test_a_date_in_words_without_the_story_falls_back_to_stories_naming_it(cocoa_archive, tmp_path):
    """A date in the question may be when things happened, not when they were reported."""
    await add_story(cocoa_archive, tmp_path, "late", "Cocoa review", "1987-07-01",
                    "Ghana cocoa output rose in 1986, the board said.")
    answer = await cocoa_archive.ask("Ghana cocoa output in 1986")
    assert [c.story_id for c in answer.citations] == ["late"]
    assert answer.message.startswith("Nothing in the archive was reported")
    assert answer.kind is AnswerKind.OTHER_DATES


async def test_a_story_filed_just_after_the_dates_asked_tells_of_their_last_days(cocoa_archive, tmp_path):
    """The question's month is when it happened; the story came out the next morning, and does
    not name the month."""
    await add_story(cocoa_archive, tmp_path, "next", "Ghana port strike ends", "1987-04-01",
                    "Dockers in Ghana ended their strike late on Tuesday night, the union said.")
    await add_story(cocoa_archive, tmp_path, "weeks", "Ghana dockers strike again", "1987-04-20",
                    "Dockers in Ghana went on strike again on Monday, the union said.")
    answer = await cocoa_archive.ask("in march 1987 when did the ghana dockers end their strike")
    assert [c.story_id for c in answer.citations] == ["next"]
    assert answer.kind is AnswerKind.OTHER_DATES
    again = await cocoa_archive.ask("in march 1987 when did the ghana dockers go on strike again")
    assert "weeks" not in [c.story_id for c in again.citations]  # filed twenty days after: not of March


@pytest.mark.parametrize("question", ["NATO before 25 October 2021", "NATO in December 9999", "NATO on 31 December 9999"])
async def test_an_open_or_last_period_looks_at_no_days_after_it(archive, question):
    """The story is of 25 October 2021: "before" it excludes it, and the calendar's last days
    have none after them (no overflow)."""
    answer = await archive.ask(question)
    assert answer.citations == [] and answer.kind is AnswerKind.NOTHING_RELEVANT


def assert_not_named(answer, message: str) -> None:
    """`answer` cites nothing and says why: what the stories matching the rest of it lack."""
    assert answer.citations == [] and answer.kind is AnswerKind.NOT_NAMED
    assert answer.message == message


async def test_a_story_of_another_figure_does_not_answer_the_figure_asked(cocoa_archive, tmp_path):
    await add_story(cocoa_archive, tmp_path, "crop", "Ghana cocoa crop", "1987-04-01",
                    "Ghana's cocoa crop was worth 2 billion dollars on April 4, the board said.")
    other = await cocoa_archive.ask("when was ghana's cocoa crop worth 4 billion dollars")
    assert_not_named(other, "No story that matches the rest of the question gives the figure “4 billion”.")
    given = await cocoa_archive.ask("when was ghana's cocoa crop worth 2 billion dollars")
    assert given.kind is AnswerKind.ANSWERED and given.citations[0].story_id == "crop"


async def test_a_story_that_tells_nothing_of_what_was_asked_about_does_not_answer(cocoa_archive, tmp_path):
    """The story matches the speaker and the occasion, but says nothing of the subject asked."""
    await add_story(cocoa_archive, tmp_path, "talk", "Ghana minister speaks at cocoa summit", "1987-04-01",
                    "Ghana's finance minister told the cocoa summit that the new crop was the best in years.")
    await add_story(cocoa_archive, tmp_path, "dry", "Brazil coffee", "1987-04-02", "Brazil's growers fear a drought.")
    other = await cocoa_archive.ask("what did ghana's finance minister say about drought at the cocoa summit")
    assert_not_named(other, "No story that matches the rest of the question tells of “drought”.")
    told = await cocoa_archive.ask("what did ghana's finance minister say about the crop at the cocoa summit")
    assert told.kind is AnswerKind.ANSWERED and told.citations[0].story_id == "talk"
    dated = await cocoa_archive.ask("what did ghana's finance minister say about drought at the cocoa summit on "
                                    "1 april 1987")
    assert dated.message == other.message  # what the stories of the day lack, not "nothing that day"
    typo = await cocoa_archive.ask("what did ghana's finance minister say about the crpo at the cocoa summit")
    assert [c.story_id for c in typo.citations] == ["talk"]  # the subject respelled as the search is
    nothing = await cocoa_archive.ask("what did ghana's finance minister say about the crop on 1 january 2030")
    assert nothing.citations == [] and nothing.kind is AnswerKind.NOTHING_RELEVANT  # no story of those days


async def test_what_someone_said_is_answered_only_by_a_story_giving_their_words(cocoa_archive, tmp_path):
    await add_story(cocoa_archive, tmp_path, "board", "Ghana cocoa board meets", "1987-04-01",
                    "Ghana's cocoa board met Kwame Mensah, its new chairman, on Monday to discuss the crop.")
    silent = await cocoa_archive.ask("what did kwame mensah say about the ghana cocoa crop")
    assert_not_named(silent, "No story that matches the rest of the question gives the words of “kwame mensah”.")
    await add_story(cocoa_archive, tmp_path, "speaks", "Ghana cocoa chairman speaks", "1987-04-02",
                    "Kwame Mensah told reporters the Ghana cocoa crop would be the best in a decade.")
    heard = await cocoa_archive.ask("what did kwame mensah say about the ghana cocoa crop")
    assert [c.story_id for c in heard.citations] == ["speaks"]
    await add_story(cocoa_archive, tmp_path, "sums", "Ghana cocoa sums", "1987-04-03",
                    "Kwame Mensah met bankers in Accra over the Ghana cocoa board's arrears.")
    unpaid = await cocoa_archive.ask("what did kwame mensah say to reporters about the arrears")
    # the story of the arrears gives none of his words: that, not the arrears, is what it lacks
    assert_not_named(unpaid, "No story that matches the rest of the question gives the words of “kwame mensah”.")


@pytest.mark.parametrize("question", ["NATO before 2021", "NATO after 2021", "NATO in 1987"])
async def test_a_date_in_words_that_no_story_names_finds_nothing(archive, question):
    answer = await archive.ask(question)
    assert answer.citations == []
    assert answer.message.startswith("Nothing in the archive matches")


@pytest.mark.parametrize("question, options", [
    ("NATO in October 2021", {}),
    ("NATO on 25 October 2021", {}),
    ("NATO since 2021", {}),
    ("NATO", {"since": date(2021, 10, 25), "until": date(2021, 10, 25)}),
])
async def test_a_date_range_with_the_story_finds_it(archive, question, options):
    answer = await archive.ask(question, **options)
    assert [c.story_id for c in answer.citations] == ["960351"]


async def test_words_no_story_holds_are_named(archive):
    answer = await archive.ask("quantum chromodynamics")
    assert answer.citations == [] and answer.more is False
    assert answer.message == "The archive never mentions \u201cquantum\u201d, \u201cchromodynamics\u201d, so it cannot answer that."
    assert answer.kind is AnswerKind.NEVER_MENTIONED


async def test_an_empty_archive_answers_with_a_message(tmp_db, tmp_path):
    service = await ArchiveService.open(tmp_db)
    try:
        for question in [DEMO_QUESTION, "", "the"]:
            answer = await service.ask(question)
            assert (answer.citations, answer.message, answer.kind) == ([], EMPTY_ARCHIVE, AnswerKind.EMPTY_ARCHIVE)
        (tmp_path / "empty.txt").write_bytes(b"")
        report = await service.ingest([tmp_path / "empty.txt"])
        assert report.failed == 1
        assert (await service.ask(DEMO_QUESTION)).message == EMPTY_ARCHIVE
    finally:
        await service.close()


# Filters, phrases, paging ----------------------------------------------------------------------


async def test_dates_select_among_stories(cocoa_archive):
    answer = await cocoa_archive.ask("cocoa between March 1987 and April 1987", k=10)
    assert sorted(c.story_id for c in answer.citations) == ["c2", "c3"]
    assert all(date(1987, 3, 1) <= c.date.date() <= date(1987, 4, 30) for c in answer.citations)


@pytest.mark.parametrize("question", [
    '"against the background"',
    '"against the background" Peskov',
    '"against the background" NATO Ukraine prevent',  # the story's best passage lacks the phrase
])
async def test_an_exact_phrase_must_appear_in_the_quote(archive, question):
    [citation] = (await archive.ask(question)).citations
    assert citation.story_id == "960351"
    assert "against the background" in citation.quote


@pytest.mark.parametrize("question", ['"background of the against"', '"Peskov said" NATO'])
async def test_a_phrase_no_passage_holds_finds_nothing(archive, question):
    answer = await archive.ask(question)
    assert answer.citations == []
    assert answer.message.startswith("Nothing in the archive matches")


async def test_a_phrase_with_a_word_the_archive_never_holds_names_it(archive):
    answer = await archive.ask('"quantum NATO"')
    assert (answer.citations, answer.kind) == ([], AnswerKind.NEVER_MENTIONED)
    assert "\u201cquantum\u201d" in answer.message


async def test_a_phrase_ignores_case_and_spacing(cocoa_archive):
    answer = await cocoa_archive.ask('"buffer   STOCK manager"')
    assert [c.story_id for c in answer.citations] == ["c5"]
    assert "buffer stock manager" in answer.citations[0].quote


@pytest.mark.parametrize("words, excluded, stories", [
    ("cocoa prices", "Ghana", {"c1", "c4"}),  # c3 and c5 say nothing of prices: below the floor
    ("cocoa", "Bahia", {"c2", "c3", "c4", "c5"}),
    ("cocoa", "london", {"c1", "c3", "c4"}),  # any case; c2 and c5 mention London
])
async def test_minus_a_word_excludes_stories_that_hold_it(cocoa_archive, words, excluded, stories):
    answer = await cocoa_archive.ask(f"{words} -{excluded}", k=10)
    assert {c.story_id for c in answer.citations} == stories


async def test_excluding_a_word_of_the_only_story_finds_nothing(archive):
    answer = await archive.ask("NATO -Peskov")
    assert answer.citations == []
    assert answer.message.startswith("Nothing in the archive matches")


async def test_each_story_is_cited_once_with_its_best_passage(cocoa_archive):
    answer = await cocoa_archive.ask("cocoa", k=10)
    ids = [c.story_id for c in answer.citations]
    assert len(ids) == len(set(ids))
    assert set(ids) == {"c1", "c2", "c3", "c4", "c5"}
    scores = [c.score for c in answer.citations]
    assert scores == sorted(scores, reverse=True)


async def test_offset_and_more_page_through_the_citations(cocoa_archive):
    everything = await cocoa_archive.ask("cocoa", k=10)
    assert len(everything.citations) == 5 and everything.more is False
    pages = [await cocoa_archive.ask("cocoa", k=2, offset=offset) for offset in (0, 2, 4, 6)]
    assert [len(p.citations) for p in pages] == [2, 2, 1, 0]
    assert [p.more for p in pages] == [True, True, False, False]
    assert [c for p in pages for c in p.citations] == everything.citations


async def test_new_stories_are_answered_after_an_ingest(archive, tmp_path):
    assert (await archive.ask("cocoa arrivals in Bahia")).citations == []
    path = tmp_path / "new.jsonl"
    sid, day, body = COCOA_STORIES[0]
    path.write_text(json.dumps({"id": sid, "title": "Bahia", "date": day, "body": body}))
    await archive.ingest([path])
    answer = await archive.ask("cocoa arrivals in Bahia")
    assert answer.citations[0].story_id == "c1"
    assert answer.citations[0].date == datetime(1987, 2, 26)
    assert "Comissaria Smith said" in answer.citations[0].quote


async def test_stats_count_what_the_archive_holds(cocoa_archive):
    answer = await cocoa_archive.ask("cocoa")
    await cocoa_archive.record(answer, "private")
    stats = await cocoa_archive.stats()
    assert stats["stories"] == 6
    assert stats["passages"] >= 6
    assert stats["questions"] == 1
    assert stats["first_date"].startswith("1987-02-26") and stats["last_date"].startswith("2021-10-25")
    assert stats["last_ingest"]["added"] == 5


async def test_a_when_question_puts_the_date_first(archive):
    answer = await archive.ask("When did Lavrov announce the suspension?")
    assert answer.message == "Reported on 25 October 2021:"
    assert answer.kind is AnswerKind.ANSWERED
    assert "Lavrov announced earlier" in answer.citations[0].quote


async def test_an_unknown_name_is_left_out_with_a_note_when_the_rest_finds_the_story(archive):
    answer = await archive.ask("What did Zelensky say about NATO and Ukraine joining?")
    assert [c.story_id for c in answer.citations] == ["960351"]
    assert answer.message.startswith("The archive never mentions \u201cZelensky\u201d: these stories match")
    assert answer.kind is AnswerKind.ANSWERED


async def test_an_unknown_word_is_named_without_its_possessive(archive):
    answer = await archive.ask("What is Bitcoin's price?")
    assert answer.kind is AnswerKind.NEVER_MENTIONED and "\u201cBitcoin\u201d" in answer.message


async def test_a_question_resting_on_an_unknown_name_is_refused(archive):
    answer = await archive.ask("What is the price of Bitcoin?")
    assert answer.citations == []
    assert answer.kind is AnswerKind.NEVER_MENTIONED and "\u201cBitcoin\u201d" in answer.message


async def test_a_name_spelled_another_way_finds_the_archive_s_spelling(archive):
    answer = await archive.ask("What did Peskow say to Rossiya?")
    assert [c.story_id for c in answer.citations] == ["960351"] and "Peskov" in answer.citations[0].quote
    assert answer.message is None  # searched as the archive spells it: nothing left out


async def test_a_word_in_lower_case_is_no_name_spelled_like_it(archive, tmp_path):
    """"gunman" is one letter from Gunma, a name of the archive: the guess is searched, but not
    required of the answer, and an answer that lacks it says the word was left out."""
    await add_story(archive, tmp_path, "g1", "A fair", "2021-05-01",
                    "A fair opened in Gunma on Saturday. Visitors from Gunma came.")
    answer = await archive.ask("why did the gunman say Russia cannot prevent Ukraine joining NATO")
    assert answer.kind is AnswerKind.ANSWERED and answer.citations[0].story_id == "960351"
    assert answer.message.startswith("The archive never mentions \u201cgunman\u201d: these stories match")
    lower = await archive.ask("what did peskow say to rossiya?")  # a guess the story holds: nothing left out
    assert lower.citations[0].story_id == "960351" and lower.message is None


async def test_a_name_spelt_longer_than_the_archive_s_stem_finds_it(archive, tmp_path):
    """The archive keeps "Markovic" as the stem "markov": "markovich" is three edits from it, too
    many for its length, but begins with it, so the archive's spelling is searched."""
    await add_story(archive, tmp_path, "k1", "A coach resigns", "2021-05-01",
                    "Ana Markovic resigned as coach of the national team on Friday.")
    answer = await archive.ask("why did markovich resign as coach")
    assert answer.kind is AnswerKind.ANSWERED and answer.citations[0].story_id == "k1"
    assert answer.message is None  # searched as the archive spells it: nothing left out


async def test_a_spelling_the_archive_never_holds_is_found_through_its_alias(archive, tmp_path):
    """The archive writes "aluminum" only: "aluminium" is that word, not one to respell."""
    await add_story(archive, tmp_path, "a1", "Exports", "1987-03-02",
                    "Finland said aluminum exports to Russia rose sharply.")
    answer = await archive.ask("Will Russia stop finland aluminium exports to NATO?")
    assert answer.kind is AnswerKind.ANSWERED and answer.citations[0].story_id == "a1"


async def test_copies_of_a_story_are_folded_into_one_citation(cocoa_archive, tmp_path):
    """Reuters files a story again under a new id: one citation names the others."""
    body = ("Tin prices rose sharply in London as the tin council met again. "
            "Traders said the tin market expected more buying from Malaysia.")
    path = tmp_path / "tin.jsonl"
    path.write_text("\n".join(json.dumps({"id": sid, "title": "Tin prices rise", "date": day, "body": body})
                              for sid, day in [("t1", "1987-03-02"), ("t2", "1987-03-03")]), encoding="utf-8")
    await cocoa_archive.ingest([path])
    answer = await cocoa_archive.ask("tin prices in London")
    assert (answer.citations[0].story_id, answer.citations[0].copies) == ("t1", ("t2",))
    assert "t2" not in [c.story_id for c in answer.citations]
    assert answer.to_json()["citations"][0]["copies"] == ["t2"]


async def test_a_replica_follows_what_another_ingests_and_prunes(archive, tmp_db, tmp_path):
    """Two services on one archive file, as two bot replicas: the stories one adds or removes,
    the other answers from once it follows, and it then answers as a fresh open would."""
    replica = await ArchiveService.open(tmp_db)
    try:
        assert not await replica.follow()
        folder = tmp_path / "more"
        folder.mkdir()
        story = folder / "tin.jsonl"
        story.write_text(json.dumps({"id": "t1", "title": "Tin prices rise", "date": "1987-03-02",
                                     "body": "Tin prices rose sharply in London."}), encoding="utf-8")
        await archive.ingest([folder])
        assert not (await replica.ask("tin prices")).citations
        assert await replica.follow() and not await replica.follow()
        assert [c.story_id for c in (await replica.ask("tin prices")).citations] == ["t1"]
        story.unlink()
        await archive.ingest([folder], prune=True)
        assert await replica.follow()
        gone = await replica.ask("tin prices")
        assert not gone.citations and gone.message == (await archive.ask("tin prices")).message
        fresh = await ArchiveService.open(tmp_db)
        try:
            assert await replica.ask(DEMO_QUESTION) == replace(await fresh.ask(DEMO_QUESTION), took_ms=ANY)
        finally:
            await fresh.close()
    finally:
        await replica.close()


async def test_a_replica_behind_another_quotes_no_story_it_would_slice_at_old_places(archive, tmp_db, tmp_path):
    """Until it follows, a replica's snapshot has a changed story's old passage spans: that story
    is left out rather than quoted from the wrong place of its new body."""
    story = tmp_path / "zinc.jsonl"

    def write(body: str) -> None:
        story.write_text(json.dumps({"id": "z1", "title": "Metals", "date": "1987-03-02", "body": body}))

    write("Tin prices rose in London.\n\nZinc output fell at the smelters in Peru.")
    await archive.ingest([story])
    replica = await ArchiveService.open(tmp_db)
    try:
        write("A new first paragraph about something else entirely. " * 40 +
              "\n\nTin prices rose in London.\n\nZinc output fell at the smelters in Peru.")
        await archive.ingest([story])
        assert not (await replica.ask("zinc output smelters")).citations
        await replica.follow()
        [citation] = (await replica.ask("zinc output smelters")).citations
        assert citation.quote == "Zinc output fell at the smelters in Peru."
    finally:
        await replica.close()


async def test_a_reload_waits_for_a_follow_instead_of_refusing(archive, tmp_db, tmp_path, monkeypatch):
    """An admin's /reload that comes while the bot takes in another process's change waits for
    it: it is not "already running", and both changes are answered from after."""
    replica = await ArchiveService.open(tmp_db)
    try:
        for sid, word in (("t1", "Tin"), ("z1", "Zinc")):
            folder = tmp_path / sid
            folder.mkdir()
            (folder / f"{sid}.jsonl").write_text(json.dumps({"id": sid, "title": f"{word} rises", "date": "1987-03-02",
                                                             "body": f"{word} prices rose in London."}))
        await archive.ingest([tmp_path / "t1"])
        loading = retrieval.service.load_snapshot

        async def slowly(*args, **kwargs):
            await asyncio.sleep(0.2)
            return await loading(*args, **kwargs)

        monkeypatch.setattr(retrieval.service, "load_snapshot", slowly)
        following = asyncio.create_task(replica.follow())
        await asyncio.sleep(0.1)
        assert not replica.reloading
        report = await replica.ingest([tmp_path / "z1"])
        assert report.added == 1 and await following
        for question, story in (("tin prices", "t1"), ("zinc prices", "z1")):
            assert (await replica.ask(question)).citations[0].story_id == story
    finally:
        await replica.close()


async def test_exact_copies_are_named_without_reading_them(cocoa_archive, tmp_path, monkeypatch):
    """A story filed a dozen times over: every copy is named under the one citation, in rank
    order, and only the first filing's body is read."""
    body = "Zinc prices rose in London as smelters cut output. Traders expect more zinc buying."
    ids = [f"z{n:02}" for n in range(12)]
    path = tmp_path / "zinc.jsonl"
    path.write_text("\n".join(json.dumps({"id": sid, "title": "Zinc rises", "date": "1987-03-02", "body": body})
                              for sid in ids), encoding="utf-8")
    await cocoa_archive.ingest([path])
    read: list[str] = []
    stories = cocoa_archive.citing.read

    async def reading(wanted):
        wanted = list(wanted)
        read.extend(wanted)
        return await stories(wanted)

    monkeypatch.setattr(cocoa_archive.citing, "read", reading)
    answer = await cocoa_archive.ask("zinc prices")
    assert (answer.citations[0].story_id, answer.citations[0].copies) == ("z00", tuple(ids[1:]))
    assert [sid for sid in read if sid.startswith("z")] == ["z00"]


async def test_a_word_related_to_the_questions_covers_it(archive, tmp_path):
    """"Unemployment" answers for "jobless": the story covers the whole question, though only the
    question's own words are searched."""
    path = tmp_path / "jobs.jsonl"
    path.write_text(json.dumps({"id": "u1", "title": "Labour data", "date": "1987-03-02",
                                "body": "Japan's unemployment rate rose to a record 3.0 pct."}), encoding="utf-8")
    await archive.ingest([path])
    query = parse_query("What was Japan's jobless rate?", archive.analyzers.main)
    assert query.related == {"unemploy": "jobless"} and "unemploy" not in query.terms
    snapshot = archive.snapshot
    [ranked], _ = rank_stories(snapshot, query, [], 10, snapshot.term_weights(query.terms))
    assert snapshot.stories[ranked.story].id == "u1" and ranked.coverage == 1.0


async def test_a_related_word_is_evidence_for_the_quote(archive, tmp_path):
    """Asked what will "stop" a profit, the sentence saying what will "prevent" it is quoted."""
    body = ("Shareholders of the company met in New York on Tuesday.\n\n"
            "Avery expects a profit next year.\n\n"
            "Acquisition costs would prevent Avery from posting a profit.")
    path = tmp_path / "avery.jsonl"
    path.write_text(json.dumps({"id": "a1", "title": "Avery sees loss", "date": "1987-06-01", "body": body}),
                    encoding="utf-8")
    await archive.ingest([path])
    answer = await archive.ask("What will stop Avery from making a profit?")
    assert answer.citations[0].quote == "Acquisition costs would prevent Avery from posting a profit."


async def test_during_a_reload_threads_hand_over_the_interpreter_often_and_no_collection_runs(archive, tmp_path):
    """So that answers wait less behind the reload's threads and never behind a garbage collection;
    afterwards the interval is as before, collections run again, and need not visit what exists."""
    (tmp_path / "new.jsonl").write_text(json.dumps({"id": "n1", "title": "Tin", "date": "1987-03-02",
                                                    "body": "Tin prices rose."}), encoding="utf-8")
    before = sys.getswitchinterval()
    seen = []
    garbage = []

    def progress(*_):
        seen.append((sys.getswitchinterval(), gc.isenabled()))
        cycle = Cycle()
        cycle.me = cycle
        garbage.append(weakref.ref(cycle))

    await archive.ingest([tmp_path], progress=progress)
    assert seen and all(interval == pytest.approx(RELOAD_SWITCH_INTERVAL) and not collecting
                        for interval, collecting in seen)
    assert RELOAD_SWITCH_INTERVAL < before
    assert sys.getswitchinterval() == before and gc.isenabled()
    assert not any(o is archive.snapshot for o in gc.get_objects())  # frozen: in no generation
    assert garbage and all(ref() is None for ref in garbage)  # collected first, not frozen


class Cycle:
    me: Cycle


async def test_a_year_the_question_names_must_be_the_story_year_or_in_it(tmp_path):
    """"The 2020 Oscars" is not the 1987 ceremony's story, which names neither year."""
    path = tmp_path / "stories.jsonl"
    stories = [{"id": "oscars", "title": "Film wins best picture at the Oscars", "date": "1987-03-31",
                "body": "The war film was named best picture at the Academy Awards ceremony last night."},
               {"id": "other", "title": "Shipping news", "date": "1987-03-30", "body": "A bulk carrier was refloated."}]
    path.write_text("\n".join(json.dumps(s) for s in stories) + "\n", encoding="utf-8")
    service = await ArchiveService.open(tmp_path / "a.sqlite")
    try:
        await service.ingest([path])
        assert [c.story_id for c in (await service.ask("which film won best picture at the 1987 oscars")).citations] == ["oscars"]
        later = await service.ask("which film won best picture at the 2020 oscars")
        assert later.citations == [] and later.kind is AnswerKind.NEVER_MENTIONED and "“2020”" in later.message
    finally:
        await service.close()


async def test_a_date_of_a_month_or_less_says_part_of_what_the_words_would(cocoa_archive, tmp_path):
    """Dated to a month, a question is answered by that month's story holding less of its words
    than the relevance floor asks of the whole archive's; dated to a year, it is not."""
    await add_story(cocoa_archive, tmp_path, "may", "Bahia harvest", "1987-05-20",
                    "Farmers in Bahia began the harvest early this year, growers said.")
    question = "did bahia farmers hold cocoa exports steady in {}"
    month = await cocoa_archive.ask(question.format("may 1987"))
    assert [c.story_id for c in month.citations] == ["may"]
    year = await cocoa_archive.ask(question.format("1987"))
    assert year.citations == []


async def test_the_lowered_floor_is_for_the_dates_asked_not_the_days_after(cocoa_archive, tmp_path):
    """A story of 1 June is not of "may 1987": when the month holds no match, the days after it
    are searched at the archive's own floor."""
    await add_story(cocoa_archive, tmp_path, "june", "Bahia harvest", "1987-06-01",
                    "Farmers in Bahia began the harvest early this year, growers said.")
    answer = await cocoa_archive.ask("did bahia farmers hold cocoa exports steady in may 1987")
    assert "june" not in [c.story_id for c in answer.citations]
