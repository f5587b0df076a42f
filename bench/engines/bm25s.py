"""bm25s, given this archive's analyzed terms: "build" indexes and saves them, "serve" loads the
saved index in a new process and answers."""

from __future__ import annotations

import shutil
import time

from bench.engines import TOP, first_search_s, read_terms, serve_figures
from bench.harness import retrieval_settings


def run(spec: dict) -> dict:
    return _build(spec) if spec["phase"] == "build" else _serve(spec)


def _build(spec: dict) -> dict:
    import bm25s

    params = retrieval_settings().bm25
    method = {"okapi": "robertson", "plus": "bm25+", "l": "bm25l"}[getattr(params, "variant", "okapi")]
    corpus = read_terms(spec["terms_file"])
    started = time.perf_counter()
    model = bm25s.BM25(method=method, k1=params.k1, b=params.b, backend="numpy",
                       **({"delta": params.delta} if params.delta is not None else {}))
    model.index(corpus, show_progress=False)
    shutil.rmtree(spec["index_dir"], ignore_errors=True)
    model.save(spec["index_dir"], show_progress=False)
    return {"index_s": time.perf_counter() - started, "method": method}


def _serve(spec: dict) -> dict:
    import bm25s
    import numpy as np

    queries = [t or None for t in spec["terms"]]
    started = time.perf_counter()
    model = bm25s.BM25.load(spec["index_dir"], mmap=False, show_progress=False)
    load_s = time.perf_counter() - started

    def search(query):
        return model.retrieve([query], k=TOP, show_progress=False, n_threads=1,
                              backend_selection="numpy")

    def rows(found) -> list:
        docs, scores = found
        return [[int(d), float(s)] for d, s in zip(docs[0].tolist(), scores[0].tolist()) if s != 0]

    cold = load_s + first_search_s(search, queries)
    return {"cold_start_s": cold, **serve_figures(search, queries, spec["repeat"], rows),
            "numpy": np.__version__, "bm25s": bm25s.__version__}
