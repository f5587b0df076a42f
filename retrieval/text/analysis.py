"""Turning text into index terms: Unicode words, folding, stopwords, Snowball stems, per language.

Stories and questions go through the same `Analyzer` for their language, so a question's terms
meet the stories'. `Analyzers` holds an archive's: one per language, the main language's terms
written bare and every other language's prefixed with its code ("ru:ставк"), so that two
languages never share a term (and BM25 can count each language's passages apart).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

import simplemma
import snowballstemmer
import stopwordsiso
from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

from retrieval.text import languages
from retrieval.text.languages import ENGLISH, fold, fold_letters, fold_marks

ANALYZER_VERSION = 10
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

ENGLISH_STOPWORDS |= {word.replace("'", "") for word in ENGLISH_STOPWORDS if word.endswith(("'s", "n't"))}
"""With their contractions of "is" and "not" typed without the apostrophe: "whats", "thats",
"wasnt", "dont" (not those of "will" or "would": "well", "shell", "wed" are words)."""
STOPWORDS = {"en": ENGLISH_STOPWORDS}
"""Hand-kept lists; other languages take stopwords-iso's (the stopwordsiso package)."""
ELIDED = {
    "fr": "l m t qu n s j d c jusqu quoiqu lorsqu puisqu",
    "it": "c l all dall dell nell sull coll pell gl agl dagl degl negl sugl un m t s v d",
    "ca": "d l m n s t",
}
"""The articles and pronouns these languages write elided onto the next word ("l'intérieur",
"dell'anno"), as Lucene's French, Italian and Catalan analyzers strip them: the word is the term."""
CONTRACTED = {"en": re.compile(r"'(?:d|ll|re|ve)$")}
"""What English contracts onto a word ("there'd", "it'll", "should've"): the word is the term.
A transliterated name ending so ("Sa'd") loses its ending too; rare in English news."""
NOT_LEMMATIZED = frozenset({"en"})
"""Languages whose words are stemmed as written, not first taken to their lemma (simplemma's
dictionaries): Porter's stems already join English's regular forms, and English lemmas joined
words that answers need apart ("took" over and "take", bench/README.md "Lemmas"). In the other
languages Snowball leaves apart what their inflection writes differently (German "gesenkt" and
"senkt", Arabic dialect and standard forms): their lemmas join them."""
LEMMAS = f"lemmas=simplemma-{simplemma.__version__}"
"""Names the lemma dictionaries in analysis keys: another release of them is another analysis."""
UNUSABLE_STOPWORDS = frozenset({"ur"})
"""stopwords-iso's Urdu list is mis-encoded (ب written as ث, ن as ٌ): it would drop real words."""

# Every token starts with a letter or digit, matched first so that the regex engine can skip to
# the next one quickly; the lookbehinds then pick the alternative the first character allows:
_WORD = re.compile(
    r"[^\W_](?:"
    r"(?<=[^\W\d_])\.(?:[^\W\d_]\.)+"   # acronyms with dots: U.S., U.K.
    r"|(?<=\d)\d*(?:[.,]\d+)+"           # numbers with separators: 6.4, 155,221
    r"|[^\W_]*(?:['’][^\W_]+)*)"         # words, apostrophes inside: alliance's, don't
)
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
"""An acronym written with dots (its last one cut): "u.n", "e.u"."""
_DOTTED_FORMS = {"US": "U.S.", "WHO": "W.H.O."}
"""English acronyms that are stopwords in lower case, and the dotted form whose term they take:
"US" is the United States, not "us"; "WHO" the World Health Organization, not "who"."""
_CAPITAL_ACRONYMS = re.compile(rf"(?<![\w.])(?:{'|'.join(_DOTTED_FORMS)})(?!\w|\.\w)")
"""Those acronyms as words of their own ("US", "US.", "WHO's"; not "USA", "U.S.")."""
_KEEP_DOTTED = frozenset({"a.m", "p.m"})
"""Dotted words that are no acronym to undot: times of day ("p.m." is not "PM")."""
TERM_CACHE = 1_000_000
"""Distinct words (and, apart, ASCII runs) whose terms an analyzer remembers before it starts afresh."""


def _ascii_runs_table() -> bytes:
    """A `bytes.translate` table for ASCII text: the characters a `_WORD` match can hold (letters,
    digits, '.', ',' and the apostrophe) kept, capitals made small, every other one a space."""
    kept = b"abcdefghijklmnopqrstuvwxyz0123456789.,'"
    table = bytearray(b" " * 256)
    for byte in kept:
        table[byte] = byte
    for capital in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        table[capital] = capital + 32
    return bytes(table)


_ASCII_RUNS = _ascii_runs_table()
"""In ASCII, casefold is lower and no `_WORD` match holds a character other than those kept here
(its lookbehinds look at its own first character): a text's matches are its runs' matches."""


class Analyzer:
    """Splits text in one language into terms. `language` is an ISO code ("ru") or a Snowball
    stemmer's name ("russian", "porter"); `stopwords=False` keeps all words; `prefix` starts
    every term."""

    def __init__(self, language: str = "english", stopwords: bool = True, prefix: str = "") -> None:
        self.language = language
        self.code, stemmer = _language(language)
        self.prefix = prefix
        self.stopwords: frozenset[str] = _stopwords(self.code) if stopwords else frozenset()
        self._stem = snowballstemmer.stemmer(stemmer).stemWord if stemmer else str
        elided = ELIDED.get(self.code)
        self._elision = re.compile(rf"^(?:{'|'.join(elided.split())})'(?=[^\W\d_])") if elided else None
        self._contraction = CONTRACTED.get(self.code)
        self._terms: dict[str, str] = {}  # word as matched -> its term, "" for a stopword
        self._runs = _Remembered(self._joined_run)  # an ASCII run (see _ASCII_RUNS) -> its terms joined
        self.lemmatized = self.code in SUPPORTED_LANGUAGES and self.code not in NOT_LEMMATIZED

    @property
    def key(self) -> str:
        """Identifies the analysis: stored tokens are valid only for the same key."""
        lemmas = f":{LEMMAS}" if self.lemmatized else ""
        return f"v{ANALYZER_VERSION}:{self.language}:stop={int(bool(self.stopwords))}{lemmas}"

    def words(self, text: str) -> list[str]:
        """Case-folded words, stopwords kept, not stemmed."""
        return [_normalize(match) for match in _WORD.findall(fold(text, self.code).casefold())]

    def terms(self, text: str) -> list[str]:
        """Index terms: words without stopwords, stemmed; order and repeats kept."""
        return self._analyzed(_dotted(text) if self._reads_acronyms(text) else text)

    def _reads_acronyms(self, text: str) -> bool:
        """Whether "US" and "WHO" in `text` are acronyms (`_DOTTED_FORMS`): in English, unless the
        whole text is in capitals ("WHO CAN STOP IT" asks who)."""
        return self.code == ENGLISH and ("US" in text or "WHO" in text) and not text.isupper()

    def _analyzed(self, text: str) -> list[str]:
        known = self._terms
        words = _WORD.findall(fold_marks(text, self.code).casefold())
        try:
            return list(filter(None, map(known.__getitem__, words)))
        except KeyError:
            pass
        for word in set(words).difference(known):
            known[word] = self._term(_normalize(word))
        if len(known) > TERM_CACHE:
            self._terms = {}  # a new dict, not clear(): another thread may be reading this one
        return list(filter(None, map(known.__getitem__, words)))

    def joined_terms(self, text: str) -> str:
        """`" ".join(self.terms(text))`: what the archive stores of a passage or a title. An ASCII
        text is cut into runs by one `bytes.translate` and `split`, and each run's terms are
        remembered, so that the word pattern runs only on runs not seen before."""
        if not text.isascii():
            return " ".join(self.terms(text))
        if self._reads_acronyms(text):
            text = _dotted(text)  # before the capitals are made small: "US" is "U.S."
        known = self._runs
        joined = " ".join(filter(None, map(known.__getitem__, text.encode("ascii").translate(_ASCII_RUNS).split())))
        if len(known) > TERM_CACHE:
            self._runs = _Remembered(self._joined_run)  # a new dict, not clear(), as in `terms`
        return joined

    def _joined_run(self, run: bytes) -> str:
        return " ".join(self.terms(run.decode("ascii")))

    def term_spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where `text` holds its terms: (start, end, term) for each word that is no stopword,
        its offsets those of `text` itself (the verbatim text, not its case folding)."""
        spans = []
        known = self._terms
        acronyms = self._reads_acronyms(text)  # decided by the whole text, not by a word alone
        for match in _WORD.finditer(text):
            word = match.group()
            if acronyms and _CAPITAL_ACRONYMS.match(word):
                terms = self._analyzed(_dotted(word))
                spans += [(match.start(), match.end(), term) for term in terms]
                continue
            # an ASCII word is its own folded form: its term is looked up, not analyzed again
            cached = known.get(word.casefold()) if word.isascii() else None
            if cached is None:
                terms = self._analyzed(word)
            else:
                terms = [cached] if cached else []  # "" marks a stopword
            spans += [(match.start(), match.end(), term) for term in terms]
        return spans

    def _term(self, word: str) -> str:
        """The term of a case-folded word whose marks are folded (`fold_marks`), "" for a stopword."""
        if self._elision:
            word = self._elision.sub("", word, count=1)
        if self._contraction and word not in self.stopwords:
            word = self._contraction.sub("", word)
        folded = fold_letters(word, self.code)
        if _DOTTED.fullmatch(folded) and folded not in _KEEP_DOTTED and \
                (bare := folded.replace(".", "")) not in self.stopwords:
            folded = bare  # "u.n", "u.k" are "un", "uk"; "u.s" stays, as "us" is a stopword
        if folded in self.stopwords:
            return ""
        if not folded.isalpha():
            return self.prefix + folded
        if self.lemmatized:  # looked up before its letters fold: the dictionaries spell words the standard way
            folded = fold_letters(self._lemma(word), self.code)
        return self.prefix + self._stem(folded)

    def _lemma(self, word: str) -> str:
        # the memory-frugal dictionaries: ~9 MB a language against ~70 MB, lookups as fast here
        return simplemma.lemmatize(word, lang=self.code, low_memory=True).casefold()

    def warm_up(self) -> None:
        """Load what analyzing needs (a language's lemma dictionary, ~0.6 s), so that the first
        question in the language does not wait for it."""
        if self.lemmatized:
            self._lemma("a")

    def __reduce__(self) -> tuple:
        """Pickled as its settings (for worker processes), without its cache."""
        return type(self), (self.language, bool(self.stopwords), self.prefix)

    def is_stopword(self, word: str) -> bool:
        return self._term(_normalize(fold(word, self.code).casefold())) == ""


def _dotted(text: str) -> str:
    """`text` with "US" and "WHO" written as "U.S." and "W.H.O." (`_DOTTED_FORMS`)."""
    return _CAPITAL_ACRONYMS.sub(lambda match: _DOTTED_FORMS[match.group()], text)


class _Remembered(dict):
    """A dict that computes a missing key's value with `compute` and keeps it: looked up through
    `map`, the hits never leave compiled code and a miss costs one call."""

    def __init__(self, compute: Callable[[bytes], str]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key: bytes) -> str:
        value = self[key] = self.compute(key)
        return value


class Analyzers:
    """An archive's analyzers, one per language: `main`'s terms bare, the others' prefixed with
    their language's code. With `detect=False` every text is taken to be in the main language."""

    def __init__(self, language: str = "english", stopwords: bool = True, detect: bool = True) -> None:
        self.main = Analyzer(language, stopwords)
        self.stopwords, self.detect = stopwords, detect
        self._of: dict[str, Analyzer] = {self.main.code: self.main}

    @property
    def key(self) -> str:
        """Identifies the analysis of a whole archive, as `Analyzer.key` does one language's."""
        return self.main.key + (f"|languages:{LEMMAS}" if self.detect else "")

    def warm_up(self, codes: Collection[str]) -> None:
        """Load what analyzing an archive of the languages `codes` needs: each one's lemma
        dictionary (`Analyzer.warm_up`) and, for more than one, the language identifier that
        tells some questions' languages apart."""
        codes = [code for code in codes if code]
        for code in codes:
            self.of(code).warm_up()
        if self.detect and len(codes) > 1:
            languages.load_identifier()

    def of(self, code: str) -> Analyzer:
        """The analyzer of language `code`."""
        if code not in self._of:
            self._of[code] = Analyzer(code, self.stopwords, prefix=f"{code}:")
        return self._of[code]

    def language_of(self, text: str, declared: str | None = None,
                    among: Collection[str] | None = None) -> str:
        """The language a story (or a question) is analyzed in: `declared` when it is one this
        archive can analyze, else detected from `text`, limited to `among` where given."""
        if not self.detect:
            return self.main.code
        if declared:
            try:
                return languages.language_code(declared)
            except ValueError:
                pass
        return languages.detect(text, self.main.code, self.main.stopwords, among)

    def story_language(self, title: str, body: str, declared: str | None) -> str:
        """The language a story is analyzed in: the one its record declares, else its title's
        and its body's opening."""
        return self.language_of(f"{title}\n{body[:languages.SAMPLE_CHARS]}", declared)

    def __reduce__(self) -> tuple:
        return type(self), (self.main.language, self.stopwords, self.detect)


def _language(language: str) -> tuple[str, str | None]:
    """(ISO code, Snowball stemmer) for a language given by code or by stemmer name."""
    if language in snowballstemmer.algorithms():
        try:
            return languages.language_code(language), language
        except ValueError:  # a stemmer that is no language: porter
            return language, language
    code = languages.language_code(language)
    return code, languages.snowball_name(code)


def _stopwords(code: str) -> frozenset[str]:
    """The language's stopwords, folded as its words are; none where no usable list exists."""
    if code in STOPWORDS:
        return STOPWORDS[code]
    if code in UNUSABLE_STOPWORDS or not stopwordsiso.has_lang(code):
        return frozenset()
    # stopwords-iso lists numerals as digits too ("0".."9" in Spanish): numbers are never stopwords
    return frozenset(_normalize(fold(word, code).casefold()) for word in stopwordsiso.stopwords(code)
                     if not any(c.isdigit() for c in word) and any(c.isalpha() for c in word))


def _normalize(word: str) -> str:
    word = word.replace("’", "'").rstrip(".")
    return word[:-2] if word.endswith("'s") else word
