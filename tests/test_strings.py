"""Strings in one UTF-8 pool with a hash table, and story headers in columns of them: what goes in
comes out, through the snapshot folder's files too, whatever the strings hold."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrieval.bm25.strings import NOT_FOUND, Strings
from retrieval.headers import NO_DATE, Stories, StoryHeader
from retrieval.storage import arrays as array_files

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)  # any but lone surrogates: \n, "", ß, 東京


@given(st.lists(_TEXT, unique=True, max_size=40), _TEXT)
def test_strings_give_back_each_string_and_find_it_by_its_bytes(items, other):
    strings = Strings.of(items, indexed=True)
    assert len(strings) == len(items)
    assert list(strings) == strings.tolist() == items
    assert [strings[i] for i in range(-len(items), len(items))] == items + items
    assert [strings.index_of(item) for item in items] == list(range(len(items)))
    assert (other in strings) == (other in items)
    assert strings.ids_of([other]).tolist() == [items.index(other) if other in items else NOT_FOUND]


@given(st.lists(_TEXT, unique=True, max_size=30), st.lists(_TEXT, max_size=10), st.data())
def test_taken_and_plus_equal_the_lists_they_stand_for(items, more, data):
    strings = Strings.of(items, indexed=True)
    order = data.draw(st.lists(st.integers(0, max(0, len(items) - 1)), max_size=20)) if items else []
    taken = strings.taken(np.asarray(order, dtype=np.int64))
    assert list(taken) == [items[i] for i in order]
    assert taken.table is not None
    joined = strings.plus(Strings.of(more))
    assert list(joined) == items + more
    assert [joined.index_of(item) for item in items + more] == [(items + more).index(item) for item in items + more]


@given(st.lists(_TEXT, max_size=20))
def test_single_words_are_those_str_split_leaves_whole(items):
    assert Strings.of(items).single_words() == all(item.split() == [item] for item in items)


def test_strings_out_of_range_or_without_a_table_say_so():
    strings = Strings.of(["oil", "cocoa"])
    with pytest.raises(IndexError):
        strings[2]
    with pytest.raises(IndexError):
        strings[-3]
    with pytest.raises(ValueError, match="no table"):
        strings.index_of("oil")
    assert Strings.of([], indexed=True).index_of("oil") == NOT_FOUND


_ROW = st.tuples(
    _TEXT,  # id (made unique below)
    _TEXT,  # title
    st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1)).map(datetime.isoformat)),
    st.one_of(st.none(), st.just("https://example.com/a")),
    _TEXT,  # title terms
    st.integers(0, 2**60 - 1).map(lambda digest: f"{digest:015x}"),
    st.one_of(st.none(), st.sampled_from(["en", "ru", "de"])),
)
_ROWS = st.lists(_ROW, max_size=12, unique_by=lambda row: row[0])


def headers(rows) -> list[StoryHeader]:
    return [StoryHeader(sid, title, datetime.fromisoformat(day) if day else None, url, terms, int(digest, 16),
                        language or "") for sid, title, day, url, terms, digest, language in rows]


def columns(stories: Stories) -> tuple:
    return (list(stories), stories.days.tolist(), stories.languages.tolist(), list(stories.language_names))


@given(_ROWS)
def test_story_columns_give_back_the_headers_and_find_them_by_id(rows):
    stories = Stories.of(rows)
    assert list(stories) == headers(rows)
    assert [stories.position_of(row[0]) for row in rows] == list(range(len(rows)))
    assert stories.position_of("\x00 not an id") is None
    assert stories.days.tolist() == [datetime.fromisoformat(row[2]).toordinal() if row[2] else NO_DATE
                                     for row in rows]
    counts = {}
    for row in rows:
        counts[row[6] or ""] = counts.get(row[6] or "", 0) + 1
    assert stories.language_counts() == dict(sorted(counts.items(), key=lambda item: -item[1]))


@given(_ROWS, _ROWS, st.data())
def test_story_columns_taken_and_joined_equal_those_of_their_rows(rows, more, data):
    more = [row for row in more if row[0] not in {r[0] for r in rows}]
    stories = Stories.of(rows)
    order = data.draw(st.permutations(range(len(rows)))) if rows else []
    assert columns(stories.taken(np.asarray(order, dtype=np.int64))) == columns(Stories.of([rows[i] for i in order]))
    assert columns(stories.plus(Stories.of(more))) == columns(Stories.of(rows + more))


@given(_ROWS)
def test_story_columns_come_back_from_their_files(tmp_path_factory, rows):
    archive = tmp_path_factory.mktemp("archive") / "a.sqlite"
    stories = Stories.of(rows)
    saved = array_files.mapped(archive, array_files.write(archive, 1, stories.arrays()))
    assert columns(Stories.from_arrays(saved)) == columns(stories)


def test_story_columns_that_do_not_fit_together_are_refused():
    arrays = Stories.of([("s1", "Cocoa", None, None, "cocoa", "0" * 15, "en")]).arrays()
    assert Stories.from_arrays({**arrays, "story_digests": np.zeros(2, np.int64)}) is None
    assert Stories.from_arrays({**arrays, "story_ids_bounds": np.asarray([0, 99], np.int64)}) is None
    without_table = {name: array for name, array in arrays.items() if name != "story_ids_table"}
    assert Stories.from_arrays(without_table) is None


@given(st.lists(st.text(max_size=4), max_size=8), st.lists(st.text(max_size=4), max_size=8))
def test_strings_start_with_those_they_were_made_from(first, then):
    made = Strings.of(first).plus(Strings.of(then))
    assert made.starts_with(Strings.of(first))
    assert made.starts_with(Strings.of(then)) == ((first + then)[:len(then)] == then)
