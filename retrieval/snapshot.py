"""An immutable, searchable view of the archive: the BM25 index plus what each passage belongs to.

The service keeps one `Snapshot` in service and swaps in a new one after a reload, in one step.
Snapshots are saved beside the stories: the arrays (postings, gains and their bounds, passages)
in files beside the archive file, mapped when the archive is opened, so that an open neither
reads nor re-indexes them, and the terms and story ids in the archive file. After a reload only
new and changed passages are indexed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from functools import cached_property

import numpy as np

from retrieval.bm25.bounds import BlockMaxes
from retrieval.bm25.index import BM25Index, BM25Params, Hits, Scored
from retrieval.bm25.postings import Postings
from retrieval.storage.schema import PassageColumns
from retrieval.storage.store import Store

NO_DATE = np.iinfo(np.int64).min
_UNIX_EPOCH = date(1970, 1, 1).toordinal()  # numpy counts days from it
FORMAT = 3
"""Bump when the saved arrays change shape or meaning."""

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Snapshot:
    """Passages 0..N-1 in index order, each with its story and its span of the story's body."""

    index: BM25Index
    titles: BM25Index  # BM25 over story titles, one document per story, in story order
    stories: list[StoryHeader]
    passage_ids: np.ndarray     # the store's passage ids, ascending
    passage_story: np.ndarray   # story position of each passage
    passage_start: np.ndarray
    passage_end: np.ndarray
    generation: int
    key: str
    # computed when not given: each story's position by id, and the proleptic ordinal of its date
    # (NO_DATE when unknown)
    positions: dict[str, int] = field(default=None, repr=False, compare=False)
    story_day: np.ndarray = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.positions is None:
            object.__setattr__(self, "positions", {story.id: i for i, story in enumerate(self.stories)})
        if self.story_day is None:
            object.__setattr__(self, "story_day", _days(self.stories))

    @property
    def passages(self) -> int:
        return self.index.size

    @cached_property
    def languages(self) -> dict[str, int]:
        """How many stories each language has, most first."""
        return dict(Counter(story.language for story in self.stories).most_common())

    @cached_property
    def story_years(self) -> np.ndarray:
        """Each story's year (from `story_day`), 0 when it has no date."""
        dated = self.story_day != NO_DATE
        days = np.where(dated, self.story_day - _UNIX_EPOCH, 0).astype("datetime64[D]")
        return np.where(dated, days.astype("datetime64[Y]").astype(np.int64) + 1970, 0)

    @cached_property
    def newest_title(self) -> str | None:
        dated = [story for story in self.stories if story.date]
        newest = max(dated, key=lambda story: story.date) if dated else next(iter(self.stories), None)
        return newest.title if newest else None

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
        for computed in ("_by_story", "newest_title", "languages", "story_years"):
            getattr(self, computed)
        for index in (self.index, self.titles):
            index.search(index.postings.terms[:1], limit=1)
        Postings.from_texts(["warm up"]).plus(Postings.from_texts(["up"]))  # the loops a reload runs

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

    @property
    def vocabulary(self) -> list[str]:
        """Every term the passages hold."""
        return self.index.postings.terms

    def to_saved(self) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
        """What `load_snapshot` reads back: the terms, story ids and a description of it all as
        blobs, and the arrays (the postings, what the index computed from them with its
        parameters, the passages)."""
        postings, scored = self.index.postings, self.index.scored
        arrays = {"offsets": postings.offsets, "docs": postings.docs, "tfs": postings.tfs,
                  "doc_lengths": postings.doc_lengths, "idf": scored.idf, "gains": scored.gains,
                  "bound_starts": scored.bounds.starts, "bound_maxes": scored.bounds.maxes,
                  "passage_ids": self.passage_ids, "passage_story": self.passage_story,
                  "passage_start": self.passage_start, "passage_end": self.passage_end}
        blobs = {"terms": "\n".join(postings.terms).encode("utf-8"),
                 "story_ids": _json_list([s.id for s in self.stories]).encode("utf-8"),
                 "meta": json.dumps({"format": FORMAT, "key": self.key, "generation": self.generation,
                                     "params": asdict(self.index.params),
                                     "per_block": scored.bounds.size}).encode()}
        return blobs, arrays


async def load_snapshot(store: Store, params: BM25Params, analyzer_key: str,
                        previous: Snapshot | None = None) -> tuple[Snapshot, bool]:
    """The archive's current snapshot: `previous` if nothing changed, else `previous` (or the
    saved one) brought up to date with the changed passages, else built from all passages;
    and whether it differs from the saved one (see `save_snapshot`). The heavy work runs off
    the event loop."""
    generation = await store.generation()
    key = f"{analyzer_key}|format={FORMAT}"
    if previous is not None and previous.key == key and previous.generation == generation:
        return previous, False
    headers = None
    if previous is None or previous.key != key:
        headers = await _all_headers(store)
        previous = await _saved(store, params, key, headers)
        if previous is not None and previous.generation == generation:
            await asyncio.to_thread(previous.warm_up)
            return previous, False
    if previous is not None and previous.passages:
        snapshot = await _update(store, previous, params, generation)
    else:
        if headers is None:  # read while the passages' postings are built, outside the interpreter lock
            headers, (passages, postings) = await asyncio.gather(_all_headers(store), _new_passages(store))
        else:
            passages, postings = await _new_passages(store)
        snapshot = await asyncio.to_thread(_built, headers, passages, postings, params, generation, key)
    await asyncio.to_thread(snapshot.warm_up)
    return snapshot, True


async def save_snapshot(store: Store, snapshot: Snapshot) -> None:
    """Keep `snapshot` with the archive, so the next open maps it instead of indexing."""
    blobs, arrays = await asyncio.to_thread(snapshot.to_saved)
    await store.save_index(snapshot.generation, blobs, arrays)


async def _update(store: Store, previous: Snapshot, params: BM25Params, generation: int) -> Snapshot:
    """`previous` with the passages added since, without those removed since: only the stories
    with new passages are read, so a reload adding a few stories reads a few."""
    last = int(previous.passage_ids.max(initial=0))
    new, new_postings = await _new_passages(store, after=last)
    changed = dict.fromkeys(new.story_ids)  # in the order their passages were written
    found = await asyncio.to_thread(_headers, await store.story_headers(changed))
    fresh = {sid: found[sid] for sid in changed if sid in found}
    gone: set[str] = set()
    keep = _kept(previous, changed)
    # every story has passages (the formats refuse an empty body), so a removed story shows in
    # either count; only then is every story id read
    added = sum(sid not in previous.positions for sid in fresh)
    if (int(keep.sum()) != await store.passages_up_to(last)
            or await store.story_count() != len(previous.stories) + added):
        alive = set(await store.story_ids())  # some stories are gone
        gone = await asyncio.to_thread(lambda: {s.id for s in previous.stories if s.id not in alive})
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
    story_kept[[snapshot.positions[sid] for sid in dropped if sid in snapshot.positions]] = False
    return story_kept[snapshot.passage_story]


async def _all_headers(store: Store) -> dict[str, StoryHeader]:
    return await asyncio.to_thread(_headers, await store.story_headers())


def _headers(rows: list[tuple[str, str, str | None, str | None, str, str, str | None]]) -> dict[str, StoryHeader]:
    return {sid: StoryHeader(sid, title, datetime.fromisoformat(d) if d else None, url, terms, int(digest, 16),
                             language or "")
            for sid, title, d, url, terms, digest, language in rows}


async def _saved(store: Store, params: BM25Params, key: str,
                 headers: dict[str, StoryHeader]) -> Snapshot | None:
    blobs, arrays = await store.load_index()
    if not blobs or arrays is None or json.loads(blobs["meta"]).get("key") != key:
        return None
    return await asyncio.to_thread(_from_saved, blobs, arrays, params, headers)


def _from_saved(blobs: dict[str, bytes], arrays: dict[str, np.ndarray], params: BM25Params,
                headers: dict[str, StoryHeader]) -> Snapshot | None:
    """The saved snapshot over its mapped `arrays` (no copies), with the gains and bounds it
    saved when they were computed with `params`; None when it is not the archive's."""
    meta = json.loads(blobs["meta"])
    story_ids = json.loads(blobs["story_ids"])
    if any(sid not in headers for sid in story_ids):
        return None  # the stories table moved on without the snapshot: rebuild
    terms = blobs["terms"].decode("utf-8").split("\n") if blobs["terms"] else []
    if not _consistent(arrays, len(terms), len(story_ids)):
        log.warning("the saved index's arrays do not fit together: indexing the archive instead")
        return None
    postings = Postings(terms, arrays["offsets"], arrays["docs"], arrays["tfs"], arrays["doc_lengths"])
    scored = None
    if meta["params"] == asdict(params):
        scored = Scored(arrays["idf"], arrays["gains"],
                        BlockMaxes(meta["per_block"], arrays["bound_starts"], arrays["bound_maxes"]))
    stories = [headers[sid] for sid in story_ids]
    languages = _language_ids(stories)
    return Snapshot(BM25Index(postings, params, _of_passages(languages, arrays["passage_story"]), scored=scored),
                    _titles(stories, params, languages), stories,
                    arrays["passage_ids"], arrays["passage_story"], arrays["passage_start"],
                    arrays["passage_end"], meta["generation"], meta["key"])


def _consistent(arrays: dict[str, np.ndarray], terms: int, stories: int) -> bool:
    """Whether the arrays' lengths agree with each other and with the saved terms and stories
    (what a check can tell without reading them)."""
    passages, postings = len(arrays["doc_lengths"]), len(arrays["docs"])
    offsets = arrays["offsets"]
    return (len(offsets) == terms + 1 and len(arrays["idf"]) == terms and len(arrays["bound_starts"]) == terms + 1
            and int(offsets[0]) == 0 and int(offsets[-1]) == postings
            and len(arrays["tfs"]) == len(arrays["gains"]) == postings
            and int(arrays["bound_starts"][-1]) == len(arrays["bound_maxes"])
            and all(len(arrays[name]) == passages for name in ("passage_ids", "passage_story", "passage_start",
                                                                "passage_end"))
            and (not passages or int(arrays["passage_story"].max()) < stories))


def _built(headers: dict[str, StoryHeader], passages: PassageColumns, postings: Postings, params: BM25Params,
           generation: int, key: str) -> Snapshot:
    stories = list(headers.values())
    position = {story.id: i for i, story in enumerate(stories)}
    languages = _language_ids(stories)
    passage_story = _positions(passages.story_ids, position)
    return Snapshot(index=BM25Index(postings, params, _of_passages(languages, passage_story)),
                    titles=_titles(stories, params, languages),
                    stories=stories, passage_ids=passages.ids,
                    passage_story=passage_story, passage_start=passages.starts,
                    passage_end=passages.ends, generation=generation, key=key, positions=position)


def _updated(previous: Snapshot, gone: set[str], fresh: dict[str, StoryHeader], keep: np.ndarray,
             new: PassageColumns, new_postings: Postings, params: BM25Params, generation: int) -> Snapshot:
    """`previous` with only the passages `keep` marks and the `new` ones (`new_postings`) appended; stories
    keep their order (with their `fresh` headers where changed) unless `gone`, new stories come
    after them. The title index is updated the same way, unless a title changed."""
    kept = np.ones(len(previous.stories), dtype=bool)
    kept[[previous.positions[sid] for sid in gone]] = False
    remap = np.where(kept, np.cumsum(kept) - 1, -1).astype(np.int32)
    stories = [s for s, k in zip(previous.stories, kept.tolist()) if k] if gone else list(previous.stories)
    position: dict[str, int] = {}  # of the fresh stories
    retitled = False
    for sid, header in fresh.items():
        at = previous.positions.get(sid)
        if at is None:
            position[sid] = len(stories)
            stories.append(header)
        else:
            position[sid] = int(remap[at])
            stories[position[sid]] = header
            retitled |= header.title_terms != previous.stories[at].title_terms
    languages = _language_ids(stories)
    titles = (_titles(stories, params, languages) if retitled else BM25Index(
        previous.titles.postings.without(kept).plus(_title_postings(stories[int(kept.sum()):])), params, languages))
    positions = story_day = None  # computed afresh when stories are gone, else carried over:
    if not gone:
        positions = previous.positions | position
        story_day = np.concatenate([previous.story_day, np.empty(len(stories) - len(previous.stories), np.int64)])
        story_day[list(position.values())] = _days([fresh[sid] for sid in position])
    passage_story = np.concatenate([remap[previous.passage_story[keep]], _positions(new.story_ids, position)])
    return Snapshot(
        index=BM25Index(previous.index.postings.without(keep).plus(new_postings), params,
                        _of_passages(languages, passage_story)),
        titles=titles,
        stories=stories,
        passage_ids=np.concatenate([previous.passage_ids[keep], new.ids]),
        passage_story=passage_story,
        passage_start=np.concatenate([previous.passage_start[keep], new.starts]),
        passage_end=np.concatenate([previous.passage_end[keep], new.ends]),
        generation=generation, key=previous.key, positions=positions, story_day=story_day)


def _days(stories: list[StoryHeader]) -> np.ndarray:
    return np.asarray([s.date.toordinal() if s.date else NO_DATE for s in stories], dtype=np.int64)


def _titles(stories: list[StoryHeader], params: BM25Params, languages: np.ndarray | None) -> BM25Index:
    return BM25Index(_title_postings(stories), params, languages)


def _language_ids(stories: list[StoryHeader]) -> np.ndarray | None:
    """A number per story for its language, or None when all are in one: then BM25 counts one
    corpus, as before languages were told apart."""
    codes: dict[str, int] = {}
    ids = np.fromiter((codes.setdefault(story.language, len(codes)) for story in stories),
                      dtype=np.int16, count=len(stories))
    return ids if len(codes) > 1 else None


def _of_passages(languages: np.ndarray | None, passage_story: np.ndarray) -> np.ndarray | None:
    return None if languages is None else languages[passage_story]


def _title_postings(stories: list[StoryHeader]) -> Postings:
    return Postings.from_texts([story.title_terms for story in stories])


def _positions(story_ids: list[str], position: dict[str, int]) -> np.ndarray:
    """Each story id's position in the snapshot's stories."""
    return np.fromiter(map(position.__getitem__, story_ids), dtype=np.int32, count=len(story_ids))


def _json_list(items: list[str], chunk: int = 10_000) -> str:
    """`json.dumps(items)`, encoded a chunk at a time: one call over a few hundred thousand
    story ids keeps the interpreter from answering questions for some 40 ms."""
    return "[" + ",".join(json.dumps(items[start:start + chunk])[1:-1] for start in range(0, len(items), chunk)) + "]"
