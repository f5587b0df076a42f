"""Retrieval speed: this archive's BM25 index against rank_bm25, tantivy, SQLite FTS5 and bm25s.

    python -m bench.retrieval [--passages N] [--json] [--workdir DIR] [--skip ANCHOR ...]
    python -m bench.retrieval --bot [--passages N] [--users 50] [--messages-per-second 30] [--replicas 1]

One run, one machine, every engine over the same passages of the replicated Reuters corpus
(`bench.corpus`) and the same fixed questions (`bench/questions.txt`). Each engine builds in a
process of its own and serves in a process of its own, so build time, cold start and peak RSS
belong to that engine alone. Figures:

- build s: from text to an index ready to be opened. This index: `archive-bot ingest` of the
  corpus into a fresh SQLite file, the whole command. tantivy and FTS5 index the passage text with
  their own analysis (`en_stem`; `porter unicode61`). rank_bm25 and bm25s are given this
  archive's analyzed terms, so their build is the analysis (timed once, on as many processes as
  `bench.corpus` used) plus their indexing.
- cold start s: a new process opens the built index (the OS page cache is warm: it is not
  dropped) and answers the first question. rank_bm25 cannot be persisted: none.
- peak RSS MB: the largest resident set of the serving process (the build process for rank_bm25,
  which builds and serves in one), children included, sampled every 50 ms and checked against
  the kernel's own maximum (wait4).
- p50 / p95 / p99 ms: retrieval only, warm: analyzed question terms in, the top 10 passages and
  their scores out. Analysis of the question is excluded for every engine (done before timing);
  tantivy's and FTS5's query objects / strings are prepared before timing too. Every question is
  asked once to warm up, then `--repeat` more times, round robin. rank_bm25 is timed on the parity
  sample only (each question once: it takes about a second a question at a million passages).
- top-10 agreement: for a sample of questions, the top 10 passages and scores of rank_bm25's own
  `get_scores` (the archive's BM25 variant and parameters) among the passages that hold a query
  term, ties in passage order. This index must match them exactly (same passages in the same
  order, scores within 1e-9 relative): `parity`. The anchors are shown for orientation (different
  analysis or formula): how many sampled questions had the very same top 10, and the mean share
  of the reference's top 10 they found.

`--bot` measures the whole path instead: the real bot (`archive-bot run`, in its own process)
against the tests' Bot API server on 127.0.0.1, time from pushing an update to the reply's
sendMessage arriving, one user at a time and then `--users` users at once, and an admin /reload
that adds 100 new stories while the users keep asking. With `--replicas N`, N bot processes
serve the one archive file in webhook mode, as behind a load balancer: the bench posts each
chat's updates to one of them (the admin's /reload reaches one; the others follow the archive).

Nothing here asserts on time: it prints what it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench.corpus import (DEFAULT_PASSAGES, DEFAULT_WORKDIR, ROOT, Corpus, Passages, build_corpus,
                          build_passages, source_records)

QUESTIONS = Path(__file__).with_name("questions.txt")
ANCHORS = ("rank_bm25", "tantivy", "fts5", "bm25s")
ENGINES = ("ours", *ANCHORS)
LABELS = {"ours": "this index", "rank_bm25": "rank_bm25 full scan", "tantivy": "tantivy",
          "fts5": "SQLite FTS5", "bm25s": "bm25s"}
JSON_NAMES = {"rank_bm25": "rank_bm25", "tantivy": "tantivy", "fts5": "sqlite_fts5", "bm25s": "bm25s"}
ALIASES = {"rank_bm25": "rank_bm25", "rank-bm25": "rank_bm25", "rankbm25": "rank_bm25",
           "tantivy": "tantivy", "fts5": "fts5", "sqlite": "fts5", "sqlite_fts5": "fts5",
           "sqlite-fts5": "fts5", "bm25s": "bm25s"}
TOP = 10
REL_TOL = 1e-9
CHILD_TIMEOUT = 3 * 3600


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# the questions

def load_questions(path: Path = QUESTIONS) -> list[str]:
    questions = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [q for q in questions if q and not q.startswith("#")]


def sample_indices(count: int, size: int) -> list[int]:
    """`size` questions spread evenly over the set, deterministic."""
    size = max(0, min(size, count))
    if size == 0:
        return []
    return sorted({int(i * count / size) for i in range(size)})


def query_tokens(analyzer, question: str) -> list[str]:
    """The question's words without stopwords, split as tantivy and FTS5 split text
    (letters and digits); their own stemmers do the rest."""
    words = [w for w in analyzer.words(question) if w not in analyzer.stopwords]
    return re.findall(r"[^\W_]+", " ".join(words))


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------------
# running one engine phase in a process of its own

@dataclass
class ChildRun:
    result: dict
    wall_s: float
    peak_rss_mb: float
    returncode: int


class _RSSSampler(threading.Thread):
    """The peak of the summed RSS of a process and its descendants, sampled."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            total = 0
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self.done.wait(self.interval)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_child(argv: list[str], out: Path | None = None, env: dict | None = None,
              timeout: float = CHILD_TIMEOUT) -> ChildRun:
    """Run `argv` (its stdout goes to our stderr) and measure its wall time and peak RSS."""
    if out is not None and out.exists():
        out.unlink()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=sys.stderr, stderr=sys.stderr,
                            env={**os.environ, **(env or {})})
    sampler = _RSSSampler(proc.pid)
    sampler.start()
    timer = threading.Timer(timeout, _kill, (proc.pid,))  # the pid stays ours until wait4 reaps it
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        sampler.done.set()
        sampler.join()
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = max(sampler.peak, usage.ru_maxrss * 1024) / 2**20
    result = json.loads(out.read_text()) if out is not None and out.is_file() else {}
    if proc.returncode != 0:
        log(f"{' '.join(map(str, argv[:6]))} ... exited with {proc.returncode}")
    return ChildRun(result, wall, peak, proc.returncode)


def child(engine: str, phase: str, spec: dict, workdir: Path) -> ChildRun:
    spec_path = workdir / f"spec-{engine}-{phase}.json"
    out = workdir / f"result-{engine}-{phase}.json"
    spec_path.write_text(json.dumps({**spec, "engine": engine, "phase": phase, "out": str(out)}))
    return run_child([sys.executable, "-m", "bench.retrieval", "--child", str(spec_path)], out)


# ---------------------------------------------------------------------------------------------
# inside the children

def _timed_rounds(search, queries: list, repeat: int, indices: Sequence[int] | None = None):
    """Warm up once per query, then `repeat` round-robin passes; latencies in ms."""
    indices = list(range(len(queries))) if indices is None else list(indices)
    indices = [i for i in indices if queries[i] is not None]
    for i in indices:
        search(queries[i])
    latencies: list[float] = []
    for _ in range(repeat):
        for i in indices:
            started = time.perf_counter_ns()
            search(queries[i])
            latencies.append((time.perf_counter_ns() - started) / 1e6)
    return latencies


def _child_main(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    runner = {"ours": _child_ours, "rank_bm25": _child_rank_bm25, "tantivy": _child_tantivy,
              "fts5": _child_fts5, "bm25s": _child_bm25s}[spec["engine"]]
    if spec["engine"] == "ours" and spec["phase"] == "reload":
        runner = _child_ours_reload
    result = runner(spec)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    Path(spec["out"]).write_text(json.dumps(result))
    return 0


def _read_terms(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8") as stream:
        return [line.split() for line in stream]


def _retrieval_settings():
    from bot.config import load_settings

    return load_settings().retrieval


def _passage_keys(snapshot, docs) -> list[list]:
    """(story id, start) of each passage position, or ("#", position) if the snapshot does not
    say (then positions are taken to be ingest order)."""
    stories = getattr(snapshot, "stories", None)
    owner = getattr(snapshot, "passage_story", None)
    start = getattr(snapshot, "passage_start", None)
    if stories is None or owner is None or start is None:
        return [["#", int(d)] for d in docs]
    return [[stories[int(owner[d])].id, int(start[d])] for d in docs]


async def _child_ours(spec: dict) -> dict:
    from retrieval.text.analysis import Analyzer
    from retrieval.service import ArchiveService

    settings = _retrieval_settings()
    analyzer = Analyzer(settings.language, settings.stopwords)
    terms = [analyzer.terms(q) for q in spec["questions"]]
    first = next((t for t in terms if t), [])
    started = time.perf_counter()
    service = await ArchiveService.open(spec["db"], settings)
    opened = time.perf_counter()
    snapshot = service.snapshot
    accepted = inspect.signature(snapshot.search).parameters
    top_arg = next((name for name in ("k", "limit", "top") if name in accepted), None)
    top_kw = {top_arg: TOP} if top_arg else {}

    def search(query: list[str]):
        hits = snapshot.search(query, **top_kw)
        return hits.docs[:TOP], hits.scores[:TOP]

    search(first)
    ready = time.perf_counter()
    assert [service.analyzer.terms(q) for q in spec["questions"]] == terms
    latencies = _timed_rounds(search, terms, spec["repeat"])
    top = {}
    for i, query in enumerate(terms):
        docs, scores = search(query)
        top[i] = [[*key, float(s)] for key, s in zip(_passage_keys(snapshot, docs), scores.tolist())]
    ask_ms: list[float] = []
    for _ in range(max(1, spec["repeat"] // 2)):
        for question in spec["questions"]:
            answer = await service.ask(question)
            ask_ms.append(answer.took_ms)
    passages = snapshot.passages if hasattr(snapshot, "passages") else None
    await service.close()
    return {"open_s": opened - started, "cold_start_s": ready - started, "latencies_ms": latencies,
            "top": top, "ask_ms": ask_ms, "passages": passages, "search_top_argument": top_arg}


async def _child_ours_reload(spec: dict) -> dict:
    """What an admin's /reload does (ARCHIVE_PATHS again, pruned), with 100 new stories, while one
    user keeps asking through `ArchiveService.ask`: the reload's duration and the answers' latency."""
    from retrieval.service import ArchiveService

    settings = _retrieval_settings()
    service = await ArchiveService.open(spec["db"], settings)
    questions = spec["questions"]
    before = service.snapshot.passages

    async def asker(stop: asyncio.Event, out: list[float], rounds: int | None = None) -> None:
        asked = 0
        while not stop.is_set() and (rounds is None or asked < rounds * len(questions)):
            started = time.perf_counter()
            await service.ask(questions[asked % len(questions)])
            out.append((time.perf_counter() - started) * 1000)
            asked += 1
            await asyncio.sleep(0)

    baseline: list[float] = []
    await asker(asyncio.Event(), baseline, rounds=1)
    during: list[float] = []
    stop = asyncio.Event()
    task = asyncio.create_task(asker(stop, during))
    started = time.perf_counter()
    report = await service.ingest(spec["paths"], prune=True)
    reload_s = time.perf_counter() - started
    stop.set()
    await task
    after = service.snapshot.passages
    await service.close()
    return {"reload_s": reload_s, "summary": report.summary(), "added": report.added,
            "passages_before": before, "passages_after": after, "baseline_ms": baseline,
            "during_ms": during}


def _rank_bm25_model(params, corpus):
    import rank_bm25

    variant = getattr(params, "variant", "okapi")
    if variant == "okapi":
        return rank_bm25.BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    delta = params.delta if params.delta is not None else (0.5 if variant == "l" else 1.0)
    cls = rank_bm25.BM25Plus if variant == "plus" else rank_bm25.BM25L
    return cls(corpus, k1=params.k1, b=params.b, delta=delta)


def _child_rank_bm25(spec: dict) -> dict:
    import numpy as np

    params = _retrieval_settings().bm25
    corpus = _read_terms(spec["terms_file"])
    started = time.perf_counter()
    model = _rank_bm25_model(params, corpus)
    index_s = time.perf_counter() - started
    del corpus
    queries = spec["terms"]
    sample = spec["sample"]
    wanted = {t for i in sample for t in queries[i]}
    holders: dict[str, list[int]] = {t: [] for t in wanted}
    for doc, freqs in enumerate(model.doc_freqs):  # who holds a query term: outside the timing
        for term in wanted.intersection(freqs):
            holders[term].append(doc)
    latencies, top = [], {}
    for i in sample:
        query = queries[i]
        t0 = time.perf_counter_ns()
        scores = model.get_scores(query)
        best = np.argpartition(-scores, TOP)[:TOP] if len(scores) > TOP else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]  # the scan's top 10, as a caller takes it
        latencies.append((time.perf_counter_ns() - t0) / 1e6)
        del best
        matching = np.unique(np.asarray([d for t in set(query) for d in holders.get(t, [])], dtype=np.int64))
        order = np.lexsort((matching, -scores[matching]))[:TOP]
        top[i] = [[int(matching[j]), float(scores[matching[j]])] for j in order]
    return {"index_s": index_s, "latencies_ms": latencies, "top": top}


def _child_bm25s(spec: dict) -> dict:
    import bm25s
    import numpy as np

    index_dir = spec["index_dir"]
    if spec["phase"] == "build":
        params = _retrieval_settings().bm25
        method = {"okapi": "robertson", "plus": "bm25+", "l": "bm25l"}[getattr(params, "variant", "okapi")]
        corpus = _read_terms(spec["terms_file"])
        started = time.perf_counter()
        model = bm25s.BM25(method=method, k1=params.k1, b=params.b, backend="numpy",
                           **({"delta": params.delta} if params.delta is not None else {}))
        model.index(corpus, show_progress=False)
        shutil.rmtree(index_dir, ignore_errors=True)
        model.save(index_dir, show_progress=False)
        return {"index_s": time.perf_counter() - started, "method": method}
    queries = [t or None for t in spec["terms"]]
    started = time.perf_counter()
    model = bm25s.BM25.load(index_dir, mmap=False, show_progress=False)

    def search(query):
        return model.retrieve([query], k=TOP, show_progress=False, n_threads=1,
                              backend_selection="numpy")

    search(next(q for q in queries if q))
    cold = time.perf_counter() - started
    latencies = _timed_rounds(search, queries, spec["repeat"])
    top = {}
    for i, query in enumerate(queries):
        if query is None:
            continue
        docs, scores = search(query)
        top[i] = [[int(d), float(s)] for d, s in zip(docs[0].tolist(), scores[0].tolist()) if s != 0]
    return {"cold_start_s": cold, "latencies_ms": latencies, "top": top,
            "numpy": np.__version__, "bm25s": bm25s.__version__}


def _child_tantivy(spec: dict) -> dict:
    import tantivy

    index_dir = Path(spec["index_dir"])
    if spec["phase"] == "build":
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
    started = time.perf_counter()
    index = tantivy.Index.open(str(index_dir))
    index.reload()
    searcher = index.searcher()
    opened = time.perf_counter() - started
    queries = [index.parse_query(" ".join(t), ["body"]) if t else None for t in spec["words"]]

    def search(query):
        return searcher.search(query, TOP, count=False).hits

    started = time.perf_counter()
    search(next(q for q in queries if q is not None))
    cold = opened + time.perf_counter() - started  # query preparation left out, as for the others
    latencies = _timed_rounds(search, queries, spec["repeat"])
    top = {}
    for i, query in enumerate(queries):
        if query is None:
            continue
        top[i] = [[int(searcher.doc(address)["pid"][0]), float(score)] for score, address in search(query)]
    return {"cold_start_s": cold, "latencies_ms": latencies, "top": top,
            "segments": len(searcher.segment_readers()) if hasattr(searcher, "segment_readers") else None}


def _child_fts5(spec: dict) -> dict:
    import sqlite3

    db = Path(spec["db"])
    if spec["phase"] == "build":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
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
    queries = [" OR ".join(f'"{w}"' for w in t) if t else None for t in spec["words"]]
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    sql = "SELECT rowid, rank FROM p WHERE p MATCH ? ORDER BY rank LIMIT ?"

    def search(query):
        return conn.execute(sql, (query, TOP)).fetchall()

    search(next(q for q in queries if q))
    cold = time.perf_counter() - started
    latencies = _timed_rounds(search, queries, spec["repeat"])
    top = {}
    for i, query in enumerate(queries):
        if query is not None:
            top[i] = [[rowid - 1, -float(rank)] for rowid, rank in search(query)]
    conn.close()
    return {"cold_start_s": cold, "latencies_ms": latencies, "top": top, "sqlite": sqlite3.sqlite_version}


# ---------------------------------------------------------------------------------------------
# the parent: build, serve, compare, print

@dataclass
class Figures:
    name: str
    build_s: float | None = None
    cold_start_s: float | None = None
    rss_mb: float | None = None
    build_rss_mb: float | None = None
    latencies: list[float] = field(default_factory=list)
    parity: bool | None = None
    exact: int | None = None
    compared: int | None = None
    overlap: float | None = None
    timed_questions: int = 0
    error: str | None = None
    extra: dict = field(default_factory=dict)

    def p(self, q: float) -> float | None:
        return percentile(self.latencies, q)

    def as_json(self) -> dict:
        return {"build_s": _r(self.build_s), "cold_start_s": _r(self.cold_start_s),
                "rss_mb": _r(self.rss_mb, 1), "build_rss_mb": _r(self.build_rss_mb, 1),
                "p50_ms": _r(self.p(50), 4), "p95_ms": _r(self.p(95), 4), "p99_ms": _r(self.p(99), 4),
                "parity": self.parity, "top10_exact": self.exact, "top10_compared": self.compared,
                "top10_overlap": _r(self.overlap, 4), "timed_questions": self.timed_questions,
                "samples": len(self.latencies), "error": self.error, **self.extra}


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _fresh_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _archive_bot() -> list[str]:
    script = Path(sys.executable).with_name("archive-bot")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


def ingest_archive(corpus: Corpus, db: Path) -> ChildRun:
    _fresh_db(db)
    return run_child([*_archive_bot(), "--db", str(db), "ingest", str(corpus.path)])


def _reload_figures(ours: Figures, corpus: Corpus, db: Path, base: dict, workdir: Path) -> None:
    """/reload of the corpus plus 100 new stories on a copy of the built archive, answering meanwhile."""
    copy = workdir / "ours-reload.sqlite"
    _fresh_db(copy)
    for suffix in ("", "-wal"):
        if Path(f"{db}{suffix}").is_file():
            shutil.copyfile(f"{db}{suffix}", f"{copy}{suffix}")
    new = workdir / "new-stories" / "new-stories.jsonl"
    new.parent.mkdir(exist_ok=True)
    new.write_text("".join(json.dumps(r) + "\n" for r in _reload_stories()), encoding="utf-8")
    log("this index: reload of the corpus + 100 new stories while answering")
    run = child("ours", "reload", {**base, "db": str(copy), "paths": [str(corpus.path), str(new.parent)]}, workdir)
    if run.returncode != 0:
        ours.extra["reload_error"] = f"exited with {run.returncode}"
        return
    r = run.result
    ours.extra.update({
        "reload_s": _r(r["reload_s"], 2), "reload_summary": r["summary"], "reload_added": r["added"],
        "reload_passages": [r["passages_before"], r["passages_after"]],
        "reload_answers": len(r["during_ms"]),
        "reload_p50_ms": _r(percentile(r["during_ms"], 50), 2),
        "reload_p99_ms": _r(percentile(r["during_ms"], 99), 2),
        "reload_max_ms": _r(max(r["during_ms"], default=None) if r["during_ms"] else None, 2),
        "reload_rss_mb": _r(run.peak_rss_mb, 1)})
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)


def _load_keys(passages: Passages) -> dict[tuple[str, int], int]:
    keys: dict[tuple[str, int], int] = {}
    with open(passages.keys, encoding="utf-8") as stream:
        for pid, line in enumerate(stream):
            story, start, _ = line.rstrip("\n").split("\t")
            keys[story, int(start)] = pid
    return keys


def _compare(reference: dict, found: dict, keys: dict | None, exact_scores: bool):
    """(questions with the very same top 10, questions compared, mean overlap of top-10 sets)."""
    same = compared = 0
    overlaps = []
    for i, ref in reference.items():
        mine = found.get(i)
        if mine is None:
            mine = []
        if keys is not None:
            mine = [[keys.get((row[0], row[1]), -1) if row[0] != "#" else row[1], row[2]] for row in mine]
        compared += 1
        ref_docs = [r[0] for r in ref]
        my_docs = [m[0] for m in mine[:TOP]]
        if ref_docs:
            overlaps.append(len(set(ref_docs) & set(my_docs)) / len(ref_docs))
        ok = ref_docs == my_docs
        if ok and exact_scores:
            ok = all(math.isclose(a[1], b[1], rel_tol=REL_TOL, abs_tol=1e-12) for a, b in zip(ref, mine))
        same += ok
    return same, compared, (sum(overlaps) / len(overlaps) if overlaps else None)


def run_retrieval(args, corpus: Corpus, passages: Passages) -> dict:
    from retrieval.text.analysis import Analyzer

    settings = _retrieval_settings()
    analyzer = Analyzer(settings.language, settings.stopwords)
    questions = load_questions()
    terms = [analyzer.terms(q) for q in questions]
    words = [query_tokens(analyzer, q) for q in questions]
    sample = sample_indices(len(questions), args.parity_sample)
    workdir: Path = args.workdir
    base = {"questions": questions, "terms": terms, "words": words, "repeat": args.repeat,
            "sample": sample, "terms_file": str(passages.terms), "text_file": str(passages.text)}
    figures: dict[str, Figures] = {}
    tops: dict[str, dict] = {}

    log(f"this index: archive-bot ingest of {corpus.passages:,} passages into a fresh SQLite file")
    db = workdir / "ours.sqlite"
    ours = Figures("ours")
    build = ingest_archive(corpus, db)
    ours.build_s, ours.build_rss_mb = build.wall_s, build.peak_rss_mb
    if build.returncode != 0:
        ours.error = f"ingest exited with {build.returncode}"
    else:
        log(f"this index: built in {build.wall_s:.1f} s; serving")
        serve = child("ours", "serve", {**base, "db": str(db)}, workdir)
        if serve.returncode != 0:
            ours.error = f"serve exited with {serve.returncode}"
        else:
            r = serve.result
            ours.cold_start_s, ours.rss_mb, ours.latencies = r["cold_start_s"], serve.peak_rss_mb, r["latencies_ms"]
            ours.timed_questions = len(questions)
            ours.extra = {"open_s": _r(r["open_s"]), "ask_p50_ms": _r(percentile(r["ask_ms"], 50), 3),
                          "ask_p99_ms": _r(percentile(r["ask_ms"], 99), 3),
                          "search_top_argument": r["search_top_argument"]}
            tops["ours"] = {int(k): v for k, v in r["top"].items()}
            if not args.no_reload:
                _reload_figures(ours, corpus, db, base, workdir)
    figures["ours"] = ours

    for engine in ANCHORS:
        fig = Figures(engine)
        figures[engine] = fig
        if engine in args.skip:
            fig.error = "skipped"
            continue
        log(f"{LABELS[engine]}: building")
        spec = {**base, "index_dir": str(workdir / f"{engine}-index"), "db": str(workdir / "fts5.sqlite")}
        if engine == "rank_bm25":
            run = child(engine, "all", spec, workdir)
            if run.returncode != 0:
                fig.error = f"exited with {run.returncode}"
                continue
            fig.build_s = passages.analysis_s + run.result["index_s"]
            fig.rss_mb = fig.build_rss_mb = run.peak_rss_mb
            fig.latencies, fig.timed_questions = run.result["latencies_ms"], len(sample)
            tops[engine] = {int(k): v for k, v in run.result["top"].items()}
            fig.extra = {"index_s": _r(run.result["index_s"])}
            continue
        build = child(engine, "build", spec, workdir)
        if build.returncode != 0:
            fig.error = f"build exited with {build.returncode}"
            continue
        fig.build_rss_mb = build.peak_rss_mb
        fig.build_s = build.result["index_s"] + (passages.analysis_s if engine == "bm25s" else 0.0)
        log(f"{LABELS[engine]}: built in {fig.build_s:.1f} s; serving")
        serve = child(engine, "serve", spec, workdir)
        if serve.returncode != 0:
            fig.error = f"serve exited with {serve.returncode}"
            continue
        fig.cold_start_s, fig.rss_mb = serve.result["cold_start_s"], serve.peak_rss_mb
        fig.latencies, fig.timed_questions = serve.result["latencies_ms"], len(questions)
        tops[engine] = {int(k): v for k, v in serve.result["top"].items()}
        fig.extra = {k: v for k, v in serve.result.items() if k in ("bm25s", "sqlite", "segments")}

    reference = tops.get("rank_bm25")
    if reference is not None:
        figures["rank_bm25"].parity = True
        figures["rank_bm25"].exact = figures["rank_bm25"].compared = len(reference)
        figures["rank_bm25"].overlap = 1.0
        keys = _load_keys(passages) if "ours" in tops else None
        for engine, found in tops.items():
            if engine == "rank_bm25":
                continue
            same, compared, overlap = _compare(reference, found, keys if engine == "ours" else None,
                                               exact_scores=engine == "ours")
            fig = figures[engine]
            fig.exact, fig.compared, fig.overlap = same, compared, overlap
            fig.parity = same == compared and compared > 0
    return {"figures": figures, "questions": len(questions), "sample": sample}


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}" if value < 1 else f"{value:.1f}"


def render_table(run: dict, corpus: Corpus, passages: Passages, args) -> str:
    figures: dict[str, Figures] = run["figures"]
    columns = [figures[e] for e in ENGINES]
    header = "| figure | " + " | ".join(LABELS[e] for e in ENGINES) + " |"
    lines = [header, "|---" * (len(ENGINES) + 1) + "|"]

    def row(name: str, cell) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(f) if f.error in (None,) else
                                                 ("skipped" if f.error == "skipped" else "failed")
                                                 for f in columns) + " |")

    def agreement(f: Figures) -> str:
        if f.compared is None:
            return "—"
        if f.name == "rank_bm25":
            return f"reference ({f.compared} questions)"
        if f.name == "ours":
            return f"{'yes' if f.parity else 'NO'}: {f.exact}/{f.compared} identical"
        return f"{f.exact}/{f.compared} identical, {f.overlap:.0%} overlap"

    row("build s", lambda f: _fmt(f.build_s))
    row("cold start s", lambda f: _ms(f.cold_start_s) if f.cold_start_s is not None else "— (no persistence)")
    row("peak RSS MB, serving", lambda f: _fmt(f.rss_mb, 0))
    row("peak RSS MB, build", lambda f: _fmt(f.build_rss_mb, 0))
    row("p50 ms", lambda f: _ms(f.p(50)))
    row("p95 ms", lambda f: _ms(f.p(95)))
    row("p99 ms", lambda f: _ms(f.p(99)))
    row("questions timed × runs", lambda f: f"{f.timed_questions} × {len(f.latencies) // max(f.timed_questions, 1)}")
    row("top-10 agreement with rank_bm25", agreement)
    ours = figures["ours"]
    out = ["\n".join(lines), ""]
    speedups = []
    for anchor in ("rank_bm25", "tantivy"):
        a, b = figures[anchor].p(50), ours.p(50)
        if a and b:
            speedups.append(f"{a / b:,.1f}× vs {LABELS[anchor]} p50")
    if speedups:
        out.append("This index: " + "; ".join(speedups) + ".")
    if ours.extra.get("ask_p50_ms") is not None:
        out.append(f"This index, whole `ArchiveService.ask` (parse, search, quotes, SQLite reads; no "
                   f"Telegram): p50 {_ms(ours.extra['ask_p50_ms'])} ms, p99 {_ms(ours.extra['ask_p99_ms'])} ms; "
                   f"`ArchiveService.open` alone {_fmt(ours.extra.get('open_s'), 2)} s.")
    if ours.extra.get("reload_s") is not None:
        e = ours.extra
        out.append(f"This index, reload (what /reload does: `ArchiveService.ingest(corpus + a folder of 100 new "
                   f"stories, prune=True)` on a copy of the archive) took {e['reload_s']:.1f} s "
                   f"({e['reload_summary']}); {e['reload_answers']} answers (`ask`, one user, back to back) "
                   f"during it: p50 {_ms(e['reload_p50_ms'])} ms, p99 {_ms(e['reload_p99_ms'])} ms, "
                   f"max {_ms(e['reload_max_ms'])} ms; peak RSS {_fmt(e['reload_rss_mb'], 0)} MB.")
    out.append(f"Corpus: {corpus.passages:,} passages in {corpus.stories:,} stories "
               f"(Reuters-21578 × {corpus.copies}); {run['questions']} questions, "
               f"{args.repeat} timed runs each after a warm-up; parity sample {len(run['sample'])} questions; "
               f"analysis for rank_bm25/bm25s {passages.analysis_s:.1f} s on {passages.workers} processes "
               f"(included in their build).")
    out.append(_machine())
    return "\n".join(out)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        import psutil

        mem = f", {psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        pass
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"Machine: {os.cpu_count()} cores ({cpu}){mem}; load average {load} at the end; "
            f"Python {platform.python_version()}; code {_revision()}; "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.")


def _revision() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "retrieval", "bot"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"


def retrieval_json(run: dict, corpus: Corpus) -> dict:
    figures: dict[str, Figures] = run["figures"]
    ours = figures["ours"].as_json()
    result = {"passages": corpus.passages, "stories": corpus.stories,
              **{k: ours[k] for k in ("build_s", "cold_start_s", "rss_mb", "p50_ms", "p95_ms", "p99_ms", "parity")},
              "anchors": {JSON_NAMES[a]: {k: v for k, v in figures[a].as_json().items()} for a in ANCHORS},
              "this_index": ours, "questions": run["questions"], "parity_sample": run["sample"]}
    for anchor in ("rank_bm25", "tantivy"):
        a, b = figures[anchor].p(50), figures["ours"].p(50)
        result[f"speedup_vs_{anchor}_p50"] = round(a / b, 2) if a and b else None
    return result


# ---------------------------------------------------------------------------------------------
# --bot: the whole path through a Bot API server

BOT_ADMIN = 4242
FIRST_USER = 500_000


def _bot_child_main() -> int:
    """`archive-bot run`, its settings from the environment, as in production."""
    from bot.cli import main as cli_main

    return cli_main(["run"])


def _reload_stories(count: int = 100) -> list[dict]:
    """`count` stories new to the archive: Reuters stories under new ids and titles."""
    records = [r for r in source_records() if len(r.get("body", "")) > 400][:count]
    return [{**r, "id": f"{r['id']}~reload", "title": f"{r.get('title', '')} (reloaded)"} for r in records]


async def run_bot_bench(args, corpus: Corpus) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.botapi import BotAPIServer

    workdir: Path = args.workdir
    source_db = workdir / "ours.sqlite"
    manifest = workdir / "ours.manifest.json"
    fresh = manifest.is_file() and json.loads(manifest.read_text()).get("corpus") == str(corpus.path) \
        and source_db.is_file()
    if not fresh:
        log(f"--bot: ingesting {corpus.path.name} first")
        build = ingest_archive(corpus, source_db)
        if build.returncode != 0:
            raise SystemExit(f"ingest exited with {build.returncode}")
        manifest.write_text(json.dumps({"corpus": str(corpus.path)}))
    db = workdir / "bot.sqlite"
    _fresh_db(db)
    shutil.copyfile(source_db, db)
    extra = workdir / "bot-extra"
    shutil.rmtree(extra, ignore_errors=True)
    extra.mkdir()
    pending = workdir / "bot-new-stories.jsonl"
    pending.write_text("".join(json.dumps(r) + "\n" for r in _reload_stories()), encoding="utf-8")
    questions = load_questions()

    ports = [_free_port() for _ in range(args.replicas)] if args.replicas > 1 else []

    class API(BotAPIServer):
        """The tests' server, telling us when a reply arrives for a question message; with
        replicas, also their load balancer: each chat's updates are posted to one replica's webhook."""

        def __init__(self) -> None:
            super().__init__()
            self.replies: dict[tuple[int, int], asyncio.Future] = {}
            self.edits: list[tuple[float, str]] = []
            self.posting: set[asyncio.Task] = set()
            self.session = None

        def _push(self, update: dict) -> dict:
            if not ports:
                return super()._push(update)
            self._register_update(update)
            port = ports[update["message"]["chat"]["id"] % len(ports)]
            task = asyncio.get_running_loop().create_task(self._post(port, update))
            self.posting.add(task)
            task.add_done_callback(self.posting.discard)
            return update

        async def _post(self, port: int, update: dict) -> None:
            import aiohttp

            self.session = self.session or aiohttp.ClientSession()
            async with self.session.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", json=update,
                                         headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) as response:
                await response.read()
                if response.status != 200:
                    log(f"--bot: replica on port {port} answered the webhook with {response.status}")

        def _finish(self, call, result) -> None:
            super()._finish(call, result)
            if call.method == "sendMessage":
                reply = call.params.get("reply_parameters") or {}
                key = (int(call.params.get("chat_id")), reply.get("message_id"))
                future = self.replies.pop(key, None)
                if future is not None and not future.done():
                    future.set_result(call)
            elif call.method == "editMessageText":
                self.edits.append((call.time, str(call.params.get("text", ""))))

    api = API()
    await api.start()
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_BASE_URL": api.base_url,
           "TELEGRAM_BASE_FILE_URL": api.base_file_url, "ADMIN_IDS": str(BOT_ADMIN),
           "ARCHIVE_DB": str(db), "ARCHIVE_PATHS": f"{corpus.path},{extra}",
           "RATE_LIMIT_PER_MINUTE": "10000", "WEBHOOK_URL": "", "MESSAGES_PER_SECOND": str(args.messages_per_second),
           "LOG_LEVEL": os.environ.get("BENCH_BOT_LOG_LEVEL", "WARNING")}
    started = time.perf_counter()
    procs = [await _start_bot_child({**env, **_webhook_env(port)} if ports else env) for port in ports or [None]]
    samplers = [_RSSSampler(proc.pid, interval=0.5) for proc in procs]
    for sampler in samplers:
        sampler.start()
    result: dict = {"passages": corpus.passages, "messages_per_second": args.messages_per_second, "users": args.users,
                    "replicas": len(procs), "reload_timeout_s": args.reload_timeout}
    try:
        await _until_serving(api, procs, ports, started)
        result["bot_start_s"] = time.perf_counter() - started
        log(f"--bot: {len(procs)} bot process(es) serve after {result['bot_start_s']:.1f} s")

        timeouts: list[float] = []

        async def ask(user: int, text: str, timeout: float = 120) -> tuple[float, float]:
            update = api.private_text(user, text)
            message = update["message"]
            future = asyncio.get_running_loop().create_future()
            api.replies[(user, message["message_id"])] = future
            pushed = time.monotonic()
            try:
                call = await asyncio.wait_for(future, timeout)
            except asyncio.TimeoutError:
                api.replies.pop((user, message["message_id"]), None)
                timeouts.append(pushed)
                return pushed, math.inf
            return pushed, (call.time - pushed) * 1000

        for question in questions[:5]:  # warm up
            await ask(FIRST_USER, question)
        sequential = []
        for question in questions:  # paced, so that the flood limiter's bucket is never the wait
            await asyncio.sleep(args.pause)
            sequential.append((await ask(FIRST_USER + 1, question))[1])
        result["one_user"] = _latency_summary(sequential, None)
        log(f"--bot: one user at a time: p50 {result['one_user']['p50_ms']} ms")

        async def users(count: int, per_user: int | None, until: asyncio.Event | None, cap_s: float):
            samples: list[tuple[float, float]] = []
            deadline = time.monotonic() + cap_s

            async def one(n: int) -> None:
                user = FIRST_USER + 10 + n
                asked = 0
                while time.monotonic() < deadline:
                    if per_user is not None and asked >= per_user:
                        return
                    if until is not None and until.is_set():
                        return
                    samples.append(await ask(user, questions[(n * 7 + asked) % len(questions)]))
                    asked += 1

            began = time.monotonic()
            await asyncio.gather(*(one(n) for n in range(count)))
            return samples, time.monotonic() - began

        cpu_before = _cpu_seconds(procs), time.process_time()
        samples, elapsed = await users(args.users, args.per_user, None, cap_s=600)
        result["concurrent"] = _latency_summary([s[1] for s in samples], elapsed)
        result["concurrent"]["bot_cpu_ms_per_question"] = _r((_cpu_seconds(procs) - cpu_before[0]) * 1000 / len(samples), 2)
        result["concurrent"]["bench_cpu_ms_per_question"] = _r((time.process_time() - cpu_before[1]) * 1000 / len(samples), 2)
        log(f"--bot: {args.users} users: {result['concurrent']['questions_per_s']} q/s, "
            f"p50 {result['concurrent']['p50_ms']} ms, bot CPU {result['concurrent']['bot_cpu_ms_per_question']} ms a question")

        done = asyncio.Event()
        load = asyncio.create_task(users(args.users, None, done, cap_s=args.reload_timeout + 60))
        await asyncio.sleep(2)
        shutil.copyfile(pending, extra / pending.name)
        reload_pushed = time.monotonic()
        api.private_text(BOT_ADMIN, "/reload")
        finished_at, summary = None, ""
        while time.monotonic() - reload_pushed < args.reload_timeout:
            for at, text in api.edits:
                if at >= reload_pushed and ("Reload done" in text or "Reload failed" in text):
                    finished_at, summary = at, re.sub(r"<[^>]+>", "", text)
                    break
            if finished_at is not None:
                break
            await asyncio.sleep(0.05)
        window_end = finished_at if finished_at is not None else time.monotonic()
        await asyncio.sleep(2)
        done.set()
        samples, elapsed = await load
        during = [s[1] for s in samples if reload_pushed <= s[0] <= window_end]
        result["reload"] = {
            "seconds": _r(finished_at - reload_pushed, 2) if finished_at else None,
            "summary": summary.splitlines()[0] if summary else f"no summary within {args.reload_timeout:.0f} s",
            "during": _latency_summary(during, None),
            "whole_phase": _latency_summary([s[1] for s in samples], elapsed)}
        log(f"--bot: reload {result['reload']['seconds']} s; p99 during it {result['reload']['during']['p99_ms']} ms")
        result["unanswered_after_120_s"] = len(timeouts)
    finally:
        await asyncio.gather(*map(_stop_bot_child, procs))
        for sampler in samplers:
            sampler.done.set()
            sampler.join()
        if api.session is not None:
            await api.session.close()
        await api.stop()
    result["bot_peak_rss_mb"] = round(max(sampler.peak for sampler in samplers) / 2**20, 1)
    return result


def _cpu_seconds(procs: list) -> float:
    """The processor time the bot processes have used so far, all their threads together."""
    import psutil

    return sum(sum(psutil.Process(proc.pid).cpu_times()[:2]) for proc in procs)


WEBHOOK_PATH = "/telegram"
WEBHOOK_SECRET = "bench-webhook-secret"


def _webhook_env(port: int) -> dict[str, str]:
    """A replica behind the bench's load balancer: Telegram would post to the public URL; the
    bench posts to the replica's own port."""
    return {"WEBHOOK_URL": f"https://bot.example.org{WEBHOOK_PATH}", "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port)}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _start_bot_child(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.retrieval", "--bot-child", cwd=ROOT,
                                                env={**os.environ, **env}, stdout=sys.stderr, stderr=sys.stderr)


async def _until_serving(api, procs: list, ports: list[int], started: float) -> None:
    """Until the bot polls, or every replica's webhook server accepts connections."""
    async def listening(port: int) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    while not (all([await listening(port) for port in ports]) if ports
               else any(c.method == "getUpdates" for c in api.calls)):
        if any(proc.returncode is not None for proc in procs) or time.perf_counter() - started > 1800:
            raise SystemExit("the bot did not start serving")
        await asyncio.sleep(0.05)


async def _stop_bot_child(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


def _latency_summary(values: list[float], elapsed: float | None) -> dict:
    return {"questions": len(values), "p50_ms": _r(percentile(values, 50), 1),
            "p95_ms": _r(percentile(values, 95), 1), "p99_ms": _r(percentile(values, 99), 1),
            "questions_per_s": _r(len(values) / elapsed, 1) if elapsed else None}


def render_bot(result: dict) -> str:
    one, many, rl = result["one_user"], result["concurrent"], result["reload"]
    lines = ["| figure | through the bot |", "|---|---|",
             f"| one user at a time ({one['questions']} questions, paced): p50 / p95 / p99 ms, update → reply | {one['p50_ms']} / {one['p95_ms']} / {one['p99_ms']} |",
             f"| {result['users']} users at once: questions/s | {many['questions_per_s']} ({many['questions']} questions) |",
             f"| {result['users']} users at once: p50 / p95 / p99 ms | {many['p50_ms']} / {many['p95_ms']} / {many['p99_ms']} |",
             f"| {result['users']} users at once: processor ms a question, bot processes; bench (Bot API server) | "
             f"{many['bot_cpu_ms_per_question']}; {many['bench_cpu_ms_per_question']} |",
             f"| /reload adding 100 stories, s (update → \"Reload done\") | "
             f"{rl['seconds'] if rl['seconds'] is not None else 'not done within ' + str(round(result['reload_timeout_s'])) + ' s'} |",
             f"| during the reload: p50 / p99 ms ({rl['during']['questions']} questions) | {rl['during']['p50_ms']} / {rl['during']['p99_ms']} |",
             f"| during the reload: questions/s | {rl['whole_phase']['questions_per_s']} |",
             f"| bot process: start until serving s; peak RSS MB{' (each)' if result['replicas'] > 1 else ''} | "
             f"{_fmt(result['bot_start_s'])}; {_fmt(result['bot_peak_rss_mb'], 0)} |",
             "",
             f"{result['passages']:,} passages; "
             + (f"{result['replicas']} bot processes in webhook mode, each chat's updates posted to one of them; "
                if result['replicas'] > 1 else "one bot process, long polling; ")
             + f"the bot's flood limiter at MESSAGES_PER_SECOND="
             f"{result['messages_per_second']:g} (shipped default 30); "
             f"reload report: {rl['summary']}",
             _machine()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=DEFAULT_PASSAGES,
                        help=f"corpus size in passages (default {DEFAULT_PASSAGES:,})")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help=f"corpus, indexes and archives go here (default {DEFAULT_WORKDIR})")
    parser.add_argument("--skip", nargs="+", default=[], metavar="ANCHOR",
                        help="anchors to leave out: rank_bm25, tantivy, fts5, bm25s")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each question (default 5)")
    parser.add_argument("--parity-sample", type=int, default=20,
                        help="questions compared with rank_bm25 and timed on it (default 20)")
    parser.add_argument("--no-reload", action="store_true",
                        help="leave out the reload of 100 new stories (this index)")
    parser.add_argument("--bot", action="store_true", help="measure the whole path through the bot instead")
    parser.add_argument("--users", type=int, default=50, help="--bot: users asking at once (default 50)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="--bot: bot processes on the one archive, in webhook mode behind the bench as load "
                             "balancer (default 1: one process, long polling)")
    parser.add_argument("--per-user", type=int, default=10, help="--bot: questions per user (default 10)")
    parser.add_argument("--pause", type=float, default=0.25,
                        help="--bot: seconds between one user's questions (default 0.25)")
    parser.add_argument("--reload-timeout", type=float, default=900,
                        help="--bot: give up waiting for the reload's summary after this many seconds (default 900)")
    parser.add_argument("--messages-per-second", type=float, default=30,
                        help="--bot: the bot's MESSAGES_PER_SECOND, its flood limiter's rate (default 30, "
                             "Telegram's usual limit; at most 1000)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bot-child", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        return _child_main(args.child)
    if args.bot_child:
        return _bot_child_main()
    unknown = [a for a in args.skip if a.lower() not in ALIASES]
    if unknown:
        print(f"bench.retrieval: unknown anchor {', '.join(unknown)} (known: {', '.join(ANCHORS)})", file=sys.stderr)
        return 2
    args.skip = {ALIASES[a.lower()] for a in args.skip}
    args.workdir.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus(args.passages, args.workdir, log=log)
    log(f"corpus: {corpus.path} ({corpus.passages:,} passages, {corpus.stories:,} stories)")
    if args.bot:
        result = asyncio.run(run_bot_bench(args, corpus))
        print(json.dumps(result) if args.json else render_bot(result))
        return 0
    settings = _retrieval_settings()
    passages = build_passages(corpus, settings.language, settings.stopwords, log=log)
    started = time.perf_counter()
    run = run_retrieval(args, corpus, passages)
    if run["figures"]["ours"].error is None:
        (args.workdir / "ours.manifest.json").write_text(json.dumps({"corpus": str(corpus.path)}))
    log(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        print(json.dumps(retrieval_json(run, corpus)))
    else:
        print(render_table(run, corpus, passages, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
