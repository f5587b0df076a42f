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

from bench.corpus import DEFAULT_PASSAGES, DEFAULT_WORKDIR, Corpus, Passages, build_corpus, build_passages
from bench.engines import TOP, child, child_main
from bench.harness import (archive_of, fmt, fresh_db, ingest_archive, load_questions, log, machine,
                           note_archive, percentile, retrieval_settings, rounded, sample_indices,
                           write_reload_stories)

ANCHORS = ("rank_bm25", "tantivy", "fts5", "bm25s")
ENGINES = ("ours", *ANCHORS)
LABELS = {"ours": "this index", "rank_bm25": "rank_bm25 full scan", "tantivy": "tantivy",
          "fts5": "SQLite FTS5", "bm25s": "bm25s"}
JSON_NAMES = {"rank_bm25": "rank_bm25", "tantivy": "tantivy", "fts5": "sqlite_fts5", "bm25s": "bm25s"}
ALIASES = {"rank_bm25": "rank_bm25", "rank-bm25": "rank_bm25", "rankbm25": "rank_bm25",
           "tantivy": "tantivy", "fts5": "fts5", "sqlite": "fts5", "sqlite_fts5": "fts5",
           "sqlite-fts5": "fts5", "bm25s": "bm25s"}
REL_TOL = 1e-9


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
        return {"build_s": rounded(self.build_s), "cold_start_s": rounded(self.cold_start_s),
                "rss_mb": rounded(self.rss_mb, 1), "build_rss_mb": rounded(self.build_rss_mb, 1),
                "p50_ms": rounded(self.p(50), 4), "p95_ms": rounded(self.p(95), 4),
                "p99_ms": rounded(self.p(99), 4), "parity": self.parity, "top10_exact": self.exact,
                "top10_compared": self.compared, "top10_overlap": rounded(self.overlap, 4),
                "timed_questions": self.timed_questions, "samples": len(self.latencies),
                "error": self.error, **self.extra}


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
    if engine == "rank_bm25":
        return _run_rank_bm25(spec, passages, workdir, tops)
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
    fig.latencies, fig.timed_questions = serve.result["latencies_ms"], len(base["questions"])
    tops[engine] = _tops(serve.result)
    fig.extra = {k: v for k, v in serve.result.items() if k in ("bm25s", "sqlite", "segments")}
    return fig


def _run_rank_bm25(spec: dict, passages: Passages, workdir: Path, tops: dict) -> Figures:
    """rank_bm25 builds and serves in one process (it cannot be persisted)."""
    fig = Figures("rank_bm25")
    run = child("rank_bm25", "all", spec, workdir)
    if run.returncode != 0:
        fig.error = f"exited with {run.returncode}"
        return fig
    fig.build_s = passages.analysis_s + run.result["index_s"]
    fig.rss_mb = fig.build_rss_mb = run.peak_rss_mb
    fig.latencies, fig.timed_questions = run.result["latencies_ms"], len(spec["sample"])
    tops["rank_bm25"] = _tops(run.result)
    fig.extra = {"index_s": rounded(run.result["index_s"])}
    return fig


# ---------------------------------------------------------------------------------------------
# top-10 agreement with rank_bm25

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


def _agreement(figures: dict[str, Figures], tops: dict, passages: Passages) -> None:
    """Each engine's top-10 agreement with rank_bm25's, if rank_bm25 ran."""
    reference = tops.get("rank_bm25")
    if reference is None:
        return
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
        else:
            figures[engine] = _run_anchor(engine, base, passages, args.workdir, tops)
    _agreement(figures, tops, passages)
    return {"figures": figures, "questions": len(questions), "sample": sample}


# ---------------------------------------------------------------------------------------------
# the table and the JSON

def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}" if value < 1 else f"{value:.1f}"


def _agreement_cell(f: Figures) -> str:
    if f.compared is None:
        return "—"
    if f.name == "rank_bm25":
        return f"reference ({f.compared} questions)"
    if f.name == "ours":
        return f"{'yes' if f.parity else 'NO'}: {f.exact}/{f.compared} identical"
    return f"{f.exact}/{f.compared} identical, {f.overlap:.0%} overlap"


def _table(figures: dict[str, Figures]) -> str:
    columns = [figures[e] for e in ENGINES]
    header = "| figure | " + " | ".join(LABELS[e] for e in ENGINES) + " |"
    lines = [header, "|---" * (len(ENGINES) + 1) + "|"]

    def row(name: str, cell) -> None:
        lines.append(f"| {name} | " + " | ".join(cell(f) if f.error in (None,) else
                                                 ("skipped" if f.error == "skipped" else "failed")
                                                 for f in columns) + " |")

    row("build s", lambda f: fmt(f.build_s))
    row("cold start s", lambda f: _ms(f.cold_start_s) if f.cold_start_s is not None else "— (no persistence)")
    row("peak RSS MB, serving", lambda f: fmt(f.rss_mb, 0))
    row("peak RSS MB, build", lambda f: fmt(f.build_rss_mb, 0))
    row("p50 ms", lambda f: _ms(f.p(50)))
    row("p95 ms", lambda f: _ms(f.p(95)))
    row("p99 ms", lambda f: _ms(f.p(99)))
    row("questions timed × runs", lambda f: f"{f.timed_questions} × {len(f.latencies) // max(f.timed_questions, 1)}")
    row("top-10 agreement with rank_bm25", _agreement_cell)
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
                   f"Telegram): p50 {_ms(ours.extra['ask_p50_ms'])} ms, p99 {_ms(ours.extra['ask_p99_ms'])} ms; "
                   f"`ArchiveService.open` alone {fmt(ours.extra.get('open_s'), 2)} s.")
    if ours.extra.get("reload_s") is not None:
        e = ours.extra
        out.append(f"This index, reload (what /reload does: `ArchiveService.ingest(corpus + a folder of 100 new "
                   f"stories, prune=True)` on a copy of the archive) took {e['reload_s']:.1f} s "
                   f"({e['reload_summary']}); {e['reload_answers']} answers (`ask`, one user, back to back) "
                   f"during it: p50 {_ms(e['reload_p50_ms'])} ms, p99 {_ms(e['reload_p99_ms'])} ms, "
                   f"max {_ms(e['reload_max_ms'])} ms; peak RSS {fmt(e['reload_rss_mb'], 0)} MB.")
    return out


def render_table(run: dict, corpus: Corpus, passages: Passages, args) -> str:
    figures: dict[str, Figures] = run["figures"]
    out = [_table(figures), "", *_ours_notes(figures)]
    out.append(f"Corpus: {corpus.passages:,} passages in {corpus.stories:,} stories "
               f"(Reuters-21578 × {corpus.copies}); {run['questions']} questions, "
               f"{args.repeat} timed runs each after a warm-up; parity sample {len(run['sample'])} questions; "
               f"analysis for rank_bm25/bm25s {passages.analysis_s:.1f} s on {passages.workers} processes "
               f"(included in their build).")
    out.append(machine())
    return "\n".join(out)


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
# the command line

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
    corpus = build_corpus(args.passages, args.workdir, log=log)
    log(f"corpus: {corpus.path} ({corpus.passages:,} passages, {corpus.stories:,} stories)")
    if args.bot:
        from bench.bot import render_bot, run_bot_bench

        result = asyncio.run(run_bot_bench(args, corpus))
        print(json.dumps(result) if args.json else render_bot(result))
        return 0
    settings = retrieval_settings()
    passages = build_passages(corpus, settings.language, settings.stopwords, log=log)
    started = time.perf_counter()
    run = run_retrieval(args, corpus, passages)
    if run["figures"]["ours"].error is None:
        note_archive(args.workdir, corpus)
    log(f"done in {time.perf_counter() - started:.0f} s")
    if args.json:
        print(json.dumps(retrieval_json(run, corpus)))
    else:
        print(render_table(run, corpus, passages, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
