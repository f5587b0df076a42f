"""Turning what the archive says (an `Answer`, a `Timeline`'s words) into what people read:
Telegram HTML messages, or plain text for a terminal.

Everything from the archive or the user is escaped. Telegram counts a message's length after
entity parsing (in UTF-16 code units), at most 4,096: long answers are split between citations and
long stories between paragraphs, never inside a tag.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import date, datetime

from retrieval import Answer, Citation, Period, Timeline, long_date, paragraph_spans, right_to_left, say

MAX_MESSAGE = 4096
MAX_SUBJECT = 100
MAX_TITLE = 200
"""A photo caption holds 1,024 characters: a subject or title is cut to these."""
TEXT_BAR = 40
"""Characters of a terminal timeline's longest bar."""


NOTHING_FOUND = "Nothing relevant found."
RLM = "\u200f"
"""The right-to-left mark: a line of an answer in Arabic, Persian or Urdu starts with it, so
that Telegram lays the line out right to left even where it opens with digits or Latin letters
("1. ", "FIFA"), and its punctuation stays where the reader expects it."""


_LINE_START = re.compile(r"(?<=\n)(?=[^\n])")


def direction_mark(language: str) -> str:
    """RLM for a language written right to left, else ""."""
    return RLM if right_to_left(language) else ""


def format_date(value: date | None, language: str = "en") -> str:
    """25 October 2021 (as `language` writes a date), or "undated"."""
    return long_date(value, language) if value else say("undated", language)


def citation_source(citation: Citation, language: str = "en") -> str:
    """Title — date — story code, as plain text."""
    return f"{citation.title} — {format_date(citation.date, language)} — {_code(citation, language)}"


def copies_line(citation: Citation, language: str = "en") -> str:
    """"Also filed as story X, Y" for the copies folded into a citation; "" when there are none."""
    if not citation.copies:
        return ""
    line = "Also filed as stories {codes}" if len(citation.copies) > 1 else "Also filed as story {codes}"
    return say(line, language, codes=", ".join(citation.copies))


def render_text(answer: Answer, first_number: int = 1) -> str:
    """The answer for a terminal: numbered quotes, each with its source line."""
    if not answer.citations:
        return answer.message or say(NOTHING_FOUND, answer.language)
    blocks = [answer.message] if answer.message else []
    blocks += [_citation_lines(citation, number, answer.language)
               for number, citation in enumerate(answer.citations, first_number)]
    return "\n\n".join(blocks)


def _citation_lines(citation: Citation, number: int = 1, language: str = "en") -> str:
    """A numbered quote in its quotation marks, then its source, copies and link, one a line."""
    before, after = citation.marks
    lines = [f"{number}. «{before}{citation.quote}{after}»", f"   {citation_source(citation, language)}"]
    if citation.copies:
        lines.append(f"   {copies_line(citation, language)}")
    if citation.url:
        lines.append(f"   {citation.url}")
    return "\n".join(lines)


class Html:
    """A piece of Telegram HTML, with the text Telegram shows for it and that text's length as
    Telegram counts it."""

    def __init__(self, markup: str = "", plain: str = "", length: int | None = None) -> None:
        self.markup = markup
        self.plain = plain
        self.length = utf16_length(plain) if length is None else length

    @classmethod
    def text(cls, value: str) -> Html:
        return cls(html.escape(value, quote=False), value)

    @classmethod
    def tag(cls, name: str, inner: Html, **attributes: str) -> Html:
        attrs = "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in attributes.items())
        return cls(f"<{name}{attrs}>{inner.markup}</{name}>", inner.plain, inner.length)

    def __add__(self, other: Html | str) -> Html:
        other = Html.text(other) if isinstance(other, str) else other
        return Html(self.markup + other.markup, self.plain + other.plain, self.length + other.length)

    def __str__(self) -> str:
        return self.markup


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def render_citation(citation: Citation, number: int | None = None, language: str = "en") -> Html:
    """One citation: the quote as a blockquote, then title, date and story code, and a link,
    in `language` (the question's)."""
    mark = direction_mark(language)
    source = _source(citation, language=language)
    if citation.copies:
        source = source + "\n" + mark + Html.tag("i", Html.text(copies_line(citation, language)))
    source = Html.text(mark + (f"{number}. " if number is not None else "")) + source
    quote = render_quote(citation)
    if mark:  # each paragraph of the quote is laid out on its own
        quote = Html(_LINE_START.sub(mark, quote.markup), _LINE_START.sub(mark, quote.plain))
    piece = Html.tag("blockquote", Html.text(mark) + quote) + source
    if citation.url:
        piece = piece + "\n" + mark + Html.tag("a", Html.text(say("Read the story", language)), href=citation.url)
    return piece


def render_quote(citation: Citation) -> Html:
    """The quote, the question's words in bold, inside the quotation marks it needs."""
    before, after = citation.marks
    piece, done = Html.text(before), 0
    for start, end in citation.highlights:
        piece = piece + citation.quote[done:start] + Html.tag("b", Html.text(citation.quote[start:end]))
        done = end
    return piece + citation.quote[done:] + after


def render_answer(answer: Answer, first_number: int = 1) -> list[str]:
    """The answer as one or more HTML messages, split between citations."""
    if not answer.citations:
        return [str(Html.text(direction_mark(answer.language) + (answer.message or say(NOTHING_FOUND, answer.language))))]
    numbered = len(answer.citations) > 1 or first_number > 1
    pieces = [render_citation(c, n if numbered else None, answer.language)
              for n, c in enumerate(answer.citations, first_number)]
    if answer.message:
        pieces.insert(0, Html.text(direction_mark(answer.language)) + Html.tag("i", Html.text(answer.message)))
    return pack(pieces, separator="\n\n")


def period_label(period: Period, unit: str) -> str:
    """2021, November 2021, or a week: 1–7 November 2021, 29 November – 5 December 2021."""
    start, end = period.start, period.end
    if unit == "year":
        return str(start.year)
    if unit == "month":
        return f"{start:%B %Y}"
    if start.year != end.year:
        return f"{format_date(start)} – {format_date(end)}"
    if start.month != end.month:
        return f"{start.day} {start:%B} – {format_date(end)}"
    return f"{start.day}–{format_date(end)}"


def render_timeline(timeline: Timeline) -> Html:
    """What a timeline's chart shows, in words for its caption: the subject, how many stories
    over what span and by what unit, the busiest period and its top story."""
    busiest = timeline.peaks[0]
    piece = (Html.tag("b", Html.text(_cut(timeline.subject, MAX_SUBJECT)))
             + f": {_stories(timeline.dated)} from {format_date(timeline.first)} to "
               f"{format_date(timeline.last)}, by {timeline.unit}")
    if timeline.undated:
        piece = piece + f" (and {timeline.undated} undated)"
    piece = piece + f".\nBusiest: {period_label(busiest, timeline.unit)}, {_stories(busiest.stories)}"
    if timeline.top is None:
        return piece + "."
    return piece + "; the top one:\n" + _source(timeline.top, MAX_TITLE)


def render_timeline_words(timeline: Timeline) -> Html:
    """A timeline with nothing to chart, in words: why no story mentions the subject, how many
    undated ones do, or the one story that does (cited)."""
    words, story = _nothing_to_chart(timeline)
    return Html.text(words) if story is None else Html.text(words + "\n\n") + render_citation(story)


def timeline_text(timeline: Timeline) -> str:
    """A timeline for a terminal: its caption and a row per period with a bar of its count, or
    the words that say there is nothing to chart."""
    if not timeline.chartable:
        words, story = _nothing_to_chart(timeline)
        return words if story is None else f"{words}\n\n{_citation_lines(story)}"
    most = max(period.stories for period in timeline.periods)
    labels = [period_label(period, timeline.unit) for period in timeline.periods]
    width = max(map(len, labels))
    rows = [f"{label:<{width}}  {period.stories:>5}  {'█' * round(TEXT_BAR * period.stories / most)}"
            for label, period in zip(labels, timeline.periods)]
    return render_timeline(timeline).plain + "\n\n" + "\n".join(rows)


def _nothing_to_chart(timeline: Timeline) -> tuple[str, Citation | None]:
    """What to say of a timeline with nothing to chart, and the story to cite after it, if any."""
    if timeline.message:
        return timeline.message, None
    subject = f"\u201c{_cut(timeline.subject, MAX_SUBJECT)}\u201d"
    if not timeline.dated:
        mention = "mentions" if timeline.undated == 1 else "mention"
        return f"{_stories(timeline.undated)} {mention} {subject}, none dated: there is no timeline to draw.", None
    undated = f" (and {timeline.undated} undated)" if timeline.undated else ""
    if timeline.top is None:
        return f"Only one dated story mentions {subject}{undated}, on {format_date(timeline.first)}.", None
    return f"Only one dated story mentions {subject}{undated}:", timeline.top


def _source(citation: Citation, max_title: int | None = None, language: str = "en") -> Html:
    """The title (cut to `max_title` characters, if given), then date and story code."""
    title = citation.title if max_title is None else _cut(citation.title, max_title)
    mark = direction_mark(language)
    return Html.tag("b", Html.text(title)) + f"\n{mark}{format_date(citation.date, language)} · {_code(citation, language)}"


def _code(citation: Citation, language: str) -> str:
    return say("story {code}", language, code=citation.story_id)


def _stories(count: int) -> str:
    return f"{count:,} {'story' if count == 1 else 'stories'}"


def _cut(text: str, limit: int) -> str:
    """`text`, cut at a word boundary to at most `limit` characters with "…" after it."""
    if len(text) <= limit:
        return text
    head = text[:limit - 1]
    return (head.rsplit(None, 1)[0] if " " in head else head) + "…"


def render_story(title: str, date: datetime | None, story_id: str, body: str,
                 url: str | None = None) -> list[str]:
    """A whole story as HTML messages, split between paragraphs (and inside very long ones)."""
    head = Html.tag("b", Html.text(title)) + f"\n{format_date(date)} · story {story_id}"
    if url:
        head = head + "\n" + Html.tag("a", Html.text("Source"), href=url)
    paragraphs = [Html.text(chunk) for s, e in paragraph_spans(body)
                  for chunk in _chunks(body[s:e], MAX_MESSAGE - 100)]
    return pack([head, *paragraphs], separator="\n\n")


def pack(pieces: Iterable[Html], separator: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Join pieces into as few messages as fit `limit`; a piece is never split."""
    messages: list[str] = []
    current: Html | None = None
    for piece in pieces:
        if current is not None and current.length + utf16_length(separator) + piece.length <= limit:
            current = current + separator + piece
        else:
            if current is not None:
                messages.append(str(current))
            current = piece
    if current is not None:
        messages.append(str(current))
    return messages


def _chunks(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` UTF-16 units, cut at spaces where possible."""
    chunks = []
    while utf16_length(text) > size:
        cut = size // 2 if any(ord(c) > 0xFFFF for c in text[:size]) else size
        space = text.rfind(" ", 0, cut)
        cut = space if space > cut // 2 else cut
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*chunks, text] if text else chunks
