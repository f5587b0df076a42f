"""Where a text holds what a question searched for: its words whose terms the question has, and
its "exact phrases", as spans of the verbatim text (for showing them in bold)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from retrieval.text.analysis import Analyzer
from retrieval.text.sentences import Span


def highlight_spans(text: str, terms: Collection[str], phrases: Sequence[str], analyzer: Analyzer) -> list[Span]:
    """The spans of `text` that match: each word whose term (by `analyzer`, as the index reads
    it) is among `terms`, and each occurrence of a phrase (case and runs of white space aside, as
    a phrase is matched when searching). Sorted and disjoint; spans only white space apart are
    joined, so that "Black Sea" shows as one."""
    spans = [(start, end) for start, end, term in analyzer.term_spans(text) if term in terms]
    for phrase in phrases:
        if phrase.split():
            spans += [m.span() for m in _phrase_pattern(phrase).finditer(text) if m.end() > m.start()]
    return _joined(sorted(spans), text)


def _phrase_pattern(phrase: str) -> re.Pattern:
    return re.compile(r"\s+".join(map(re.escape, phrase.split())), re.IGNORECASE)


def _joined(spans: list[Span], text: str) -> list[Span]:
    """Sorted `spans` with those that overlap, touch or are only white space apart made one."""
    joined: list[Span] = []
    for start, end in spans:
        if joined and (start <= joined[-1][1] or not text[joined[-1][1]:start].strip()):
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined
