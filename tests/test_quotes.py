"""Choosing the quote: which sentences of a story answer the question."""

from __future__ import annotations

import pytest

from retrieval.text.analysis import Analyzer
from retrieval.answer.quotes import answer_cue, asks_when, choose_quote

ANALYZER = Analyzer()


def quote(text: str, question: str, weights: dict[str, float]) -> str:
    start, end = choose_quote(text, (0, len(text)), weights, ANALYZER, cue=answer_cue(question))
    return text[start:end]


WHEN, HOW_MUCH, HOW_FAST = "When did it happen?", "How much did it cost?", "How fast did the economy grow?"


@pytest.mark.parametrize("question, sentence, holds", [
    # "when": a point in time, not a span
    (WHEN, "It left the market in 1978.", True),
    (WHEN, "The rule takes effect from March 13.", True),
    (WHEN, "Delegates agreed on Friday.", True),
    (WHEN, "The plan was announced last week.", True),
    (WHEN, "It follows four years of austerity.", False),
    (WHEN, "Prices may fall.", False),
    # "how much": an amount with its unit, not a day of a month
    (HOW_MUCH, "The offer was for 45 dlrs in cash.", True),
    (HOW_MUCH, "It costs 27 mln dlrs a month.", True),
    (HOW_MUCH, "Output rose 5.2 pct.", True),
    (HOW_MUCH, "It submitted the bid on April 8.", False),
    (HOW_MUCH, "More than two mln tonnes are stored.", False),
    # "how fast": a rate
    (HOW_FAST, "The economy grew 4.5 pct last year.", True),
    (HOW_FAST, "Output rose 14.1 percent.", True),
    (HOW_FAST, "Sales reached 45 mln dlrs.", False),
])
def test_an_answer_cue_is_what_the_question_asks_for(question, sentence, holds):
    assert bool(answer_cue(question).search(sentence)) is holds


def test_a_why_quote_reaches_for_the_reason_in_a_following_sentence():
    text = ("The cooperative voted to dissolve the firm, its president said. "
            "Most members voting favored it. "
            "The directors recommended the move, citing falling volume and higher costs. "
            "Trading continues until April.")
    chosen = quote(text, "Why did the cooperative dissolve?", {"cooper": 5.0, "dissolv": 6.0})
    assert chosen.startswith("The cooperative voted") and chosen.endswith("higher costs.")


def test_a_quote_that_holds_the_cue_does_not_grow():
    first = "The farm cooperative dissolved because its trading volume fell and its costs rose sharply."
    text = first + " The directors met in April. Trading ended."
    assert quote(text, "Why did the cooperative dissolve?", {"cooper": 5.0, "dissolv": 6.0}) == first


def test_the_first_sentence_of_a_story_is_preferred_among_equals():
    text = ("The council reached agreement on buffer stock rules, delegates said. "
            "An earlier council meeting could not agree on buffer stock rules, they added.")
    chosen = quote(text, "What did the council decide?", {"council": 5.0, "buffer": 6.0, "stock": 3.0, "rule": 4.0})
    assert chosen.startswith("The council reached agreement")


@pytest.mark.parametrize("question, is_when", [
    ("When did Lavrov announce it?", True),
    ("By what date will Firestone shut the plants?", True),
    ("From what date will the mission stop working?", True),
    ("What did Lavrov announce?", False),
    ("Whenever", False),
])
def test_questions_asking_for_a_point_in_time(question, is_when):
    assert asks_when(question) is is_when


def test_a_how_much_quote_moves_to_the_figure_when_growing_would_make_it_too_long():
    lead = "The Disney family made a bid for Holly Sugar Corp, a filing with the commission showed" + ", it said" * 20 + "."
    figure = "The offer for Holly Sugar was 45 dlrs in cash a share."
    text = f"{lead} {'Shamrock said it had submitted the bid on April 8' + ', it said' * 20}. {figure}"
    chosen = quote(text, "How much did the Disney family offer for Holly Sugar?",
                   {"disney": 8.0, "famili": 6.0, "holli": 9.0, "sugar": 5.0, "offer": 3.0})
    assert chosen == figure


def test_a_window_holding_the_cue_wins_over_a_better_one_without_it():
    text = ("Markets were quiet on Monday and dealers waited for news from the producers. "
            "Coffee prices in London rose on coffee buying by roasters, traders there said. "
            "Coffee prices did rise in New York too, dealers said.")
    weights = {"coffe": 5.0, "price": 3.0, "rise": 2.0, "rose": 2.0}
    assert quote(text, "What did coffee prices do?", weights).startswith("Markets were quiet")
    assert quote(text, "Did coffee prices rise?", weights).endswith("did rise in New York too, dealers said.")
