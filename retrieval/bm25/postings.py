"""Inverted lists: for each term, the passages that hold it and how often, in compressed-row form.

Built in compiled loops over whole arrays rather than a counter per passage: an archive of a
million passages holds some 15 million postings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, islice

import numpy as np

from retrieval.bm25 import mapped
from retrieval.bm25.building import (DONE, EMPTY, FULL, appended, appended_offsets, inverted_lists, rehashed,
                                     scan_terms)
from retrieval.bm25.strings import NOT_FOUND, Strings

CHUNK = 50_000
"""Passages turned into term ids at a time (bounds the memory of their joined text)."""


@dataclass(frozen=True)
class Postings:
    """Inverted lists in compressed-row form: term t's passages are docs[offsets[t]:offsets[t+1]],
    ascending, with their term frequencies in `tfs`."""

    terms: Sequence[str]     # `Strings` (built from texts, appended to, or mapped), or a list
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
        table = TermTable()
        ids, lengths = [], []
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start:start + CHUNK]
            found = table.ids_of_lines("\n".join(chunk), len(chunk))
            if found is None:
                return cls.from_documents(text.split() for text in texts)
            ids.append(found[0])
            lengths.append(found[1])
        terms = table.strings()
        if not terms.single_words():  # other whitespace than single spaces
            return cls.from_documents(text.split() for text in texts)
        return cls.from_token_ids(terms, _joined(ids, np.int32), _joined(lengths, np.int32))

    @classmethod
    def from_token_ids(cls, terms: Sequence[str], token_ids: np.ndarray, lengths: np.ndarray) -> Postings:
        """From every passage's tokens as ids into `terms`, passage after passage (`lengths`)."""
        offsets, docs, tfs = inverted_lists(token_ids, lengths, len(terms))
        return cls(terms, offsets, docs, tfs, lengths.astype(np.int32))

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
        terms = Strings.of(self.terms).taken(np.flatnonzero(alive))
        return Postings(terms, offsets, renumber[self.docs[kept]].astype(np.int32),
                        self.tfs[kept], self.doc_lengths[keep])

    def plus(self, other: Postings) -> Postings:
        """These postings with `other`'s passages appended after the existing ones: each term's
        new postings go after its old ones, copied in compiled code, without a sort (and
        without holding the interpreter: the questions answered meanwhile do not wait). Its
        terms are found by their hash table, `other`'s new ones appended after them: the
        millions of a large archive are never decoded into Python strings, each a wait for
        the questions answered meanwhile."""
        known = Strings.of(self.terms, indexed=True)
        target = known.ids_of(other.terms)
        new = target == NOT_FOUND
        target[new] = np.arange(len(known), len(known) + int(new.sum()))
        terms = known.plus(Strings.of([term for term, fresh in zip(other.terms, new.tolist()) if fresh]))
        offsets = appended_offsets(self.offsets, other.offsets, target, len(terms))
        docs, tfs = mapped.empty(offsets[-1], np.int32), mapped.empty(offsets[-1], np.int32)
        appended(self.offsets, self.docs, self.tfs, other.offsets, other.docs, other.tfs, target, len(self.doc_lengths),
                 offsets, docs, tfs)
        return Postings(terms, offsets, docs, tfs, np.concatenate([self.doc_lengths, other.doc_lengths]))


class TermTable:
    """Terms numbered in the order first seen, found by their UTF-8 bytes in compiled code: no
    string object per token."""

    def __init__(self) -> None:
        self._table = np.full(1024, EMPTY, dtype=np.int32)
        self._pool = np.empty(8192, dtype=np.uint8)
        self._bounds = np.zeros(1024, dtype=np.int64)
        self._count = 0

    def strings(self) -> Strings:
        """The terms numbered so far, as `Strings` found by this table (its layout is theirs)."""
        return Strings(self._pool[:self._bounds[self._count]].copy(), self._bounds[:self._count + 1].copy(),
                       self._table.copy())

    def ids_of_lines(self, text: str, lines: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The ids (int32) of the space-separated terms of `text`, and how many are on each of
        its `lines` lines; None unless it has exactly that many lines, each empty or single
        words between single spaces."""
        data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        ids = np.empty(len(data) // 2 + 1, dtype=np.int32)  # a term takes a byte and a separator at least
        lengths = np.zeros(lines, dtype=np.int32)
        start = tokens = line = 0
        while True:
            start, tokens, line, self._count, status = scan_terms(
                data, start, tokens, line, ids, lengths, self._table, self._pool, self._bounds, self._count)
            if status != FULL:
                break
            self._grow()
        # a copy: the slice would keep the whole upper-bound buffer alive
        return (ids[:tokens].copy(), lengths) if status == DONE and line == lines else None

    def _grow(self) -> None:
        """Room for more terms: pool and bounds doubled, the table too when half full."""
        if 2 * (self._count + 1) > len(self._table):
            self._table = rehashed(self._pool, self._bounds, self._count, 2 * len(self._table))
        self._pool = np.concatenate([self._pool, np.empty_like(self._pool)])
        self._bounds = np.concatenate([self._bounds, np.empty_like(self._bounds)])


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


def _joined(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)
