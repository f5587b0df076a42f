"""Which language a text is in, and how its letters are folded before it is cut into words.

Languages are ISO 639-1 codes ("en", "ru", "fa"). A text's language is read from its script
first (Cyrillic; Arabic script tells Urdu and Persian from Arabic by the letters only they use:
Urdu's ٹ ڈ ڑ ں ے ھ, Persian's پ چ ژ گ and its own kaf and yeh, ک ی, which Urdu shares),
then, for a Latin text, from how many of the archive's main language's stopwords it holds, and
only then from py3langid, a language identifier that ships its model in the wheel (chosen over
lingua and pycld2 by the figures in bench/README.md, "Telling languages apart").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from functools import lru_cache

import snowballstemmer
from babel import Locale, UnknownLocaleError

ENGLISH = "en"
UNSTEMMED = frozenset({"ur"})
"""Languages analyzed although Snowball has no stemmer for them: their words are kept whole."""

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_URDU_LETTERS = re.compile(r"[\u0679\u0688\u0691\u06ba\u06d2\u06be]")  # ٹ ڈ ڑ ں ے ھ
_PERSIAN_LETTERS = re.compile(r"[\u067e\u0686\u0698\u06af\u06a9\u06cc]")  # پ چ ژ گ, and ک ی for Arabic's ك ي
_WORDS = re.compile(r"[^\W\d_]+")
_ASCII_LETTERS = bytes(c if 97 <= c <= 122 else c + 32 if 65 <= c <= 90 else 32 for c in range(256))
"""A `bytes.translate` table: an ASCII text's letters made small and every other character a
space, so that `split` gives its `_WORDS` in lower case (every story is sampled: no regex)."""
SAMPLE_CHARS = 600
"""How much of a text its language is read from: enough for py3langid on every story of the
development sets (bench/README.md), and a fraction of a long story's cost."""
STOPWORD_SHARE = 0.12
"""A Latin text of LONG_TEXT words or more at least this share of whose first words are the main
language's stopwords is in that language: English prose runs near 0.45 and a Reuters table of
figures above 0.12 in six stories of seven; French, Spanish and German stories stay below 0.09."""
SHORT_TEXT_SHARE = 0.25
"""The same for a shorter text (a question): a dozen French words hold 0.2 of English ones ("a",
"en", "t")."""
LONG_TEXT = 30
CONFIDENCE = 0.9
"""Below this probability py3langid's verdict is not taken, and the main language is."""


def snowball_name(code: str) -> str | None:
    """Snowball's name for the stemmer of language `code` ("ru" -> "russian"), None if it has none."""
    name = _english_names().get(code, "").lower()
    return name if name in snowballstemmer.algorithms() else None


@lru_cache(maxsize=1)
def _english_names() -> dict[str, str]:
    """Languages' English names by code, as Babel's English locale writes them."""
    return dict(Locale("en").languages)


@lru_cache(maxsize=None)
def language_code(name: str) -> str:
    """The ISO code of a language given by code or by its English name ("russian" -> "ru")."""
    name = name.strip().lower()
    if supported(name):
        return name
    for code, english in _english_names().items():
        if english.lower() == name and supported(code):
            return code
    raise ValueError(f"no analysis for language {name!r}: use one of {', '.join(sorted(analyzable()))}")


def supported(code: str) -> bool:
    """Whether texts in language `code` can be analyzed (without loading the identifier: a
    process that only answers in one language never needs it)."""
    return code in UNSTEMMED or snowball_name(code) is not None


@lru_cache(maxsize=1)
def analyzable() -> frozenset[str]:
    """The languages py3langid can tell and this archive can analyze (`supported`)."""
    return frozenset(_identifier().nb_classes)


def language_name(code: str, locale: str = ENGLISH) -> str:
    """The language's name as `locale` writes it ("ru" in "en" -> "Russian")."""
    try:
        return Locale.parse(code).get_display_name(locale) or code
    except (ValueError, UnknownLocaleError):
        return code


def detect(text: str, primary: str = ENGLISH, stopwords: Collection[str] = (),
           among: Iterable[str] | None = None) -> str:
    """The language of `text`: `primary` unless its script or its words say otherwise.
    `stopwords` are the primary language's; `among` limits the answer to those languages."""
    sample = text[:SAMPLE_CHARS]
    allowed = analyzable() if among is None else frozenset(among) & analyzable()
    script = _script(sample)
    if script == "arabic":
        return _arabic_script_language(sample, allowed, primary)
    if script == "latin" and _mostly_stopwords(sample, stopwords):
        return primary
    candidates = [code for code in allowed if script == "other" or script_of(code) == script]
    if len(candidates) <= 1:
        return candidates[0] if candidates else primary
    return _identify(sample, candidates, primary)


def text_script(text: str) -> str:
    """The script most of `text`'s letters are in: latin, cyrillic, arabic or other."""
    return _script(text[:SAMPLE_CHARS])


def _script(text: str) -> str:
    """The script most of the text's letters are in: latin, cyrillic, arabic or other."""
    if text.isascii():  # most of an English archive: no letter to count
        return "latin" if _LATIN.search(text) else "other"
    counts = {"latin": len(_LATIN.findall(text)), "cyrillic": len(_CYRILLIC.findall(text)),
              "arabic": len(_ARABIC_SCRIPT.findall(text))}
    script, count = max(counts.items(), key=lambda item: item[1])
    return script if count else "other"


@lru_cache(maxsize=None)
def script_of(code: str) -> str:
    """The script a language is written in (latin, cyrillic, arabic or other), read off its name
    in its own language."""
    try:
        own = Locale.parse(code).get_display_name(code) or ""
    except (ValueError, UnknownLocaleError):
        return "other"
    return _script(own)


@lru_cache(maxsize=None)
def right_to_left(code: str) -> bool:
    """Whether a language (an ISO code, "ar" or "ar-SA") is written right to left, as Babel's
    locale data says."""
    try:
        return Locale.parse(code.replace("-", "_")).character_order == "right-to-left"
    except (ValueError, TypeError, AttributeError, UnknownLocaleError):
        return False


def _arabic_script_language(text: str, allowed: frozenset[str], primary: str) -> str:
    for code, letters in (("ur", _URDU_LETTERS), ("fa", _PERSIAN_LETTERS), ("ar", None)):
        if code in allowed and (letters is None or letters.search(text)):
            return code
    return primary


def _mostly_stopwords(text: str, stopwords: Collection[str], first: int = 60) -> bool:
    sample = text[:8 * first]
    # the same words: in ASCII, `_WORDS` matches the runs of letters and casefold is lower
    words = (_ascii_words(sample) if sample.isascii() else _WORDS.findall(sample.casefold()))[:first]
    share = STOPWORD_SHARE if len(words) >= LONG_TEXT else SHORT_TEXT_SHARE
    return bool(words) and sum(map(stopwords.__contains__, words)) >= share * len(words)


def _ascii_words(text: str) -> list[str]:
    """`_WORDS.findall(text.casefold())` of an ASCII text."""
    return text.encode("ascii").translate(_ASCII_LETTERS).decode("ascii").split()


def _identify(text: str, candidates: list[str], primary: str) -> str:
    ranked = _identifier().rank(text)
    chosen = [(code, p) for code, p in ranked if code in candidates]
    total = sum(p for _, p in chosen)
    if not chosen or total <= 0:
        return primary
    code, probability = chosen[0]
    return code if probability / total >= CONFIDENCE or primary not in candidates else primary


def load_identifier() -> None:
    """Load py3langid's model now (0.5 s), so that the first question of an archive of several
    languages does not wait for it."""
    _identifier()


@lru_cache(maxsize=1)
def _identifier():
    """py3langid's identifier, loaded once per process on first use (0.5 s, 80 MB), choosing
    among the languages this archive can analyze (fewer to score, none it could not use)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([code for code in identifier.nb_classes if supported(code)])
    return identifier


# ---- folding: what is the same letter for searching, per language ----

_DIGITS = {**{0x0660 + i: str(i) for i in range(10)}, **{0x06F0 + i: str(i) for i in range(10)},
           0x066B: ".", 0x066C: ","}  # Arabic-Indic and Persian digits, Arabic decimal and thousands marks
_ARABIC_MARKS = {c: None for c in [*range(0x064B, 0x0660), 0x0670, 0x0640]}  # harakat, superscript alef, tatweel
_ZWNJ = {0x200C: " "}  # Persian and Urdu write a non-joiner inside words; people type a space
_MARKS = {"ar": {**_DIGITS, **_ARABIC_MARKS}, "fa": {**_DIGITS, **_ARABIC_MARKS, **_ZWNJ},
          "ur": {**_DIGITS, **_ARABIC_MARKS, **_ZWNJ}, "ru": {}}
"""What is folded before a text is split into words (a mark or a non-joiner may join or split
them): digits, vowel marks and tatweel, non-joiners."""
_LETTERS = {
    "ar": {ord("ی"): "ي", ord("ى"): "ي", ord("ک"): "ك", ord("ة"): "ه", ord("أ"): "ا", ord("إ"): "ا", ord("آ"): "ا",
           ord("ٱ"): "ا"},
    "fa": {ord("ي"): "ی", ord("ى"): "ی", ord("ك"): "ک", ord("ة"): "ه", ord("أ"): "ا", ord("إ"): "ا", ord("ٱ"): "ا",
           ord("ۀ"): "ه"},
    "ur": {ord("ي"): "ی", ord("ى"): "ی", ord("ك"): "ک", ord("ة"): "ہ", ord("ه"): "ہ", ord("أ"): "ا",
           ord("إ"): "ا", ord("ٱ"): "ا"},
    "ru": {ord("ё"): "е", ord("Ё"): "Е"},
}
"""The letters a language writes in several ways, each written one way: folded word by word,
after a word's lemma is looked up (the lemma dictionaries spell words the standard way)."""
_MARKS_ANY = _DIGITS  # other languages still read those digits as numbers


def fold(text: str, code: str) -> str:
    """`text` in Unicode's compatibility form (NFKC) with the letters that language `code`
    writes in several ways written one way, for matching words, never for showing them."""
    return fold_letters(fold_marks(text, code), code)


def fold_marks(text: str, code: str) -> str:
    """The part of `fold` that may change where words begin and end: NFKC, digits, vowel
    marks, tatweel and non-joiners; `fold_letters` of its words completes it."""
    if text.isascii():
        return text  # NFKC and every fold leave ASCII as it is
    return unicodedata.normalize("NFKC", text).translate(_MARKS.get(code, _MARKS_ANY))


def fold_letters(text: str, code: str) -> str:
    """The letter variants of `fold`, on a text `fold_marks` has folded."""
    if text.isascii() or code not in _LETTERS:
        return text
    return text.translate(_LETTERS[code])
