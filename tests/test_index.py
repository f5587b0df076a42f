"""The retrieval contract: the index ranks exactly as rank_bm25's get_scores scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from retrieval.text.analysis import Analyzer
from retrieval.ingest.formats import read_file
from retrieval.bm25.index import VARIANTS, BM25Index, BM25Params
from retrieval.bm25.postings import Postings
from retrieval.bm25.scoring import WINDOW
from retrieval.text.sentences import passage_spans

DEMO_QUESTION = "Can Russia prevent Ukraine from joining NATO?"

# A small vocabulary, so that random corpora hold terms in more than half, exactly half and
# fewer than half of their documents; queries also draw terms no document holds.
_TERM = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])
_CORPUS = st.lists(st.lists(_TERM, max_size=8), min_size=1, max_size=12)
_QUERY = st.lists(_TERM | st.sampled_from(["unknown", "zzz"]), min_size=1, max_size=5)


def assert_matches_rank_bm25(corpus: list[list[str]], query: list[str], params: BM25Params,
                             allowed: np.ndarray | None = None) -> None:
    hits = BM25Index.build(corpus, params).search(query, allowed)
    docs, scores = hits.docs.tolist(), hits.scores.tolist()
    expected = [i for i, doc in enumerate(corpus)
                if set(doc) & set(query) and (allowed is None or allowed[i])]

    assert sorted(docs) == expected, "exactly the passages sharing a query term are returned"
    if expected:
        with np.errstate(divide="ignore", invalid="ignore"):  # BM25L, b=1: 0/0 on empty passages
            reference = params.rank_bm25(corpus).get_scores(query)
        assert scores == pytest.approx([reference[d] for d in docs], rel=1e-9, abs=1e-12)
    for (doc, score), (next_doc, next_score) in zip(zip(docs, scores), zip(docs[1:], scores[1:])):
        assert score > next_score or (score == next_score and doc < next_doc), \
            "best first, ties in passage order"


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=300)
@given(corpus=_CORPUS, query=_QUERY, k1=st.floats(0.1, 3.0), b=st.floats(0.0, 1.0))
@example(corpus=[["a", "b", "a"]], query=["a"], k1=1.5, b=0.75)  # one document: every idf < 0
@example(corpus=[["a", "b"], ["c"]], query=["a", "c"], k1=1.5, b=0.75)  # each in exactly half
@example(corpus=[["a"], ["a"], ["a", "b"]], query=["a", "b"], k1=1.2, b=1.0)  # in more than half
@example(corpus=[[], ["a"], [], ["a", "a", "a"]], query=["a", "a", "zzz"], k1=1.5, b=0.75)  # empties, repeats
@example(corpus=[[], []], query=["a"], k1=1.5, b=0.75)  # no words at all
@example(corpus=[["a", "b"], ["a", "b"], ["b", "a"]], query=["b"], k1=1.5, b=0.75)  # ties
def test_index_scores_and_order_equal_rank_bm25(variant, corpus, query, k1, b):
    assert_matches_rank_bm25(corpus, query, BM25Params(variant=variant, k1=k1, b=b))


@pytest.mark.parametrize("variant", VARIANTS)
@given(corpus=_CORPUS, query=_QUERY, data=st.data())
def test_a_filter_drops_passages_without_changing_scores(variant, corpus, query, data):
    allowed = np.asarray(data.draw(st.lists(st.booleans(), min_size=len(corpus), max_size=len(corpus))))
    assert_matches_rank_bm25(corpus, query, BM25Params(variant=variant), allowed)


def okapi_gains(postings: Postings, params: BM25Params) -> np.ndarray:
    """Each posting's Okapi gain by rank_bm25's expression, one posting at a time."""
    index = BM25Index(postings, params)
    lengths, avgdl, k1, b = postings.doc_lengths, index.avgdl, params.k1, params.b
    terms = postings.term_of_posting
    return np.asarray([index.idf[t] * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * int(lengths[d]) / avgdl)))
                       for t, d, tf in zip(terms.tolist(), postings.docs.tolist(), postings.tfs.tolist())])


@pytest.mark.parametrize("longest", [3, 70_000])  # lengths narrowed to 16 bits, and too long for them
def test_okapi_gains_through_the_length_table_equal_rank_bm25s_expression(longest):
    postings = Postings.from_documents([["a", "b", "a"], ["b"] * longest, ["c", "a"], []])
    params = BM25Params(k1=1.2, b=0.8)
    assert BM25Index(postings, params).gains.tolist() == okapi_gains(postings, params).tolist()


@given(st.lists(st.integers(0, 40), max_size=60), st.integers(0, 5), st.sampled_from(VARIANTS))
def test_idf_once_per_document_frequency_equals_it_term_by_term(df, more, variant):
    df, n = np.asarray(df, dtype=np.int64), max(df, default=0) + more
    params = BM25Params(variant=variant)
    if variant == "okapi":
        idf = [math.log(n - f + 0.5) - math.log(f + 0.5) for f in df.tolist()]
        eps = params.epsilon * (math.fsum(idf) / len(idf)) if idf else 0.0
        expected = [eps if value < 0 else value for value in idf]
    elif variant == "l":
        expected = [math.log(n + 1) - math.log(f + 0.5) for f in df.tolist()]
    else:
        df[df == 0] = 1  # BM25Plus's idf is of terms some passage holds
        expected = [math.log((n + 1) / f) for f in df.tolist()]
    index = BM25Index(Postings.from_documents([]), params)
    assert index._idf(df, n).tolist() == [value or 0 for value in expected]


def test_an_empty_index_finds_nothing():
    hits = BM25Index.build([]).search(["a"])
    assert len(hits) == 0


def test_an_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="variant"):
        BM25Params(variant="bm42")


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_seed_story_ranks_the_answering_paragraph_first(seed_dir, variant):
    analyzer = Analyzer()
    [story] = read_file(seed_dir / "960351.txt")
    spans = passage_spans(story.body)
    index = BM25Index.build([analyzer.terms(story.body[s:e]) for s, e in spans], BM25Params(variant=variant))
    hits = index.search(analyzer.terms(DEMO_QUESTION))
    start, end = spans[hits.docs[0]]
    assert story.body[start:end].startswith('"We cannot prevent it. It is impossible.')


@pytest.mark.parametrize("variant", VARIANTS)
@given(corpus=_CORPUS, query=_QUERY, limit=st.integers(1, 6), data=st.data())
def test_top_k_equals_the_head_of_the_full_ranking(variant, corpus, query, limit, data):
    allowed = np.asarray(data.draw(st.lists(st.booleans(), min_size=len(corpus), max_size=len(corpus))))
    index = BM25Index.build(corpus, BM25Params(variant=variant))
    for mask in (None, allowed):
        full, top = index.search(query, mask), index.search(query, mask, limit=limit)
        assert top.docs.tolist() == full.docs[:limit].tolist()
        assert top.scores.tolist() == full.scores[:limit].tolist()


@given(corpus=_CORPUS, terms=st.lists(_TERM | st.just("unknown"), max_size=4), data=st.data())
def test_holding_tells_which_passages_hold_each_term(corpus, terms, data):
    docs = np.asarray(data.draw(st.lists(st.integers(0, len(corpus) - 1), max_size=8)), dtype=np.int64)
    holds = BM25Index.build(corpus).holding(terms, docs)
    assert holds.tolist() == [[term in corpus[d] for d in docs.tolist()] for term in terms]


@pytest.mark.parametrize("variant", VARIANTS)
@given(corpus=_CORPUS, query=_QUERY, data=st.data())
def test_scores_of_equals_a_masked_search_bit_for_bit(variant, corpus, query, data):
    index = BM25Index.build(corpus, BM25Params(variant=variant))
    docs = np.asarray(data.draw(st.lists(st.integers(0, len(corpus) - 1), unique=True)), dtype=np.int64)
    mask = np.zeros(len(corpus), dtype=bool)
    mask[docs] = True
    hits = index.search(query, mask)
    scores, held = index.scores_of(query, docs)
    expected = dict(zip(hits.docs.tolist(), hits.scores.tolist()))
    assert {d for d, h in zip(docs.tolist(), held.tolist()) if h} == expected.keys()
    assert [s for s, h in zip(scores.tolist(), held.tolist()) if h] == [expected[d] for d in docs[held].tolist()]
    assert not scores[~held].any()


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), query=_QUERY, limit=st.integers(1, 50))
def test_top_k_past_the_first_block_equals_the_head_of_the_full_ranking(variant, seed, query, limit):
    # past WINDOW passages a search skips the postings of terms too weak to rank: it must not
    # change which passages are kept, nor a bit of their scores
    rng = np.random.default_rng(seed)
    terms = np.asarray(["a", "b", "c", "d", "e", "f", "g"])
    weights = rng.dirichlet(np.ones(len(terms)))  # some terms common, some rare
    corpus = [terms[rng.choice(len(terms), size=n, p=weights)].tolist() for n in rng.integers(0, 12, 3 * WINDOW)]
    index = BM25Index.build(corpus, BM25Params(variant=variant))
    full, top = index.search(query), index.search(query, limit=limit)
    assert top.docs.tolist() == full.docs[:limit].tolist()
    assert top.scores.tolist() == full.scores[:limit].tolist()


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=300, deadline=None)
@given(corpus=st.lists(st.lists(_TERM, max_size=8), min_size=1, max_size=40), query=_QUERY,
       limit=st.integers(1, 6), per_block=st.integers(1, 4), window=st.integers(1, 6),
       languages=st.integers(1, 3), data=st.data())
def test_a_pruned_search_equals_the_exhaustive_one(variant, corpus, query, limit, per_block, window, languages,
                                                   data):
    # tiny blocks and windows, so that many windows and terms are skipped by their block bounds;
    # a window as large as the corpus skips nothing: the same passages and scores, bit for bit
    codes = data.draw(st.lists(st.integers(0, languages - 1), min_size=len(corpus), max_size=len(corpus)))
    documents = [[f"{code}:{term}" for term in document] for code, document in zip(codes, corpus)]
    asked = [f"{data.draw(st.integers(0, languages - 1))}:{term}" for term in query]
    postings, params = Postings.from_documents(documents), BM25Params(variant=variant)
    language_ids = np.asarray(codes, dtype=np.int16) if languages > 1 else None
    pruned = BM25Index(postings, params, language_ids, per_block=per_block, window=window)
    exhaustive = BM25Index(postings, params, language_ids, window=len(corpus))
    allowed = np.asarray(data.draw(st.lists(st.booleans(), min_size=len(corpus), max_size=len(corpus))))
    for mask in (None, allowed):
        top, full = pruned.search(asked, mask, limit=limit), exhaustive.search(asked, mask)
        assert top.docs.tolist() == full.docs[:limit].tolist()
        assert top.scores.tolist() == full.scores[:limit].tolist()


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), query=_QUERY, limit=st.integers(1, 10), per_block=st.integers(1, 16),
       window=st.integers(16, 128), masked=st.booleans())
def test_a_pruned_search_of_rare_and_common_terms_equals_the_exhaustive_one(variant, seed, query, limit, per_block,
                                                                             window, masked):
    # windows of many postings where the strong (rare) terms hold few passages: the weak
    # (common) terms are then looked up by binary search, passages dropped as their bounds
    # fall short, the rest summed again, where the tiny windows above walk every posting
    rng = np.random.default_rng(seed)
    terms = np.asarray(["a", "b", "c", "d", "e", "f", "g"])
    weights = rng.dirichlet(np.full(len(terms), 0.3))  # a few common terms, the others rare
    corpus = [terms[rng.choice(len(terms), size=n, p=weights)].tolist() for n in rng.integers(0, 12, 600)]
    postings, params = Postings.from_documents(corpus), BM25Params(variant=variant)
    pruned = BM25Index(postings, params, per_block=per_block, window=window)
    exhaustive = BM25Index(postings, params, window=len(corpus))
    mask = rng.random(len(corpus)) < 0.7 if masked else None
    top, full = pruned.search(query, mask, limit=limit), exhaustive.search(query, mask)
    assert top.docs.tolist() == full.docs[:limit].tolist()
    assert top.scores.tolist() == full.scores[:limit].tolist()


@pytest.mark.parametrize("variant", VARIANTS)
@given(corpus=_CORPUS, query=_QUERY, data=st.data())
def test_best_of_groups_is_what_a_search_ranks_first(variant, corpus, query, data):
    index = BM25Index.build(corpus, BM25Params(variant=variant))
    allowed = np.asarray(data.draw(st.lists(st.booleans(), min_size=len(corpus), max_size=len(corpus))))
    members = np.arange(len(corpus), dtype=np.int64)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(corpus)), max_size=3)))
    bounds = np.asarray([0, *cuts, len(corpus)], dtype=np.int64)
    groups = np.arange(len(bounds) - 1, dtype=np.int64)
    for mask in (None, allowed):
        best, scores, matched = index.best_of_groups(query, members, bounds, groups, mask)
        for g in groups.tolist():
            inside = np.zeros(len(corpus), dtype=bool)
            inside[bounds[g]:bounds[g + 1]] = True
            ok = inside if mask is None else inside & mask
            hits = index.search(query, ok)
            if len(hits):
                assert (best[g], scores[g], matched[g]) == (hits.docs[0], hits.scores[0], True)
            else:
                first = np.flatnonzero(ok)
                assert (best[g], scores[g], matched[g]) == (first[0] if len(first) else -1, 0.0, False)
