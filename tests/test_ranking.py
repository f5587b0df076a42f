"""Telling copies apart: the compiled shingles count what sets of word 5-grams count."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.answer.shingles import shared
from retrieval.answer.ranking import COPY_SHINGLE, Copies, is_copy, shingles

# words that casefold, or do not, across ASCII and beyond; separators of every kind
_WORD = st.sampled_from(["oil", "OIL", "Oil", "price", "ß", "SS", "ss", "İstanbul", "x_1", "42", "café", "ＡＢ",
                         "naïve", "Ǆ", "ǆ", "k", "K"])
_SEP = st.sampled_from([" ", "  ", ", ", ".\n\n", "-", "—", "\t", "é ", " ¿"])
_TEXT = st.lists(st.tuples(_WORD, _SEP), max_size=30).map(lambda pairs: "".join(w + s for w, s in pairs))


def reference_grams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    if len(words) < COPY_SHINGLE:
        return {tuple(words)}
    return set(zip(*(words[i:] for i in range(COPY_SHINGLE))))


@settings(max_examples=300)
@given(a=_TEXT, b=_TEXT)
def test_shingles_count_and_share_what_word_5_gram_sets_do(a, b):
    assert len(shingles(a)) == len(reference_grams(a))
    assert shared(shingles(a), shingles(b)) == len(reference_grams(a) & reference_grams(b))


@given(a=_TEXT, b=_TEXT)
def test_ascii_and_other_text_hash_a_word_alike(a, b):
    assert shared(shingles(a + " café"), shingles(a.upper() + " CAFÉ")) == len(shingles(a + " café"))


def test_a_story_filed_again_is_a_copy_of_the_cited_one():
    story = " ".join(f"word{i}" for i in range(100)) + " the central bank said on Friday."
    copies = Copies()
    assert copies.of(story, "Fed cuts rate") is None
    copies.add(story, "Fed cuts rate")
    assert copies.of(story.replace("Friday", "Thursday"), "FED CUTS RATE") == 0
    assert copies.of("Cocoa prices rose on London markets as the buffer stock bought.", "Cocoa") is None


def test_containment_counts_only_under_the_same_title():
    long = " ".join(f"word{i}" for i in range(100))
    short = " ".join(f"word{i}" for i in range(60))
    assert is_copy(shingles(short), shingles(long), same_title=True)
    assert not is_copy(shingles(short), shingles(long), same_title=False)
