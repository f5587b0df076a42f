"""Citing: from a parsed question to the stories an answer cites, each quoted.

The steps, in order: rank stories and widen the search until enough are relevant (`_relevant`);
fold copies into the story they repeat, reading bodies a page at a time and skipping stories
another process changed since the snapshot (`_without_copies`, `_current_records`); quote each
shown story (`_quote`, see `quotes`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from retrieval.answer.kinds import asked_for, gives_words_of
from retrieval.answer.names import (FAINT, key_terms, may_be_initials, name_sample, named_in, spellings_out, written_as_name,
                                    written_in_capitals)
from retrieval.answer.query import YEAR, Query, holds_figure, within_a_month, words_with
from retrieval.answer.quotes import Asking, Quote, answer_cue, choose_quote, contains_phrase, window_features
from retrieval.answer.ranking import RELEVANCE_FLOOR, Copies, RankedStory, rank_stories, share_held
from retrieval.bm25.index import BM25Params
from retrieval.models import Citation, StoryRecord
from retrieval.snapshot import Snapshot
from retrieval.text.analysis import Analyzer, Analyzers
from retrieval.text.highlights import highlight_spans
from retrieval.text.quotations import quotation_marks
from retrieval.text.sentences import sentence_spans

TITLE_DISCOUNT = 0.7
"""Title words say which story, not which sentence: they count less when choosing the quote."""
PAGE = 20
"""Passages fetched per story wanted, at first: several passages of one story often rank together."""
QUOTE_REACH = 3000
"""How far (characters) from its best passage a story is searched for the quote: every sentence
of a news story, the neighbourhood of the best passage in a long filing (a table, a transcript)."""
WRITTEN_OUT = 16
"""How many stories holding a name that may be initials are read for the words it stands for:
more than a name's usual sample, since an acronym stands for several ("UN": the United Nations,
Unilever's ticker)."""
DATED_FLOOR = 0.75
"""The relevance floor of a question whose dates are a month or less, as a share of
RELEVANCE_FLOOR (chosen on the development split: bench/README.md, "Eleventh session")."""
MAX_PAGE = 20 * 4 ** 3
"""Past this many passages per story wanted, what is left ranks too low to be relevant."""

_FIGURES, _WORDS = "figures", "words"
"""What a relevant story was left out for lacking (`Citing._without_copies`)."""

ReadStories = Callable[[Iterable[str]], Awaitable[dict[str, StoryRecord]]]
"""Reads stored stories by id (`Store.stories`)."""


class Citing:
    """Cites stories for questions, reading their bodies with `read`."""

    def __init__(self, analyzers: Analyzers, params: BM25Params, read: ReadStories) -> None:
        self.analyzers = analyzers
        self.params = params
        self.read = read

    async def cite(self, snapshot: Snapshot, query: Query, wanted: int, shown: range,
                   mentioning: Sequence[str] = (), floor: float = RELEVANCE_FLOOR) -> Found:
        """The first `wanted` relevant stories that hold every term of `mentioning`, name every
        name the question is about, give every figure it gives and hold a word of what it asks
        about, copies of a cited story folded into its citation;
        those at the positions `shown` quoted from their best passage, the others (only counted,
        or only there to fold copies into) with an empty quote. A story whose best passage
        lacks a phrase is left out. When none is found, but some would be were it not for what
        the question asks about, that is what `Found.untold` says (unless stories of it were
        found that lack only the words asked for: `Found.unheard`); when none would be either,
        `Found` says why as it would without it. A story is relevant when it matches `floor` of
        the question's term weight or more (`relevance_floor`)."""
        found = await self._found(snapshot, query, wanted, shown, mentioning, floor)
        if not found.citations and query.topic and not found.unheard:
            # asked without its subject: stories found then tell of all but the subject; none
            # found, and the reason is the rest of the question's
            told = await self._found(snapshot, replace(query, topic=[]), wanted, range(0), mentioning, floor)
            return Found([], [], [], [], query.topic, []) if told.citations else told
        return found

    async def _found(self, snapshot: Snapshot, query: Query, wanted: int, shown: range,
                     mentioning: Sequence[str], floor: float) -> Found:
        """`cite`'s citations, or why there are none."""
        weights = snapshot.term_weights(query.terms + query.date_terms + query.missing)
        rankings: dict[int, tuple[list[RankedStory], bool]] = {}
        relevant = self._relevant(snapshot, query, wanted, weights, mentioning, rankings, floor)
        read = _Reads(self.read)
        read.expect(snapshot.stories.ids[relevant[rank].story] for rank in _first_page(snapshot, relevant, wanted))
        # the best story not naming a name asked tells of something else: only those that do count
        analyzer = self.analyzers.of(query.language)
        lacking, required = await self._names_lacking(snapshot, query, relevant, weights, read)
        passed_over: list[str] = []
        if lacking:
            naming = self._relevant(snapshot, query, wanted, weights, mentioning, rankings, floor,
                                    dict.fromkeys(required, ()))
            if not naming:  # a story may name them in the words their initials stand for
                naming = await self._writing_out(snapshot, query, wanted, weights, mentioning, rankings, floor,
                                                 required, read)
            if naming or not await self._acronyms_only(snapshot, query, lacking, analyzer, read):
                relevant = naming
            else:  # no story names them, and too few hold them to tell they are the names meant
                lacking, passed_over = [], lacking
        cited, missed = await self._without_copies(snapshot, relevant, query, wanted, read)
        asking = self._asking(snapshot, query, weights)
        return Found([self._citation(snapshot, relevant, story, query,
                                     self._quote(snapshot, relevant[story.rank], story, asking, analyzer)
                                     if n in shown else None)
                      for n, story in enumerate(cited)], lacking, passed_over,
                     query.figures if missed == {_FIGURES} and not cited else [], [],
                     query.speaker if _WORDS in missed and not cited else [])

    def _relevant(self, snapshot: Snapshot, query: Query, wanted: int, weights: dict[str, float],
                  mentioning: Sequence[str], rankings: dict[int, tuple[list[RankedStory], bool]], floor: float,
                  naming: Mapping[str, Sequence[Sequence[str]]] | None = None) -> list[RankedStory]:
        """The ranked stories at `floor` or above that hold every term of `mentioning`, a
        term of what the question asks about (`Query.topic`, when it says) and
        name every name of `naming` (every name asked, when the best match lacked one; each with
        the terms of the words it stands for, which name it too): enough for `wanted`
        citations once copies are folded, the search widened until it finds them or nothing more
        can be relevant. A story naming every name asked is judged by the question words it
        holds anywhere, not only in its best passage and title: it is about what was asked, and
        the rest of the question may be told in other paragraphs. `rankings` keeps the stories
        ranked for the question by limit: asked again with the names required, the ranking is
        the same, only which of them count changes."""
        required = [t for p in query.phrases for t in self.analyzers.of(query.language).terms(p)]
        years = _years(query.terms + query.missing)
        limit = PAGE * wanted
        while True:
            # on the loop, not a thread: ~2 ms, mostly under the GIL, so a thread only adds hand-offs
            if limit not in rankings:
                rankings[limit] = rank_stories(snapshot, query, required, limit, weights)
            ranked, complete = rankings[limit]
            shares = _story_shares(snapshot, query, weights, ranked) if naming else [0.0] * len(ranked)
            holding = _holding(snapshot, ranked, [*mentioning, *(naming or ())], years, naming)
            if query.topic:
                holding &= _holding_any(snapshot, ranked, query)
            relevant = [r for r, share, held in zip(ranked, shares, holding)
                        if max(r.coverage, share) >= floor and held]
            if len(relevant) >= wanted or complete or limit >= MAX_PAGE * wanted:
                return relevant
            limit *= 4

    async def _writing_out(self, snapshot: Snapshot, query: Query, wanted: int, weights: dict[str, float],
                           mentioning: Sequence[str], rankings: dict[int, tuple[list[RankedStory], bool]],
                           floor: float, names: list[str], read: _Reads) -> list[RankedStory]:
        """The relevant stories (`_relevant`) that name each of `names`, or write out the words its
        initials stand for as the archive's stories holding it do (`_written_out`): found by
        their terms, kept when their text holds the words as written ("United States" and
        "national" are no "United Nations")."""
        analyzer = self.analyzers.of(query.language)
        written = await _written_out(snapshot, names, read)
        terms = {phrase: analyzer.terms(phrase) for phrases in written.values() for phrase in phrases}
        # a spelling out of fewer than two terms is a sentence's opening ("In Canada" for "ic")
        phrases = {name: [phrase for phrase in ways if len(terms[phrase]) >= 2] for name, ways in written.items()}
        if not any(phrases.values()):
            return []
        forms = {name: [terms[phrase] for phrase in ways] for name, ways in phrases.items()}
        found = self._relevant(snapshot, query, wanted, weights, mentioning, rankings, floor, forms)
        records = await read(snapshot.stories.ids[r.story] for r in found)

        def names_all(story: RankedStory) -> bool:
            text = _text(records.get(snapshot.stories.ids[story.story]))
            return all(snapshot.holds(story.story, name) or any(phrase in text for phrase in phrases[name])
                       for name in names)
        return [story for story in found if names_all(story)]

    async def _names_lacking(self, snapshot: Snapshot, query: Query, ranked: list[RankedStory],
                             weights: dict[str, float], read: _Reads) -> tuple[list[str], list[str]]:
        """The names the question is about (`names.key_terms` the archive writes as names) that
        the best of the `ranked` stories does not name; and, when there are any, every name the
        question is about, which the stories cited instead must all name: a story naming the
        name the best one lacked but none of those it held tells of something else."""
        if not ranked:
            return [], []
        analyzer = self.analyzers.of(query.language)
        best = snapshot.stories.ids[ranked[0].story]
        keys = key_terms([t for t in query.terms if t not in query.alternatives and t not in query.guessed],
                         weights, analyzer)
        asked = [t for t in keys if not snapshot.holds(ranked[0].story, t)]
        samples = {t: name_sample(snapshot, t) for t in asked}
        read.expect(id_ for ids in samples.values() for id_ in ids)  # read with the best story, not after it
        text = _text((await read([best])).get(best) if asked else None)
        held = set(analyzer.terms(text))
        unnamed = [t for t in asked if not named_in(t, held) and not await _spelt_out(t, text, samples[t], read)]
        lacking = [t for t, name in zip(unnamed, await self._written_as_names(unnamed, samples, analyzer, read)) if name]
        if not lacking:
            return [], []
        others = [t for t in keys if t not in asked]
        samples = {t: name_sample(snapshot, t) for t in others}
        held_names = [t for t, name in zip(others, await self._written_as_names(others, samples, analyzer, read)) if name]
        return lacking, lacking + held_names

    @staticmethod
    async def _acronyms_only(snapshot: Snapshot, query: Query, names: list[str], analyzer: Analyzer,
                             read: _Reads) -> bool:
        """Whether the question writes none of `names` in capitals, and at most FAINT stories
        hold each, only in capitals (`names.FAINT`)."""
        for name in names:
            written = words_with(query.text, {name}, analyzer)  # none for a respelling: another word was asked
            holding = np.flatnonzero(snapshot.stories_with(name))
            if not written or any(word.isupper() for word in written) or len(holding) > FAINT:
                return False
            records = await read(snapshot.stories.ids[s] for s in holding)  # all of them: FAINT at most
            if not written_in_capitals(name, (r.body for r in records.values()), analyzer):
                return False
        return True

    @staticmethod
    async def _written_as_names(terms: list[str], samples: dict[str, list[str]], analyzer: Analyzer,
                                read: _Reads) -> list[bool]:
        """Whether the archive writes each of `terms` as a name (`names.written_as_name` of its
        `samples`, the ids of stories holding it), their stories read in one call."""
        records = await read([id_ for t in terms for id_ in samples[t]]) if terms else {}
        return [written_as_name(t, (records[id_].body for id_ in dict.fromkeys(samples[t]) if id_ in records), analyzer)
                for t in terms]

    async def _without_copies(self, snapshot: Snapshot, relevant: list[RankedStory], query: Query,
                              wanted: int, read: _Reads) -> tuple[list[_Cited], set[str]]:
        """The first `wanted` stories of `relevant` whose best passage holds every phrase of
        `query`, whose text every figure it gives and, when it asks for someone's words
        (`Query.speaker`), gives them (`gives_words_of`); each with the
        ranks of its copies: exact ones (same content, best passage at the same place), whose
        bodies need not be read, and near ones (`Copies`), told apart by their text; and what
        the stories holding the phrases but left out lacked (_FIGURES, _WORDS)."""
        analyzer = self.analyzers.of(query.language)
        cited: list[_Cited] = []
        missed: set[str] = set()
        near = Copies()
        originals, exact = _exact_copies(snapshot, relevant)
        for page in _pages(originals, _page_size(wanted)):
            if len(cited) >= wanted:
                break
            records = await _current_records(snapshot, [relevant[rank] for rank in page], read)
            for rank in page:
                record = records.get(snapshot.stories.ids[relevant[rank].story])
                span = _span(snapshot, relevant[rank])
                if record is None or not all(contains_phrase(record.body[span[0]:span[1]], p) for p in query.phrases):
                    continue
                if query.figures and not _gives_figures(record, query):
                    missed.add(_FIGURES)
                    continue
                if query.speaker and not _gives_words(record.body, frozenset(query.speaker), analyzer):
                    missed.add(_WORDS)
                    continue
                original = near.of(record.body, record.title)
                if original is not None:
                    cited[original].copies.append(rank)
                elif len(cited) < wanted:  # else only copies of the cited stories are still of use
                    original = len(cited)
                    cited.append(_Cited(rank, record, span))
                    near.add(record.body, record.title)
                else:
                    continue
                cited[original].copies.extend(exact.get(rank, ()))
        return cited, missed

    def _citation(self, snapshot: Snapshot, relevant: list[RankedStory], story: _Cited, query: Query,
                  quote: Quote | None) -> Citation:
        """The citation of a story, with its `quote` (none: an empty one), what of the quote
        matches `query`, the quotation marks it needs, and the ids of its copies."""
        ranked, record = relevant[story.rank], story.record
        copies = tuple(snapshot.stories.ids[relevant[rank].story] for rank in sorted(story.copies))
        citation = Citation(record.id, record.title, record.date, "", ranked.score, record.url, copies)
        if quote is None:
            return citation
        text = record.body[quote.start:quote.end]
        highlights = highlight_spans(text, frozenset(query.terms), query.phrases, self.analyzers.of(query.language))
        return replace(citation, quote=text, highlights=tuple(highlights),
                       marks=quotation_marks(record.body, quote.start, quote.end))

    def _asking(self, snapshot: Snapshot, query: Query, weights: dict[str, float]) -> Asking:
        """What quotes are chosen for: the question's term `weights` and those of words related
        to them (no stronger than the word asked), its words, what it asks for."""
        evidence = weights | {word: min(weight, weights[query.related[word]])
                              for word, weight in snapshot.term_weights(list(query.related)).items()}
        words = self.analyzers.of(query.language).words(query.text)
        return Asking(evidence, frozenset(words), asked_for(query.text, query.language), query.phrases,
                      answer_cue(query.text), params=self.params)

    def _quote(self, snapshot: Snapshot, ranked: RankedStory, story: _Cited, asking: Asking,
               analyzer: Analyzer) -> Quote:
        """What to quote of the story for `asking`: any of its sentences, its best passage in focus."""
        asking = _for_story(asking, snapshot.stories.title_terms[ranked.story])
        return choose_quote(story.record.body, _around(story.record.body, story.span), asking, analyzer,
                            focus=story.span)

    def quote_candidates(self, snapshot: Snapshot, query: Query, record: StoryRecord
                         ) -> tuple[list[tuple[int, int]], np.ndarray] | None:
        """For training the quote model: the spans of the story's quote windows and their
        features (`quotes.window_features`) for `query`, as citing it would see them; None when
        `snapshot` does not hold the story."""
        position = snapshot.stories.position_of(record.id)
        if position is None:
            return None
        asking = _for_story(self._asking(snapshot, query, snapshot.term_weights(query.terms + query.date_terms)),
                            snapshot.stories.title_terms[position])
        docs, _, _ = snapshot.best_passages(query.terms, np.asarray([position]), None)
        focus = _span(snapshot, RankedStory(position, int(docs[0]), 0.0, 0.0)) if docs[0] >= 0 else None
        sentences = sentence_spans(record.body) or [(0, len(record.body))]
        windows, features = window_features(record.body, sentences, asking, self.analyzers.of(query.language),
                                            focus, lead=True)
        return [(sentences[a][0], sentences[b][1]) for a, b in windows], features


def relevance_floor(query: Query) -> float:
    """The least share of `query`'s term weight a story must match to be cited: RELEVANCE_FLOOR,
    DATED_FLOOR of it for a question whose dates are a month or less ("in may 2016", "on 9
    september 2022"): those dates pick out a handful of stories, and say part of what the
    words would otherwise have to."""
    return RELEVANCE_FLOOR * (DATED_FLOOR if within_a_month(query.since, query.until) else 1.0)


def _gives_figures(record: StoryRecord, query: Query) -> bool:
    """Whether the story's title or body gives every figure the question gives."""
    text = _text(record)
    return all(holds_figure(text, figure, query.language) for figure in query.figures)


def _gives_words(text: str, speaking: frozenset[str], analyzer: Analyzer) -> bool:
    """Whether a story's body, `text`, gives the words of whom the question names by the terms
    `speaking`, named as the question does or in the words their initials stand for ("United
    Nations" for "the un")."""
    written = {term for name in speaking for run in spellings_out(name, text) for term in analyzer.terms(run)}
    return gives_words_of(text, speaking | written, analyzer)


def _text(record: StoryRecord | None) -> str:
    """A story's title and body, where what a question asks is looked for ("" for none read)."""
    return f"{record.title}\n{record.body}" if record else ""


async def _written_out(snapshot: Snapshot, names: list[str], read: _Reads) -> dict[str, list[str]]:
    """Each of `names` with the words its initials stand for, as at least two of a sample of
    the stories holding it (WRITTEN_OUT of them) write them out ("United Nations" of "UN"):
    none for a name that cannot be initials."""
    samples = {name: name_sample(snapshot, name, WRITTEN_OUT) if may_be_initials(name) else [] for name in names}
    records = await read([id_ for ids in samples.values() for id_ in ids])
    return {name: _agreed([spellings_out(name, records[id_].body) for id_ in ids if id_ in records])
            for name, ids in samples.items()}


def _agreed(spellings: list[set[str]]) -> list[str]:
    """The spellings out that two stories or more write: what one alone writes may be any
    capitalised words with those first letters."""
    counts = Counter(run for runs in spellings for run in runs)
    return sorted(run for run, count in counts.items() if count >= 2)


async def _spelt_out(term: str, text: str, sample: list[str], read: _Reads) -> bool:
    """Whether `text` writes out `term`'s initials as stories holding the term do too ("Prime
    Minister" where the archive's "PM" stories write it; not "Pay May")."""
    runs = spellings_out(term, text)
    if not runs:
        return False
    bodies = [record.body for record in (await read(sample)).values()]
    return any(run in body for body in bodies for run in runs)


async def _current_records(snapshot: Snapshot, ranked: list[RankedStory], read: _Reads) -> dict[str, StoryRecord]:
    """The stored stories of `ranked`, by id, leaving out those another process changed since
    `snapshot` was taken: their passages' places in the body are stale."""
    stories = snapshot.stories
    digests = {stories.ids[r.story]: int(stories.digests[r.story]) for r in ranked}
    records = await read(digests.keys())
    return {story_id: record for story_id, record in records.items() if record.digest == digests[story_id]}


class _Reads:
    """The stored stories one question reads, each read once: the ids `expect`ed are read along
    with the next ones asked for, in one call to the store's thread instead of one call each
    (a call waits its turn at the interpreter lock twice, ~0.2-1 ms on a busy machine)."""

    def __init__(self, read: ReadStories) -> None:
        self._read = read
        self._records: dict[str, StoryRecord | None] = {}  # None: not stored
        self._expected: dict[str, None] = {}

    def expect(self, ids: Iterable[str]) -> None:
        """Read these too, with the next ones asked for."""
        self._expected.update(dict.fromkeys(ids))

    async def __call__(self, ids: Iterable[str]) -> dict[str, StoryRecord]:
        """The stored stories of `ids` (those stored), by id."""
        ids = list(dict.fromkeys(ids))
        if any(id_ not in self._records for id_ in ids):
            wanted = [id_ for id_ in dict.fromkeys([*ids, *self._expected]) if id_ not in self._records]
            self._expected = {}
            found = await self._read(wanted)
            self._records.update((id_, found.get(id_)) for id_ in wanted)
        return {id_: record for id_ in ids if (record := self._records[id_]) is not None}


def _first_page(snapshot: Snapshot, relevant: list[RankedStory], wanted: int) -> list[int]:
    """The ranks of the stories `_without_copies` reads first."""
    originals, _ = _exact_copies(snapshot, relevant)
    return originals[:_page_size(wanted)]


def _page_size(wanted: int) -> int:
    """How many stories `_without_copies` reads at a time, for `wanted` citations."""
    return 2 * wanted


def _story_shares(snapshot: Snapshot, query: Query, weights: dict[str, float],
                  ranked: list[RankedStory]) -> np.ndarray:
    """Per ranked story: the share of the question's term weight it holds anywhere, a term held
    when one of its alternatives is (related words count in `RankedStory.coverage`)."""
    stories = np.asarray([r.story for r in ranked], dtype=np.int64)
    own = [t for t in dict.fromkeys(query.terms) if t not in query.alternatives]
    holding = snapshot.held_by(own + list(query.alternatives), stories)
    held = dict(zip(own, holding[:len(own)]))
    for (alias, term), holds in zip(query.alternatives.items(), holding[len(own):]):
        held[term] = held[term] | holds
    return share_held(held, weights, query, len(stories))


def _holding(snapshot: Snapshot, ranked: list[RankedStory], terms: Sequence[str],
             years: Sequence[tuple[str, int]],
             written_out: Mapping[str, Sequence[Sequence[str]]] | None = None) -> np.ndarray:
    """Per ranked story: whether it holds every one of `terms` (or, for a term of
    `written_out`, all the terms of one of the ways it is written out) and, for each (term,
    year) of `years`, is dated in that year or holds the term; all True when neither is asked.
    Read for the ranked stories only, not as a mask of the archive's."""
    if not terms and not years:
        return np.ones(len(ranked), dtype=bool)
    stories = np.asarray([r.story for r in ranked], dtype=np.int64)
    terms = list(dict.fromkeys(terms))
    holding = snapshot.held_by(terms + [term for term, _ in years], stories)
    for row, term in enumerate(terms):
        for form in (written_out or {}).get(term, ()):
            holding[row] |= snapshot.held_by(form, stories).all(axis=0)
    held = holding[:len(terms)].all(axis=0)
    for (_, year), holds in zip(years, holding[len(terms):]):
        # a story neither dated in a year the question names nor naming it tells of another
        # event ("the 2020 Oscars" is not the 1987 ceremony's story)
        held &= holds | (snapshot.story_years[stories] == year)
    return held


def _holding_any(snapshot: Snapshot, ranked: list[RankedStory], query: Query) -> np.ndarray:
    """Per ranked story: whether it holds a term of what the question asks about
    (`Query.topic`), or one of its alternatives or related words."""
    words = [*query.topic, *(word for word, term in [*query.alternatives.items(), *query.related.items()]
                             if term in query.topic)]
    stories = np.asarray([r.story for r in ranked], dtype=np.int64)
    return snapshot.held_by(words, stories).any(axis=0)


def _years(terms: Sequence[str]) -> list[tuple[str, int]]:
    """The terms that are years (1800-2099), with the year."""
    return [(term, int(bare)) for term in dict.fromkeys(terms)
            if YEAR.fullmatch(bare := term.rpartition(":")[2])]


def _for_story(asking: Asking, title_terms: str) -> Asking:
    """`asking` for quoting one story: its title's terms count less (they say which story, not
    which sentence)."""
    title = frozenset(title_terms.split())
    weights = {t: w * (TITLE_DISCOUNT if t in title else 1.0) for t, w in asking.weights.items()}
    return replace(asking, weights=weights, title_terms=title)


class Found(NamedTuple):
    """What `Citing.cite` found: the citations; the names it required them to name (the
    question's names the best matching story lacked); those it did not require, though the
    citations lack them: no matching story names them, and the few stories holding them write
    them as acronyms (`Citing._acronyms_only`); and the figures no relevant story gave."""

    citations: list[Citation]
    named: list[str]
    passed_over: list[str]
    figures: list[str]
    """The figures the question gives, when relevant stories were found but none gave them
    (and none was left out for lacking only the words asked for)."""
    untold: list[str]
    """The terms of what the question asks about (`Query.topic`), when stories match the rest
    of the question but none holds them."""
    unheard: list[str]
    """Whose words the question asks for (`kinds.speaker`), when relevant stories were found
    but none gives them."""


@dataclass
class _Cited:
    """A story to cite: its rank among the relevant stories, its record, its best passage's span
    in the body, and the ranks of its copies."""

    rank: int
    record: StoryRecord
    span: tuple[int, int]
    copies: list[int] = field(default_factory=list)


def _span(snapshot: Snapshot, ranked: RankedStory) -> tuple[int, int]:
    """Where the story's best passage lies in its body."""
    return int(snapshot.passage_start[ranked.doc]), int(snapshot.passage_end[ranked.doc])


def _exact_copies(snapshot: Snapshot, ranked: list[RankedStory]) -> tuple[list[int], dict[int, list[int]]]:
    """The ranks of the stories in `ranked` that are no exact copy of one ranked above them,
    and, by the rank of each of those, the ranks of its exact copies: the same content, best
    passage at the same place. A copy's fate is its original's, so its body need not be read."""
    originals: list[int] = []
    copies: dict[int, list[int]] = {}
    first: dict[tuple[int, int], int] = {}
    digests = snapshot.stories.digests[[r.story for r in ranked]].tolist()
    starts = snapshot.passage_start[[r.doc for r in ranked]].tolist()
    for rank, key in enumerate(zip(digests, starts)):
        original = first.setdefault(key, rank)
        if original == rank:
            originals.append(rank)
        else:
            copies.setdefault(original, []).append(rank)
    return originals, copies


def _around(body: str, span: tuple[int, int]) -> tuple[int, int]:
    """The paragraphs within QUOTE_REACH characters of `span`: where the quote may come from (a
    news story whole; of a long filing, the part around its best passage)."""
    start = body.rfind("\n\n", 0, max(0, span[0] - QUOTE_REACH)) + 1 if span[0] > QUOTE_REACH else 0
    end = body.find("\n\n", span[1] + QUOTE_REACH)
    return start, len(body) if end < 0 else end


def _pages(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]
