"""The bench's own ground: the distinct-copy corpus generator and the exhaustive Okapi scorer."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import rank_bm25
from hypothesis import given
from hypothesis import strategies as st

from bench import distinct, exhaustive
from bench.corpus import build_corpus, parse_size

TEXTS = [
    "Cocoa Arrivals Slow",
    ("Showers continued throughout the week in the cocoa zone, alleviating the drought.\n\n"
     "Arrivals for the year to date were 5.93 mln bags against 5.81 mln at the same stage last year."),
    "Bank Rates Unchanged",
    ("The central bank left its discount rate unchanged at 7.5 pct, dealers said.\n\n"
     "Money market rates eased slightly after the announcement."),
] * 20


def _words(text: str) -> list[str]:
    return distinct.WORD.findall(text)


def test_copy_zero_is_the_source_and_later_copies_are_deterministic():
    source = distinct.cut(TEXTS)
    assert distinct.copy_texts(source, 0) == TEXTS
    assert distinct.copy_texts(source, 3) == distinct.copy_texts(distinct.cut(TEXTS), 3)
    assert distinct.copy_texts(source, 3) != distinct.copy_texts(source, 4)


def test_a_copy_keeps_the_shape_and_changes_about_a_third_of_the_words():
    copy = distinct.copy_texts(distinct.cut(TEXTS), 1)
    gaps = [re.sub(distinct.WORD, "", t) for t in TEXTS]
    assert [re.sub(distinct.WORD, "", t) for t in copy] == gaps, "spaces, punctuation, paragraphs kept"
    before = [w for t in TEXTS for w in _words(t)]
    after = [w for t in copy for w in _words(t)]
    assert len(after) == len(before)
    changed = sum(a != b for a, b in zip(before, after)) / len(before)
    assert 0.15 < changed < 0.40  # 31% drawn again; a redrawn word is sometimes the same word
    rare = [w for w in after if w.startswith(distinct.RARE_PREFIX)]
    assert rare and not any(w.startswith(distinct.RARE_PREFIX) for w in before)
    assert {w for w in after if w not in rare} <= set(before), "other words come from the source"


def test_rare_words_are_new_consonant_tokens_of_their_own_copy():
    source = distinct.cut(TEXTS)
    one = {w for t in distinct.copy_texts(source, 1) for w in _words(t) if w.startswith(distinct.RARE_PREFIX)}
    two = {w for t in distinct.copy_texts(source, 2) for w in _words(t) if w.startswith(distinct.RARE_PREFIX)}
    assert one and two and not one & two
    assert all(re.fullmatch(distinct.RARE_PREFIX + "[bcdfghjklmnpqrtvwxz]{6}", w) for w in one | two)


def test_the_corpus_file_is_deterministic_and_keyed_by_kind(tmp_path):
    source = tmp_path / "source.jsonl.gz"
    with gzip.open(source, "wt", encoding="utf-8") as out:
        for i in range(0, len(TEXTS), 2):
            out.write(json.dumps({"id": f"s-{i}", "title": TEXTS[i], "date": "1987-02-26", "body": TEXTS[i + 1]}) + "\n")
    first = build_corpus(200, tmp_path / "a", source, log=lambda _: None, kind="distinct")
    again = build_corpus(200, tmp_path / "b", source, log=lambda _: None, kind="distinct")
    copies = build_corpus(200, tmp_path / "a", source, log=lambda _: None, kind="copies")
    assert first.path.read_bytes() == again.path.read_bytes()
    assert first.path != copies.path and first.passages >= 200 and first.kind == "distinct"
    records = [json.loads(line) for line in first.path.open()]
    exact = [json.loads(line) for line in copies.path.open()]
    assert records[:40] == exact[:40], "copy 0 is the source in both kinds"
    assert records[40]["id"] == exact[40]["id"] == "s-0~copy1" and records[40]["body"] != exact[40]["body"]


def test_sizes_are_read_with_their_suffix():
    assert [parse_size(s) for s in ("100k", "1M", "10M", "2.5M", "1000")] == [
        100_000, 1_000_000, 10_000_000, 2_500_000, 1000]


# A small vocabulary, so that random corpora hold terms in more than half, exactly half and fewer
# than half of their passages (negative, zero and positive idf, a negative floor); queries repeat
# terms and draw terms no passage holds.
_TERM = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])
_CORPUS = st.lists(st.lists(_TERM, min_size=1, max_size=8), min_size=1, max_size=14)
_QUERY = st.lists(_TERM | st.just("unknown"), min_size=1, max_size=5)


@given(_CORPUS, _QUERY, st.sampled_from([(1.5, 0.75, 0.25), (1.2, 1.0, 0.5), (0.9, 0.0, 0.1)]))
def test_the_exhaustive_scorer_is_rank_bm25_bit_for_bit(corpus, query, params):
    k1, b, epsilon = params
    collection = exhaustive.scan([" ".join(doc) for doc in corpus], set(query))
    idf = exhaustive.okapi_idf(collection, epsilon)
    reference = rank_bm25.BM25Okapi(corpus, k1=k1, b=b, epsilon=epsilon).get_scores(query)
    assert exhaustive.okapi_scores(collection, idf, query, k1, b).tolist() == reference.tolist()
    holding = [i for i, doc in enumerate(corpus) if set(doc) & set(query)]
    expected = sorted(holding, key=lambda i: (-reference[i], i))[:exhaustive.TOP]
    assert [row[0] for row in exhaustive.top(collection, idf, query, k1, b)] == expected
    assert np.array_equal(collection.lengths, [len(doc) for doc in corpus])
