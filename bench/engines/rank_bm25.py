"""rank_bm25's full scan, the reference of the top-10 agreement: given this archive's analyzed
terms, it builds and serves in one process ("all": it cannot be persisted), timed on the parity
sample only."""

from __future__ import annotations

import time

from bench.engines import TOP, read_terms
from bench.exhaustive import top_holders
from bench.harness import retrieval_settings


def _model(params, corpus):
    import rank_bm25

    variant = getattr(params, "variant", "okapi")
    if variant == "okapi":
        return rank_bm25.BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    delta = params.delta if params.delta is not None else (0.5 if variant == "l" else 1.0)
    cls = rank_bm25.BM25Plus if variant == "plus" else rank_bm25.BM25L
    return cls(corpus, k1=params.k1, b=params.b, delta=delta)


def _holders(model, terms: set[str]) -> dict[str, list[int]]:
    """The passages that hold each of `terms` (found outside the timing)."""
    holders: dict[str, list[int]] = {t: [] for t in terms}
    for doc, freqs in enumerate(model.doc_freqs):
        for term in terms.intersection(freqs):
            holders[term].append(doc)
    return holders


def run(spec: dict) -> dict:
    import numpy as np

    corpus = read_terms(spec["terms_file"])
    started = time.perf_counter()
    model = _model(retrieval_settings().bm25, corpus)
    index_s = time.perf_counter() - started
    del corpus
    queries = spec["terms"]
    sample = spec["sample"]
    holders = _holders(model, {t for i in sample for t in queries[i]})
    latencies, top = [], {}
    for i in sample:
        query = queries[i]
        t0 = time.perf_counter_ns()
        scores = model.get_scores(query)
        best = np.argpartition(-scores, TOP)[:TOP] if len(scores) > TOP else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]  # the scan's top 10, as a caller takes it
        latencies.append((time.perf_counter_ns() - t0) / 1e6)
        del best
        top[i] = top_holders(scores, np.asarray([d for t in set(query) for d in holders.get(t, [])], dtype=np.int64))
    return {"index_s": index_s, "latencies_ms": latencies, "top": top}
