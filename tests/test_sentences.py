"""Splitting story bodies into sentences and passages, as spans of the original text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrieval.text.sentences import (_BOUNDARY, ABBREVIATIONS, NUMBER_ABBREVIATIONS, WINDOW_MAX_CHARS, _windows,
                                 WINDOW_SENTENCES, paragraph_spans, passage_spans,
                                 sentence_spans)


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


@pytest.mark.parametrize("text, expected", [
    # abbreviations and initials
    ("The U.S. Army left. The U.K. stayed.", ["The U.S. Army left.", "The U.K. stayed."]),
    ("Trade with the U.S. is growing, e.g. in Asia.", ["Trade with the U.S. is growing, e.g. in Asia."]),
    ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
    ("He arrived on Jan. 5 in Washington. It rained.", ["He arrived on Jan. 5 in Washington.", "It rained."]),
    ("Shares of Acme Inc. rose. Sales fell.", ["Shares of Acme Inc. rose.", "Sales fell."]),
    ("J. R. R. Tolkien wrote it. George W. Bush read it.", ["J. R. R. Tolkien wrote it.", "George W. Bush read it."]),
    ("The answer was no. Mr. Smith left.", ["The answer was no.", "Mr. Smith left."]),
    ("See No. 5 and Fig. 3 for details. Done.", ["See No. 5 and Fig. 3 for details.", "Done."]),
    # numbers
    ("Arrivals were 155,221 bags. Estimates are around 6.4 mln bags. Sales rose 0.5 pct.",
     ["Arrivals were 155,221 bags.", "Estimates are around 6.4 mln bags.", "Sales rose 0.5 pct."]),
    ("It cost $1.50 per lb. in 1987. Next year it cost more.",
     ["It cost $1.50 per lb. in 1987.", "Next year it cost more."]),
    # quotation marks
    ('"We cannot prevent it. It is impossible." Peskov said.',
     ['"We cannot prevent it.', 'It is impossible."', "Peskov said."]),
    ("He said \u201cit is over.\u201d She disagreed.", ["He said \u201cit is over.\u201d", "She disagreed."]),
    ("\u00abC'est fini.\u00bb Il est parti.", ["\u00abC'est fini.\u00bb", "Il est parti."]),
    ('"Are you sure?" she asked.', ['"Are you sure?" she asked.']),
    # ellipses
    ('"Nothing terrible will happen if... against the background," he added.',
     ['"Nothing terrible will happen if... against the background," he added.']),
    ("Wait... What happened? Nobody knows! Really.", ["Wait...", "What happened?", "Nobody knows!", "Really."]),
    ("It ended\u2026 Then it began.", ["It ended\u2026", "Then it began."]),
    # Arabic-script and Devanagari ends: the Urdu full stop needs no space after it
    ("میچ برابر رہا۔ایران جیت گیا۔", ["میچ برابر رہا۔", "ایران جیت گیا۔"]),
    ("هل انتهى؟ نعم.", ["هل انتهى؟", "نعم."]),
    ("هل انتهى؟! نعم۔۔۔ لا.", ["هل انتهى؟!", "نعم۔۔۔", "لا."]),
    ("वह आया। वह गया।", ["वह आया।", "वह गया।"]),
    # no final punctuation, white space
    ("no full stop at the end", ["no full stop at the end"]),
    ("  First.   Second.\n", ["First.", "Second."]),
    ("", []),
    (" \n\t ", []),
])
def test_sentence_splitting(text, expected):
    assert sentences(text) == expected


def test_sentence_spans_of_a_slice_are_absolute():
    text = "Intro. One here. Two here. Outro."
    start = text.index("One")
    end = text.index(" Outro")
    assert [text[s:e] for s, e in sentence_spans(text, start, end)] == ["One here.", "Two here."]


def test_paragraphs_are_separated_by_blank_lines():
    text = "First line\nstill first.\n\nSecond.\n \t\n\n\nThird.\n\n"
    assert [text[s:e] for s, e in paragraph_spans(text)] == ["First line\nstill first.", "Second.", "Third."]


def test_short_paragraphs_are_passages_as_they_are():
    text = "One. Two. Three.\n\nFour. Five."
    assert [text[s:e] for s, e in passage_spans(text)] == ["One. Two. Three.", "Four. Five."]


def test_a_long_paragraph_becomes_overlapping_sentence_windows():
    numbered = [f"Sentence number {n} is here." for n in range(1, 11)]
    text = "Short intro.\n\n" + " ".join(numbered)
    passages = [text[s:e] for s, e in passage_spans(text)]
    assert passages[0] == "Short intro."
    windows = passages[1:]
    assert len(windows) > 1
    for window in windows:
        assert len(sentences(window)) <= WINDOW_SENTENCES
    for before, after in zip(windows, windows[1:]):
        assert set(sentences(before)) & set(sentences(after)), "consecutive windows overlap"
    assert {s for w in windows for s in sentences(w)} == set(numbered)


def test_windows_stay_under_the_character_limit_where_sentences_allow():
    long_sentence = "Word " * (WINDOW_MAX_CHARS // 10) + "end."
    text = " ".join([long_sentence.replace("Word", f"W{n}") for n in range(4)])
    spans = passage_spans(text)
    assert len(spans) > 1
    assert all(end - start <= WINDOW_MAX_CHARS for start, end in spans)


def test_a_single_sentence_longer_than_the_limit_is_kept_whole():
    text = "word " * WINDOW_MAX_CHARS + "end."
    assert passage_spans(text) == [(0, len(text))]


# Properties ------------------------------------------------------------------------------------

_PIECES = list("abcXYZ 019.,!?…\"'“”«»()-\n\t") + ["U.S.", "Mr.", "...", "\n\n", " 6.4 ", "Jan. "]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=80).map("".join) | st.text(max_size=200)


def assert_verbatim_ordered_spans(text: str, spans: list[tuple[int, int]], disjoint: bool) -> None:
    for start, end in spans:
        assert 0 <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip() and piece
    for (start, end), (next_start, next_end) in zip(spans, spans[1:]):
        if disjoint:
            assert end <= next_start
        else:
            assert start < next_start and end <= next_end


def uncovered(text: str, spans: list[tuple[int, int]]) -> str:
    covered = [False] * len(text)
    for start, end in spans:
        covered[start:end] = [True] * (end - start)
    return "".join(ch for ch, c in zip(text, covered) if not c)


@given(_TEXT)
def test_sentences_are_ordered_trimmed_slices_that_cover_the_text(text):
    spans = sentence_spans(text)
    assert_verbatim_ordered_spans(text, spans, disjoint=True)
    assert uncovered(text, spans).strip() == ""


@given(_TEXT)
def test_paragraphs_are_ordered_trimmed_slices_that_cover_the_text(text):
    spans = paragraph_spans(text)
    assert_verbatim_ordered_spans(text, spans, disjoint=True)
    assert uncovered(text, spans).strip() == ""


@given(_TEXT)
def test_passages_are_ordered_slices_within_paragraphs_that_cover_the_text(text):
    spans = passage_spans(text)
    assert_verbatim_ordered_spans(text, spans, disjoint=False)
    assert uncovered(text, spans).strip() == ""
    paragraphs = paragraph_spans(text)
    for start, end in spans:
        assert any(p_start <= start and end <= p_end for p_start, p_end in paragraphs)


PLAIN_BOUNDARY = re.compile(r"(?:[.!?]+|…|\.\.\.)[\"'”’»)\]]*(?=\s|$)|[؟۔।][؟۔।!?]*[\"'”’»)\]]*")
"""The definition of a sentence end that the faster `_BOUNDARY` keeps to."""


@given(st.text(alphabet=st.sampled_from(list(".!?…؟۔।\"'”’»)] \n\tab")), max_size=60))
def test_sentence_ends_are_those_of_the_plain_definition(text):
    assert ([m.span() for m in _BOUNDARY.finditer(text)]
            == [m.span() for m in PLAIN_BOUNDARY.finditer(text)])


def plain_passages(text: str) -> list[tuple[int, int]]:
    """The definition `passage_spans` keeps to: a paragraph is one passage when it has at most
    WINDOW_SENTENCES sentences and WINDOW_MAX_CHARS characters, else sentence windows."""
    passages = []
    for start, end in paragraph_spans(text):
        sentences = sentence_spans(text, start, end)
        if len(sentences) <= WINDOW_SENTENCES and end - start <= WINDOW_MAX_CHARS:
            passages.append((start, end))
        else:
            passages.extend(_windows(sentences))
    return passages


PIECES = ["Ab", "cd", ".", "..", "!", "?", "…", "؟", "۔", "بہ", '"', "”", " ", "\n", "\n\n", "Mr.", "U.S.", "J.", "no.", "5"]


@given(st.lists(st.sampled_from(PIECES), max_size=200).map("".join))
def test_passages_are_those_of_the_plain_definition(text):
    assert passage_spans(text) == plain_passages(text)


def plain_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The definition `sentence_spans` keeps to, written plainly: the text split at each boundary
    that ends a sentence, pieces trimmed, empty ones dropped."""
    spans, begin = [], start
    for match in PLAIN_BOUNDARY.finditer(text, start, end):
        if plainly_ends_sentence(text[max(0, match.start() - 40):match.start()], match.group(),
                                 text[match.end():end].lstrip()):
            spans.append((begin, match.end()))
            begin = match.end()
    spans.append((begin, end))
    return [trimmed for span in spans if (trimmed := plainly_trimmed(text, *span))]


def plainly_ends_sentence(before: str, punctuation: str, following: str) -> bool:
    """Whether `punctuation` ends a sentence, given the 40 characters `before` it and the text
    `following` it: not when a lowercase letter follows, nor when a single dot follows an
    abbreviation ("No." only before a number), an initial or letters with dots between."""
    if not following:
        return True
    if following[0].islower():
        return False
    if not punctuation.startswith(".") or punctuation.startswith(".."):
        return True
    word = re.search(r"[\w.]+$", before)
    token = word.group().lower().strip(".") if word else ""
    if token in ABBREVIATIONS:
        return token in NUMBER_ABBREVIATIONS and not following[0].isdigit()
    return not (len(token) == 1 and token.isalpha() or re.fullmatch(r"(?:[a-z]\.)+[a-z]", token))


def plainly_trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    piece = text[start:end]
    if not piece.strip():
        return None
    return start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())


SENTENCE_PIECES = ["Ab", "cd", "x" * 45, "5", ".", "..", "!", "?", "…", "؟", "۔", "।", "بہ", '"', "”", "(", "$", " ", "  ", "\n", "\t",
                   "\u00a0", "Mr.", "U.S.", "J.", "no.", "No.", "e.g.", "a.m."]


@given(st.lists(st.sampled_from(SENTENCE_PIECES), max_size=120).map("".join), st.data())
def test_sentences_are_those_of_the_plain_definition(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert sentence_spans(text, start, end) == plain_sentences(text, start, end)
    assert sentence_spans(text) == plain_sentences(text, 0, len(text))
