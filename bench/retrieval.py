"""Retrieval speed: this archive's BM25 index against rank_bm25, tantivy, SQLite FTS5 and bm25s.

    python -m bench.retrieval [--passages N] [--corpus distinct|copies] [--json] [--workdir DIR] [--skip ANCHOR ...]
    python -m bench.retrieval --sizes 100k 1M 10M [--json]      (a growth table: bench.growth)
    python -m bench.retrieval --bot [--passages N] [--users 50] [--messages-per-second 30] [--replicas 1]

One run, one machine, every engine over the same passages of the replicated Reuters corpus
(`bench.corpus`: distinct copies by default, exact ones with `--corpus copies`) and the same fixed
questions (`bench/questions.txt`). Each engine builds in a process of its own and serves in a
process of its own, so build time, cold start and peak RSS
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
  the process's own high-water mark (VmHWM; wait4's maximum would carry the bench's own).
- p50 / p95 / p99 ms: retrieval only, warm: analyzed question terms in, the top 10 passages and
  their scores out. Analysis of the question is excluded for every engine (done before timing);
  tantivy's and FTS5's query objects / strings are prepared before timing too. Every question is
  asked once to warm up, then `--repeat` more times, round robin. rank_bm25 is timed on the parity
  sample only (each question once: it takes about a second a question at a million passages).
- top-10 agreement: for a sample of questions, the top 10 passages and scores of the reference
  among the passages that hold a query term, ties in passage order. The reference is the
  exhaustive Okapi scorer (`bench.exhaustive`: rank_bm25's own arithmetic over every posting, at
  any size), or rank_bm25's own `get_scores` when it is skipped; rank_bm25 runs up to 1.1 M
  passages. This index and rank_bm25 must match it exactly (same passages in the same order,
  scores within 1e-9 relative): `parity`. The anchors are shown for orientation (different
  analysis or formula): how many sampled questions had the very same top 10, and the mean share
  of the reference's top 10 they found.

`--bot` measures the whole path instead: the real bot (`archive-bot run`, in its own process)
against the fake Bot API server (`fakebotapi`) on 127.0.0.1, time from pushing an update to the
reply's sendMessage arriving, one user at a time and then `--users` users at once, and an admin
/reload that adds 100 new stories while the users keep asking. With `--replicas N`, N bot processes
serve the one archive file in webhook mode, as behind a load balancer: the bench posts each chat's
updates to one of them (the admin's /reload reaches one; the others follow the archive).

Nothing here asserts on time: it prints what it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.corpus import (DEFAULT_KIND, DEFAULT_PASSAGES, DEFAULT_WORKDIR, KINDS, Corpus, Passages, build_corpus,
                          build_passages, parse_size)
from bench.engines import TOP, child, child_main
from bench.harness import (archive_of, fmt, fresh_db, ingest_archive, load_questions, log, machine,
                           note_archive, percentile, retrieval_settings, rounded, sample_indices,
                           write_reload_stories)

ANCHORS = ("rank_bm25", "exhaustive", "tantivy", "fts5", "bm25s")
ENGINES = ("ours", *ANCHORS)
ONE_PROCESS = ("rank_bm25", "exhaustive")
"""Engines that build and serve in one process (no persistence), given the archive's terms."""
LABELS = {"ours": "this index", "rank_bm25": "rank_bm25 full scan", "exhaustive": "exhaustive Okapi",
          "tantivy": "tantivy", "fts5": "SQLite FTS5", "bm25s": "bm25s"}
JSON_NAMES = {"rank_bm25": "rank_bm25", "exhaustive": "exhaustive", "tantivy": "tantivy",
              "fts5": "sqlite_fts5", "bm25s": "bm25s"}
ALIASES = {"rank_bm25": "rank_bm25", "rank-bm25": "rank_bm25", "rankbm25": "rank_bm25",
           "exhaustive": "exhaustive", "tantivy": "tantivy", "fts5": "fts5", "sqlite": "fts5",
           "sqlite_fts5": "fts5", "sqlite-fts5": "fts5", "bm25s": "bm25s"}
REL_TOL = 1e-9
RANK_BM25_MAX_PASSAGES = 1_100_000
"""Above this, rank_bm25 is skipped: its per-passage dicts need ~1.8 GB a million passages."""


def query_tokens(analyzer, question: str) -> list[str]:
    """The question's words without stopwords, split as tantivy and FTS5 split text
    (letters and digits); their own stemmers do the rest."""
    words = [w for w in analyzer.words(question) if w not in analyzer.stopwords]
    return re.findall(r"[^\W_]+", " ".join(words))


@dataclass
class Figures:
    name: str
    build_s: float | None = None
    cold_start_s: float | None = None
    rss_mb: float | None = None
    private_rss_mb: float | None = None
    build_rss_mb: float | None = None
    latencies: list[float] = field(default_factory=list)
    parity: bool | None = None
    exact: int | None = None
    compared: int | None = None
    overlap: float | None = None
    timed_questions: int = 0
    is_reference: bool = False
    error: str | None = None
    extra: dict = field(default_factory=dict)

    def p(self, q: float) -> float | None:
        return percentile(self.latencies, q)

    def as_json(self) -> dict:
        return {"build_s": rounded(self.build_s), "cold_start_s": rounded(self.cold_start_s),
                "rss_mb": rounded(self.rss_mb, 1), "private_rss_mb": rounded(self.private_rss_mb, 1),
                "build_rss_mb": rounded(self.build_rss_mb, 1),
                "p50_ms": rounded(self.p(50), 4), "p95_ms": rounded(self.p(95), 4),
                "p99_ms": rounded(self.p(99), 4), "parity": self.parity, "top10_exact": self.exact,
                "top10_compared": self.compared, "top10_overlap": rounded(self.overlap, 4),
                "timed_questions": self.timed_questions, "samples": len(self.latencies),
                "reference": self.is_reference, "error": self.error, **self.extra}


def _tops(result: dict) -> dict[int, list]:
    """A child's top 10s, keyed by question index again (JSON made the keys strings)."""
    return {int(k): v for k, v in result["top"].items()}


# ---------------------------------------------------------------------------------------------
# this index: build, serve, reload

def _run_ours(args, corpus: Corpus, base: dict, tops: dict) -> Figures:
    log(f"this index: archive-bot ingest of {corpus.passages:,} passages into a fresh SQLite file")
    db = archive_of(args.workdir)
    ours = Figures("ours")
    build = ingest_archive(corpus, db)
    ours.build_s, ours.build_rss_mb = build.wall_s, build.peak_rss_mb
    if build.returncode != 0:
        ours.error = f"ingest exited with {build.returncode}"
        return ours
    log(f"this index: built in {build.wall_s:.1f} s; serving")
    serve = child("ours", "serve", {**base, "db": str(db)}, args.workdir)
    if serve.returncode != 0:
        ours.error = f"serve exited with {serve.returncode}"
        return ours
    r = serve.result
    ours.cold_start_s, ours.rss_mb, ours.latencies = r["cold_start_s"], serve.peak_rss_mb, r["latencies_ms"]
    ours.private_rss_mb = r["private_rss_mb"]
    ours.timed_questions = len(base["questions"])
    ours.extra = {"open_s": rounded(r["open_s"]), "ask_p50_ms": rounded(percentile(r["ask_ms"], 50), 3),
                  "ask_p99_ms": rounded(percentile(r["ask_ms"], 99), 3),
                  "search_top_argument": r["search_top_argument"]}
    tops["ours"] = _tops(r)
    if not args.no_reload:
        _reload_figures(ours, corpus, db, base, args.workdir)
    return ours


def _reload_figures(ours: Figures, corpus: Corpus, db: Path, base: dict, workdir: Path) -> None:
    """/reload of the corpus plus 100 new stories on a copy of the built archive, answering meanwhile."""
    copy = workdir / "ours-reload.sqlite"
    fresh_db(copy)
    for suffix in ("", "-wal"):
        if Path(f"{db}{suffix}").is_file():
            shutil.copyfile(f"{db}{suffix}", f"{copy}{suffix}")
    new = workdir / "new-stories" / "new-stories.jsonl"
    new.parent.mkdir(exist_ok=True)
    write_reload_stories(new)
    log("this index: reload of the corpus + 100 new stories while answering")
    run = child("ours", "reload", {**base, "db": str(copy), "paths": [str(corpus.path), str(new.parent)]}, workdir)
    if run.returncode != 0:
        ours.extra["reload_error"] = f"exited with {run.returncode}"
        return
    r = run.result
    ours.extra.update({
        "reload_s": rounded(r["reload_s"], 2), "reload_summary": r["summary"], "reload_added": r["added"],
        "reload_passages": [r["passages_before"], r["passages_after"]],
        "reload_answers": len(r["during_ms"]),
        "reload_p50_ms": rounded(percentile(r["during_ms"], 50), 2),
        "reload_p99_ms": rounded(percentile(r["during_ms"], 99), 2),
        "reload_max_ms": rounded(max(r["during_ms"], default=None) if r["during_ms"] else None, 2),
        "reload_rss_mb": rounded(run.peak_rss_mb, 1)})
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# the anchors

def _run_anchor(engine: str, base: dict, passages: Passages, workdir: Path, tops: dict) -> Figures:
    log(f"{LABELS[engine]}: building")
    spec = {**base, "index_dir": str(workdir / f"{engine}-index"), "db": str(workdir / "fts5.sqlite")}
    if engine in ONE_PROCESS:
        return _run_one_process(engine, spec, passages, workdir, tops)
    fig = Figures(engine)
    build = child(engine, "build", spec, workdir)
    if build.returncode != 0:
        fig.error = f"build exited with {build.returncode}"
        return fig
    fig.build_rss_mb = build.peak_rss_mb
    fig.build_s = build.result["index_s"] + (passages.analysis_s if engine == "bm25s" else 0.0)
    log(f"{LABELS[engine]}: built in {fig.build_s:.1f} s; serving")
    serve = child(engine, "serve", spec, workdir)
    if serve.returncode != 0:
        fig.error = f"serve exited with {serve.returncode}"
        return fig
    fig.cold_start_s, fig.rss_mb = serve.result["cold_start_s"], serve.peak_rss_mb
    fig.private_rss_mb = serve.result.get("private_rss_mb")
    fig.latencies, fig.timed_questions = serve.result["latencies_ms"], len(base["questions"])
    tops[engine] = _tops(serve.result)
    fig.extra = {k: v for k, v in serve.result.items() if k in ("bm25s", "sqlite", "segments")}
    return fig


def _run_one_process(engine: str, spec: dict, passages: Passages, workdir: Path, tops: dict) -> Figures:
    """rank_bm25 or the exhaustive scorer: built and served in one process (neither is persisted),
    timed on the parity sample only; their build is the analysis plus their own pass."""
    fig = Figures(engine)
    run = child(engine, "all", spec, workdir)
    if run.returncode != 0:
        fig.error = f"exited with {run.returncode}"
        return fig
    fig.build_s = passages.analysis_s + run.result["index_s"]
    fig.rss_mb = fig.build_rss_mb = run.peak_rss_mb
    fig.latencies, fig.timed_questions = run.result["latencies_ms"], len(spec["sample"])
    tops[engine] = _tops(run.result)
    fig.extra = {k: rounded(v) for k, v in run.result.items() if k in ("index_s", "vocabulary")}
    return fig


# ---------------------------------------------------------------------------------------------
# top-10 agreement with rank_bm25

def _load_keys(passages: Passages, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The passage positions of the (story id, start) keys `wanted` (all of them would be ~2 GB of
    Python objects at ten million passages)."""
    keys: dict[tuple[str, int], int] = {}
    with open(passages.keys, encoding="utf-8") as stream:
        for pid, line in enumerate(stream):
            story, start, _ = line.split("\t", 2)
            if (story, int(start)) in wanted:
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


def reference_of(tops: dict) -> str | None:
    """The engine the others are compared with: the exhaustive scorer, else rank_bm25."""
    return next((e for e in ("exhaustive", "rank_bm25") if e in tops), None)


def _agreement(figures: dict[str, Figures], tops: dict, passages: Passages) -> None:
    """Each engine's top-10 agreement with the reference's, if one ran; this index and rank_bm25
    must equal it (same passages in order, scores within REL_TOL)."""
    name = reference_of(tops)
    if name is None:
        return
    reference = tops[name]
    figures[name].parity = figures[name].is_reference = True
    figures[name].exact = figures[name].compared = len(reference)
    figures[name].overlap = 1.0
    wanted = {(row[0], row[1]) for top in tops.get("ours", {}).values() for row in top}
    keys = _load_keys(passages, wanted) if wanted else None
    for engine, found in tops.items():
        if engine == name:
            continue
        same, compared, overlap = _compare(reference, found, keys if engine == "ours" else None,
                                           exact_scores=engine in ("ours", "rank_bm25"))
        fig = figures[engine]
        fig.exact, fig.compared, fig.overlap = same, compared, overlap
        fig.parity = same == compared and compared > 0


def run_retrieval(args, corpus: Corpus, passages: Passages) -> dict:
    from retrieval.text.analysis import Analyzer

    settings = retrieval_settings()
    analyzer = Analyzer(settings.language, settings.stopwords)
    questions = load_questions()
    terms = [analyzer.terms(q) for q in questions]
    words = [query_tokens(analyzer, q) for q in questions]
    sample = sample_indices(len(questions), args.parity_sample)
    base = {"questions": questions, "terms": terms, "words": words, "repeat": args.repeat,
            "sample": sample, "terms_file": str(passages.terms), "text_file": str(passages.text)}
    tops: dict[str, dict] = {}
    figures: dict[str, Figures] = {"ours": _run_ours(args, corpus, base, tops)}
    for engine in ANCHORS:
        if engine in args.skip:
            figures[engine] = Figures(engine, error="skipped")
        elif engine == "rank_bm25" and corpus.passages > RANK_BM25_MAX_PASSAGES:
            figures[engine] = Figures(engine, error=f"skipped above {RANK_BM25_MAX_PASSAGES / 1e6:.1f} M passages")
            log(f"rank_bm25: skipped above {RANK_BM25_MAX_PASSAGES:,} passages (it would need "
                f"~{corpus.passages / 1e6 * 1.8:.0f} GB)")
        else:
            figures[engine] = _run_anchor(engine, base, passages, args.workdir, tops)
    _agreement(figures, tops, passages)
    return {"figures": figures, "questions": len(questions), "sample": sample}


def measure(args, size: int) -> tuple[Corpus, Passages, dict]:
    """One size: its corpus (made, or reused from the work directory) and every engine's figures."""
    settings = retrieval_settings()
    corpus = build_corpus(size, args.workdir, log=log, kind=args.corpus)
    log(f"corpus: {corpus.path} ({corpus.passages:,} passages, {corpus.stories:,} stories)")
    passages = build_passages(corpus, settings.language, settings.stopwords, log=log)
    started = time.perf_counter()
    run = run_retrieval(args, corpus, passages)
    if run["figures"]["ours"].error is None:
        note_archive(args.workdir, corpus)
    log(f"{corpus.passages:,} passages: done in {time.perf_counter() - started:.0f} s")
    return corpus, passages, run


# ---------------------------------------------------------------------------------------------
# the table and the JSON

def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}" if value < 1 else f"{value:.1f}"


def _agreement_cell(f: Figures) -> str:
    if f.compared is None:
        return "—"
    if f.is_reference:
        return f"reference ({f.compared} questions)"
    if f.name in ("ours", "rank_bm25"):
        return f"{'yes' if f.parity else 'NO'}: {f.exact}/{f.compared} identical"
    return f"{f.exact}/{f.compared} identical, {f.overlap:.0%} overlap"


def error_cell(f: Figures) -> str:
    """What a table shows for an engine that did not run: why, if it was skipped."""
    return f.error if f.error.startswith("skipped") else "failed"


def _table(figures: dict[str, Figures]) -> str:
    columns = [figures[e] for e in ENGINES]
    header = "| figure | " + " | ".join(LABELS[e] for e in ENGINES) + " |"
    lines = [header, "|---" * (len(ENGINES) + 1) + "|"]

    def row(name: str, cell) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(f) if f.error is None else error_cell(f)
                                                 for f in columns) + " |")

    row("build s", lambda f: fmt(f.build_s))
    row("cold start s", lambda f: fmt_ms(f.cold_start_s) if f.cold_start_s is not None else "— (no persistence)")
    row("peak RSS MB, serving", lambda f: fmt(f.rss_mb, 0))
    row("private MB, serving (USS)", lambda f: fmt(f.private_rss_mb, 0))
    row("peak RSS MB, build", lambda f: fmt(f.build_rss_mb, 0))
    row("p50 ms", lambda f: fmt_ms(f.p(50)))
    row("p95 ms", lambda f: fmt_ms(f.p(95)))
    row("p99 ms", lambda f: fmt_ms(f.p(99)))
    row("questions timed × runs", lambda f: f"{f.timed_questions} × {len(f.latencies) // max(f.timed_questions, 1)}")
    row("top-10 agreement with the reference", _agreement_cell)
    return "\n".join(lines)


def _ours_notes(figures: dict[str, Figures]) -> list[str]:
    """The lines under the table about this index: speed-ups, whole answers, the reload."""
    ours = figures["ours"]
    out = []
    speedups = []
    for anchor in ("rank_bm25", "tantivy"):
        a, b = figures[anchor].p(50), ours.p(50)
        if a and b:
            speedups.append(f"{a / b:,.1f}× vs {LABELS[anchor]} p50")
    if speedups:
        out.append("This index: " + "; ".join(speedups) + ".")
    if ours.extra.get("ask_p50_ms") is not None:
        out.append(f"This index, whole `ArchiveService.ask` (parse, search, quotes, SQLite reads; no "
                   f"Telegram): p50 {fmt_ms(ours.extra['ask_p50_ms'])} ms, p99 {fmt_ms(ours.extra['ask_p99_ms'])} ms; "
                   f"`ArchiveService.open` alone {fmt(ours.extra.get('open_s'), 2)} s.")
    if ours.extra.get("reload_s") is not None:
        e = ours.extra
        out.append(f"This index, reload (what /reload does: `ArchiveService.ingest(corpus + a folder of 100 new "
                   f"stories, prune=True)` on a copy of the archive) took {e['reload_s']:.1f} s "
                   f"({e['reload_summary']}); {e['reload_answers']} answers (`ask`, one user, back to back) "
                   f"during it: p50 {fmt_ms(e['reload_p50_ms'])} ms, p99 {fmt_ms(e['reload_p99_ms'])} ms, "
                   f"max {fmt_ms(e['reload_max_ms'])} ms; peak RSS {fmt(e['reload_rss_mb'], 0)} MB.")
    return out


def reference_note(figures: dict[str, Figures]) -> str:
    """Which engine the top-10 agreement is with."""
    name = next((f.name for f in figures.values() if f.is_reference), None)
    if name == "exhaustive":
        return ("Reference: the exhaustive Okapi scorer (`bench.exhaustive`: rank_bm25's arithmetic over every "
                "posting, numpy); rank_bm25 itself, where it ran, must equal it.")
    return f"Reference: {LABELS[name]}." if name else "Reference: none ran (no top-10 agreement)."


def render_table(run: dict, corpus: Corpus, passages: Passages, args) -> str:
    figures: dict[str, Figures] = run["figures"]
    out = [_table(figures), "", *_ours_notes(figures)]
    out.append(reference_note(figures))
    out.append(f"Corpus: {corpus.passages:,} passages in {corpus.stories:,} stories "
               f"(Reuters-21578 × {corpus.copies}, {corpus.kind} copies); {run['questions']} questions, "
               f"{args.repeat} timed runs each after a warm-up; parity sample {len(run['sample'])} questions; "
               f"analysis for rank_bm25/bm25s {passages.analysis_s:.1f} s on {passages.workers} processes "
               f"(included in their build).")
    out.append(machine())
    return "\n".join(out)


def retrieval_json(run: dict, corpus: Corpus) -> dict:
    figures: dict[str, Figures] = run["figures"]
    ours = figures["ours"].as_json()
    result = {"passages": corpus.passages, "stories": corpus.stories, "corpus": corpus.kind,
              **{k: ours[k] for k in ("build_s", "cold_start_s", "rss_mb", "private_rss_mb", "p50_ms", "p95_ms",
                                      "p99_ms", "parity")},
              "anchors": {JSON_NAMES[a]: {k: v for k, v in figures[a].as_json().items()} for a in ANCHORS},
              "this_index": ours, "questions": run["questions"], "parity_sample": run["sample"]}
    for anchor in ("rank_bm25", "tantivy"):
        a, b = figures[anchor].p(50), figures["ours"].p(50)
        result[f"speedup_vs_{anchor}_p50"] = round(a / b, 2) if a and b else None
    return result


# ---------------------------------------------------------------------------------------------
# the command line

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=DEFAULT_PASSAGES,
                        help=f"corpus size in passages (default {DEFAULT_PASSAGES:,})")
    parser.add_argument("--sizes", nargs="+", type=parse_size, metavar="SIZE",
                        help="run each size in turn (100k 1M 10M) and print a growth table (bench.growth)")
    parser.add_argument("--corpus", choices=KINDS, default=DEFAULT_KIND,
                        help=f"distinct copies of Reuters (resampled words) or exact copies (default {DEFAULT_KIND})")
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
        return child_main(args.child)
    if args.bot_child:
        from bench.bot import bot_child_main  # only here: the engines' children import no aiohttp

        return bot_child_main()
    unknown = [a for a in args.skip if a.lower() not in ALIASES]
    if unknown:
        print(f"bench.retrieval: unknown anchor {', '.join(unknown)} (known: {', '.join(ANCHORS)})", file=sys.stderr)
        return 2
    args.skip = {ALIASES[a.lower()] for a in args.skip}
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.sizes:
        from bench.growth import run_growth

        return run_growth(args)
    if args.bot:
        from bench.bot import render_bot, run_bot_bench

        corpus = build_corpus(args.passages, args.workdir, log=log, kind=args.corpus)
        result = asyncio.run(run_bot_bench(args, corpus))
        print(json.dumps(result) if args.json else render_bot(result))
        return 0
    corpus, passages, run = measure(args, args.passages)
    if args.json:
        print(json.dumps(retrieval_json(run, corpus)))
    else:
        print(render_table(run, corpus, passages, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
