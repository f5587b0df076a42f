"""Choosing the quote: the one or two sentences of a passage that answer the question best."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from retrieval.analysis import Analyzer
from retrieval.sentences import Span, sentence_spans

SHORT_QUOTE = 80
"""A one-sentence quote shorter than this takes the next sentence too, for context."""
LONG_QUOTE = 500
"""A sentence longer than this (tables, run-ons) is quoted around its first matching word."""
PHRASE_BONUS = 100.0


def choose_quote(text: str, span: Span, weights: Mapping[str, float], analyzer: Analyzer,
                 phrases: Sequence[str] = ()) -> Span:
    """The span within `text[span]` to quote: the window of one or two sentences that scores best
    as a BM25 document among the passage's sentences (term `weights` as idf), phrases first."""
    sentences = sentence_spans(text, *span) or [span]
    terms = [analyzer.terms(text[s:e]) for s, e in sentences]
    average = max(1.0, sum(map(len, terms)) / len(terms))
    best, best_score = (0, 0), -1.0
    for first in range(len(sentences)):
        for last in range(first, min(first + 2, len(sentences))):
            window = text[sentences[first][0]:sentences[last][1]]
            score = _bm25(sum(terms[first:last + 1], []), weights, average) + sum(
                PHRASE_BONUS for p in phrases if contains_phrase(window, p))
            if score > best_score + 1e-9:
                best, best_score = (first, last), score
    first, last = best
    if first == last and last + 1 < len(sentences) and sentences[last][1] - sentences[first][0] < SHORT_QUOTE:
        last += 1
    start, end = _balance_quotes(text, sentences[first][0], sentences[last][1])
    if end - start > LONG_QUOTE:
        start, end = _around_match(text, start, end, weights, analyzer)
    return start, end


def _bm25(terms: list[str], weights: Mapping[str, float], average: float, k1: float = 1.5,
          b: float = 0.75) -> float:
    norm = k1 * (1 - b + b * len(terms) / average)
    counts = Counter(t for t in terms if t in weights)
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
