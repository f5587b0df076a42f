"""Inverted lists: for each term, the passages that hold it and how often, in compressed-row form.

Built with numpy sorts over whole arrays rather than a counter per passage: an archive of a
million passages holds some 25 million postings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, islice

import numpy as np

CHUNK = 50_000
"""Passages turned into term ids at a time (bounds the memory of the split strings)."""


@dataclass(frozen=True)
class Postings:
    """Inverted lists in compressed-row form: term t's passages are docs[offsets[t]:offsets[t+1]],
    ascending, with their term frequencies in `tfs`."""

    terms: list[str]
    offsets: np.ndarray      # int64, len(terms) + 1
    docs: np.ndarray         # int32, passage positions
    tfs: np.ndarray          # int32
    doc_lengths: np.ndarray  # int32, tokens per passage

    @classmethod
    def from_documents(cls, documents: Iterable[Sequence[str]]) -> Postings:
        """From token lists, one per passage."""
        vocabulary = Vocabulary()
        ids, lengths = [], []
        documents = iter(documents)
        while chunk := list(islice(documents, CHUNK)):
            ids.append(vocabulary.ids_of(list(chain.from_iterable(chunk))))
            lengths.append(np.fromiter(map(len, chunk), dtype=np.int32, count=len(chunk)))
        return cls.from_token_ids(vocabulary.terms, _joined(ids, np.int32), _joined(lengths, np.int32))

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> Postings:
        """From space-separated terms, one string per passage (as the store keeps them)."""
        vocabulary = Vocabulary()
        ids, lengths = [], []
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start:start + CHUNK]
            joined = "\n".join(chunk)
            tokens = joined.split()
            counts = _words_per_line(joined, len(chunk))
            if counts.sum() != len(tokens):  # other whitespace than single spaces: split each
                return cls.from_documents(text.split() for text in texts)
            ids.append(vocabulary.ids_of(tokens))
            lengths.append(counts)
        return cls.from_token_ids(vocabulary.terms, _joined(ids, np.int32), _joined(lengths, np.int32))

    @classmethod
    def from_token_ids(cls, terms: list[str], token_ids: np.ndarray, lengths: np.ndarray) -> Postings:
        """From every passage's tokens as ids into `terms`, passage after passage (`lengths`)."""
        doc = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        # one sort of (term, passage) pairs: equal pairs are a posting's occurrences, and the
        # postings come out grouped by term with passages ascending
        pairs = (token_ids.astype(np.int64) << 32) | doc
        pairs.sort()
        first = np.flatnonzero(np.concatenate([pairs[:1] == pairs[:1], pairs[1:] != pairs[:-1]]))
        tfs = np.diff(np.append(first, len(pairs))).astype(np.int32)
        pairs = pairs[first]
        offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(pairs >> 32, minlength=len(terms)), out=offsets[1:])
        return cls(terms, offsets, (pairs & 0xFFFFFFFF).astype(np.int32), tfs, lengths.astype(np.int32))

    @property
    def term_of_posting(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(self.offsets))

    def without(self, keep: np.ndarray) -> Postings:
        """These postings with only the passages where `keep` is true, renumbered in order;
        terms left without passages are dropped."""
        if keep.all():
            return self
        renumber = np.cumsum(keep, dtype=np.int64) - 1
        kept = keep[self.docs]
        term_ids = self.term_of_posting[kept]
        counts = np.bincount(term_ids, minlength=len(self.terms))
        alive = counts > 0
        offsets = np.zeros(int(alive.sum()) + 1, dtype=np.int64)
        np.cumsum(counts[alive], out=offsets[1:])
        terms = [term for term, live in zip(self.terms, alive.tolist()) if live]
        return Postings(terms, offsets, renumber[self.docs[kept]].astype(np.int32),
                        self.tfs[kept], self.doc_lengths[keep])

    def plus(self, other: Postings) -> Postings:
        """These postings with `other`'s passages appended after the existing ones: each term's
        new postings go after its old ones, placed by offset arithmetic, without a sort."""
        known = {term: i for i, term in enumerate(self.terms)}
        terms = self.terms + [term for term in other.terms if term not in known]
        known.update((term, i) for i, term in enumerate(terms[len(self.terms):], len(self.terms)))
        target = np.fromiter(map(known.__getitem__, other.terms), dtype=np.int64, count=len(other.terms))
        old_counts = np.zeros(len(terms), dtype=np.int64)
        old_counts[:len(self.terms)] = np.diff(self.offsets)
        new_counts = np.zeros(len(terms), dtype=np.int64)
        new_counts[target] = np.diff(other.offsets)
        offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(old_counts + new_counts, out=offsets[1:])
        # a new posting goes after its term's old ones and the postings of the terms before it;
        # the old postings fill the other places in their order
        new_at = np.arange(len(other.docs), dtype=np.int64) + np.repeat(
            offsets[target] + old_counts[target] - other.offsets[:-1], np.diff(other.offsets))
        is_new = np.zeros(len(self.docs) + len(other.docs), dtype=bool)
        is_new[new_at] = True
        docs = np.empty(len(is_new), dtype=np.int32)
        tfs = np.empty(len(is_new), dtype=np.int32)
        docs[new_at], tfs[new_at] = other.docs + len(self.doc_lengths), other.tfs
        is_old = ~is_new
        docs[is_old], tfs[is_old] = self.docs, self.tfs
        return Postings(terms, offsets, docs, tfs, np.concatenate([self.doc_lengths, other.doc_lengths]))


class Vocabulary:
    """Terms numbered in the order first seen."""

    def __init__(self) -> None:
        self._ids: defaultdict[str, int] = defaultdict()
        # an unseen term gets the next number, inside the dict lookup: no Python code per token
        self._ids.default_factory = self._ids.__len__

    @property
    def terms(self) -> list[str]:
        return list(self._ids)

    def ids_of(self, tokens: Sequence[str]) -> np.ndarray:
        """`tokens` as ids (int32), new terms numbered after the known ones."""
        return np.fromiter(map(self._ids.__getitem__, tokens), dtype=np.int32, count=len(tokens))


def _words_per_line(text: str, lines: int) -> np.ndarray:
    """Space-separated words on each of the `lines` lines of `text` (no empty words assumed)."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    ends = np.append(np.flatnonzero(data == 10), len(data))
    starts = np.concatenate([[0], ends[:-1] + 1])
    spaces = np.searchsorted(np.flatnonzero(data == 32), ends)
    counts = np.diff(np.concatenate([[0], spaces])) + 1
    counts[ends == starts] = 0
    return counts.astype(np.int32)[:lines]


def _joined(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)
