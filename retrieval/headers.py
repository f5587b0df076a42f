"""The story headers a snapshot carries (id, title, date, url, title terms, digest, language),
one column each: strings in `Strings`, numbers in arrays. A saved snapshot maps the columns from
its files, so opening an archive of millions of stories makes no object per story; a
`StoryHeader` is made when a question reaches its story.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from retrieval.bm25.strings import NOT_FOUND, Strings
from retrieval.storage.store import StoryHeaderRow

NO_DATE = np.iinfo(np.int64).min
"""A story's day when it has no date."""
_TEXTS = ("ids", "titles", "dates", "urls", "title_terms")
"""The columns of strings with one per story."""
_COLUMNS = (*_TEXTS, "language_names")


@dataclass(frozen=True)
class StoryHeader:
    id: str
    title: str
    date: datetime | None
    url: str | None
    title_terms: str
    digest: int
    """The first 60 bits of the story's content hash: stories with equal digests are exact
    copies (the same title, date, body, url, source and metadata)."""
    language: str = ""
    """The language its terms are in (ISO 639-1); "" when the archive was analyzed before
    languages were told apart."""


@dataclass(frozen=True, eq=False)
class Stories(Sequence[StoryHeader]):
    """Story headers in snapshot order, a column each."""

    ids: Strings          # with a table: a story's position by its id
    titles: Strings
    dates: Strings        # ISO 8601 as stored, "" when none
    urls: Strings         # "" when none
    title_terms: Strings
    digests: np.ndarray   # int64
    days: np.ndarray      # int64, the proleptic ordinal of the date, NO_DATE when none
    languages: np.ndarray  # int16, each story's language's position in `language_names`
    language_names: Strings  # in the order of their first story

    @classmethod
    def of(cls, rows: Sequence[StoryHeaderRow]) -> Stories:
        """The headers of the store's rows (`Store.story_headers`), in their order."""
        ids, titles, dates, urls, terms, digests, languages = list(zip(*rows)) or [()] * 7
        codes: dict[str, int] = {}
        return cls(Strings.of(ids, indexed=True), Strings.of(titles), Strings.of([d or "" for d in dates]),
                   Strings.of([u or "" for u in urls]), Strings.of(terms),
                   np.fromiter((int(d, 16) for d in digests), dtype=np.int64, count=len(rows)),
                   np.fromiter((datetime.fromisoformat(d).toordinal() if d else NO_DATE for d in dates),
                               dtype=np.int64, count=len(rows)),
                   np.fromiter((codes.setdefault(lang or "", len(codes)) for lang in languages),
                               dtype=np.int16, count=len(rows)),
                   Strings.of(list(codes)))

    def __len__(self) -> int:
        return len(self.digests)

    def __getitem__(self, position: int) -> StoryHeader:
        if not -len(self) <= position < len(self):
            raise IndexError(position)
        date, url = self.dates[position], self.urls[position]
        return StoryHeader(self.ids[position], self.titles[position], datetime.fromisoformat(date) if date else None,
                           url or None, self.title_terms[position], int(self.digests[position]),
                           self.language_names[int(self.languages[position])])

    def __iter__(self) -> Iterator[StoryHeader]:
        return (self[position] for position in range(len(self)))

    def position_of(self, story_id: str) -> int | None:
        """Where the story of `story_id` is, None when it is not among these."""
        position = self.ids.index_of(story_id)
        return None if position == NOT_FOUND else position

    def language_ids(self) -> np.ndarray | None:
        """A number per story for its language, or None when all are in one: then BM25 counts one
        corpus, as before languages were told apart."""
        return self.languages if len(self.language_names) > 1 else None

    def language_counts(self) -> dict[str, int]:
        """How many stories each language has, most first (ties in the order of their first story)."""
        counts = np.bincount(self.languages, minlength=len(self.language_names))
        return {self.language_names[int(code)]: int(counts[code]) for code in np.argsort(-counts, kind="stable")}

    def taken(self, order: np.ndarray) -> Stories:
        """The stories at the positions `order`, in its order."""
        order = np.asarray(order, dtype=np.int64)
        return _with_languages(Stories(*(getattr(self, name).taken(order) for name in _TEXTS),
                                       self.digests[order], self.days[order], self.languages[order],
                                       self.language_names))

    def plus(self, other: Stories) -> Stories:
        """These stories, then `other`'s."""
        shifted = other.languages + np.int16(len(self.language_names))
        return _with_languages(Stories(
            *(getattr(self, name).plus(getattr(other, name)) for name in _TEXTS),
            np.concatenate([self.digests, other.digests]), np.concatenate([self.days, other.days]),
            np.concatenate([self.languages, shifted]), self.language_names.plus(other.language_names)))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save (`from_arrays` reads them back)."""
        strings = {key: array for name in _COLUMNS for key, array in getattr(self, name).arrays(f"story_{name}").items()}
        return {**strings, "story_digests": self.digests, "story_days": self.days, "story_languages": self.languages}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Stories | None:
        """The stories `arrays` saved, None when their columns do not fit together."""
        strings = {name: Strings.from_arrays(arrays, f"story_{name}") for name in _COLUMNS}
        stories = cls(**strings, digests=arrays["story_digests"], days=arrays["story_days"],
                      languages=arrays["story_languages"])
        count = len(stories.digests)
        fits = (all(s.consistent() for s in strings.values()) and strings["ids"].table is not None
                and all(len(strings[name]) == count for name in _TEXTS)
                and len(stories.days) == len(stories.languages) == count
                and (not count or 0 <= int(stories.languages.max()) < len(strings["language_names"])))
        return stories if fits else None


def _with_languages(stories: Stories) -> Stories:
    """`stories` with their languages numbered again in the order of their first story, each
    name once: as `Stories.of` numbers them."""
    names = list(stories.language_names)
    merged: dict[str, int] = {}
    same = np.asarray([merged.setdefault(name, len(merged)) for name in names], dtype=np.int64)
    codes = same[stories.languages] if len(names) else stories.languages.astype(np.int64)
    present, first = np.unique(codes, return_index=True)
    seen = present[np.argsort(first)]
    renumber = np.zeros(len(merged), dtype=np.int16)
    renumber[seen] = np.arange(len(seen), dtype=np.int16)
    kept = list(merged)
    return Stories(stories.ids, stories.titles, stories.dates, stories.urls, stories.title_terms, stories.digests,
                   stories.days, renumber[codes].astype(np.int16), Strings.of([kept[int(c)] for c in seen]))
