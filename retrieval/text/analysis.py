"""Turning text into index terms: Unicode words, case folding, stopwords, Snowball stems.

Stories and questions go through the same `Analyzer`, so a question's terms meet the stories'.
"""

from __future__ import annotations

import re
import snowballstemmer

ANALYZER_VERSION = 2
"""Bump when tokenizing changes, so stored tokens are re-analyzed (see `Analyzer.key`)."""

# The Snowball project's English stop list, plus the fragments left by splitting contractions.
ENGLISH_STOPWORDS = frozenset(
    """i me my myself we us our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which who
    whom this that these those am is are was were be been being have has had having do does did
    doing would should could ought i'm you're he's she's it's we're they're i've you've we've
    they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll they'll isn't aren't
    wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't shan't shouldn't
    can't cannot couldn't mustn't let's that's who's what's here's there's when's where's why's
    how's a an the and but if or because as until while of at by for with about against between
    into through during before after above below to from up down in out on off over under again
    further then once here there when where why how all any both each few more most other some
    such no nor not only own same so than too very s t d ll m re ve can will just""".split()
)

STOPWORDS = {"english": ENGLISH_STOPWORDS}

# Every token starts with a letter or digit, matched first so that the regex engine can skip to
# the next one quickly; the lookbehinds then pick the alternative the first character allows:
_WORD = re.compile(
    r"[^\W_](?:"
    r"(?<=[^\W\d_])\.(?:[^\W\d_]\.)+"   # acronyms with dots: U.S., U.K.
    r"|(?<=\d)\d*(?:[.,]\d+)+"           # numbers with separators: 6.4, 155,221
    r"|[^\W_]*(?:['’][^\W_]+)*)"         # words, apostrophes inside: alliance's, don't
)
TERM_CACHE = 1_000_000
"""Distinct words whose terms an analyzer remembers before it starts afresh."""


class Analyzer:
    """Splits text into terms. `Analyzer("english")` is the default; `stopwords=False` keeps all."""

    def __init__(self, language: str = "english", stopwords: bool = True) -> None:
        if language not in snowballstemmer.algorithms():
            raise ValueError(f"no Snowball stemmer for language {language!r}")
        self.language = language
        self.stopwords: frozenset[str] = STOPWORDS.get(language, frozenset()) if stopwords else frozenset()
        self._stem = snowballstemmer.stemmer(language).stemWord
        self._terms: dict[str, str] = {}  # word as matched -> its term, "" for a stopword

    @property
    def key(self) -> str:
        """Identifies the analysis: stored tokens are valid only for the same key."""
        return f"v{ANALYZER_VERSION}:{self.language}:stop={int(bool(self.stopwords))}"

    def words(self, text: str) -> list[str]:
        """Case-folded words, stopwords kept, not stemmed."""
        return [_normalize(match) for match in _WORD.findall(text.casefold())]

    def terms(self, text: str) -> list[str]:
        """Index terms: words without stopwords, stemmed; order and repeats kept."""
        known = self._terms
        words = _WORD.findall(text.casefold())
        try:
            return list(filter(None, map(known.__getitem__, words)))
        except KeyError:
            pass
        for word in set(words).difference(known):
            known[word] = self._term(_normalize(word))
        if len(known) > TERM_CACHE:
            self._terms = {}  # a new dict, not clear(): another thread may be reading this one
        return list(filter(None, map(known.__getitem__, words)))

    def term_spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where `text` holds its terms: (start, end, term) for each word that is no stopword,
        its offsets those of `text` itself (the verbatim text, not its case folding)."""
        return [(match.start(), match.end(), term) for match in _WORD.finditer(text)
                for term in self.terms(match.group())]

    def _term(self, word: str) -> str:
        if word in self.stopwords:
            return ""
        return self._stem(word) if word.isalpha() else word

    def __reduce__(self) -> tuple:
        """Pickled as its settings (for worker processes), without its cache."""
        return type(self), (self.language, bool(self.stopwords))

    def is_stopword(self, word: str) -> bool:
        return _normalize(word.casefold()) in self.stopwords


def _normalize(word: str) -> str:
    word = word.replace("’", "'").rstrip(".")
    return word[:-2] if word.endswith("'s") else word
