"""SQLite FTS5, indexing the passage text with its own analysis (`porter unicode61`): "build"
writes a contentless table, "serve" opens it in a new process and answers (query strings
prepared before timing)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bench.engines import TOP, first_search_s, serve_figures
from bench.harness import fresh_db


def run(spec: dict) -> dict:
    return _build(spec) if spec["phase"] == "build" else _serve(spec)


def _build(spec: dict) -> dict:
    db = Path(spec["db"])
    fresh_db(db)
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)  # transactions explicit: nothing rolled back
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE VIRTUAL TABLE p USING fts5(body, tokenize='porter unicode61', content='')")
    with open(spec["text_file"], encoding="utf-8") as stream:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO p(rowid, body) VALUES (?, ?)",
                         ((pid + 1, line) for pid, line in enumerate(stream)))
        conn.execute("COMMIT")
    conn.execute("INSERT INTO p(p) VALUES ('optimize')")
    conn.close()
    return {"index_s": time.perf_counter() - started, "sqlite": sqlite3.sqlite_version}


def _serve(spec: dict) -> dict:
    queries = [" OR ".join(f'"{w}"' for w in t) if t else None for t in spec["words"]]
    started = time.perf_counter()
    conn = sqlite3.connect(spec["db"])
    connect_s = time.perf_counter() - started
    sql = "SELECT rowid, rank FROM p WHERE p MATCH ? ORDER BY rank LIMIT ?"

    def search(query):
        return conn.execute(sql, (query, TOP)).fetchall()

    def rows(found) -> list:
        return [[rowid - 1, -float(rank)] for rowid, rank in found]

    cold = connect_s + first_search_s(search, queries)
    figures = serve_figures(search, queries, spec["repeat"], rows)
    conn.close()
    return {"cold_start_s": cold, **figures, "sqlite": sqlite3.sqlite_version}
