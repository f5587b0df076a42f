"""How the figures grow with the archive: the retrieval bench at several sizes in one command.

    python -m bench.retrieval --sizes 100k 1M 10M [--corpus distinct|copies] [--json] [--workdir DIR]

Each size is one run of `bench.retrieval` (`measure`): its corpus (made once, then reused from
the work directory), this index built by `archive-bot ingest`, served and reloaded, tantivy, the
exhaustive Okapi scorer (the reference of the top-10 agreement at every size) and rank_bm25 up to
1.1 M passages (above, it is skipped: it would not fit in memory). SQLite FTS5 and bm25s are left
out. The sizes run one after the other, never two at once; each size's own table goes to stderr
as soon as it is done, and `growth.json` in the work directory holds every size measured so far.

The table printed has one row per figure and engine, one column per size, and the factor by which
each figure grew from one size to the next.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from bench.harness import fmt, log, machine
from bench.retrieval import (LABELS, Figures, error_cell, fmt_ms, measure, reference_note, render_table,
                             retrieval_json)

LEFT_OUT = {"fts5", "bm25s"}


@dataclass(frozen=True)
class Row:
    """One row of the growth table: a figure of one engine."""

    figure: str
    engine: str
    value: Callable[[Figures], float | None]
    show: Callable[[float | None], str] = fmt_ms


def _extra(name: str) -> Callable[[Figures], float | None]:
    return lambda f: f.extra.get(name)


def _whole(value: float | None) -> str:
    return fmt(value, 0)


def _agreement(f: Figures) -> float | None:
    return None if f.compared is None or f.is_reference else f.exact


ROWS = (
    Row("build s", "ours", lambda f: f.build_s, fmt),
    Row("build s", "tantivy", lambda f: f.build_s, fmt),
    Row("build s (analysis + its pass)", "rank_bm25", lambda f: f.build_s, fmt),
    Row("build s (analysis + its pass)", "exhaustive", lambda f: f.build_s, fmt),
    Row("peak RSS MB, build", "ours", lambda f: f.build_rss_mb, _whole),
    Row("peak RSS MB, build", "tantivy", lambda f: f.build_rss_mb, _whole),
    Row("peak RSS MB, serving", "ours", lambda f: f.rss_mb, _whole),
    Row("peak RSS MB, serving", "tantivy", lambda f: f.rss_mb, _whole),
    Row("peak RSS MB, build and serving", "rank_bm25", lambda f: f.rss_mb, _whole),
    Row("peak RSS MB, build and serving", "exhaustive", lambda f: f.rss_mb, _whole),
    Row("private MB, serving (USS)", "ours", lambda f: f.private_rss_mb, _whole),
    Row("private MB, serving (USS)", "tantivy", lambda f: f.private_rss_mb, _whole),
    Row("cold start s", "ours", lambda f: f.cold_start_s),
    Row("cold start s", "tantivy", lambda f: f.cold_start_s),
    Row("retrieval p50 ms", "ours", lambda f: f.p(50)),
    Row("retrieval p50 ms", "tantivy", lambda f: f.p(50)),
    Row("retrieval p50 ms (parity sample)", "rank_bm25", lambda f: f.p(50)),
    Row("retrieval p50 ms (parity sample)", "exhaustive", lambda f: f.p(50)),
    Row("retrieval p95 ms", "ours", lambda f: f.p(95)),
    Row("retrieval p95 ms", "tantivy", lambda f: f.p(95)),
    Row("retrieval p99 ms", "ours", lambda f: f.p(99)),
    Row("retrieval p99 ms", "tantivy", lambda f: f.p(99)),
    Row("`ask` p50 ms", "ours", _extra("ask_p50_ms")),
    Row("`ask` p99 ms", "ours", _extra("ask_p99_ms")),
    Row("reload of 100 stories s", "ours", _extra("reload_s")),
    Row("answers during the reload: p99 ms", "ours", _extra("reload_p99_ms")),
    Row("answers during the reload: max ms", "ours", _extra("reload_max_ms")),
    Row("peak RSS MB, reload", "ours", _extra("reload_rss_mb"), _whole),
    Row("vocabulary (terms)", "exhaustive", _extra("vocabulary"), _whole),
)


def _cell(row: Row, figures: dict[str, Figures]) -> str:
    f = figures[row.engine]
    return error_cell(f) if f.error is not None else row.show(row.value(f))


def _factor(row: Row, before: dict[str, Figures], after: dict[str, Figures]) -> str:
    a, b = before[row.engine], after[row.engine]
    if a.error or b.error:
        return ""
    x, y = row.value(a), row.value(b)
    return f"×{y / x:.1f}" if x and y is not None else ""


def _agreement_cell(f: Figures) -> str:
    if f.error is not None:
        return error_cell(f)
    if f.compared is None:
        return "—"
    if f.name == "tantivy":
        return f"{f.overlap:.0%} overlap"
    return f"{'yes' if f.parity else 'NO'}: {f.exact}/{f.compared} identical"


def growth_table(results: list[tuple]) -> str:
    """The growth table of (corpus, passages, run) per size, smallest first."""
    runs = [run["figures"] for _, _, run in results]
    steps = list(pairwise(runs))
    sizes = [f"{corpus.passages:,}" for corpus, _, _ in results]
    ratios = [f"{a} → {b}" for a, b in pairwise(sizes)]
    stories = [f"{corpus.stories:,}" for corpus, _, _ in results] + [""] * len(ratios)
    lines = ["| figure | engine | " + " | ".join(sizes + ratios) + " |", "|---" * (2 + len(sizes) + len(ratios)) + "|",
             "| stories | | " + " | ".join(stories) + " |"]
    for row in ROWS:
        cells = [_cell(row, figures) for figures in runs] + [_factor(row, a, b) for a, b in steps]
        lines.append(f"| {row.figure} | {LABELS[row.engine]} | " + " | ".join(cells) + " |")
    for engine in ("ours", "rank_bm25", "tantivy"):
        cells = [_agreement_cell(figures[engine]) for figures in runs] + [""] * len(steps)
        lines.append(f"| top-10 agreement with the reference | {LABELS[engine]} | " + " | ".join(cells) + " |")
    speedups = [_speedup(figures) for figures in runs] + [""] * len(steps)
    lines.append("| tantivy p50 / this index's p50 | | " + " | ".join(speedups) + " |")
    return "\n".join(lines)


def _speedup(figures: dict[str, Figures]) -> str:
    a, b = figures["tantivy"].p(50), figures["ours"].p(50)
    return f"{a / b:.2f}×" if a and b else "—"


def render_growth(results: list[tuple], args) -> str:
    corpus = results[0][0]
    return "\n".join([
        growth_table(results), "",
        reference_note(results[-1][2]["figures"]),
        (f"Corpus: Reuters-21578, {corpus.kind} copies (`bench.corpus`); {results[0][2]['questions']} questions, "
         f"{args.repeat} timed runs each after a warm-up; parity sample {len(results[0][2]['sample'])} questions; "
         "rank_bm25 and the exhaustive scorer are timed on the parity sample, once each; their build is the "
         "analysis of the corpus (on 2 processes) plus their own pass over its terms."),
        machine()])


def run_growth(args) -> int:
    """Measure every size of `args.sizes` in turn and print the growth table (or JSON)."""
    args.skip = set(args.skip) | LEFT_OUT
    results = []
    for size in sorted(args.sizes):
        corpus, passages, run = measure(args, size)
        results.append((corpus, passages, run))
        log("size done:\n" + render_table(run, corpus, passages, args))
        (args.workdir / "growth.json").write_text(json.dumps(_json(results)))
    print(json.dumps(_json(results)) if args.json else render_growth(results, args))
    return 0


def _json(results: list[tuple]) -> dict:
    return {"corpus": results[0][0].kind, "sizes": [retrieval_json(run, corpus) for corpus, _, run in results]}
