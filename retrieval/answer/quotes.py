"""Choosing the quote: the sentence of a cited story that answers the question best.

Every sentence of the story is a candidate. A linear model, learned on the development questions
(bench/train_quotes.py; weights in quote_model.json), scores each from what it holds: the
question's words (as BM25 over the story's sentences), what the question asks for and the
question does not already say (`kinds`), how much it merely restates the question or the title,
and where it stands.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from retrieval.answer.kinds import CLOCK, SAYING, Asked, answers_held
from retrieval.bm25.index import BM25Params
from retrieval.text.analysis import Analyzer
from retrieval.text.quotations import quoted_shares, unquoted
from retrieval.text.sentences import Span, sentence_spans

SHORT_QUOTE = 80
"""A one-sentence quote shorter than this takes the next sentence too, for context."""
LONG_QUOTE = 500
"""A sentence longer than this (tables, run-ons) is quoted around its first matching word."""
SPOKEN = 0.5
"""A sentence with this share inside quotation marks or more gives someone's words."""
PHRASE_BONUS = 100.0
"""Added to a sentence's score for each of the question's "exact phrases" it holds."""
PAIR_COST = 2.5
"""Taken from a two-sentence window's score. The model learns how likely a window is to hold the
answer, and two sentences hold it more often merely by being longer; with this cost, chosen on
the development split, quotes stay as long as before the model (median ~185 characters) and the
model chooses which sentences (bench/README.md, "Quotes")."""
CLOSE_CALL = 0.5
"""How near the best window's score another window overlapping it must come for the quote to
take in both; chosen on the development split (bench/README.md, "Eleventh session")."""
MODEL_FILE = Path(__file__).with_name("quote_model.json")


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
                   r"(?:last|next|this|earlier|later)\s+(?:week|month|year|spring|summer|autumn|winter)|ago)\b|"
                   rf"{CLOCK}", re.I)
"""A point in time: a year, a day of a month, "in March", a weekday, "last week", a time of day
("four years" of something is a span, not a date)."""
_MODALS = {"can", "could", "will", "would", "should", "may", "might", "must", "does", "do", "did",
           "is", "are", "was", "were", "has", "have"}


@dataclass(frozen=True)
class Asking:
    """What the quote is chosen for: the question's term `weights` (as idf), its case-folded
    words, what it asks for, its phrases and answer cue, and the cited story's title terms."""

    weights: Mapping[str, float]
    words: frozenset[str] = frozenset()
    asked: Asked = Asked.OTHER
    phrases: Sequence[str] = ()
    cue: re.Pattern | None = None
    title_terms: frozenset[str] = frozenset()
    params: BM25Params = BM25Params()


class Quote(NamedTuple):
    """The span of a story's body to quote."""

    start: int
    end: int


def choose_quote(text: str, span: Span, asking: Asking, analyzer: Analyzer, focus: Span | None = None) -> Quote:
    """What to quote of `text[span]`: the sentence, or two running sentences, that the quote
    model scores best for `asking` (phrases first), widened by a sentence when a window
    overlapping it scores nearly as well (`_widened`), with the next sentence when it is short,
    or when the question asks for someone's words and the next gives them (SPOKEN) where the
    one chosen only tells of them; `focus` is the passage that ranked best."""
    sentences = sentence_spans(text, *span) or [span]
    windows, features = window_features(text, sentences, asking, analyzer, focus, lead=span[0] == 0)
    scores = features @ quote_model().weights - PAIR_COST * features[:, FEATURES.index("two_sentences")]
    if asking.phrases:
        scores += [PHRASE_BONUS * sum(contains_phrase(text[sentences[a][0]:sentences[b][1]], p) for p in asking.phrases)
                   for a, b in windows]
    order = np.argsort(-scores, kind="stable")
    first, last = windows[order[0]]
    if asking.asked is Asked.WORDS and first == last and _words_follow(text, sentences, last, features, asking,
                                                                        analyzer):
        last += 1  # the sentence that tells who spoke, and the words themselves after it
    else:
        first, last = _widened(windows, scores, order, sentences)
    if first == last and last + 1 < len(sentences) and sentences[last][1] - sentences[first][0] < SHORT_QUOTE:
        last += 1
    start, end = _balance_quotes(text, sentences[first][0], sentences[last][1])
    if end - start > LONG_QUOTE:
        start, end = _around_match(text, start, end, asking.weights, analyzer)
    return Quote(start, end)


def _widened(windows: list[Window], scores: np.ndarray, order: np.ndarray, sentences: list[Span]) -> Window:
    """The best-scored window (the first of `order`), joined with the best window overlapping
    it that reaches a sentence further and scores within CLOSE_CALL of it: where the model
    cannot tell the two apart, the quote holds both (three running sentences at most, and no
    more than LONG_QUOTE, which would be cut mid-sentence)."""
    first, last = windows[order[0]]
    for other in order[1:]:
        if scores[order[0]] - scores[other] >= CLOSE_CALL:
            break
        a, b = windows[other]
        if a <= last and b >= first and (a < first or b > last):
            a, b = min(a, first), max(b, last)
            return (a, b) if sentences[b][1] - sentences[a][0] <= LONG_QUOTE else (first, last)
    return first, last


def _words_follow(text: str, sentences: list[Span], chosen: int, features: np.ndarray, asking: Asking,
                  analyzer: Analyzer) -> bool:
    """Whether the sentence after the one `chosen` (which only tells of someone's words: under
    SPOKEN of it quoted) gives the words themselves: SPOKEN of it or more inside quotation
    marks, the two within LONG_QUOTE, and said by no one else (what it says outside the marks
    names no speaker, or names one with a word of the question or a pronoun)."""
    after = chosen + 1
    if after >= len(sentences) or sentences[after][1] - sentences[chosen][0] > LONG_QUOTE:
        return False
    quoted = features[:, FEATURES.index("quoted")]
    if not quoted[2 * chosen] < SPOKEN <= quoted[2 * after]:  # window 2i is sentence i alone
        return False
    outside = unquoted(text, *sentences[after])
    return not _SAID.search(outside) or bool(set(analyzer.words(outside)) & (asking.words | _PRONOUNS))


_SAID = re.compile(rf"\b(?:{SAYING})\b", re.IGNORECASE)
_PRONOUNS = frozenset({"he", "she", "they", "we", "i", "it"})
"""Who a sentence of someone's words may name for its speaker and still go on with the one the
sentence before it named."""


Window = tuple[int, int]
"""A quote's first and last sentence (the same one, or the next)."""
FEATURES = ("bm25", "cover", "focus", "lead", "answer_type", "answer_count", "answer_type_on_topic", "novel",
            "title", "after_match", "before_match", "position", "length", "cue", "two_sentences", "both_count",
            "new_paragraph", "story_bm25", "story_cover", "quoted", "rest_bm25", "rest_cover")
"""What the quote model knows of each window (see `window_features`)."""


def window_features(text: str, sentences: list[Span], asking: Asking, analyzer: Analyzer,
                    focus: Span | None, lead: bool) -> tuple[list[Window], np.ndarray]:
    """Every window of one or two running sentences, and a row of features for each, one column
    per name of FEATURES:

    - bm25: its BM25 as a document among the sentences, over the best window's;
    - cover: the share of the question's term weight it holds;
    - story_bm25, story_cover: the same with each term's weight times its idf among the story's
      sentences (`_story_weights`): a word of the question that every sentence holds (the story's
      subject) tells none of them apart, one that a single sentence holds points at it;
    - rest_bm25, rest_cover: story_bm25 and story_cover of the question's terms the story's title
      does not hold: those the title holds name the story's subject, which the lead and many
      sentences restate; the rest are what the question asks about it ("who *managed*
      Leicester", "which *judge* ordered Evergrande wound up");
    - focus: whether it lies in the passage that ranked best; lead: whether it opens the story;
    - answer_type: whether it holds what the question asks for (a name, an amount, a date, a
      reason, a quotation: `kinds.answers_held`) beyond the question's own words; answer_count:
      the log of how many; answer_type_on_topic: answer_type times cover;
    - novel: the share of its terms neither the question nor the title holds; title: the share
      the title holds (a sentence that restates the headline adds little);
    - after_match / before_match: the bm25 of the sentence before / after it, over the best
      sentence's (an answer often follows the sentence that names the subject);
    - position of its first sentence (0 first, 1 last), length (log of its terms), cue: whether
      it holds the question's answer cue (`answer_cue`); two_sentences: whether it has two,
      both_count: whether each of the two holds a question word or what the question asks for
      (else one is there only for company), new_paragraph: whether the second opens a paragraph;
    - quoted: for a question asking for someone's words, the share of it inside quotation marks
      (the words themselves, not a sentence that quotes one of them)."""
    terms = [analyzer.terms(text[s:e]) for s, e in sentences]
    weights = asking.weights
    counts = [_weighted_counts(t, weights) for t in terms]
    answers = [answers_held(asking.asked, text[s:e], asking.words, analyzer.code) for s, e in sentences]
    cues = [bool(asking.cue and asking.cue.search(text, s, e)) for s, e in sentences]
    average = max(1.0, sum(map(len, terms)) / len(terms))
    raw = [_bm25(c, len(t), weights, average, asking.params) for c, t in zip(counts, terms)]
    local = _story_weights(terms, weights)
    local_total = sum(local.values()) or 1.0
    title_terms = asking.title_terms
    rest = {t: v for t, v in local.items() if t not in title_terms}
    rest_is_all = len(rest) == len(local)  # the title holds none of the question's terms
    rest_total = sum(rest.values()) or 1.0
    single = np.array(raw)
    single = (single / single.max() if single.max() > 0 else single).tolist()
    sets = [set(t) for t in terms]
    total = sum(weights.values()) or 1.0
    question_terms = set(weights)
    last = len(sentences) - 1
    pairs = [(a, b) for a in range(len(sentences)) for b in ((a, a + 1) if a < last else (a,))]
    quoted = quoted_shares(text, [(sentences[a][0], sentences[b][1]) for a, b in pairs]) \
        if asking.asked is Asked.WORDS else [0.0] * len(pairs)
    rows = []
    for (a, b), quoted_share in zip(pairs, quoted):
        pair = b > a
        held = _together(counts[a], counts[b]) if pair else counts[a]
        length = len(terms[a]) + len(terms[b]) if pair else len(terms[a])
        distinct = (sets[a] | sets[b] if pair else sets[a]) or {""}
        cover = sum(weights[t] for t in held) / total
        found = answers[a] + answers[b] if pair else answers[a]
        story = _weighed(held, length, local, local_total, average, asking.params)
        rest_of_story = story if rest_is_all else _weighed(held, length, rest, rest_total, average, asking.params)
        rows.append((
            _bm25(held, length, weights, average, asking.params) if pair else raw[a], cover,
            bool(focus and focus[0] <= sentences[a][0] and sentences[b][1] <= focus[1]), lead and a == 0,
            found > 0, math.log1p(found), (found > 0) * cover,
            len(distinct - question_terms - title_terms) / len(distinct),
            len(distinct & title_terms) / len(distinct),
            single[a - 1] if a > 0 else 0.0, single[b + 1] if b < last else 0.0,
            a / max(1, last), math.log1p(length), cues[a] or cues[b], pair,
            pair and bool(counts[a] or answers[a]) and bool(counts[b] or answers[b]),
            pair and "\n\n" in text[sentences[a][1]:sentences[b][0]],
            *story, quoted_share, *rest_of_story,
        ))
    features = np.asarray(rows, dtype=float)
    for column in _SCALED:
        if features[:, column].max() > 0:
            features[:, column] /= features[:, column].max()
    return pairs, features


_SCALED = (FEATURES.index("bm25"), FEATURES.index("story_bm25"), FEATURES.index("rest_bm25"))
"""The columns given over the best window's, so that they read alike in every story."""


def _story_weights(terms: list[list[str]], weights: Mapping[str, float]) -> dict[str, float]:
    """Each question term a sentence holds, weighted by its `weights` times its idf among the
    sentences (`terms`), in the never negative form log(1 + (N - n + 0.5) / (n + 0.5))."""
    held = Counter(term for sentence in terms for term in set(sentence) if term in weights)
    n = len(terms)
    return {term: weights[term] * math.log1p((n - count + 0.5) / (count + 0.5)) for term, count in held.items()}


@dataclass(frozen=True)
class QuoteModel:
    """A linear score over FEATURES of a window, learned on the development questions
    (bench/train_quotes.py)."""

    weights: np.ndarray
    trained_on: str

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> QuoteModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was trained on other features: run python -m bench.train_quotes")
        return cls(np.asarray(data["weights"], dtype=float), data["trained_on"])


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


def _weighed(counts: dict[str, int], length: int, weights: Mapping[str, float], total: float, average: float,
             params: BM25Params) -> tuple[float, float]:
    """The BM25 of a window (`_bm25`) and the share of `total` it holds, over the terms of
    `counts` that `weights` weighs (the story's weights, or those of the words the title lacks)."""
    held = {t: c for t, c in counts.items() if t in weights}
    return _bm25(held, length, weights, average, params), sum(weights[t] for t in held) / total


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


@functools.cache
def quote_model() -> QuoteModel:
    """The committed quote model, read once (lazily: training must import this module with
    features the committed weights do not know yet)."""
    return QuoteModel.load()
