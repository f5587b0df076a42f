"""Words of a question the archive does not hold: their spelling variants in the archive's own
vocabulary (Zelenskyy for Zelensky, Qaddafi for Gaddafi), found by edit distance with rapidfuzz,
or the known stem the word begins with ("djokov" for "djokovich").

A variant of a word the question writes in lower case is a guess (`Query.guessed`): "gunman"
may be no misspelt "Gunma", so the variant is searched but never required as a name, and an
answer whose story lacks it says the word was left out.

Only words the archive never holds are looked up (a scan of the vocabulary, some milliseconds at
a million passages), so a question whose words are all known costs nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from retrieval.answer.query import Query, words_with
from retrieval.text.analysis import Analyzer

MIN_LENGTH = 5
"""Shorter words have too many neighbours one edit away to tell a variant from another word."""
MAX_VARIANTS = 2
TRUNCATED = 3
"""How many letters longer than a known stem an unknown word may run and still be read as it."""


def variants(term: str, vocabulary: Sequence[str]) -> list[str]:
    """The terms of `vocabulary` that spell `term` another way, in its language: at most one edit
    in four letters (one for five to seven letters, two from eight), not numbers, at most
    MAX_VARIANTS, closest first."""
    language, _, bare = term.rpartition(":")  # the main language's terms have no prefix
    if not _spellable(bare):
        return []
    edits = max(1, len(bare) // 4)
    found = process.extract(term, vocabulary, scorer=Levenshtein.distance, score_cutoff=edits,
                            limit=MAX_VARIANTS * 4)
    close = [(distance, word) for word, distance, _ in found
             if word != term and (split := word.rpartition(":"))[0] == language and _spellable(split[2])]
    return [word for _, word in sorted(close)[:MAX_VARIANTS]]


def truncations(term: str, known: Callable[[str], bool]) -> list[str]:
    """The longest known term that `term` begins with, at most TRUNCATED letters shorter and
    MIN_LENGTH long or more: the stem the archive keeps of a name spelt longer ("djokov", of
    "Djokovic", for "djokovich"), which edit distance to the whole stem misses."""
    language, _, bare = term.rpartition(":")
    if not _spellable(bare):
        return []
    prefix = f"{language}:" if language else ""
    for length in range(len(bare) - 1, max(MIN_LENGTH, len(bare) - TRUNCATED) - 1, -1):
        if known(prefix + bare[:length]):
            return [prefix + bare[:length]]
    return []


def _spellable(word: str) -> bool:
    return len(word) >= MIN_LENGTH and word.isalpha()


def respelled(query: Query, known: Callable[[str], bool], vocabulary: Callable[[], Sequence[str]],
              analyzer: Analyzer) -> tuple[Query, list[str]]:
    """`query` with each term the archive does not hold (`known` says), and no related word or
    alternative of which it holds, searched as its spelling variants instead (the closest
    standing for it, the others its alternatives), or left out when it has none (then
    `missing`: it still counts against a story's coverage), in its subject and speaker too;
    and the question's words left out. `vocabulary` gives the
    archive's terms, asked for only when a term is unknown."""
    stands_for = {word: term for word, term in (query.related | query.alternatives).items() if known(word)}
    unknown = [t for t in dict.fromkeys(query.terms) if not known(t) and t not in stands_for.values()]
    if not unknown:
        return query, []
    held = vocabulary()
    found = {term: variants(term, held) or truncations(term, known) for term in unknown}
    dropped = set(unknown)
    own = [t for t in query.terms if t not in dropped and t not in query.alternatives]
    alternatives = {a: t for a, t in query.alternatives.items() if a not in dropped}
    guessed: dict[str, str] = {}
    spelt = {term: spellings[0] for term, spellings in found.items() if spellings}
    for term, spellings in found.items():
        spellings = [s for s in spellings if s not in own and s not in alternatives]
        if spellings:  # the closest stands for the word asked, the others are its alternatives
            own.append(spellings[0])
            alternatives.update((other, spellings[0]) for other in spellings[1:])
            written = words_with(query.text, {term}, analyzer)
            if written and not any(word[0].isupper() for word in written):
                guessed[spellings[0]] = written[0]
    terms = own + list(alternatives)
    gone = {t for t, spellings in found.items() if not spellings}
    words = words_with(query.text, gone, analyzer)
    return replace(query, terms=terms, alternatives=alternatives, missing=sorted(gone), guessed=guessed,
                   names=[n for n in query.names if not set(analyzer.terms(n)) & dropped],
                   topic=_respelt(query.topic, spelt, gone), speaker=_respelt(query.speaker, spelt, gone)), words


def _respelt(terms: list[str], spelt: dict[str, str], gone: set[str]) -> list[str]:
    """`terms` (of the question's subject, of its speaker) each as searched: its spelling
    variant for one the archive never holds, none for one left out (the note says so)."""
    return list(dict.fromkeys(spelt.get(term, term) for term in terms if term not in gone))
