"""Which of a question's words are names, read from how the archive writes them, and which
stories name them.

A word the archive writes with a capital inside its sentences ("Finland", "Tesla", "NATO") is a
name: a story that never names it tells of something else, however well it matches the rest of
the question ("Can Russia stop Finland joining NATO?" is not answered by a story on Ukraine).
Questions are often typed in lower case, so the archive's own text decides, not the question's:
a few of the stories holding the word are read and its occurrences counted. The best matching
story names a name when it holds a word beginning with the name's first letters ("Egypt" for
"Egyptian", "Bolivian" for "Bolivia's"); when it does not, the stories cited must hold the word.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache

import numpy as np

from retrieval.snapshot import Snapshot
from retrieval.text.analysis import Analyzer
from retrieval.text.dates import calendar_names

SAMPLE = 4
"""How many stories holding a word are read to tell whether the archive writes it as a name."""
NAME_SHARE = 0.8
"""A word is a name when at least this share of its occurrences inside sentences is capitalised."""
KEY_SHARE = 0.15
"""A name the cited story must hold carries at least this share of the question's term weight:
a common one ("American", in a sixteenth of Reuters' stories) is background, not the subject
(chosen on the development split, bench/README.md "Names asked")."""
FAINT = SAMPLE
"""A word the question writes in lower case, that at most this many stories hold and only as an
acronym, need not be named by the answer when no matching story names it: the archive's "GF" and
"APP" (a company, a news agency) are not the question's "gf" and "app"."""
ACRONYM = 5
"""The longest word read as initials that a story may write out instead (`spellings_out`)."""
STEM = 5
"""A name's first letters that its other forms share (Egypt, Egyptian; Bolivia, Bolivian)."""
NOUNS_CAPITALISED = frozenset({"de", "lb"})
"""Languages that capitalise every noun (German, Luxembourgish): capitals tell no names there."""
_SENTENCE_OPENERS = ".!?:;\"“”«»„‘'()[]—–-•*\n"


def key_terms(terms: Iterable[str], weights: Mapping[str, float], analyzer: Analyzer) -> list[str]:
    """Those of a question's `terms` (its own, not their alternatives) that could be names it
    is about: weighing KEY_SHARE of the question or more, and not a month or a weekday
    (capitalised in English, but dates); none in a language that capitalises every noun."""
    if analyzer.code in NOUNS_CAPITALISED:
        return []
    terms = list(dict.fromkeys(terms))
    total = sum(max(0.0, weights.get(t, 0.0)) for t in terms)
    return [t for t in terms if len(t) >= 2 and weights.get(t, 0.0) >= KEY_SHARE * total
            and t not in _calendar_terms(analyzer)]


def name_sample(snapshot: Snapshot, term: str, size: int = SAMPLE) -> list[str]:
    """The ids of `size` stories holding `term`, spread over the archive: what `written_as_name` reads."""
    return [snapshot.stories.ids[s] for s in _sample(snapshot.stories_with(term), size)]


def written_as_name(term: str, bodies: Iterable[str], analyzer: Analyzer) -> bool:
    """Whether `bodies` write `term` with a capital inside their sentences, NAME_SHARE of the
    times or more."""
    written = _inside_sentences(term, bodies, analyzer)
    return bool(written) and sum(word[0].isupper() for word in written) >= NAME_SHARE * len(written)


def written_in_capitals(term: str, bodies: Iterable[str], analyzer: Analyzer) -> bool:
    """Whether `bodies` write `term`, every time inside their sentences, in capitals only: an
    acronym or a ticker ("GF", "APP")."""
    written = _inside_sentences(term, bodies, analyzer)
    return bool(written) and all(word.isupper() for word in written)


def _inside_sentences(term: str, bodies: Iterable[str], analyzer: Analyzer) -> list[str]:
    """The words of `bodies` whose term is `term`, as written, where no sentence opens with them."""
    # only the words that begin as the term does are analyzed: a body has thousands
    begins = re.compile(rf"(?<!\w){re.escape(term[len(analyzer.prefix):][:2])}\w*", re.IGNORECASE)
    return [match.group() for body in bodies for match in begins.finditer(body)
            if analyzer.terms(match.group()) == [term] and not _opens_sentence(body, match.start())]


def named_in(term: str, held: Collection[str]) -> bool:
    """Whether a story holding the terms `held` names `term`: it holds it, or a word beginning
    with its first letters."""
    return term in held or (len(term) >= STEM and any(t.startswith(term[:STEM]) for t in held))


def may_be_initials(term: str) -> bool:
    """Whether `term` may be initials a story writes out (`spellings_out`)."""
    return _spelling_out(_letters(term)) is not None


def spellings_out(term: str, text: str) -> set[str]:
    """The runs of capitalised words in `text` whose initials a short `term` spells: "Prime
    Minister" for "pm", "Bank for International Settlements" for "bis" ("for", "of", "the"
    between them skipped), on one line."""
    pattern = _spelling_out(_letters(term))
    return {match.group() for match in pattern.finditer(text)} if pattern else set()


def _letters(term: str) -> str:
    return term.rpartition(":")[2].replace(".", "")


@lru_cache(maxsize=1024)
def _spelling_out(letters: str) -> re.Pattern | None:
    if not (2 <= len(letters) <= ACRONYM and letters.isalpha()):
        return None
    joined = r"[ \t]+(?:(?:of|for|the|de|du|des|la|le)[ \t]+)*".join(rf"{re.escape(c.upper())}[^\W\d_]+" for c in letters)
    return re.compile(rf"(?<!\w){joined}(?!\w)")


def _sample(holding: np.ndarray, size: int = SAMPLE) -> np.ndarray:
    """Up to `size` positions of `holding`'s true entries, spread over it."""
    found = np.flatnonzero(holding)
    if len(found) <= size:
        return found
    return found[np.linspace(0, len(found) - 1, size).astype(int)]


@lru_cache(maxsize=None)
def _calendar_terms(analyzer: Analyzer) -> frozenset[str]:
    return frozenset(term for name in calendar_names(analyzer.code) for term in analyzer.terms(name))


def _opens_sentence(text: str, start: int) -> bool:
    before = text[max(0, start - 8):start].rstrip(" \t")  # a bounded look-back: bodies are long
    return not before or before[-1] in _SENTENCE_OPENERS
