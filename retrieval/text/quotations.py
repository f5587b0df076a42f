"""The quotation marks a slice of a text cuts through: those it must show before and after itself
so that the quotations it starts or ends inside read whole ("We cannot prevent it." for a
sentence cut from inside someone's words). The slice itself is never changed.

Marks read: “ ” and « » (each side its own character), „ closed by “ (German), and the
straight " (which closes one it opened, else opens). Single quotes are left alone: they are
apostrophes as often as not.
"""

from __future__ import annotations

import re

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


def quoted_share(text: str, start: int, end: int) -> float:
    """The share of the characters of `text[start:end]` that lie inside quotation marks (the
    marks themselves included), quotations open where it starts read from its paragraph's start."""
    if end <= start:
        return 0.0
    open_marks, _ = _read(text, _paragraph_start(text, start), start, [])
    inside, since = 0, start
    for match in _MARK.finditer(text, start, end):
        was_open = bool(open_marks)
        open_marks, _ = _read(text, match.start(), match.end(), open_marks)
        if was_open:
            inside += match.end() - since
        since = match.start() if not was_open and open_marks else match.end()
    if open_marks:
        inside += end - since
    return inside / (end - start)


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
