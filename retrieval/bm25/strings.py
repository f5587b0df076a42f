"""Strings numbered 0..n-1 kept as UTF-8 bytes in one array, and optionally found by their
bytes in a hash table: a vocabulary or a column of story ids that is three numpy arrays, which
a saved snapshot maps from its files, instead of millions of Python objects built at every open.

The layout is the term table's (`building.scan_terms`): string i's bytes are
pool[bounds[i]:bounds[i + 1] - 1], each followed by a newline; the table is open addressing over
string numbers, a power of two at least twice their count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numba
import numpy as np

from retrieval.bm25.building import EMPTY, NEWLINE, find_slot, rehashed

_SPACE = re.compile(r"[^\S\n]")
"""Whitespace but the newline that ends each string (`re`'s and `str.split`'s whitespace are the same)."""
NOT_FOUND = EMPTY
"""What `index_of` gives for a string not among them: the table's free slot."""


@dataclass(frozen=True, eq=False)
class Strings(Sequence[str]):
    """A sequence of strings over `pool` and `bounds`; with a `table`, `index_of` finds one."""

    pool: np.ndarray    # uint8
    bounds: np.ndarray  # int64, one more than there are strings
    table: np.ndarray | None = None  # int32 slots, EMPTY or a string's number

    @classmethod
    def of(cls, items: Sequence[str], indexed: bool = False) -> Strings:
        """`items` as Strings (themselves when they are), with a table to find them by when `indexed`."""
        if isinstance(items, Strings):
            return items.indexed() if indexed else items
        joined = "\n".join(items).encode("utf-8") + b"\n" if len(items) else b""
        pool = np.frombuffer(joined, dtype=np.uint8).copy()  # writable, as a mapped one is
        ends = np.flatnonzero(pool == NEWLINE)
        if len(ends) != len(items):  # some hold a newline: measure each one's bytes
            ends = np.cumsum([len(item.encode("utf-8")) + 1 for item in items], dtype=np.int64) - 1
        bounds = np.concatenate([np.zeros(1, np.int64), ends + 1])
        strings = cls(pool, bounds)
        return strings.indexed() if indexed else strings

    def indexed(self) -> Strings:
        """These strings with a table to find them by (themselves if they have one)."""
        if self.table is not None:
            return self
        size = max(2, 1 << (2 * len(self)).bit_length())
        return Strings(self.pool, self.bounds, rehashed(self.pool, self.bounds, len(self), size))

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def __getitem__(self, item: int | slice) -> str | list[str]:
        if isinstance(item, slice):
            return [self[i] for i in range(*item.indices(len(self)))]
        if item < 0:
            item += len(self)
        if not 0 <= item < len(self):
            raise IndexError("Strings index out of range")
        start, end = self.bounds[item:item + 2].tolist()
        return self.pool[start:end - 1].tobytes().decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and self.index_of(item) != NOT_FOUND

    def tolist(self) -> list[str]:
        """Every string, decoded at once when none holds a newline."""
        text = self.pool[:self.bounds[-1]].tobytes().decode("utf-8")
        items = text.split("\n")[:-1]
        return items if len(items) == len(self) else [self[i] for i in range(len(self))]

    def starts_with(self, other: Strings) -> bool:
        """Whether these strings begin with all of `other`'s, in their order."""
        count, size = len(other), int(other.bounds[-1])
        return (count <= len(self) and np.array_equal(self.bounds[:count + 1], other.bounds)
                and np.array_equal(self.pool[:size], other.pool[:size]))

    def single_words(self) -> bool:
        """Whether each string is one word as `str.split` tells words: not empty, without
        whitespace (one decoding of the pool and one search of it, not a split per string)."""
        pool = self.pool[:self.bounds[-1]]
        return (bool(np.all(np.diff(self.bounds) > 1)) and int(np.count_nonzero(pool == NEWLINE)) == len(self)
                and _SPACE.search(pool.tobytes().decode("utf-8")) is None)

    def index_of(self, item: str) -> int:
        """The number of `item`, NOT_FOUND when it is not one of these."""
        if self.table is None:
            raise ValueError("these strings have no table to find them by: make them with indexed()")
        key = np.frombuffer(item.encode("utf-8"), dtype=np.uint8)
        return int(_index_of(key, self.table, self.pool, self.bounds))

    def ids_of(self, items: Sequence[str]) -> np.ndarray:
        """The numbers (int64) of `items`, NOT_FOUND for those not among these: one compiled
        call for all of them (a call costs microseconds; a question has several terms)."""
        if self.table is None or any("\n" in item for item in items):
            return np.fromiter(map(self.index_of, items), dtype=np.int64, count=len(items))
        keys = np.frombuffer("".join(f"{item}\n" for item in items).encode("utf-8"), dtype=np.uint8)
        return _ids_of_lines(keys, len(items), self.table, self.pool, self.bounds)

    def taken(self, order: np.ndarray) -> Strings:
        """The strings at the positions `order` (an int array), in its order, with a table if
        these have one."""
        pool, bounds = _gathered(self.pool, self.bounds, np.asarray(order, dtype=np.int64))
        strings = Strings(pool, bounds)
        return strings.indexed() if self.table is not None else strings

    def plus(self, other: Strings) -> Strings:
        """These strings, then `other`'s, with a table if these have one."""
        pool = np.concatenate([self.pool[:self.bounds[-1]], other.pool[:other.bounds[-1]]])
        bounds = np.concatenate([self.bounds, other.bounds[1:] + self.bounds[-1]])
        strings = Strings(pool, bounds)
        return strings.indexed() if self.table is not None else strings

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays to save, named `prefix` and what each is (`from_arrays` reads them back)."""
        arrays = {f"{prefix}_pool": self.pool, f"{prefix}_bounds": self.bounds}
        return arrays if self.table is None else {**arrays, f"{prefix}_table": self.table}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> Strings:
        return cls(arrays[f"{prefix}_pool"], arrays[f"{prefix}_bounds"], arrays.get(f"{prefix}_table"))

    def consistent(self) -> bool:
        """Whether the arrays fit together, as far as their lengths and ends tell (a check that
        reads a few values, not the strings)."""
        bounds = self.bounds
        return (len(bounds) >= 1 and int(bounds[0]) == 0 and int(bounds[-1]) <= len(self.pool)
                and (self.table is None or (len(self.table) >= 2 * len(self) and len(self.table) & (len(self.table) - 1) == 0)))


@numba.njit(cache=True, nogil=True)
def _index_of(key: np.ndarray, table: np.ndarray, pool: np.ndarray, bounds: np.ndarray) -> int:
    return table[find_slot(key, 0, len(key), table, pool, bounds)]


@numba.njit(cache=True, nogil=True)
def _ids_of_lines(keys: np.ndarray, count: int, table: np.ndarray, pool: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The numbers of the `count` strings of `keys`, each followed by a newline."""
    ids = np.empty(count, np.int64)
    start = 0
    for i in range(count):
        end = start
        while keys[end] != NEWLINE:
            end += 1
        ids[i] = table[find_slot(keys, start, end, table, pool, bounds)]
        start = end + 1
    return ids


@numba.njit(cache=True, nogil=True)
def _gathered(pool: np.ndarray, bounds: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pool, bounds) of the strings at `order`."""
    out_bounds = np.zeros(len(order) + 1, np.int64)
    for i in range(len(order)):
        out_bounds[i + 1] = out_bounds[i] + bounds[order[i] + 1] - bounds[order[i]]
    out = np.empty(out_bounds[-1], np.uint8)
    for i in range(len(order)):
        at = out_bounds[i]
        for p in range(bounds[order[i]], bounds[order[i] + 1]):
            out[at] = pool[p]
            at += 1
    return out, out_bounds
