"""Languages: each story analyzed in its own, questions answered in theirs, BM25 per language.

The stories here are made up for the tests; none is copied from a real archive.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from retrieval import AnswerKind, ArchiveService
from retrieval.answer.query import parse_query
from retrieval.bm25.index import BM25Index, BM25Params
from retrieval.text.analysis import Analyzer, Analyzers
from retrieval.text import languages
from retrieval.text.languages import detect, fold

ENGLISH = "The city council approved a new bridge across the river, officials said on Monday."
RUSSIAN = "Городской совет одобрил строительство нового моста через реку, сообщили в мэрии."
ARABIC = "وافق مجلس المدينة على بناء جسر جديد فوق النهر، حسبما قال المسؤولون يوم الاثنين."
PERSIAN = "شورای شهر ساخت یک پل تازه روی رودخانه را تصویب کرد و گفت هزینه آن زیاد است."
URDU = "شہر کی کونسل نے دریا پر ایک نیا پل بنانے کی منظوری دے دی ہے، حکام نے بتایا۔"
FRENCH = "Le conseil municipal a approuvé la construction d'un nouveau pont sur le fleuve, selon la mairie."
SPANISH = "El ayuntamiento aprobó la construcción de un nuevo puente sobre el río, según los funcionarios."
GERMAN = "Der Stadtrat hat den Bau einer neuen Brücke über den Fluss genehmigt, teilte die Verwaltung mit."


@pytest.mark.parametrize("text, language", [
    (ENGLISH, "en"), (RUSSIAN, "ru"), (ARABIC, "ar"), (PERSIAN, "fa"), (URDU, "ur"),
    (FRENCH, "fr"), (SPANISH, "es"), (GERMAN, "de"),
])
def test_each_script_and_language_is_told(text, language):
    analyzers = Analyzers()
    assert analyzers.language_of(text) == language
    assert detect(text) == language


@given(st.text(st.characters(max_codepoint=127)))
def test_ascii_texts_are_cut_into_the_words_any_text_is(text):
    assert languages._ascii_words(text) == languages._WORDS.findall(text.casefold())


def test_a_declared_language_wins_and_a_fixed_archive_never_detects():
    assert Analyzers().language_of(ENGLISH, declared="de") == "de"
    assert Analyzers().language_of(ENGLISH, declared="klingon") == "en"  # not one it can analyze
    assert Analyzers(detect=False).language_of(RUSSIAN) == "en"


def test_detection_is_limited_to_the_languages_asked_for():
    assert detect(FRENCH, among=["en", "es"]) in ("en", "es")
    assert detect(PERSIAN, among=["en", "ar"]) == "ar"  # the one Arabic-script language held


def test_other_languages_terms_carry_their_code():
    analyzers = Analyzers()
    assert analyzers.main.terms("Bridges") == ["bridg"]
    assert analyzers.of("ru").terms("Мосты через реку") == ["ru:мост", "ru:рек"]
    assert analyzers.of("ur").terms("دریا پر پل") == ["ur:دریا", "ur:پر", "ur:پل"]  # no stemmer, kept whole


ARABIC_SCRIPT = st.text(alphabet=st.sampled_from(list("يیكکةهأإآاىۀـًٌٍَُِّْٰ\u200c٠١٢٣۴۵۶ ٫٬ابپچژگ")), max_size=40)


@pytest.mark.parametrize("language", ["ar", "fa", "ur", "ru", "en", "de"])
@given(text=ARABIC_SCRIPT | st.text(max_size=40))
def test_folding_is_idempotent(language, text):
    once = fold(text, language)
    assert fold(once, language) == once


def test_folding_joins_the_ways_a_letter_is_written():
    assert fold("علي كتاب ١٢٣", "fa") == "علی کتاب 123"
    assert fold("علی کتاب ۱۲۳", "ar") == "علي كتاب 123"
    assert fold("مـــدرسة", "ar") == "مدرسه"
    assert fold("می\u200cخواهد", "fa") == "می خواهد"
    assert fold("Ёлка", "ru") == "Елка"
    persian = Analyzers().of("fa")
    assert persian.terms("كتاب علي") == persian.terms("کتاب علی")


# BM25 per language ---------------------------------------------------------------------------

WORDS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
DOCUMENT = st.lists(WORDS, min_size=0, max_size=8)


@pytest.mark.parametrize("variant", ["okapi", "plus", "l"])
@given(corpora=st.lists(st.lists(DOCUMENT, min_size=1, max_size=8), min_size=2, max_size=3),
       query=st.lists(WORDS, min_size=1, max_size=4), asked=st.integers(0, 2))
def test_each_language_is_scored_as_rank_bm25_scores_it_alone(variant, corpora, query, asked):
    """Passages of several languages in one index: a query in one of them gets exactly the
    scores rank_bm25 gives over that language's passages alone."""
    asked %= len(corpora)
    assume(any(corpora[asked]))  # rank_bm25 divides by its vocabulary's size
    params = BM25Params(variant=variant)
    documents, languages = [], []
    for code, corpus in enumerate(corpora):
        for document in corpus:
            documents.append([f"{code}:{word}" for word in document])
            languages.append(code)
    index = BM25Index.build(documents, params, languages=np.asarray(languages, dtype=np.int16))
    terms = [f"{asked}:{word}" for word in query]
    own = [i for i, code in enumerate(languages) if code == asked]
    expected = params.rank_bm25([documents[i] for i in own]).get_scores(terms)

    hits = index.search(terms)
    scores = dict(zip(hits.docs.tolist(), hits.scores.tolist()))
    assert set(scores) <= set(own)
    for position, doc in enumerate(own):
        if any(t in documents[doc] for t in terms):
            assert scores[doc] == pytest.approx(expected[position], rel=1e-12, abs=1e-12)


def test_one_language_is_scored_as_before():
    documents = [["a", "b"], ["b", "c", "c"], ["a"]]
    plain, split = BM25Index.build(documents), BM25Index.build(documents, languages=np.zeros(3, dtype=np.int16))
    assert plain.search(["a", "c"]).scores.tolist() == split.search(["a", "c"]).scores.tolist()


# dates in words --------------------------------------------------------------------------------

@pytest.mark.parametrize("language, question, since, until", [
    ("ru", "Что решил совет в сентябре 2023?", "2023-09-01", "2023-09-30"),
    ("es", "¿Qué aprobó el ayuntamiento en octubre de 2022?", "2022-10-01", "2022-10-31"),
    ("de", "Was hat der Stadtrat im März 2021 beschlossen?", "2021-03-01", "2021-03-31"),
    ("ar", "ماذا قرر المجلس في أكتوبر 2023؟", "2023-10-01", "2023-10-31"),
    ("ar", "ماذا قرر المجلس في أيلول 2023؟", "2023-09-01", "2023-09-30"),
    ("fr", "Qu'a voté le conseil le 4 novembre 2023 ?", "2023-11-04", "2023-11-04"),
    ("fa", "شورا در مهر ۱۴۰۲ چه تصویب کرد؟", "2023-09-23", "2023-10-22"),
])
def test_dates_in_words_in_other_languages_filter(language, question, since, until):
    query = parse_query(question, Analyzers().of(language))
    assert (str(query.since), str(query.until)) == (since, until)
    assert query.date_terms and not set(query.date_terms) & set(query.terms)


# the whole archive ---------------------------------------------------------------------------

STORIES = [
    {"id": "en1", "title": "Council approves river bridge", "date": "2023-05-02",
     "body": f"{ENGLISH}\n\nThe bridge is expected to cost 40 million dollars."},
    {"id": "ru1", "title": "Совет одобрил новый мост", "date": "2023-05-03",
     "body": f"{RUSSIAN}\n\nСтоимость моста оценивается в 3 миллиарда рублей, сказал глава комиссии."},
    {"id": "fa1", "title": "تصویب ساخت پل تازه", "date": "2023-05-04",
     "body": f"{PERSIAN}\n\nهزینه ساخت پل ۱۲۰ میلیارد تومان برآورد شده است."},
    {"id": "de1", "title": "Stadtrat genehmigt Brücke", "date": "2023-05-05", "lang": "de",
     "body": f"{GERMAN}\n\nDie Brücke soll 35 Millionen Euro kosten."},
]


@pytest.fixture
async def archive(tmp_path):
    path = tmp_path / "stories.jsonl"
    path.write_text("\n".join(json.dumps(s, ensure_ascii=False) for s in STORIES) + "\n", encoding="utf-8")
    service = await ArchiveService.open(tmp_path / "archive.sqlite")
    await service.ingest([path])
    yield service
    await service.close()


async def test_stories_are_stored_and_counted_by_language(archive):
    assert (await archive.counts())["languages"] == {"de": 1, "en": 1, "fa": 1, "ru": 1}


@pytest.mark.parametrize("question, story, language", [
    ("How much will the new bridge cost?", "en1", "en"),
    ("Сколько будет стоить новый мост?", "ru1", "ru"),
    ("هزینه ساخت پل تازه چقدر است؟", "fa1", "fa"),
    ("هزينه ساخت پل تازه چقدر است؟", "fa1", "fa"),  # Arabic yeh, as some keyboards type it
    ("Wie viel soll die neue Brücke kosten?", "de1", "de"),
])
async def test_a_question_is_answered_from_stories_in_its_language(archive, question, story, language):
    answer = await archive.ask(question)
    assert answer.language == language
    assert [c.story_id for c in answer.citations] == [story]  # the others' bridges never compete
    body = next(s["body"] for s in STORIES if s["id"] == story)
    assert answer.citations[0].quote in body  # verbatim, never the folded text


async def test_the_language_identifier_is_loaded_before_questions_only_for_several_languages(archive, tmp_path):
    languages._identifier.cache_clear()
    reopened = await ArchiveService.open(tmp_path / "archive.sqlite")  # four languages
    await reopened.close()
    assert languages._identifier.cache_info().currsize == 1  # loaded in the snapshot's warm-up
    languages._identifier.cache_clear()
    english = await ArchiveService.open(tmp_path / "english.sqlite")
    try:
        path = tmp_path / "english.jsonl"
        path.write_text(json.dumps(STORIES[0]) + "\n", encoding="utf-8")
        await english.ingest([path])
        await english.ask("How much will the new bridge cost?")
    finally:
        await english.close()
    assert languages._identifier.cache_info().currsize == 0  # one language: never needed


async def test_a_question_in_a_language_with_no_stories_is_told_so(tmp_path):
    path = tmp_path / "stories.jsonl"
    path.write_text(json.dumps(STORIES[0]) + "\n", encoding="utf-8")
    service = await ArchiveService.open(tmp_path / "archive.sqlite")
    try:
        await service.ingest([path])
        answer = await service.ask("Сколько будет стоить новый мост?")
        assert answer.kind is AnswerKind.OTHER_LANGUAGE and not answer.citations
        assert answer.language == "ru" and "русский" in answer.message  # told in Russian
    finally:
        await service.close()


async def test_an_analyzer_of_one_language_analyzes_as_before():
    assert Analyzer("english").terms("The U.S. runners' 6.4 pct rises") == ["u.s", "runner", "6.4", "pct", "rise"]


async def test_what_an_answer_says_is_in_the_question_language(archive):
    never = await archive.ask("Что сказал совет о бюджете на оборону?")
    assert never.kind is AnswerKind.NEVER_MENTIONED
    assert never.message.startswith("В архиве ни разу не упоминается") and "“бюджете”" in never.message
    nothing = await archive.ask("Совет одобрил новый мост в марте 1990?")
    assert nothing.kind is AnswerKind.NOTHING_RELEVANT
    assert nothing.message.startswith("В архиве нет ничего") and "1 марта 1990" in nothing.message


def test_every_catalog_translates_every_message_with_its_placeholders():
    import re
    from retrieval import service
    from retrieval.messages import languages_translated, translated

    messages = [service.NO_WORDS, service.NOTHING_RELEVANT, service.OTHER_DATES, service.NEVER_MENTIONED,
                service.LEFT_OUT, service.WHEN, service.EMPTY_ARCHIVE, service.OTHER_LANGUAGE,
                service.NO_MENTIONS, service.NEVER_CHARTED, service.NOT_NAMED, service.PASSED_OVER,
                service.FIGURE_NOT_GIVEN, service.TOPIC_UNTOLD,
                service.WORDS_UNHEARD]
    assert set(languages_translated()) >= {"ru", "ar", "fa", "ur", "fr", "es", "de"}
    for language in languages_translated():
        for message in messages:
            text = translated(message, language)
            assert text != message, (language, message)
            assert set(re.findall(r"{\w+}", text)) == set(re.findall(r"{\w+}", message))
    assert translated(service.EMPTY_ARCHIVE, "it") == service.EMPTY_ARCHIVE  # no catalog: English
