"""Distinct copies of the source stories: the same shape, different words.

Copy 0 is the source itself, byte for byte (so the quality anchors, which name Reuters stories,
still hold). In every later copy `c`, each word of each title and body (a run of letters and
digits, as `WORD` finds it; the text between words, with its spaces, punctuation and line breaks,
is kept, so paragraphs stay where they were) is drawn again, independently:

- with probability `RESAMPLED` (30%) it becomes a word drawn from the source's own word
  frequencies (a uniformly chosen word occurrence of the whole source: its unigram distribution,
  case as written);
- with probability `RARE` (1%) it becomes a new rare word, a synthetic token made of consonants
  only (no stopword, nothing a stemmer strips), `RARE_PREFIX` then the base-19 digits of a number
  drawn uniformly among `rare words per copy` numbers of that copy's own: each appears about once,
  in its copy only, so the vocabulary grows with the copies (about 18,000 new terms a copy);
- otherwise it stays.

Deterministic: copy `c` draws from `numpy.random.default_rng((SEED, c))`, whatever the other copies
do or how many processes make them. Sentence boundaries may move a little (a word drawn before a
full stop may be an abbreviation), so a copy's passage count differs slightly from the source's;
the corpus counts each story's passages as the archive cuts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

WORD = re.compile(r"[^\W_]+")
RESAMPLED = 0.30
RARE = 0.01
SEED = 18
RARE_PREFIX = "zq"
_RARE_LETTERS = np.array(list("bcdfghjklmnpqrtvwxz"))
_RARE_DIGITS = 6  # 19**6 = 47 M numbers: enough for a thousand copies of the source


@dataclass(frozen=True)
class Words:
    """The source's titles and bodies cut into words and the text between them.

    `pieces` holds, for every text in turn, gap, word, gap, ..., word, gap (an object array of
    str); `words` is the positions in `pieces` that hold words; `texts[i]` is the slice of pieces
    of text i (a story's title is text 2j, its body 2j + 1)."""

    pieces: np.ndarray
    words: np.ndarray
    texts: np.ndarray   # (count, 2): start and end in `pieces`


def cut(texts: list[str]) -> Words:
    """The words of `texts` and the text between them."""
    pieces: list[str] = []
    words: list[int] = []
    bounds = np.empty((len(texts), 2), dtype=np.int64)
    for i, text in enumerate(texts):
        bounds[i, 0] = len(pieces)
        parts = WORD.split(text)  # no capturing group: the gaps only
        found = WORD.findall(text)
        for gap, word in zip(parts, found):
            pieces.append(gap)
            words.append(len(pieces))
            pieces.append(word)
        pieces.append(parts[-1])
        bounds[i, 1] = len(pieces)
    array = np.empty(len(pieces), dtype=object)
    array[:] = pieces
    return Words(array, np.asarray(words, dtype=np.int64), bounds)


def rare_words(numbers: np.ndarray) -> np.ndarray:
    """The synthetic rare word of each number: `RARE_PREFIX` and its base-19 consonant digits."""
    digits = (numbers[:, None] // 19 ** np.arange(_RARE_DIGITS - 1, -1, -1)) % 19
    letters = np.ascontiguousarray(_RARE_LETTERS[digits])
    return np.char.add(RARE_PREFIX, letters.view(f"<U{_RARE_DIGITS}").ravel())


def copy_texts(source: Words, copy: int) -> list[str]:
    """The texts of copy `copy` (0: the source's own)."""
    pieces = source.pieces
    if copy > 0:
        pieces = pieces.copy()
        count = len(source.words)
        rng = np.random.default_rng((SEED, copy))
        draw = rng.random(count)
        resampled = source.words[(draw >= RARE) & (draw < RARE + RESAMPLED)]
        pieces[resampled] = source.pieces[source.words[rng.integers(0, count, len(resampled))]]
        rare = source.words[draw < RARE]
        per_copy = max(1, round(count * RARE))
        numbers = copy * per_copy + rng.integers(0, per_copy, len(rare))
        pieces[rare] = rare_words(numbers).astype(object)
    return ["".join(pieces[start:end].tolist()) for start, end in source.texts]
