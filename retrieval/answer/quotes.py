"""Choosing the quote: the one or two sentences of a passage that answer the question best."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from retrieval.bm25.index import BM25Params
from retrieval.text.analysis import Analyzer
from retrieval.text.sentences import Span, sentence_spans

SHORT_QUOTE = 80
"""A one-sentence quote shorter than this takes the next sentence too, for context."""
LONG_QUOTE = 500
"""A sentence longer than this (tables, run-ons) is quoted around its first matching word."""
PHRASE_BONUS = 100.0
FOCUS_BONUS = 1.2
CUE_BONUS = 1.5
LEAD_BONUS = 1.5
"""A news story's first sentence sums it up: windows starting there count this much more."""
CUE_REACH = 2
"""How many sentences a quote may grow by to take in the reason, date or figure asked for."""


def answer_cue(question: str) -> re.Pattern | None:
    """What a sentence that answers this kind of question tends to hold: a reason for "why",
    a figure for "how much", a rate for "how fast", a date for "when", the question's own modal
    verb for "can X ...?"."""
    words = question.casefold().split()
    if not words:
        return None
    first = words[0].strip("¿¡")
    if first == "why":
        return _REASON
    if first == "how" and len(words) > 1 and words[1] in ("much", "many", "big", "large", "high", "low"):
        return _FIGURE
    if first == "how" and len(words) > 1 and words[1] == "fast":
        return _RATE
    if asks_when(question):
        return _WHEN
    if first in _MODALS:
        return re.compile(rf"\b{first}(?:not|n't| not)?\b", re.IGNORECASE)
    return None


def asks_when(question: str) -> bool:
    """Whether the question asks for a point in time ("When ...?", "By what date ...?")."""
    return bool(_ASKS_WHEN.match(question))


_ASKS_WHEN = re.compile(r"\W*(?:when\b|(?:(?:by|from|until|since|on|at)\s+)?what\s+(?:date|day|time)\b|"
                        r"how\s+soon\b)", re.IGNORECASE)
_REASON = re.compile(r"\b(?:because|due to|as a result|owing to|citing|reason|after|since|in response to|"
                     r"response to|in order to|so as to|aimed at)\b", re.I)
_FIGURE = re.compile(r"\d[\d,./-]*\s*(?:pct|percent|%|per cent|mln|million|bln|billion|trillion|dlrs?|dollars?|"
                     r"cts|cents|yen|marks|francs|stg|pounds|tonnes|tons|barrels|bales|shares|pesos|rupees|"
                     r"lire|years?|months?|weeks?|days?)|[$£¥]\s*\d", re.IGNORECASE)
"""An amount: a number with its unit, not a bare day of a month."""
_RATE = re.compile(r"\d[\d,.]*\s*(?:pct|percent|%|per cent)", re.IGNORECASE)
"""A rate of change: a number of per cent."""
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)\.?|january|february|march|april|june|july|" \
         r"august|september|october|november|december"
_WHEN = re.compile(rf"\b(?:(?:1[89]|20)\d\d|(?:{_MONTH})\s+\d{{1,2}}|\d{{1,2}}\s+(?:{_MONTH})|"
                   rf"(?:in|by|from|until|since|before|after|early|late|mid|end of)\s+(?:{_MONTH})|"
                   r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|"
                   r"(?:last|next|this|earlier|later)\s+(?:week|month|year|spring|summer|autumn|winter)|ago)\b", re.I)
"""A point in time: a year, a day of a month, "in March", a weekday, "last week" ("four years"
of something is a span, not a date)."""
_ANSWER_CUES = (_REASON, _FIGURE, _RATE, _WHEN)
"""Cues that are the answer itself, not just a sign of it: a quote without one reaches for it."""
_MODALS = {"can", "could", "will", "would", "should", "may", "might", "must", "does", "do", "did",
           "is", "are", "was", "were", "has", "have"}


def choose_quote(text: str, span: Span, weights: Mapping[str, float], analyzer: Analyzer,
                 phrases: Sequence[str] = (), focus: Span | None = None,
                 cue: re.Pattern | None = None, params: BM25Params = BM25Params()) -> Span:
    """The span within `text[span]` to quote: the window of one or two sentences that scores best
    as a BM25 document among its sentences (term `weights` as idf, `params`' k1 and b), phrases first; windows inside
    `focus` (the passage that ranked best) count FOCUS_BONUS times more, windows holding the
    question's `cue` CUE_BONUS times more, windows starting the story (when `span` does)
    LEAD_BONUS times more."""
    sentences = sentence_spans(text, *span) or [span]
    terms = [analyzer.terms(text[s:e]) for s, e in sentences]
    lengths = [len(t) for t in terms]
    counts = [_weighted_counts(t, weights) for t in terms]
    average = max(1.0, sum(lengths) / len(terms))
    best, best_score = (0, 0), -1.0
    for first in range(len(sentences)):
        for last in range(first, min(first + 2, len(sentences))):
            (start, _), (_, end) = sentences[first], sentences[last]
            held = counts[first] if first == last else _together(counts[first], counts[last])
            score = _bm25(held, sum(lengths[first:last + 1]), weights, average, params)
            if phrases:
                score += sum(PHRASE_BONUS for p in phrases if contains_phrase(text[start:end], p))
            if focus and focus[0] <= start and end <= focus[1]:
                score *= FOCUS_BONUS
            lead = LEAD_BONUS if first == 0 and span[0] == 0 else 1.0
            # Weights are positive, so scores are: a window that the cue would not make the best
            # cannot be the best without it either, and the costly search can be left out.
            if cue and score * CUE_BONUS * lead > best_score + 1e-9 and cue.search(text[start:end]):
                score *= CUE_BONUS
            score *= lead
            if score > best_score + 1e-9:
                best, best_score = (first, last), score
    first, last = best
    if cue in _ANSWER_CUES and not cue.search(text, sentences[first][0], sentences[last][1]):
        first, last = _reach_cue(text, sentences, first, last, cue, [bool(c) for c in counts])
    if first == last and last + 1 < len(sentences) and sentences[last][1] - sentences[first][0] < SHORT_QUOTE:
        last += 1
    start, end = _balance_quotes(text, sentences[first][0], sentences[last][1])
    if end - start > LONG_QUOTE:
        start, end = _around_match(text, start, end, weights, analyzer)
    return start, end


def _reach_cue(text: str, sentences: list[Span], first: int, last: int, cue: re.Pattern,
               on_topic: list[bool]) -> tuple[int, int]:
    """The quote's first and last sentences once it reaches for the `cue` (the reason, date or
    figure asked for) in one of the CUE_REACH sentences after it: grown to take that sentence in
    while it stays within LONG_QUOTE, else moved to it if it holds a question word itself."""
    for after in range(last + 1, min(last + 1 + CUE_REACH, len(sentences))):
        if cue.search(text, *sentences[after]):
            if sentences[after][1] - sentences[first][0] <= LONG_QUOTE:
                return first, after
            return (after, after) if on_topic[after] else (first, last)
    return first, last


def _weighted_counts(terms: list[str], weights: Mapping[str, float]) -> dict[str, int]:
    """How often each weighted term occurs in `terms`, in order of first occurrence."""
    counts: dict[str, int] = {}
    for term in terms:
        if term in weights:
            counts[term] = counts.get(term, 0) + 1
    return counts


def _together(first: dict[str, int], second: dict[str, int]) -> dict[str, int]:
    """The counts of two sentences together, `first`'s terms first, as `_weighted_counts` of
    both would order them (BM25 sums in that order)."""
    together = dict(first)
    for term, count in second.items():
        together[term] = together.get(term, 0) + count
    return together


def _bm25(counts: dict[str, int], length: int, weights: Mapping[str, float], average: float,
          params: BM25Params) -> float:
    """BM25 of a window of `length` terms holding the weighted terms `counts`."""
    k1, b = params.k1, params.b
    norm = k1 * (1 - b + b * length / average)
    return sum(weights[t] * tf * (k1 + 1) / (tf + norm) for t, tf in counts.items())


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether `text` holds `phrase`, ignoring case and runs of white space."""
    return " ".join(phrase.casefold().split()) in " ".join(text.casefold().split())


_QUOTE_MARKS = "\"“”«»"


def _balance_quotes(text: str, start: int, end: int) -> Span:
    """Drop a lone opening or closing quotation mark that the cut left unmatched."""
    quote = text[start:end]
    if sum(quote.count(m) for m in _QUOTE_MARKS) % 2 == 1:
        if quote[0] in _QUOTE_MARKS:
            start += 1
        elif quote[-1] in _QUOTE_MARKS:
            end -= 1
    return start, end


def _around_match(text: str, start: int, end: int, weights: Mapping[str, float],
                  analyzer: Analyzer) -> Span:
    position = start
    for offset, word in _word_offsets(text, start, end):
        if set(analyzer.terms(word)) & weights.keys():
            position = offset
            break
    lo = max(start, position - LONG_QUOTE // 4)
    hi = min(end, lo + LONG_QUOTE)
    if lo > start:
        lo = text.find(" ", lo, hi) + 1 or lo
    if hi < end:
        hi = text.rfind(" ", lo, hi) if text.rfind(" ", lo, hi) > lo else hi
    return lo, hi


def _word_offsets(text: str, start: int, end: int):
    offset = start
    for word in text[start:end].split(" "):
        yield offset, word
        offset += len(word) + 1
