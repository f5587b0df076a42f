"""An immutable, searchable view of the archive: the BM25 index plus what each passage belongs to.

The service keeps one `Snapshot` in service and swaps in a new one after a reload, in one step.
Snapshots are saved beside the stories: every array (postings, gains and their bounds, the
vocabularies and their hash tables, the title index, the story headers' columns, passages) in
files beside the archive file, mapped when the archive is opened, so that an open neither reads
nor re-indexes them nor makes an object per story or term; a description in the archive file.
After a reload only new and changed passages are indexed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from functools import cached_property

import numpy as np

from retrieval.bm25.bounds import BlockMaxes
from retrieval.bm25.index import BM25Index, BM25Params, Hits, Scored
from retrieval.bm25.postings import Postings
from retrieval.bm25.strings import Strings
from retrieval.headers import NO_DATE, Stories
from retrieval.storage.schema import PassageColumns
from retrieval.storage.store import Store, StoryHeaderRow

_UNIX_EPOCH = date(1970, 1, 1).toordinal()  # numpy counts days from it
FORMAT = 4
"""Bump when the saved arrays change shape or meaning."""
TITLES = "titles_"
"""What the title index's saved arrays are named with (the passages' are named without)."""
_PASSAGE_ARRAYS = ("passage_ids", "passage_story", "passage_start", "passage_end")
_WARMED = ("_by_story", "newest_title", "languages", "story_years")
"""What `Snapshot.warm_up` computes, cached on the snapshot."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Passages 0..N-1 in index order, each with its story and its span of the story's body."""

    index: BM25Index
    titles: BM25Index  # BM25 over story titles, one document per story, in story order
    stories: Stories
    passage_ids: np.ndarray     # the store's passage ids, ascending
    passage_story: np.ndarray   # story position of each passage
    passage_start: np.ndarray
    passage_end: np.ndarray
    generation: int
    key: str

    @property
    def passages(self) -> int:
        return self.index.size

    @property
    def story_day(self) -> np.ndarray:
        """Each story's date as a proleptic ordinal, NO_DATE when it has none."""
        return self.stories.days

    @cached_property
    def languages(self) -> dict[str, int]:
        """How many stories each language has, most first."""
        return self.stories.language_counts()

    @cached_property
    def story_years(self) -> np.ndarray:
        """Each story's year (from `story_day`), 0 when it has no date."""
        dated = self.story_day != NO_DATE
        days = np.where(dated, self.story_day - _UNIX_EPOCH, 0).astype("datetime64[D]")
        return np.where(dated, days.astype("datetime64[Y]").astype(np.int64) + 1970, 0)

    @cached_property
    def newest_title(self) -> str | None:
        """The title of the story with the latest date (the first of them), else of the first story."""
        days = self.story_day
        dated = days != NO_DATE
        if not dated.any():
            return self.stories[0].title if len(self.stories) else None
        # a date's day is in its own time zone: the latest instant is within two days of the latest day
        recent = np.flatnonzero(dated & (days >= days[dated].max() - 2)).tolist()
        dates = self.stories.dates  # parsed alone: a header per recent story decodes all its columns
        return self.stories.titles[max(recent, key=lambda s: datetime.fromisoformat(dates[s]))]

    def search(self, terms: list[str], excluded: list[str] = (), since: date | None = None,
               until: date | None = None, limit: int | None = None, required: list[str] = ()) -> Hits:
        """Passages ranked for `terms` (the best `limit` of them), limited to stories in the date
        range without `excluded`, and to passages holding every `required` term."""
        stories = self.stories_allowed(excluded, since, until)
        return self.index.search(terms, self.allowed(stories, required), limit)

    def allowed(self, stories: np.ndarray | None, required: list[str] = ()) -> np.ndarray | None:
        """A mask of the passages a search may return: those of `stories` (a mask from
        `stories_allowed`, None for all) that hold every `required` term; None for all."""
        allowed = None if stories is None else stories[self.passage_story]
        for term in dict.fromkeys(required):
            holding = np.zeros(self.passages, dtype=bool)
            holding[self.index.postings_of(term)[0]] = True
            allowed = holding if allowed is None else allowed & holding
        return allowed

    def stories_allowed(self, excluded: list[str] = (), since: date | None = None,
                        until: date | None = None) -> np.ndarray | None:
        """A mask of the stories in the date range that hold no `excluded` term; None for all."""
        if not excluded and since is None and until is None:
            return None
        story_ok = np.ones(len(self.stories), dtype=bool)
        if since is not None:
            story_ok &= self.story_day >= since.toordinal()
        if until is not None:
            story_ok &= (self.story_day <= until.toordinal()) & (self.story_day != NO_DATE)
        for term in excluded:
            story_ok &= ~self.stories_with(term)
        return story_ok

    def stories_with(self, term: str) -> np.ndarray:
        """A mask of the stories that hold `term` in a passage or in the title."""
        holds = np.zeros(len(self.stories), dtype=bool)
        holds[self.passage_story[self.index.postings_of(term)[0]]] = True
        holds[self.titles.postings_of(term)[0]] = True
        return holds

    def holds(self, story: int, term: str) -> bool:
        """Whether the story at `story` holds `term` in a passage or in the title: `stories_with`
        for one story."""
        return bool(self.held_by([term], [story])[0, 0])

    def held_by(self, terms: Sequence[str], stories: Sequence[int] | np.ndarray) -> np.ndarray:
        """Whether each of `stories` (positions) holds each of `terms` in a passage or in its
        title, a row per term: `stories_with` read at `stories`, from a binary search per term
        and passage of theirs instead of a walk over the terms' postings and a mask of the archive."""
        stories = np.asarray(stories, dtype=np.int64)
        order, offsets = self._by_story
        return self.index.groups_holding(terms, order, offsets, stories) | self.titles.holding(terms, stories)

    def stories_holding(self, terms: Sequence[str]) -> np.ndarray:
        """A mask of the stories that hold every one of `terms` (none when there are no terms)."""
        holding = np.full(len(self.stories), bool(terms))
        for term in dict.fromkeys(terms):
            holding &= self.stories_with(term)
        return holding

    @cached_property
    def _by_story(self) -> tuple[np.ndarray, np.ndarray]:
        """Passages grouped by story: story s's are order[offsets[s]:offsets[s+1]], ascending."""
        order = np.argsort(self.passage_story, kind="stable")
        offsets = np.zeros(len(self.stories) + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.passage_story, minlength=len(self.stories)), out=offsets[1:])
        return order, offsets

    def best_passages(self, terms: list[str], stories: np.ndarray, allowed: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each of `stories`, its passage among the `allowed` (a mask, None for all) that
        `index.search(terms)` ranks first, the passage's score and True; where none holds one
        of `terms`, its first allowed passage, 0 and False; -1 where none is allowed."""
        order, offsets = self._by_story
        return self.index.best_of_groups(terms, order, offsets, stories, allowed)

    def warm_up(self) -> None:
        """Compute what questions and the next reload use, and run a first search (the search
        loop is compiled on its first run), so that none of them waits for these on the event loop."""
        for computed in _WARMED:
            getattr(self, computed)
        for index in (self.index, self.titles):
            index.search(index.postings.terms[:1], limit=1)
        Postings.from_texts(["warm up"]).plus(Postings.from_texts(["up"]))  # the loops a reload runs

    def took_computed(self, same: Snapshot) -> None:
        """Take what `warm_up` computed for `same`, a snapshot of the very same passages and
        stories (this one its saved copy), and its vocabulary if it was decoded, instead of
        computing them again: the reload's last answers need not wait behind the sort, the
        dates or the decoding of millions of terms."""
        self.__dict__.update({name: same.__dict__[name] for name in (*_WARMED, "vocabulary") if name in same.__dict__})

    def took_vocabulary(self, previous: Snapshot) -> None:
        """Decode the vocabulary from `previous`'s, if that was decoded and this snapshot's terms
        begin with all of its terms (an update that removed none): only the terms after them are
        decoded, on the updating thread. Else it is left to the first question to respell."""
        if "vocabulary" not in previous.__dict__:
            return
        old, new = Strings.of(previous.index.postings.terms), Strings.of(self.index.postings.terms)
        if new.starts_with(old):
            added = _untracked(new.taken(np.arange(len(old), len(new))).tolist())
            self.__dict__["vocabulary"] = np.concatenate([previous.vocabulary, added])

    def term_weights(self, terms: list[str]) -> dict[str, float]:
        """A positive weight per query term (idf as BM25Plus defines it over passages); a term
        no passage holds weighs as much as the rarest."""
        rarest = math.log(self.passages + 1) if self.passages else 1.0
        weights = {}
        for term in terms:
            docs, _ = self.index.postings_of(term)
            weights[term] = math.log((self.passages + 1) / len(docs)) if len(docs) else rarest
        return weights

    def knows(self, term: str) -> bool:
        """Whether a passage or a title holds `term`."""
        return term in self.index.vocabulary or term in self.titles.vocabulary

    @cached_property
    def vocabulary(self) -> np.ndarray:
        """Every term the passages hold, an object array of str (decoded once, when a word must
        be respelled)."""
        terms = self.index.postings.terms
        return _untracked(terms.tolist() if isinstance(terms, Strings) else terms)

    def to_saved(self) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
        """What `load_snapshot` reads back: a description as a blob, and the arrays (the two
        indexes' postings, vocabularies and what they computed with their parameters, the
        stories' headers, the passages)."""
        arrays = {**_index_arrays(self.index, ""), **_index_arrays(self.titles, TITLES), **self.stories.arrays(),
                  **{name: getattr(self, name) for name in _PASSAGE_ARRAYS}}
        meta = {"format": FORMAT, "key": self.key, "generation": self.generation,
                "params": asdict(self.index.params), "per_block": self.index.bounds.size,
                f"{TITLES}per_block": self.titles.bounds.size}
        return {"meta": json.dumps(meta).encode()}, arrays


async def load_snapshot(store: Store, params: BM25Params, analyzer_key: str,
                        previous: Snapshot | None = None) -> tuple[Snapshot, bool]:
    """The archive's current snapshot: `previous` if nothing changed, else the saved one if it
    is current (mapped, so it costs no memory of this process's own), else `previous` (or the
    saved one) brought up to date with the changed passages, else built from all passages; and
    whether it differs from the saved one (see `save_snapshot`). The heavy work runs off the
    event loop."""
    generation = await store.generation()
    key = f"{analyzer_key}|format={FORMAT}"
    if previous is not None and previous.key == key and previous.generation == generation:
        return previous, False
    if previous is None or previous.key != key:
        previous = await _saved(store, params, key)
    elif (saved := await _saved(store, params, key, generation)) is not None:  # another process saved it
        previous = saved
    if previous is not None and previous.generation == generation:
        await asyncio.to_thread(previous.warm_up)
        return previous, False
    if previous is not None and previous.passages:
        snapshot = await _update(store, previous, params, generation)
    else:  # the headers read and indexed while the passages' postings are built, outside the interpreter lock
        headed, (passages, postings) = await asyncio.gather(_headed(store, params), _new_passages(store))
        snapshot = await asyncio.to_thread(_built, *headed, passages, postings, params, generation, key)
    await asyncio.to_thread(snapshot.warm_up)
    return snapshot, True


async def save_snapshot(store: Store, snapshot: Snapshot) -> None:
    """Keep `snapshot` with the archive, so the next open maps it instead of indexing."""
    blobs, arrays = await asyncio.to_thread(snapshot.to_saved)
    await store.save_index(snapshot.generation, blobs, arrays)


async def saved_copy(store: Store, snapshot: Snapshot, params: BM25Params) -> Snapshot:
    """The saved snapshot, mapped, when it is `snapshot` saved (the same generation and
    analysis); else `snapshot`. Serving the mapped copy frees the memory of the one built."""
    saved = await _saved(store, params, snapshot.key, snapshot.generation)
    if saved is None:
        return snapshot
    saved.took_computed(snapshot)
    await asyncio.to_thread(saved.warm_up)
    return saved


async def _update(store: Store, previous: Snapshot, params: BM25Params, generation: int) -> Snapshot:
    """`previous` with the passages added since, without those removed since: only the stories
    with new passages are read, so a reload adding a few stories reads a few."""
    last = int(previous.passage_ids.max(initial=0))
    new, new_postings = await _new_passages(store, after=last)
    changed = dict.fromkeys(new.story_ids)  # in the order their passages were written
    found = {row[0]: row for row in await store.story_headers(changed)}
    fresh = [found[sid] for sid in changed if sid in found]
    gone: set[str] = set()
    keep = _kept(previous, changed)
    # every story has passages (the formats refuse an empty body), so a removed story shows in
    # either count; only then is every story id read
    added = sum(previous.stories.position_of(row[0]) is None for row in fresh)
    if (int(keep.sum()) != await store.passages_up_to(last)
            or await store.story_count() != len(previous.stories) + added):
        alive = set(await store.story_ids())  # some stories are gone
        gone = await asyncio.to_thread(lambda: {sid for sid in previous.stories.ids if sid not in alive})
        keep = _kept(previous, [*gone, *changed])
        if int(keep.sum()) != await store.passages_up_to(last):  # passages removed some other way
            keep = np.isin(previous.passage_ids, np.asarray(await store.passage_ids(), dtype=np.int64))
    return await asyncio.to_thread(_updated, previous, gone, fresh, keep, new, new_postings, params, generation)


async def _new_passages(store: Store, after: int = 0) -> tuple[PassageColumns, Postings]:
    """The passages with ids above `after`, without their texts once their postings are built
    from them (at a million passages the texts are hundreds of MB)."""
    passages = await store.new_passages(after)
    postings = await asyncio.to_thread(Postings.from_texts, passages.texts)
    return replace(passages, texts=[]), postings


def _kept(snapshot: Snapshot, dropped: Iterable[str]) -> np.ndarray:
    """A mask of the snapshot's passages not of the `dropped` stories."""
    story_kept = np.ones(len(snapshot.stories), dtype=bool)
    story_kept[_positions_of(snapshot.stories, dropped)] = False
    return story_kept[snapshot.passage_story]


def _positions_of(stories: Stories, ids: Iterable[str]) -> list[int]:
    """The positions of those of `ids` that are among `stories`."""
    return [p for p in map(stories.position_of, ids) if p is not None]


async def _saved(store: Store, params: BM25Params, key: str, generation: int | None = None) -> Snapshot | None:
    """The saved snapshot if it was analyzed as `key` says (and is of `generation`, when given)."""
    blobs, arrays = await store.load_index()
    if "meta" not in blobs or arrays is None:
        return None
    meta = json.loads(blobs["meta"])
    if meta.get("key") != key or generation not in (None, meta.get("generation")):
        return None
    return await asyncio.to_thread(_from_saved, meta, arrays, params)


def _from_saved(meta: dict, arrays: dict[str, np.ndarray], params: BM25Params) -> Snapshot | None:
    """The saved snapshot over its mapped `arrays` (no copies), with the gains and bounds it
    saved when they were computed with `params`; None, logged, when the arrays do not fit
    together."""
    try:
        stories = Stories.from_arrays(arrays)
        fits = stories is not None and _consistent(arrays, len(stories))
    except KeyError as missing:
        stories, fits = None, False
        log.warning("the saved index lacks the array %s", missing)
    if not fits:
        log.warning("the saved index's arrays do not fit together: indexing the archive instead")
        return None
    same = meta["params"] == asdict(params)
    languages = None if same else stories.language_ids()  # only to compute the gains again
    index = _saved_index(arrays, "", meta, params, same, _of_passages(languages, arrays["passage_story"]))
    return Snapshot(index, _saved_index(arrays, TITLES, meta, params, same, languages), stories,
                    *(arrays[name] for name in _PASSAGE_ARRAYS), meta["generation"], meta["key"])


def _index_arrays(index: BM25Index, prefix: str) -> dict[str, np.ndarray]:
    """An index's arrays to save, their names starting with `prefix` (`_saved_index` reads them)."""
    postings, scored = index.postings, index.scored
    return {f"{prefix}offsets": postings.offsets, f"{prefix}docs": postings.docs, f"{prefix}tfs": postings.tfs,
            f"{prefix}doc_lengths": postings.doc_lengths, f"{prefix}idf": scored.idf, f"{prefix}gains": scored.gains,
            f"{prefix}bound_starts": scored.bounds.starts, f"{prefix}bound_maxes": scored.bounds.maxes,
            **index.vocabulary.arrays(f"{prefix}terms")}


def _saved_index(arrays: dict[str, np.ndarray], prefix: str, meta: dict, params: BM25Params, same: bool,
                 languages: np.ndarray | None) -> BM25Index:
    """The index `_index_arrays` saved; with the gains and bounds it saved when they were
    computed with the same parameters (`same`), else computed again."""
    postings = Postings(Strings.from_arrays(arrays, f"{prefix}terms"), arrays[f"{prefix}offsets"],
                        arrays[f"{prefix}docs"], arrays[f"{prefix}tfs"], arrays[f"{prefix}doc_lengths"])
    scored = Scored(arrays[f"{prefix}idf"], arrays[f"{prefix}gains"],
                    BlockMaxes(meta[f"{prefix}per_block"], arrays[f"{prefix}bound_starts"],
                               arrays[f"{prefix}bound_maxes"])) if same else None
    return BM25Index(postings, params, languages, scored=scored)


def _consistent(arrays: dict[str, np.ndarray], stories: int) -> bool:
    """Whether the arrays' lengths agree with each other and with the stories' (what a check can
    tell without reading them)."""
    passages = len(arrays["doc_lengths"])
    return (_index_consistent(arrays, "") and _index_consistent(arrays, TITLES)
            and len(arrays[f"{TITLES}doc_lengths"]) == stories
            and all(len(arrays[name]) == passages for name in _PASSAGE_ARRAYS)
            and (not passages or int(arrays["passage_story"].max()) < stories))


def _index_consistent(arrays: dict[str, np.ndarray], prefix: str) -> bool:
    terms = Strings.from_arrays(arrays, f"{prefix}terms")
    postings, offsets = len(arrays[f"{prefix}docs"]), arrays[f"{prefix}offsets"]
    return (terms.consistent() and terms.table is not None and len(offsets) == len(terms) + 1
            and len(arrays[f"{prefix}idf"]) == len(terms) and len(arrays[f"{prefix}bound_starts"]) == len(terms) + 1
            and int(offsets[0]) == 0 and int(offsets[-1]) == postings
            and len(arrays[f"{prefix}tfs"]) == len(arrays[f"{prefix}gains"]) == postings
            and int(arrays[f"{prefix}bound_starts"][-1]) == len(arrays[f"{prefix}bound_maxes"]))


async def _headed(store: Store, params: BM25Params) -> tuple[Stories, BM25Index, dict[str, int]]:
    """Every story's header, the index of their titles, and each story's position by id, made
    on a thread of their own: beside the passages' postings, being built meanwhile."""
    rows = await store.story_headers()
    return await asyncio.to_thread(_headers_of, rows, params)


def _headers_of(rows: list[StoryHeaderRow], params: BM25Params) -> tuple[Stories, BM25Index, dict[str, int]]:
    stories = Stories.of(rows)
    position = {row[0]: i for i, row in enumerate(rows)}
    return stories, _titles(stories.title_terms.tolist(), params, stories.language_ids()), position


def _built(stories: Stories, titles: BM25Index, position: dict[str, int], passages: PassageColumns,
           postings: Postings, params: BM25Params, generation: int, key: str) -> Snapshot:
    passage_story = _positions(passages.story_ids, position)
    return Snapshot(index=BM25Index(postings, params, _of_passages(stories.language_ids(), passage_story)),
                    titles=titles, stories=stories, passage_ids=passages.ids,
                    passage_story=passage_story, passage_start=passages.starts,
                    passage_end=passages.ends, generation=generation, key=key)


def _updated(previous: Snapshot, gone: set[str], fresh: list[StoryHeaderRow], keep: np.ndarray,
             new: PassageColumns, new_postings: Postings, params: BM25Params, generation: int) -> Snapshot:
    """`previous` with only the passages `keep` marks and the `new` ones (`new_postings`) appended; stories
    keep their order (with their `fresh` headers where changed) unless `gone`, new stories come
    after them. The title index is updated the same way, unless a title changed."""
    old = previous.stories
    kept = np.ones(len(old), dtype=bool)
    kept[_positions_of(old, gone)] = False
    remap = np.where(kept, np.cumsum(kept) - 1, -1).astype(np.int32)
    order = np.flatnonzero(kept)  # of each story after, its position in old, then in fresh after len(old)
    position: dict[str, int] = {}  # of the fresh stories
    added: list[int] = []
    retitled = False
    for i, row in enumerate(fresh):
        at = old.position_of(row[0])
        if at is None:
            position[row[0]] = len(order) + len(added)
            added.append(len(old) + i)
        else:
            position[row[0]] = int(remap[at])
            order[position[row[0]]] = len(old) + i
            retitled |= row[4] != old.title_terms[at]
    order = np.concatenate([order, np.asarray(added, dtype=np.int64)])
    stories = _reordered(old, Stories.of(fresh), order)
    languages = stories.language_ids()
    titles = (_titles(stories.title_terms.tolist(), params, languages) if retitled else BM25Index(
        previous.titles.postings.without(kept).plus(Postings.from_texts(stories.title_terms[int(kept.sum()):])),
        params, languages))
    passage_story = np.concatenate([remap[previous.passage_story[keep]], _positions(new.story_ids, position)])
    snapshot = Snapshot(
        index=BM25Index(previous.index.postings.without(keep).plus(new_postings), params,
                        _of_passages(languages, passage_story)),
        titles=titles,
        stories=stories,
        passage_ids=np.concatenate([previous.passage_ids[keep], new.ids]),
        passage_story=passage_story,
        passage_start=np.concatenate([previous.passage_start[keep], new.starts]),
        passage_end=np.concatenate([previous.passage_end[keep], new.ends]),
        generation=generation, key=previous.key)
    snapshot.took_vocabulary(previous)
    return snapshot


def _reordered(old: Stories, fresh: Stories, order: np.ndarray) -> Stories:
    """The stories at `order` of `old` followed by `fresh`: only the fresh ones taken when `old`
    stays as it is (a reload that adds stories)."""
    unchanged = np.arange(len(old))
    if len(order) >= len(old) and np.array_equal(order[:len(old)], unchanged):
        return old.plus(fresh.taken(order[len(old):] - len(old)))
    return old.plus(fresh).taken(order)


def _titles(title_terms: list[str], params: BM25Params, languages: np.ndarray | None) -> BM25Index:
    return BM25Index(Postings.from_texts(title_terms), params, languages)


def _of_passages(languages: np.ndarray | None, passage_story: np.ndarray) -> np.ndarray | None:
    return None if languages is None else languages[passage_story]


def _positions(story_ids: list[str], position: dict[str, int]) -> np.ndarray:
    """Each story id's position in the snapshot's stories."""
    return np.fromiter(map(position.__getitem__, story_ids), dtype=np.int32, count=len(story_ids))


def _untracked(terms: Sequence[str]) -> np.ndarray:
    """`terms` as an object array. The garbage collector visits every item of a list at each full
    collection (the 2.1M terms of 10M passages: 20 ms a collection, every answer waiting), and
    none of an array's: numpy's arrays are not among the containers it tracks."""
    array = np.empty(len(terms), dtype=object)
    array[:] = terms
    return array
