"""Rendering citations: the copies folded into a citation are named under it; the question's
words are bold in the quote, which shows the quotation marks it needs, in valid Telegram HTML."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.render import MAX_MESSAGE, render_answer, render_quote, render_text
from fakebotapi import parse_html_entities, utf16_len
from retrieval.answer.query import parse_query
from retrieval.models import Answer, Citation
from retrieval.text.analysis import Analyzer
from retrieval.text.highlights import highlight_spans
from retrieval.text.quotations import quotation_marks


def answer(*copies: str) -> Answer:
    citation = Citation("reuters-175", "Banks Express Grave Concern", datetime(1987, 2, 26),
                        "Brazil froze credit lines.", 1.0, copies=copies)
    return Answer("Brazil credit?", [citation], 1.0)


def test_copies_are_named_under_the_citation():
    assert "Also filed as story reuters-190" in render_answer(answer("reuters-190"))[0]
    assert "Also filed as stories reuters-190, reuters-3542" in render_text(answer("reuters-190", "reuters-3542"))


def test_a_citation_without_copies_has_no_copies_line():
    assert "Also filed" not in render_answer(answer())[0]
    assert "Also filed" not in render_text(answer())


# Highlighted quotes ------------------------------------------------------------------------------

ANALYZER = Analyzer()
QUOTE_TEXT = st.lists(st.sampled_from(["NATO", " ", "join", " joining", "Black  Sea", "“", "”", '"', "«", "»", "<b>",
                                        "&amp;", "\n", "🙂", "é", " b "]) | st.characters(exclude_categories=("Cs",)),
                      max_size=300).map("".join)
QUESTION = st.lists(st.sampled_from(["NATO", "joining", "join", '"black sea"', "-ukraine", "the", "in 2021", "é",
                                     "b", "a", "<b>", "&amp;", "🙂"]), max_size=6).map(" ".join)


def highlighted(question: str, context: str, quote: str, number: int) -> Citation:
    """A citation of `quote` (cut from a story that holds `context` before it) as citing makes it."""
    query = parse_query(question, ANALYZER)
    body = context + quote
    return Citation(f"s{number}", "A <title> & more", datetime(2021, 10, 25), quote, 1.0,
                    highlights=tuple(highlight_spans(quote, set(query.terms), query.phrases, ANALYZER)),
                    marks=quotation_marks(body, len(context), len(body)))


def utf16_slice(text: str, offset: int, length: int) -> str:
    return text.encode("utf-16-le")[2 * offset:2 * (offset + length)].decode("utf-16-le")


@given(QUESTION, st.lists(st.tuples(st.text(st.sampled_from(list('ab “"«\n')), max_size=20), QUOTE_TEXT),
                          min_size=1, max_size=5))
def test_highlighted_answers_are_valid_telegram_html_within_the_limit(question, quotes):
    citations = [highlighted(question, context, quote, n) for n, (context, quote) in enumerate(quotes)]
    shown, bold = "", []
    for message in render_answer(Answer(question, citations, 1.0)):
        plain, entities = parse_html_entities(message)  # raises on anything Telegram refuses
        assert utf16_len(plain) <= MAX_MESSAGE
        bold += [utf16_slice(plain, e["offset"], e["length"]) for e in entities if e["type"] == "bold"]
        shown += plain
    expected = []
    for citation in citations:
        before, after = citation.marks
        assert before + citation.quote + after in shown
        expected += [citation.quote[s:e] for s, e in citation.highlights] + [citation.title]
    assert sorted(bold) == sorted(expected)


def test_the_question_s_words_are_bold_inside_the_quote_marks_outside():
    text = '"We cannot prevent it. It is impossible. But we can minimize it," Peskov said.'
    start = 1
    end = text.index("impossible.") + len("impossible.")
    citation = Citation("960351", "Moscow Says", datetime(2021, 10, 25), text[start:end], 1.0,
                        highlights=tuple(highlight_spans(text[start:end], {"prevent"}, [], ANALYZER)),
                        marks=quotation_marks(text, start, end))
    assert str(render_quote(citation)) == '"We cannot <b>prevent</b> it. It is impossible."'
    assert '«"We cannot prevent it. It is impossible."»' in render_text(Answer("q", [citation], 1.0))
    assert citation.quote == "We cannot prevent it. It is impossible."  # the slice itself stays verbatim


# Right-to-left answers ---------------------------------------------------------------------------

def arabic_answer(language: str) -> Answer:
    quote = "FIFA أعلن فوز السعودية «بتنظيم» كأس العالم 2034.\n\n2034 عام البطولة."
    citation = Citation("8100010", "2034 كأس العالم", datetime(2024, 12, 11), quote, 1.0,
                        url="https://example.org/a", highlights=((26, 33),))
    return Answer("متى أعلن الفيفا؟", [citation, citation], 1.0, message="أُعلن في 11 ديسمبر 2024:",
                  language=language)


def test_each_line_of_a_right_to_left_answer_starts_right_to_left():
    [message] = render_answer(arabic_answer("ar"))
    plain, entities = parse_html_entities(message)
    lines = [line for line in plain.split("\n") if line]
    assert lines and all(line.startswith("\u200f") for line in lines)
    quote = arabic_answer("ar").citations[0].quote
    assert plain.count(quote.replace("\n\n", "\n\n\u200f")) == 2  # as written, a mark before each paragraph
    assert [e["type"] for e in entities].count("blockquote") == 2


def test_a_left_to_right_answer_has_no_direction_marks():
    for language in ("en", "ru", "xx"):
        assert "\u200f" not in "".join(render_answer(arabic_answer(language)))
    assert render_answer(Answer("؟", [], 1.0, message="Nothing.", language="fa-IR"))[0].startswith("\u200f")
