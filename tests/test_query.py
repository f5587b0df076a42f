"""Reading questions: free words, "exact phrases", -excluded words, dates in words and options."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrieval.text.analysis import Analyzer
from retrieval.answer.query import MAX_QUESTION_CHARS, DateError, holds_figure, parse_date_option, parse_query

ANALYZER = Analyzer()


def parse(text: str, **options):
    return parse_query(text, ANALYZER, **options)


def test_free_words_become_stemmed_terms_without_stopwords():
    query = parse("Can Russia prevent Ukraine from joining NATO?")
    assert query.terms == ["russia", "prevent", "ukrain", "join", "nato"]
    assert (query.phrases, query.excluded, query.since, query.until) == ([], [], None, None)
    assert not query.is_empty


def test_exact_phrases_are_kept_and_searched_by_their_words():
    query = parse('What did Peskov say about "Rossiya 1 broadcaster"?')
    assert query.phrases == ["Rossiya 1 broadcaster"]
    assert set(query.terms) == {"peskov", "say", "rossiya", "1", "broadcast"}


@pytest.mark.parametrize("text", ['\u201cjoining NATO\u201d Russia', '\u00abjoining NATO\u00bb Russia'])
def test_typographic_quotation_marks_make_phrases(text):
    assert parse(text).phrases == ["joining NATO"]


def test_a_phrase_of_stopwords_only_is_not_a_phrase():
    assert parse('"of the" NATO').phrases == []


def test_minus_excludes_a_word_but_a_hyphen_inside_a_word_does_not():
    query = parse("NATO -Biden Russia-Ukraine talks")
    assert query.excluded == ["biden"]
    assert "biden" not in query.terms
    assert {"nato", "russia", "ukrain", "talk"} <= set(query.terms)


def test_an_excluded_word_is_not_searched_even_if_also_asked_for():
    query = parse("NATO Peskov -peskov")
    assert query.terms == ["nato"]
    assert query.excluded == ["peskov"]


@pytest.mark.parametrize("text, since, until", [
    ("NATO in October 2021", date(2021, 10, 1), date(2021, 10, 31)),
    ("NATO in Oct. 2021", date(2021, 10, 1), date(2021, 10, 31)),
    ("NATO in 2021", date(2021, 1, 1), date(2021, 12, 31)),
    ("NATO during 2021", date(2021, 1, 1), date(2021, 12, 31)),
    ("cocoa since March 1987", date(1987, 3, 1), None),
    ("NATO before 2022", None, date(2021, 12, 31)),
    ("NATO after 2021", date(2022, 1, 1), None),
    ("NATO until October 2021", None, date(2021, 10, 31)),
    ("cocoa between March 1987 and April 1987", date(1987, 3, 1), date(1987, 4, 30)),
    ("NATO on 25 October 2021", date(2021, 10, 25), date(2021, 10, 25)),
    ("NATO on October 25, 2021", date(2021, 10, 25), date(2021, 10, 25)),
    ("NATO on 2021-10-25", date(2021, 10, 25), date(2021, 10, 25)),
    ("NATO in February 2024", date(2024, 2, 1), date(2024, 2, 29)),
    ("NATO since 2020 before 2022", date(2020, 1, 1), date(2021, 12, 31)),
    ("oct 2021 NATO", date(2021, 10, 1), date(2021, 10, 31)),  # a month names a date without a preposition
    ("NATO from January 2020 to March 2021", date(2020, 1, 1), date(2021, 3, 31)),
    ("NATO January 2020 - March 2021", date(2020, 1, 1), date(2021, 3, 31)),
    ("NATO, 25 October 2021", date(2021, 10, 25), date(2021, 10, 25)),
    ("NATO from 2019", date(2019, 1, 1), None),
])
def test_dates_in_words_become_a_date_range_and_leave_the_words(text, since, until):
    query = parse(text)
    assert (query.since, query.until) == (since, until)
    assert query.terms in (["nato"], ["cocoa"])


@pytest.mark.parametrize("text, since, until", [
    ("NATO news from August 2020", date(2020, 8, 1), date(2020, 8, 31)),  # when the news is from
    ("NATO stories from 2019?", date(2019, 1, 1), date(2019, 12, 31)),
    ("NATO from 2019 to now", date(2019, 1, 1), None),
    ("inflation news since 2021", date(2021, 1, 1), None),
])
def test_news_from_a_date_is_news_of_that_date(text, since, until):
    query = parse(text)
    assert (query.since, query.until) == (since, until)


@pytest.mark.parametrize("text", ["NATO in 2021-13-45", "NATO in March 0000", "NATO after December 9999",
                                  "NATO before January 0001", "NATO between 2021-02-30 and 2022"])
def test_impossible_dates_stay_words(text):
    query = parse(text)
    assert (query.since, query.until) == (None, None)
    assert "nato" in query.terms


@pytest.mark.parametrize("text", ["who won the 2018 world cup", "how many jobs may 1500 workers lose",
                                  "march 2020 lockdown oct 2021"])
def test_a_date_without_a_preposition_that_tells_no_period_stays_words(text):
    """A year alone names an event; a month of a year no news is of, or two months, no range."""
    query = parse(text)
    assert (query.since, query.until) == (None, None)
    assert any(t.isdigit() for t in query.terms)


def test_a_number_that_is_not_a_year_is_a_word():
    query = parse("bags in 155,221 lots")
    assert (query.since, query.until) == (None, None)
    assert "155,221" in query.terms


@pytest.mark.parametrize("words, since, until, expected", [
    ("NATO", date(2021, 1, 1), None, (date(2021, 1, 1), None)),
    ("NATO in October 2021", date(2021, 10, 20), None, (date(2021, 10, 20), date(2021, 10, 31))),
    ("NATO in 2021", date(2020, 1, 1), date(2021, 6, 30), (date(2021, 1, 1), date(2021, 6, 30))),
])
def test_options_narrow_the_dates_given_in_words(words, since, until, expected):
    query = parse(words, since=since, until=until)
    assert (query.since, query.until) == expected


@pytest.mark.parametrize("value, start, end", [
    ("2021-10-25", date(2021, 10, 25), date(2021, 10, 25)),
    ("October 2021", date(2021, 10, 1), date(2021, 10, 31)),
    ("25 October 2021", date(2021, 10, 25), date(2021, 10, 25)),
    ("2021", date(2021, 1, 1), date(2021, 12, 31)),
    (" 1987 ", date(1987, 1, 1), date(1987, 12, 31)),
])
def test_date_options(value, start, end):
    assert parse_date_option(value) == start
    assert parse_date_option(value, end=True) == end


@pytest.mark.parametrize("value", ["", "yesterday", "2021-13-45", "March 0000", "25/10/2021", "in 2021"])
def test_a_bad_date_option_is_a_date_error(value):
    with pytest.raises(DateError, match="not a date"):
        parse_date_option(value)


@pytest.mark.parametrize("text", ["", "   ", "the of and to", "Why? How?!", "...", "\U0001F600\U0001F44D",
                                  "-nato", '"the"', "in 2021"])
def test_questions_without_searchable_words_are_empty(text):
    assert parse(text).is_empty


def test_a_very_long_question_is_cut_at_a_word_boundary():
    text = "cocoa arrivals in Bahia " * 250
    assert len(text) > 5000
    query = parse(text)
    assert len(query.text) <= MAX_QUESTION_CHARS
    assert text.startswith(query.text)
    assert query.text.endswith(("cocoa", "arrivals", "in", "Bahia"))
    assert set(query.terms) == {"cocoa", "arriv", "bahia"}


def test_a_very_long_word_is_cut_too():
    assert len(parse("x" * 5000).text) == MAX_QUESTION_CHARS


_FRAGMENTS = st.sampled_from([
    "in", "on", "since", "before", "after", "between", "and", "until", "from", "-", '"', "\u201c", "\u00bb",
    "October", "Oct.", "May", "2021", "1987", "0000", "9999", "2021-10-25", "2021-13-45", "25", "31st",
    "NATO", "-word", "Russia", "?", "\U0001F600", " ", "  ", "\n",
])


@given(st.text(max_size=300) | st.lists(_FRAGMENTS, max_size=30).map(" ".join))
def test_parse_query_never_raises(text):
    query = parse(text)
    assert len(query.text) <= MAX_QUESTION_CHARS
    assert query.is_empty == (not query.terms)
    assert not set(query.terms) & set(query.excluded)


def test_the_dates_read_as_filters_keep_their_words_as_quote_evidence():
    query = parse("What sales tax did Nakasone plan in January 1988?")
    assert query.date_terms == ["januari", "1988"]
    assert "1988" not in query.terms


@pytest.mark.parametrize("text, expected", [
    ("How much cocoa arrived in Bahia?", ["cocoa", "arriv", "bahia"]),
    ("How long must investors hold stock?", ["must", "investor", "hold", "stock"]),
    ("What happened with Combustion Engineering?", ["combust", "engin"]),
    ("Is Cheyenne going to issue a news release?", ["cheyenn", "issu", "news", "releas"]),
])
def test_question_shaping_words_are_not_searched(text, expected):
    assert parse(text).terms == expected


def test_a_question_shaping_word_alone_is_still_a_word():
    assert parse("long-term bonds").terms == ["long", "term", "bond"]


def test_a_word_is_searched_with_its_aliases_which_stand_for_it():
    query = parse("Firestone fourth quarter tyre sales")
    assert query.terms[:5] == ["fireston", "fourth", "quarter", "tyre", "sale"]
    assert query.alternatives == {"4th": "fourth", "qtr": "quarter", "qtli": "quarter", "tire": "tyre"}
    assert query.terms[5:] == list(query.alternatives)


def test_an_excluded_alias_is_not_searched():
    assert "qtr" not in parse("quarter -qtr").terms


def test_related_words_are_not_searched_but_stand_for_the_questions_word():
    query = parse("Can Russia stop the jobless -block")
    assert query.related == {"prevent": "stop", "halt": "stop", "unemploy": "jobless"}
    assert not set(query.related) & set(query.terms)


def test_the_us_and_the_who_typed_in_lower_case_are_the_country_and_the_organisation():
    assert parse("when did the us rejoin the treaty").terms[:1] == ["u.s"]
    assert parse("what did the who say about masks").terms[:1] == ["w.h.o"]
    assert "u.s" not in parse("tell us about the treaty").terms


@pytest.mark.parametrize("text, figures", [
    ("when did the index pass 4 trillion dollars", ["4 trillion"]),
    ("who bought a 9% stake", ["9%"]),
    ("a 3.5 per cent rise in May", ["3.5 per cent"]),
    ("the $54.20 offer", ["54.20"]),
    ("the 7.0 quake", ["7.0"]),
    ("a $5-billion deal", ["5-billion"]),
    ("was it $54.20.", ["54.20"]),
    ("article 50 on 10 August, 3 ministers", []),  # counts, days and numbers are no figures
])
def test_the_figures_a_question_gives(text, figures):
    assert parse(text).figures == figures


@pytest.mark.parametrize("text, topic", [
    ("what did trump say about china in his speech", ["china"]),
    ("What did the Kremlin say about NATO?", ["nato"]),
    ("what did shear say about the deal to bring altman back", ["deal", "bring", "altman", "back"]),
    ("what did the board say about quitting, in may 2016", ["quit"]),
    ("what did she promise about ties with the us after the vote", ["tie", "u.s"]),
    ("what has the bank said regarding rates?", ["rate"]),
    ("what did he say about 100 people", []),  # an approximate figure, not a subject
    ("what did he say about it", []),  # nothing searched
    ("what did the minister say", []),
])
def test_what_a_question_asks_about(text, topic):
    assert parse(text).topic == topic


@given(st.text(alphabet="abc about in ,?", max_size=40))
def test_what_a_question_asks_about_is_among_its_terms(text):
    query = parse(text)
    assert set(query.topic) <= set(query.terms)


@pytest.mark.parametrize("text, figure, held", [
    ("it passed $4 trillion", "4 trillion", True),
    ("a 4tn company", "4 trillion", True),
    ("on August 4 it passed $2 trillion", "4 trillion", False),
    ("a 9 percent stake", "9%", True),
    ("a 9 pct stake", "9%", True),
    ("a 9.2% stake", "9%", False),
    ("19% of it", "9%", False),
    ("100 mln dlrs", "100 million", True),
    ("a £1.5m fee", "1.5 million", True),
    ("a magnitude 7 quake", "7.0", True),
    ("at $54.2 a share", "54.20", True),
    ("at $1000", "1,000", True),
    ("a magnitude 7.1 quake", "7.0", False),
    ("a 9-percent rise", "9%", True),
    ("a $5-billion deal", "5 billion", True),
])
def test_a_figure_is_held_in_any_spelling_of_its_unit(text, figure, held):
    assert holds_figure(text, figure) is held


@given(st.integers(0, 10**6), st.sampled_from([("%", "percent"), ("per cent", "pct"), ("billion", "bn"),
                                               ("trillion", "tn"), ("million", "mln")]),
       st.sampled_from(["", "$", "up "]))
def test_a_figure_is_found_in_another_spelling_of_its_unit_and_not_in_another_number(number, spellings, before):
    asked, written = spellings
    figure = parse(f"did it reach {number} {asked}").figures
    assert figure == [f"{number} {asked}"]
    assert holds_figure(f"it rose {before}{number} {written} on Monday", figure[0])
    assert not holds_figure(f"it rose {before}{number}1 {written} on Monday", figure[0])
    assert not holds_figure(f"it rose {before}1{number} {written} on Monday", figure[0])
