"""The exhaustive Okapi scorer (`bench.exhaustive`), the reference of the top-10 agreement at
every size: one pass over the archive's analyzed terms ("all": the pass is its build), then the
parity sample's scores for every passage, timed."""

from __future__ import annotations

import time

from bench import exhaustive
from bench.harness import retrieval_settings


def run(spec: dict) -> dict:
    params = retrieval_settings().bm25
    if getattr(params, "variant", "okapi") != "okapi":
        raise SystemExit(f"the exhaustive scorer computes Okapi only, not {params.variant}")
    queries, sample = spec["terms"], spec["sample"]
    started = time.perf_counter()
    with open(spec["terms_file"], encoding="utf-8") as stream:
        collection = exhaustive.scan(stream, {t for i in sample for t in queries[i]})
    idf = exhaustive.okapi_idf(collection, params.epsilon)
    index_s = time.perf_counter() - started
    latencies, top = [], {}
    for i in sample:
        t0 = time.perf_counter_ns()
        top[i] = exhaustive.top(collection, idf, queries[i], params.k1, params.b)
        latencies.append((time.perf_counter_ns() - t0) / 1e6)
    return {"index_s": index_s, "latencies_ms": latencies, "top": top,
            "vocabulary": len(collection.document_frequency)}
