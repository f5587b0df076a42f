"""The engines the retrieval bench measures, one module an engine, each run in a child process.

Every module here has `run(spec) -> dict` (a coroutine function for `ours`): the phase
`spec["phase"]` ("build", "serve", "all" for rank_bm25, "reload" for ours) of that engine, its
figures as JSON. The parent calls `child(engine, phase, spec, workdir)`, which starts
`python -m bench.retrieval --child SPEC`; that calls `child_main(SPEC)` here, which finds the
module by the engine's name (`bench.engines.<engine>`) and writes what `run` returns where the
spec says.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.harness import ChildRun, own_peak_mb, run_child

TOP = 10


def child(engine: str, phase: str, spec: dict, workdir: Path) -> ChildRun:
    """Run `phase` of `engine` in a process of its own; its figures are `.result`."""
    spec_path = workdir / f"spec-{engine}-{phase}.json"
    out = workdir / f"result-{engine}-{phase}.json"
    spec_path.write_text(json.dumps({**spec, "engine": engine, "phase": phase, "out": str(out)}))
    return run_child([sys.executable, "-m", "bench.retrieval", "--child", str(spec_path)], out)


def child_main(spec_path: Path) -> int:
    """Inside the child: run the phase the spec names and write its figures."""
    spec = json.loads(spec_path.read_text())
    result = importlib.import_module(f"{__name__}.{spec['engine']}").run(spec)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    Path(spec["out"]).write_text(json.dumps({**result, "hwm_mb": own_peak_mb()}))
    return 0


# ---------------------------------------------------------------------------------------------
# what the children share

def read_terms(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8") as stream:
        return [line.split() for line in stream]


def timed_rounds(search, queries: list, repeat: int, indices: Sequence[int] | None = None):
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


def first_search_s(search, queries: list) -> float:
    """Seconds the first answer takes (the first query that is not None)."""
    started = time.perf_counter()
    search(next(q for q in queries if q is not None))
    return time.perf_counter() - started


def private_mb() -> float:
    """This process's private memory (psutil's USS: pages no other process maps), MB."""
    import psutil

    return psutil.Process().memory_full_info().uss / 2**20


def serve_figures(search, queries: list, repeat: int, rows: Callable[[object], list]) -> dict:
    """Warm latencies over every query, and each query's top 10 as `rows(search(query))`."""
    latencies = timed_rounds(search, queries, repeat)
    top = {i: rows(search(query)) for i, query in enumerate(queries) if query is not None}
    return {"latencies_ms": latencies, "top": top}
