"""Inverted lists: for each term, the passages that hold it and how often, in compressed-row form."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


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
        vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        doc_ids: list[int] = []
        tfs: list[int] = []
        lengths: list[int] = []
        for doc, tokens in enumerate(documents):
            lengths.append(len(tokens))
            for term, tf in Counter(tokens).items():
                term_ids.append(vocabulary.setdefault(term, len(vocabulary)))
                doc_ids.append(doc)
                tfs.append(tf)
        return cls.from_triples(list(vocabulary), np.asarray(term_ids, dtype=np.int64),
                                np.asarray(doc_ids, dtype=np.int32), np.asarray(tfs, dtype=np.int32),
                                np.asarray(lengths, dtype=np.int32))

    @classmethod
    def from_triples(cls, terms: list[str], term_ids: np.ndarray, docs: np.ndarray, tfs: np.ndarray,
                     doc_lengths: np.ndarray) -> Postings:
        """From (term, passage, tf) triples, passages ascending within each term."""
        order = np.argsort(term_ids, kind="stable")
        offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_ids, minlength=len(terms)), out=offsets[1:])
        return cls(terms, offsets, docs[order], tfs[order], doc_lengths)

    @property
    def term_of_posting(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(self.offsets))

    def without(self, keep: np.ndarray) -> Postings:
        """These postings with only the passages where `keep` is true, renumbered in order;
        terms left without passages are dropped."""
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

    def plus(self, documents: Sequence[Sequence[str]]) -> Postings:
        """These postings with `documents` appended as new passages after the existing ones."""
        vocabulary = {term: i for i, term in enumerate(self.terms)}
        terms = list(self.terms)
        start = len(self.doc_lengths)
        term_ids, docs, tfs = [], [], []
        for doc, tokens in enumerate(documents, start):
            for term, tf in Counter(tokens).items():
                if term not in vocabulary:
                    vocabulary[term] = len(terms)
                    terms.append(term)
                term_ids.append(vocabulary[term])
                docs.append(doc)
                tfs.append(tf)
        return Postings.from_triples(
            terms,
            np.concatenate([self.term_of_posting, np.asarray(term_ids, dtype=np.int64)]),
            np.concatenate([self.docs, np.asarray(docs, dtype=np.int32)]),
            np.concatenate([self.tfs, np.asarray(tfs, dtype=np.int32)]),
            np.concatenate([self.doc_lengths, np.asarray([len(d) for d in documents], dtype=np.int32)]))
