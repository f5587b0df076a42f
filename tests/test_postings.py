"""Postings from stored terms texts equal postings from token lists, whatever the text holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from retrieval.bm25.postings import Postings

# terms with non-ASCII letters, and texts with the whitespace that sends from_texts to its
# general path: other whitespace than single spaces, newlines inside a passage
_TERM = st.sampled_from(["oil", "u.s", "6.4", "ß", "naïve", "東京", "a"])
_TEXT = st.one_of(
    st.lists(_TERM, max_size=6).map(" ".join),
    st.lists(st.sampled_from(["oil", "ß", " ", "\n", "\t", "\u00a0", "\u2003", "x\r"]), max_size=8).map("".join),
)


def plain(postings: Postings) -> tuple:
    return (list(postings.terms), postings.offsets.tolist(), postings.docs.tolist(), postings.tfs.tolist(),
            postings.doc_lengths.tolist())


@given(st.lists(_TEXT, max_size=12))
def test_from_texts_splits_as_str_split_does(texts):
    assert plain(Postings.from_texts(texts)) == plain(Postings.from_documents(t.split() for t in texts))


def test_from_texts_grows_its_term_table_past_its_first_size():
    texts = [" ".join(f"t{i}x{j}" for j in range(50)) for i in range(200)] + ["t0x0 t199x49", ""]
    assert plain(Postings.from_texts(texts)) == plain(Postings.from_documents(t.split() for t in texts))
