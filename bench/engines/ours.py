"""This archive's own index, through `retrieval.service.ArchiveService` (build: `archive-bot
ingest`, run by the parent). Phases: "serve" (cold start, warm latencies, top 10s, whole `ask`
latencies) and "reload" (what an admin's /reload does, while a user keeps asking)."""

from __future__ import annotations

import asyncio
import inspect
import time

from bench.engines import TOP, private_mb, serve_figures
from bench.harness import retrieval_settings


async def run(spec: dict) -> dict:
    return await (_reload(spec) if spec["phase"] == "reload" else _serve(spec))


def _passage_keys(snapshot, docs) -> list[list]:
    """(story id, start) of each passage position, or ("#", position) if the snapshot does not
    say (then positions are taken to be ingest order)."""
    stories = getattr(snapshot, "stories", None)
    owner = getattr(snapshot, "passage_story", None)
    start = getattr(snapshot, "passage_start", None)
    if stories is None or owner is None or start is None:
        return [["#", int(d)] for d in docs]
    return [[stories[int(owner[d])].id, int(start[d])] for d in docs]


def _top_argument(snapshot) -> str | None:
    """The name `snapshot.search` gives its "how many" argument, if it has one."""
    accepted = inspect.signature(snapshot.search).parameters
    return next((name for name in ("k", "limit", "top") if name in accepted), None)


async def _serve(spec: dict) -> dict:
    from retrieval.service import ArchiveService
    from retrieval.text.analysis import Analyzer

    settings = retrieval_settings()
    analyzer = Analyzer(settings.language, settings.stopwords)
    terms = [analyzer.terms(q) for q in spec["questions"]]
    first = next((t for t in terms if t), [])
    started = time.perf_counter()
    service = await ArchiveService.open(spec["db"], settings)
    open_s = time.perf_counter() - started
    snapshot = service.snapshot
    top_arg = _top_argument(snapshot)
    top_kw = {top_arg: TOP} if top_arg else {}

    def search(query: list[str]):
        hits = snapshot.search(query, **top_kw)
        return hits.docs[:TOP], hits.scores[:TOP]

    search(first)
    cold = time.perf_counter() - started
    assert [service.analyzers.main.terms(q) for q in spec["questions"]] == terms
    figures = serve_figures(search, terms, spec["repeat"], lambda hits: [
        [*key, float(s)] for key, s in zip(_passage_keys(snapshot, hits[0]), hits[1].tolist())])
    ask_ms: list[float] = []
    for _ in range(max(1, spec["repeat"] // 2)):
        for question in spec["questions"]:
            answer = await service.ask(question)
            ask_ms.append(answer.took_ms)
    passages = snapshot.passages if hasattr(snapshot, "passages") else None
    private = private_mb()
    await service.close()
    return {"open_s": open_s, "cold_start_s": cold, **figures, "ask_ms": ask_ms, "private_rss_mb": private,
            "passages": passages, "search_top_argument": top_arg}


async def _reload(spec: dict) -> dict:
    """What an admin's /reload does (ARCHIVE_PATHS again, pruned), with 100 new stories, while one
    user keeps asking through `ArchiveService.ask`: the reload's duration and the answers' latency."""
    from retrieval.service import ArchiveService

    service = await ArchiveService.open(spec["db"], retrieval_settings())
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
