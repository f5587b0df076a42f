"""The quotation marks a slice of a text cuts through: those it must show before and after itself
so that the quotations it starts or ends inside read whole ("We cannot prevent it." for a
sentence cut from inside someone's words). The slice itself is never changed.

Marks read: “ ” and « » (each side its own character), „ closed by “ (German), and the
straight " (which closes one it opened, else opens). Single quotes are left alone: they are
apostrophes as often as not.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

_MARK = re.compile(r"[“”«»„\"]")
_CLOSING = {"“": "”", "«": "»", "„": "“", '"': '"'}
"""Each opening mark and the mark that closes it."""
_OPENING = {"”": "“", "»": "«"}
"""The marks that only close, and what they close."""


def quotation_marks(text: str, start: int, end: int) -> tuple[str, str]:
    """The marks to show before and after `text[start:end]`: before it, the opening marks of the
    quotations open where it starts (read from the start of its paragraph) and of those it closes
    without opening; after it, the closing marks of those still open where it ends, innermost first."""
    open_at_start, _ = _read(text, _paragraph_start(text, start), start, [])
    still_open, unopened = _read(text, start, end, list(open_at_start))
    before = "".join(unopened) + "".join(open_at_start)
    return before, "".join(_CLOSING[mark] for mark in reversed(still_open))


def quoted_shares(text: str, windows: Sequence[tuple[int, int]]) -> list[float]:
    """For each window `(start, end)` of `text`, the share of its characters that lie inside
    quotation marks (the marks themselves included), quotations open where a window starts read
    from its paragraph's start. The text is read once, however many windows overlap."""
    if not windows:
        return []
    inside = _quoted_stretches(text, min(s for s, _ in windows), max(e for _, e in windows))
    starts = [s for s, _ in inside]
    return [_overlap(inside, starts, s, e) / (e - s) if e > s else 0.0 for s, e in windows]


def unquoted(text: str, start: int, end: int) -> str:
    """What of `text[start:end]` lies outside quotation marks (as `quoted_shares` reads them),
    its pieces joined by spaces."""
    pieces, since = [], start
    for first, last in _quoted_stretches(text, start, end):
        pieces.append(text[since:first])
        since = last
    pieces.append(text[since:end])
    return " ".join(pieces)


_MARK_OR_BLANK_LINE = re.compile(rf"{_MARK.pattern}|\n[^\S\n]*\n")


def _quoted_stretches(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The stretches of `text[start:end]` inside quotation marks, in order; a quotation still
    open at a blank line ends there, as `_paragraph_start` reads paragraphs."""
    stretches: list[tuple[int, int]] = []
    open_marks, _ = _read(text, _paragraph_start(text, start), start, [])
    since = start
    for match in _MARK_OR_BLANK_LINE.finditer(text, start, end):
        if match.group().startswith("\n"):
            if open_marks:
                stretches.append((since, match.start()))
            open_marks = []
            continue
        was_open = bool(open_marks)
        open_marks, _ = _read(text, match.start(), match.end(), open_marks)
        if was_open and not open_marks:
            stretches.append((since, match.end()))
        elif not was_open and open_marks:
            since = match.start()
    if open_marks:
        stretches.append((since, end))
    return stretches


def _overlap(stretches: list[tuple[int, int]], starts: list[int], start: int, end: int) -> int:
    """How many characters of `start:end` the sorted, disjoint `stretches` cover."""
    total = 0
    for s, e in stretches[max(0, bisect.bisect_right(starts, start) - 1):]:
        if s >= end:
            break
        total += max(0, min(e, end) - max(s, start))
    return total


def _paragraph_start(text: str, position: int) -> int:
    """Where the paragraph holding `position` starts: after the last blank line before it (read
    backwards, line by line, so that a quote deep in a long filing costs its paragraph only)."""
    end = position
    while (newline := text.rfind("\n", 0, end)) >= 0:
        previous = text.rfind("\n", 0, newline)
        if not text[previous + 1:newline].strip():
            return newline + 1
        end = newline
    return 0


def _read(text: str, start: int, end: int, open_marks: list[str]) -> tuple[list[str], list[str]]:
    """The opening marks still open after `text[start:end]`, outermost first, reading on from
    `open_marks`; and the opening marks of the quotations it closes that were not open, outermost first."""
    unopened: list[str] = []
    for match in _MARK.finditer(text, start, end):
        opener = _opener_closed_by(match.group(), open_marks)
        if opener is None:
            open_marks.append(match.group())
        elif opener in open_marks:  # marks opened inside it and left open are dropped with it
            del open_marks[len(open_marks) - 1 - open_marks[::-1].index(opener):]
        else:
            unopened.insert(0, opener)
    return open_marks, unopened


def _opener_closed_by(mark: str, open_marks: list[str]) -> str | None:
    """The opening mark that `mark` closes, or None when it opens a quotation."""
    if mark in _OPENING:
        return _OPENING[mark]
    if mark == "“":
        return "„" if open_marks[-1:] == ["„"] else None
    if mark == '"':
        return '"' if '"' in open_marks else None
    return None
