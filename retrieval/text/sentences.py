"""Splitting a story into passages and a passage into sentences, as spans of the original text.

Everything here returns `(start, end)` offsets, never rewritten text, so that whatever the bot
quotes is a verbatim slice of the story.
"""

from __future__ import annotations

import re

Span = tuple[int, int]

WINDOW_SENTENCES = 4
"""A paragraph with more sentences than this becomes overlapping windows of this many."""
WINDOW_STEP = 2
WINDOW_MAX_CHARS = 1200

ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sen rep gov gen col lt capt sgt st jr sr rev hon pres supt
    inc corp co ltd plc bros cie dept univ assn est approx vs etc al no nos fig vol pp ed
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    mt ft ave blvd rd u.s u.k u.n e.g i.e a.m p.m u.s.a""".split()
)
NUMBER_ABBREVIATIONS = frozenset({"no", "nos"})
"""Abbreviations only before a number ("No. 5"); elsewhere the word ends a sentence ("he said no.")."""

# Sentence-ending punctuation, closing quotes, then a space or the end: a run of .!? or one …, or
# a run opened by the Arabic question mark ؟, the Urdu full stop ۔ or the Devanagari danda ।,
# which end a sentence even where no space follows (Urdu often writes none). It starts with a
# single character class so that the regex engine can skip to candidates quickly. A last
# lookahead notes the first character after the space, if any, for `_ends_sentence`.
_CLOSING = "[\"'”’»)\\]]*"
_BOUNDARY = re.compile(rf"[.!?…؟۔।](?:(?<=[؟۔।])[؟۔।!?]*{_CLOSING}|(?:(?<=…)|(?<=[.!?])[.!?]*){_CLOSING}(?=\s|$))"
                       r"(?=\s*(?P<next>\S)?)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\u00a0]*\n\s*")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_INITIALS = re.compile(r"(?:[a-z]\.)+[a-z]")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The sentences of `text[start:end]` as absolute spans, whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    begin = start
    for match in _BOUNDARY.finditer(text, start, end):
        if _ends_sentence(text, match):
            spans.append((begin, match.end()))
            begin = match.end()
    spans.append((begin, end))
    return [trimmed for span in spans if (trimmed := _trim(text, *span))]


def paragraph_spans(text: str) -> list[Span]:
    """Paragraphs: runs of text separated by blank lines, whitespace trimmed, empty ones dropped."""
    spans, begin = [], 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append((begin, match.start()))
        begin = match.end()
    spans.append((begin, len(text)))
    return [trimmed for span in spans if (trimmed := _trim(text, *span))]


def passage_spans(text: str) -> list[Span]:
    """The passages of a story body: paragraphs, long ones as overlapping sentence windows."""
    passages: list[Span] = []
    for start, end in paragraph_spans(text):
        if end - start <= WINDOW_MAX_CHARS and _at_most_sentences(text, start, end, WINDOW_SENTENCES):
            passages.append((start, end))
        else:
            passages.extend(_windows(sentence_spans(text, start, end)))
    return passages


def _at_most_sentences(text: str, start: int, end: int, count: int) -> bool:
    """Whether `text[start:end]` has at most `count` sentences. Each sentence but the last ends at
    a `_BOUNDARY` match: with fewer than `count` matches, the answer is yes without deciding
    which of them end sentences (the costly part)."""
    if len(_BOUNDARY.findall(text, start, end)) < count:
        return True
    return len(sentence_spans(text, start, end)) <= count


def _windows(sentences: list[Span]) -> list[Span]:
    windows: list[Span] = []
    first = 0
    while first < len(sentences):
        last = first
        while (last + 1 < len(sentences) and last + 1 - first < WINDOW_SENTENCES
               and sentences[last + 1][1] - sentences[first][0] <= WINDOW_MAX_CHARS):
            last += 1
        windows.append((sentences[first][0], sentences[last][1]))
        if last + 1 >= len(sentences):
            break
        first = max(first + 1, min(first + WINDOW_STEP, last))
    return windows


def _ends_sentence(text: str, match: re.Match) -> bool:
    following = match["next"]
    if not following:
        return True
    if following.islower():
        return False
    if not match.group().startswith(".") or match.group().startswith(".."):
        return True
    word = _word_before(text, match.start())
    if not word:
        return True
    token = word.lower().strip(".")
    if token in ABBREVIATIONS:
        return token in NUMBER_ABBREVIATIONS and not following.isdigit()
    if len(token) == 1 and token.isalpha():
        return False  # an initial: "J. Smith"
    return not _INITIALS.fullmatch(token)  # U.S.A., N.Y.


def _word_before(text: str, end: int) -> str | None:
    """The run of word characters and dots that ends at `end`, at most 40 characters of it."""
    start = max(0, end - 40)
    # The word cannot start before the last space: searching from there finds it sooner.
    word = _WORD_BEFORE.search(text, max(start, text.rfind(" ", start, end) + 1), end)
    return word and word.group(1)


def _trim(text: str, start: int, end: int) -> Span | None:
    part = text[start:end]
    stripped = part.lstrip()
    if not stripped:
        return None
    return start + len(part) - len(stripped), end - (len(stripped) - len(stripped.rstrip()))
