"""tantivy, indexing the passage text with its own analysis (`en_stem`): "build" writes the index,
"serve" opens it in a new process and answers (query objects prepared before timing)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from bench.engines import TOP, first_search_s, private_mb, serve_figures


def run(spec: dict) -> dict:
    return _build(spec) if spec["phase"] == "build" else _serve(spec)


def _build(spec: dict) -> dict:
    import tantivy

    index_dir = Path(spec["index_dir"])
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    started = time.perf_counter()
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pid", stored=True, indexed=False, fast=True)
    builder.add_text_field("body", stored=False, tokenizer_name="en_stem")
    index = tantivy.Index(builder.build(), path=str(index_dir))
    writer = index.writer(heap_size=1_000_000_000, num_threads=os.cpu_count() or 1)
    with open(spec["text_file"], encoding="utf-8") as stream:
        for pid, line in enumerate(stream):
            writer.add_document(tantivy.Document(pid=pid, body=line))
    writer.commit()
    writer.wait_merging_threads()
    return {"index_s": time.perf_counter() - started}


def _serve(spec: dict) -> dict:
    import tantivy

    started = time.perf_counter()
    index = tantivy.Index.open(spec["index_dir"])
    index.reload()
    searcher = index.searcher()
    opened = time.perf_counter() - started
    queries = [index.parse_query(" ".join(t), ["body"]) if t else None for t in spec["words"]]

    def search(query):
        return searcher.search(query, TOP, count=False).hits

    def rows(hits) -> list:
        return [[int(searcher.doc(address)["pid"][0]), float(score)] for score, address in hits]

    cold = opened + first_search_s(search, queries)  # query preparation left out, as for the others
    return {"cold_start_s": cold, **serve_figures(search, queries, spec["repeat"], rows), "private_rss_mb": private_mb(),
            "segments": len(searcher.segment_readers()) if hasattr(searcher, "segment_readers") else None}
