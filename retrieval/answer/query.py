"""Reading a question: free words, "exact phrases", -excluded words and dates in words.

`parse_query` never raises: whatever it cannot read as a filter it leaves as words to search.
"""

from __future__ import annotations

import calendar
import contextlib
import re
from collections.abc import Collection
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import date, timedelta

from retrieval.answer.kinds import speaker
from retrieval.text.analysis import Analyzer
from retrieval.text.dates import GREGORIAN, MONTHS, month_names, month_span
from retrieval.text.languages import ENGLISH, fold

MAX_QUESTION_CHARS = 1000
"""Longer questions are cut here, at a word boundary: BM25 gains nothing from a whole page."""


@dataclass(frozen=True)
class Query:
    """A parsed question. `terms` are analyzed (stemmed) and feed BM25 as they are."""

    text: str
    terms: list[str]
    names: list[str] = field(default_factory=list)
    """Capitalized searched words as written (names of people, places, things), stopwords left out."""
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    since: date | None = None
    until: date | None = None
    alternatives: dict[str, str] = field(default_factory=dict)
    """Terms searched besides the question's own (at the end of `terms`), each mapped to the
    question's term it stands for: "qtr" for "quarter", "tire" for "tyre"."""
    date_terms: list[str] = field(default_factory=list)
    """Analyzed terms of the dates read as filters ("in January 1988" -> januari, 1988): not
    searched, since the filter does their work, but evidence for which sentence to quote."""
    related: dict[str, str] = field(default_factory=dict)
    """Terms of words that often stand for a question's word in news (RELATED), each mapped to the
    question's term: not searched, but a story holding one covers that part of the question, and
    a sentence holding one is evidence for the quote."""

    missing: list[str] = field(default_factory=list)
    """Terms the archive never holds and that have no spelling variant in it: not searched, but
    a story covers the question less for lacking them (see `ranking`)."""
    guessed: dict[str, str] = field(default_factory=dict)
    """Spelling variants searched for words the question writes in lower case (see `spelling`),
    each mapped to the word as written: guesses, so not names the question is known to ask about
    ("gunman" is no misspelt Gunma), and a story without the variant does not mention the word."""
    language: str = "en"
    """The language it was analyzed in (ISO 639-1): its terms meet only that language's stories."""
    figures: list[str] = field(default_factory=list)
    """The figures the question gives, as written ("4 trillion", "9%", "$54.20", "7.0"): a story
    that holds none of its forms tells of another figure (`holds_figure`)."""
    topic: list[str] = field(default_factory=list)
    """The terms of what the question asks about ("what did X say about the euro crisis"): a
    story holding none of them (nor a word related to one) tells of something else."""
    speaker: list[str] = field(default_factory=list)
    """The terms of whose words the question asks for (`kinds.speaker`: "the kremlin spokesman"
    of "what did the kremlin spokesman say ..."): a story that gives none of their words does
    not answer it."""

    @property
    def is_empty(self) -> bool:
        return not self.terms


class DateError(ValueError):
    """An option such as --since that is not a date."""


_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_MONTH_YEAR = rf"(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+)?(?P<month>{_MONTH})\.?(?:\s+(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?,?)?\s+(?P<year>\d{{4}})"
_WHEN = rf"(?:{_DAY_MONTH_YEAR}|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})|(?P<yearonly>(?:1[89]|20)\d{{2}}))"
_DATE_FILTER = re.compile(rf"\b(?:(?P<op>in|during|on|since|from|after|before|until|till|through|by)\s+)?{_WHEN}\b",
                          re.IGNORECASE)
"""A date the question narrows its stories to: after a preposition, or a month's own ("may 2015
zurich raid: ...", "on 9 september 2022"); a year alone names an event without one ("the 2018
world cup")."""
_WHEN_PLAIN = re.sub(r"\(\?P<\w+>", "(?:", _WHEN)
_BETWEEN = re.compile(rf"\b(?:between\s+(?P<a>{_WHEN_PLAIN})\s+and|(?:from\s+)?(?P<c>{_WHEN_PLAIN})\s*(?:to|until|till|"
                      rf"through|-|–))\s+(?P<b>{_WHEN_PLAIN})\b", re.IGNORECASE)
"""A range: "between X and Y", "from X to Y", "X - Y"."""
_PHRASE = re.compile(r'["“”„«»]([^"“”„«»]+)["“”„«»]')
_EXCLUDE = re.compile(r"(?:(?<=\s)|^)-(?P<word>[^\W_][\w'’.-]*)")
_NAME = re.compile(r"\b[^\W\d_a-z][\w'’-]*|\b\w+[A-Z]\w*")  # Merkel, U.S, iPhone, COVID
_FILLER = re.compile(r"\b(?:how\s+(?:much|many|long|big|large|high|low|fast|far|often|soon)|"
                     r"happen(?:s|ed)?|going\s+to|tell\s+me|do\s+you\s+know|please)\b", re.IGNORECASE)
"""Words that shape a question rather than name what it is about (stopwords aside)."""
_UNIT = r"%|per\s*cent\b|percent\b|pct\b|thousand\b|million\b|mln\b|billion\b|bln\b|bn\b|trillion\b|tn\b"
_FIGURE = re.compile(rf"(?<![\w.,])\d[\d,]*(?:\.\d+)?[\s-]*(?:{_UNIT})|(?<=[$€£¥])\d[\d,]*(?:\.\d+)?(?![\w,]|\.\d)|"
                     r"(?<![\w.,])\d+\.\d+(?![\w,]|\.\d)", re.IGNORECASE)
"""A figure: a percentage, a number of thousands, millions or more, an amount of money, a decimal
("9%", "4 trillion", "$54.20", "7.0"); not a bare count, a day or an article's number."""
_FIGURE_PARTS = re.compile(rf"(\d[\d,]*(?:\.\d+)?)[\s-]*({_UNIT})?", re.IGNORECASE)
_UNITS = (("%", r"per\s*cent", "pct"), ("thousand",), ("million", "mln", "m"), ("billion", "bln", "bn"),
          ("trillion", "tn"))
"""The spellings of each unit a figure may carry, as patterns ("m" only as a story writes it:
"£1.5m")."""
YEAR = re.compile(r"(?:1[89]|20)\d\d")
"""A year news is of, 1800-2099: a number that names one when it stands alone."""
_THE_ACRONYM = re.compile(r"\b(the)\s+(us|who)\b(?![\w'’.])", re.IGNORECASE)
""""the us", "the who" typed in lower case: the country and the organisation (see
`analysis._DOTTED_FORMS`), never the pronouns."""
ALIASES = (
    # Reuters writes its own abbreviations; people write the words
    ("quarter", "qtr"), ("quarterly", "qtly"), ("share", "shr"), ("million", "mln"),
    ("billion", "bln"), ("dollar", "dlr"), ("dollars", "dlrs"), ("percent", "pct"), ("cents", "cts"),
    ("sterling", "stg"), ("first", "1st"), ("second", "2nd"), ("third", "3rd"), ("fourth", "4th"),
    ("months", "mths"), ("revenues", "revs"), ("government", "govt"), ("international", "intl"),
    # British and American spellings
    ("tyre", "tire"), ("aluminium", "aluminum"), ("labour", "labor"), ("programme", "program"),
    ("defence", "defense"), ("centre", "center"), ("organisation", "organization"),
    ("favour", "favor"), ("licence", "license"),
)
"""Words that mean the same in this archive: a question's word is searched with the others of
its group."""
RELATED = (
    ("stop", "prevent", "block", "halt"), ("enemy", "adversary", "foe"), ("jobless", "unemployment"),
    ("buy", "acquire", "purchase"), ("rise", "increase", "climb"), ("fall", "drop", "decline"),
    ("cut", "reduce", "lower"), ("quit", "resign"), ("shut", "close"), ("lawyer", "attorney", "counsel"),
    ("talks", "negotiations"), ("agreement", "accord", "pact"), ("economy", "economic"),
    ("grow", "growth"), ("introduce", "launch", "unveil"), ("ban", "prohibit"), ("begin", "start"),
)
"""Words that often stand for one another in news: a story holding one of a question's word's group
covers that word (see `ranking`), and a sentence holding one is evidence for the quote, weighing no
more than the word asked (see `service`). They are not searched: as search terms they ranked
stories worse."""
_ABOUT = re.compile(r"\b(?:about|regarding)\s+(?![\d$€£¥])(?P<topic>.+?)(?=\s+(?:in|on|at|during|after|before|when|"
                    r"while|since|because|if|but)\b|[,.;:?!]|$)", re.IGNORECASE)
"""What an English question asks about: the words after "about" (or "regarding") up to a word
that tells of when, where or why it was said, or a punctuation mark ("about china in his speech"
is about China; "about ties with the us", "about the deal to bring altman back" and "about
inflation and rates" are whole); not an approximate figure ("about 100 people")."""
_WHEN_ALONE = re.compile(rf"^\s*{_WHEN}\s*$", re.IGNORECASE)
_MONTH_YEAR = re.compile(r"(?:(?P<day>\d{1,2})\.?\s+(?:de\s+)?)?(?P<words>[^\W\d_]+(?:\s+[^\W\d_]+)?)"
                         r"\s+(?:del?\s+)?(?P<year>\d{4})(?!\d)")
"""A day, a month's name (one word or two) and a year, in any language: "9 سبتمبر 2023",
"4 de noviembre de 2023", "im Februar 2025"."""


def parse_query(text: str, analyzer: Analyzer, since: date | None = None,
                until: date | None = None) -> Query:
    """Parse `text`; `since`/`until` (from options) narrow whatever dates the words give."""
    text = cut(text.strip())
    rest = text
    phrases = [p.strip() for p in _PHRASE.findall(rest) if analyzer.terms(p)]
    rest = _PHRASE.sub(" ", rest)
    excluded = [term for word in _EXCLUDE.findall(rest) for term in analyzer.terms(word)]
    rest = _EXCLUDE.sub(" ", rest)
    rest, word_since, word_until, dates = _take_dates(rest)
    if analyzer.code != ENGLISH:
        rest, own_since, own_until, own_dates = _take_dates_in(fold(rest, analyzer.code), analyzer)
        word_since, word_until, dates = _later(word_since, own_since), _earlier(word_until, own_until), dates + own_dates
    rest = _FILLER.sub(" ", rest)
    if analyzer.code == ENGLISH:
        rest = _acronyms_read(rest)
    searched = " ".join([rest, *phrases])
    terms = [t for t in analyzer.terms(searched) if t not in excluded]
    alternatives = {alias: term for term in terms for alias in _groups(analyzer, ALIASES).get(term, ())
                    if alias not in terms and alias not in excluded}
    related = {word: term for term in terms for word in _groups(analyzer, RELATED).get(term, ())
               if word not in terms and word not in alternatives and word not in excluded}
    return Query(
        text=text,
        terms=terms + list(dict.fromkeys(alternatives)),
        alternatives=alternatives,
        names=[w for w in dict.fromkeys(_NAME.findall(searched)) if not analyzer.is_stopword(w)],
        phrases=phrases,
        excluded=excluded,
        since=_later(since, word_since),
        until=_earlier(until, word_until),
        date_terms=analyzer.terms(" ".join(dates)),
        related=related,
        language=analyzer.code,
        figures=[match.group().strip() for match in _FIGURE.finditer(searched)],
        topic=_topic(rest, terms, analyzer),
        speaker=_speaker(text, terms, analyzer),
    )


def _speaker(text: str, terms: list[str], analyzer: Analyzer) -> list[str]:
    """The searched `terms` of whose words `text` asks for (`kinds.speaker`), read as the
    question's words are ("the us" is the country)."""
    who = speaker(text, analyzer.code)
    if who is None:
        return []
    who = _acronyms_read(who)
    return [term for term in dict.fromkeys(analyzer.terms(who)) if term in terms]


def _acronyms_read(text: str) -> str:
    """`text` with "the us" and "the who" written as the acronyms they are (`_THE_ACRONYM`)."""
    return _THE_ACRONYM.sub(lambda match: f"{match[1]} {match[2].upper()}", text)


def _topic(text: str, terms: list[str], analyzer: Analyzer) -> list[str]:
    """The searched `terms` of what `text` asks about (`_ABOUT`, English only)."""
    if analyzer.code != ENGLISH or not (match := _ABOUT.search(text)):
        return []
    return [term for term in dict.fromkeys(analyzer.terms(match["topic"])) if term in terms]


def holds_figure(text: str, figure: str, language: str = ENGLISH) -> bool:
    """Whether `text`, in `language`, writes `figure` (one of `Query.figures`, its digits
    folded as the question's are), in any of its unit's spellings: "4 trillion" as "$4
    trillion" or "4tn", "9%" as "9 percent"."""
    if language != ENGLISH:
        text = fold(text, language)  # Persian and Arabic-Indic digits
    return bool(_figure_pattern(figure).search(text))


@lru_cache(maxsize=256)
def _figure_pattern(figure: str) -> re.Pattern:
    number, unit = _FIGURE_PARTS.fullmatch(figure).groups()
    spellings = next((group for group in _UNITS if unit and any(re.fullmatch(u, unit, re.IGNORECASE) for u in group)), ())
    after = rf"[\s-]*(?:{'|'.join(spellings)})(?!\w)" if spellings else ""
    whole, _, fraction = number.replace(",", "").partition(".")
    fraction = fraction.rstrip("0")  # 7.0 is 7, 54.20 is 54.2
    value = ",?".join(whole) + (rf"\.{fraction}0*" if fraction else r"(?:\.0+)?")  # 1,000 is 1000
    return re.compile(rf"(?<![\d.,]){value}(?!\d|[.,]\d){after}", re.IGNORECASE)


@lru_cache(maxsize=16)
def _groups(analyzer: Analyzer, groups: tuple[tuple[str, ...], ...]) -> dict[str, tuple[str, ...]]:
    """Each analyzed term of `groups` -> the other terms of its groups."""
    table: dict[str, dict[str, None]] = {}
    for group in groups:
        terms = [t for word in group for t in analyzer.terms(word)]
        for term in terms:
            table.setdefault(term, {}).update(dict.fromkeys(t for t in terms if t != term))
    return {term: tuple(others) for term, others in table.items()}


def parse_date_option(value: str, end: bool = False) -> date:
    """A date given as an option: 2021-10-25, October 2021, 2021. `end` picks the period's last day."""
    match = _WHEN_ALONE.match(value)
    if not match:
        raise DateError(f"not a date: {value!r} (try 2021-10-25, 'October 2021' or 2021)")
    first, last = _period(match)
    return last if end else first


def cut(text: str, limit: int = MAX_QUESTION_CHARS) -> str:
    """`text` cut to `limit` characters at a word boundary."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    return head.rsplit(None, 1)[0] if " " in head else head


MONTH_DAYS = 31
"""The most days a span of dates may cover and still be a day or a month."""


def within_a_month(since: date | None, until: date | None) -> bool:
    """Whether `since`-`until` (both given, in order) is a day or a month, not longer."""
    return since is not None and until is not None and 0 <= (until - since).days < MONTH_DAYS


def _operator(match: re.Match) -> str:
    """How a date of `_DATE_FILTER` narrows the stories: "in" its period, "since", "before"...;
    "from" is "since" ("inflation from 2021", "from 2019 to now"), but after a word for news it
    tells when the news is from ("shinzo abe news from august 2020": that month)."""
    op = (match["op"] or "in").lower()
    if op == "from":
        return "in" if _NEWS_BEFORE.search(match.string, 0, match.start()) else "since"
    return op


_NEWS_BEFORE = re.compile(r"\b(?:news|stor(?:y|ies)|reports?|articles?|coverage|headlines?|updates?)\W*$",
                          re.IGNORECASE)


def _take_dates(text: str) -> tuple[str, date | None, date | None, list[str]]:
    """`text` without the dates it names as filters, the range they give, and the dates' words."""
    since = until = None
    taken: list[str] = []
    if (match := _BETWEEN.search(text)):
        a, b = _WHEN_ALONE.match(match["a"] or match["c"]), _WHEN_ALONE.match(match["b"])
        if a and b:
            with contextlib.suppress(DateError):  # an impossible date stays words
                since, until = _period(a)[0], _period(b)[1]
                text = text[:match.start()] + " " + text[match.end():]
                taken += [match["a"] or match["c"], match["b"]]
    matches = list(_DATE_FILTER.finditer(text))
    bare = [m for m in matches if m["op"] is None]
    for match in matches:
        if match["op"] is None and not _a_month_alone(match, bare):
            continue
        try:
            first, last = _period(match)
            op = _operator(match)
            if op in ("in", "during", "on"):
                since, until = _later(since, first), _earlier(until, last)
            elif op == "since":
                since = _later(since, first)
            elif op == "after":
                since = _later(since, last + timedelta(days=1))
            elif op == "before":
                until = _earlier(until, first - timedelta(days=1))
            else:
                until = _earlier(until, last)
        except (DateError, OverflowError):  # 2021-13-45, year 0, after 9999: words, not a filter
            continue
        text = text.replace(match.group(0), " ", 1)
        taken.append(match.group(0)[len(match["op"] or ""):])
    return text, since, until, taken


def _a_month_alone(match: re.Match, bare: list[re.Match]) -> bool:
    """Whether a date without a preposition narrows the dates: a month of a year between 1800 and
    2099 ("may 2015 zurich raid"), the only such date of the question (two tell no range: "march
    2020 lockdown oct 2021"). A year alone names an event ("the 2018 world cup")."""
    return match["month"] is not None and bare == [match] and bool(YEAR.fullmatch(match["year"]))


def _take_dates_in(text: str, analyzer: Analyzer) -> tuple[str, date | None, date | None, list[str]]:
    """`text` without the months (and days) it names in its own language, in any inflection the
    language's stemmer folds together ("в сентябре 2023"), as `_take_dates` does in English."""
    months = _months(analyzer)
    since = until = None
    cuts: list[tuple[int, int]] = []
    for match in _MONTH_YEAR.finditer(text):
        words = match["words"].split()
        whole = months.get(tuple(analyzer.terms(match["words"])))
        named = whole or months.get(tuple(analyzer.terms(words[-1])))
        if named is None:
            continue
        month, calendar = named
        day = match["day"] if whole and calendar == GREGORIAN else None
        start = match.start() if whole else match.start("words") + match["words"].rindex(words[-1])
        try:
            first, last = month_span(int(match["year"]), month, calendar)
            if day:
                first = last = date(first.year, first.month, int(day))
        except ValueError:  # 31 February, year 0: words, not a filter
            continue
        since, until = _later(since, first), _earlier(until, last)
        cuts.append((start, match.end()))
    taken = [text[start:end] for start, end in cuts]
    for start, end in reversed(cuts):
        text = text[:start] + " " + text[end:]
    return text, since, until, taken


@lru_cache(maxsize=32)
def _months(analyzer: Analyzer) -> dict[tuple[str, ...], tuple[int, str]]:
    """The month names of the analyzer's language, by their terms."""
    return {tuple(terms): (number, calendar) for name, number, calendar in month_names(analyzer.code)
            if (terms := analyzer.terms(name))}


def _period(match: re.Match) -> tuple[date, date]:
    """First and last day of the day, month or year a date match names; DateError if none."""
    try:
        return _period_of(match)
    except ValueError:
        raise DateError(f"not a date: {match.group(0).strip()!r}") from None


def _period_of(match: re.Match) -> tuple[date, date]:
    if match["iso"]:
        day = date.fromisoformat(match["iso"])
        return day, day
    if match["yearonly"]:
        year = int(match["yearonly"])
        return date(year, 1, 1), date(year, 12, 31)
    year, month = int(match["year"]), MONTHS[match["month"].lower()]
    day = match["day"] or match["day2"]
    last_day = calendar.monthrange(year, month)[1]
    if day and 1 <= int(day) <= last_day:
        exact = date(year, month, int(day))
        return exact, exact
    return date(year, month, 1), date(year, month, last_day)


def _later(a: date | None, b: date | None) -> date | None:
    return max(a, b) if a and b else a or b


def _earlier(a: date | None, b: date | None) -> date | None:
    return min(a, b) if a and b else a or b


def words_with(text: str, terms: Collection[str], analyzer: Analyzer) -> list[str]:
    """The words of `text`, as written and each once, whose terms are among `terms`; a
    possessive without its ending when that is all the ending was ("bitcoin" of "bitcoin's")."""
    words = (w for w in _WORDS.findall(text) if not set(analyzer.terms(w)).isdisjoint(terms))
    return list(dict.fromkeys(_without_possessive(w, analyzer) for w in words))


def _without_possessive(word: str, analyzer: Analyzer) -> str:
    bare = _POSSESSIVE.sub("", word)
    return bare if bare != word and analyzer.terms(bare) == analyzer.terms(word) else word


_WORDS = re.compile(r"[^\W_][\w'’.-]*")
_POSSESSIVE = re.compile(r"['’]s?$")
