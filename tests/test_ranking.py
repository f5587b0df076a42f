"""Ranking helpers that stand in for a search: they must give what the search gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrieval.index import VARIANTS, BM25Index, BM25Params
from retrieval.ranking import scores_of

_TERM = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])
_CORPUS = st.lists(st.lists(_TERM, max_size=8), min_size=1, max_size=12)
_QUERY = st.lists(_TERM | st.sampled_from(["unknown", "zzz"]), min_size=1, max_size=5)


@pytest.mark.parametrize("variant", VARIANTS)
@given(corpus=_CORPUS, query=_QUERY, data=st.data())
def test_scores_of_equals_a_masked_search_bit_for_bit(variant, corpus, query, data):
    index = BM25Index.build(corpus, BM25Params(variant=variant))
    docs = np.asarray(data.draw(st.lists(st.integers(0, len(corpus) - 1), unique=True)), dtype=np.int64)
    mask = np.zeros(len(corpus), dtype=bool)
    mask[docs] = True
    hits = index.search(query, mask)
    scores, held = scores_of(index, query, docs)
    expected = dict(zip(hits.docs.tolist(), hits.scores.tolist()))
    assert {d for d, h in zip(docs.tolist(), held.tolist()) if h} == expected.keys()
    assert [s for s, h in zip(scores.tolist(), held.tolist()) if h] == [expected[d] for d in docs[held].tolist()]
    assert not scores[~held].any()
