"""Reading, hashing and analyzing archive files, on worker processes when there is much to read.

The files are cut into parts (a block of JSON lines, or a few whole files). A part comes back as
its stories, each with its content hash, and analyzed unless the archive already holds that very
content; problems come back as `Problem`s. The event loop only hands out parts and writes what
comes back, in order, so questions keep being answered while an archive is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import os
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from retrieval.text.analysis import Analyzers
from retrieval.ingest.formats import Problem, json_lines, parse_line, read_file
from retrieval.models import Article
from retrieval.text.sentences import passage_spans

PART_LINES = 1000
"""JSON lines in one part."""
PART_FILES = 50
"""Whole files (story text, CSV) in one part."""
PARALLEL_BYTES = 4 * 2**20
"""With less new input than this ahead, one thread reads it: starting processes would cost more."""
JSON_LINES = (".jsonl", ".ndjson", ".jsonl.gz")
WORKER_NICENESS = 10
"""Workers yield the CPU to the process that answers questions (a reload runs while it does)."""


@dataclass(frozen=True)
class Part:
    """Some lines of one JSON Lines file (`lines`, numbered, with their `digests`), or whole
    files (`paths`); `size` bytes of input."""

    paths: tuple[str, ...]
    lines: tuple[tuple[int, bytes | None], ...] | None = None
    last: bool = True  # the last part of its file (JSON Lines)
    problem: Problem | None = None  # what stopped the reading after `lines`
    digests: tuple[str | None, ...] = ()
    size: int = 0

    def new_share(self, sources: dict[str, tuple[str, str]]) -> float:
        """The share of its lines whose digest `sources` does not hold (whole files: 1, their
        content is known only once parsed)."""
        if self.lines is None:
            return 1.0
        return sum(digest not in sources for digest in self.digests) / len(self.digests) if self.digests else 0.0


class ArticleColumns(NamedTuple):
    """An article as the stories table holds it (`storage.schema.StoryRow`'s first columns)."""

    id: str
    title: str
    date: str | None
    url: str | None
    source: str | None
    metadata: str
    body: str
    content_hash: str


# not frozen: a reload makes one for each story in the archive, and a frozen dataclass's
# __init__ costs several times as much
@dataclass(slots=True)
class Story:
    """A story read from a file: `row`, title terms and passages are None when the archive
    already holds this content."""

    id: str
    digest: str
    row: ArticleColumns | None = None
    title_terms: str = ""
    passages: list[tuple[int, int, str]] | None = None
    source: str | None = None  # the digest of its JSON line
    language: str | None = None


@dataclass(frozen=True)
class FileRead:
    """What one file of a part held, in file order."""

    path: str
    records: list[Story | Problem]


def read_part(part: Part, analyzers: Analyzers, known: dict[str, str], sources: dict[str, tuple[str, str]],
              force: bool = False) -> list[FileRead]:
    """The stories and problems of `part`; a story whose hash `known` holds is not analyzed, nor
    is a JSON line whose digest `sources` holds even parsed (unless `force`)."""
    if part.lines is None:
        return [FileRead(path, [_story(r, analyzers, known, force) if isinstance(r, Article) else r
                                for r in read_file(Path(path))]) for path in part.paths]
    path = part.paths[0]
    records: list[Story | Problem] = []
    for (number, chunk), source in zip(part.lines, part.digests):
        if not force and source in sources:
            records.append(Story(*sources[source], source=source))
            continue
        record = parse_line(path, number, chunk)
        records.append(_story(record, analyzers, known, force, source) if isinstance(record, Article) else record)
    if part.problem:
        records.append(part.problem)
    return [FileRead(path, records)]


def stored_hashes(rows: Sequence[tuple]) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """From stored (id, content hash, line digest, ...): hashes by id, and (id, hash) by line digest."""
    return ({story_id: digest for story_id, digest, *_ in rows},
            {source: (story_id, digest) for story_id, digest, source, *_ in rows if source})


def analyze(article: Article, analyzers: Analyzers) -> tuple[str, str, list[tuple[int, int, str]]]:
    """An article's language, its title terms, and its passages' spans and terms."""
    language = analyzers.story_language(article.title, article.body, article.language)
    analyzer = analyzers.of(language)
    return (language, analyzer.joined_terms(article.title),
            [(start, end, analyzer.joined_terms(article.body[start:end]))
             for start, end in passage_spans(article.body)])


def _story(article: Article, analyzers: Analyzers, known: dict[str, str], force: bool,
           source: str | None = None) -> Story:
    digest = article.content_hash()
    if not force and known.get(article.id) == digest:
        return Story(article.id, digest, source=source)
    language, title_terms, passages = analyze(article, analyzers)
    a = article
    row = ArticleColumns(a.id, a.title, a.date.isoformat() if a.date else None, a.url, a.source,
                         json.dumps(a.metadata, ensure_ascii=False, default=str), a.body, digest)
    return Story(a.id, digest, row, title_terms, passages, source, language)


def parts(files: Sequence[Path | Problem]) -> Iterator[Part | Problem]:
    """The parts of `files`, in order: JSON Lines files in blocks of lines, others a few at a
    time; problems passed on as they come."""
    whole: list[str] = []
    for path in files:
        if isinstance(path, Path) and not path.name.lower().endswith(JSON_LINES):
            whole.append(str(path))
            if len(whole) >= PART_FILES:
                yield _files_part(whole)
                whole = []
            continue
        if whole:
            yield _files_part(whole)
            whole = []
        if isinstance(path, Problem):
            yield path
        else:
            yield from _line_parts(path)
    if whole:
        yield _files_part(whole)


def _files_part(paths: list[str]) -> Part:
    return Part(tuple(paths), size=sum(_size(Path(path)) for path in paths))


def _lines_part(path: Path, block: list[tuple[int, bytes | None]], last: bool = True,
                problem: Problem | None = None) -> Part:
    """Lines of `path`, with the digests that tell a line the archive holds without parsing it."""
    digests = tuple(hashlib.sha256(chunk).hexdigest() if chunk is not None else None for _, chunk in block)
    return Part((str(path),), tuple(block), last, problem, digests,
                sum(len(chunk) for _, chunk in block if chunk is not None))


def _line_parts(path: Path) -> Iterator[Part]:
    block: list[tuple[int, bytes | None]] = []
    problem = None
    try:
        for line in json_lines(path):
            if isinstance(line, Problem):
                problem = line
                break
            block.append(line)
            if len(block) >= PART_LINES:
                yield _lines_part(path, block, last=False)
                block = []
    except OSError as error:
        problem = Problem(str(path), None, f"cannot read: {error.strerror or error}")
    yield _lines_part(path, block, problem=problem)


def workers_for(files: Sequence[Path | Problem]) -> int:
    """How many worker processes may pay for reading `files`: none for a little input."""
    return min(os.cpu_count() or 1, 8) if input_size(files) >= PARALLEL_BYTES else 0


def input_size(files: Sequence[Path | Problem]) -> int:
    """The bytes of `files` (as stored: a gzip file's compressed size)."""
    return sum(_size(path) for path in files if isinstance(path, Path))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:  # the reading reports it
        return 0


class PartReader:
    """Reads parts a few ahead of the caller: on a thread of its own, or on up to `workers`
    processes once the new input ahead pays for starting them. Use as `async with PartReader(...)
    as reader`.

    One thread, not the event loop's default executor: threads cannot read in parallel anyway,
    and more of them would take turns at the GIL with (and queue ahead of) the work that answers
    questions during a reload."""

    def __init__(self, analyzers: Analyzers, known: dict[str, str], sources: dict[str, tuple[str, str]],
                 workers: int, db: Path | None = None) -> None:
        self.analyzers, self.known, self.sources, self.workers, self.db = analyzers, known, sources, workers, db
        self._pool: Executor | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="intake")
        self._left = 0  # bytes of input not yet made into parts

    async def __aenter__(self) -> PartReader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)

    async def _start_pool(self) -> None:
        context = multiprocessing.get_context("forkserver")
        # workers read the stored hashes from `db` themselves rather than have them pickled here
        stored = ({}, {}) if self.db else (self.known, self.sources)
        self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start,
                                         initargs=(self.analyzers, *stored, self.db))
        # tasks start the processes, a blocking affair: kept off the event loop
        await asyncio.to_thread(lambda: [f.result() for f in [self._pool.submit(int) for _ in range(self.workers)]])

    async def submit(self, part: Part, force: bool = False) -> asyncio.Future:
        """What `part` holds, soon; with `force`, every story analyzed. A part of known lines
        is read on a thread: it needs neither parsing nor analysis."""
        share = 1.0 if force else part.new_share(self.sources)
        if self._pool is None and self.workers and share * (part.size + self._left) >= PARALLEL_BYTES:
            await self._start_pool()
        loop = asyncio.get_running_loop()
        if self._pool is None or not share:
            return loop.run_in_executor(self._thread, read_part, part, self.analyzers, self.known, self.sources, force)
        return loop.run_in_executor(self._pool, _read_in_worker, part, force)

    async def reread(self, part: Part) -> list[FileRead]:
        """What `part` holds, every story analyzed."""
        return await (await self.submit(part, force=True))

    async def read(self, files: Sequence[Path | Problem]) -> AsyncIterator[tuple[Part | Problem, list[FileRead]]]:
        """Each part of `files` with what it held, in order; problems with nothing."""
        source = parts(files)
        self._left = input_size(files)
        ahead: deque[tuple[Part | Problem, asyncio.Future | None]] = deque()
        try:
            while True:
                while len(ahead) < 2 * max(self.workers, 1) + 1:
                    part = await asyncio.get_running_loop().run_in_executor(self._thread, next, source, None)
                    if part is None:
                        break
                    if isinstance(part, Problem):
                        ahead.append((part, None))
                        continue
                    self._left = max(self._left - part.size, 0)
                    ahead.append((part, await self.submit(part)))
                if not ahead:
                    return
                part, future = ahead.popleft()
                yield part, [] if future is None else await future
        finally:
            for _, future in ahead:
                if future is not None:
                    future.cancel()


_analyzers: Analyzers | None = None
_known: dict[str, str] = {}
_sources: dict[str, tuple[str, str]] = {}


def _start(analyzers: Analyzers, known: dict[str, str], sources: dict[str, tuple[str, str]], db: Path | None) -> None:
    global _analyzers, _known, _sources
    os.nice(WORKER_NICENESS)
    _analyzers, _known, _sources = analyzers, known, sources
    if db is not None:
        with contextlib.closing(sqlite3.connect(db)) as connection:
            _known, _sources = stored_hashes(connection.execute(
                "SELECT id, content_hash, source_hash FROM stories").fetchall())


def _read_in_worker(part: Part, force: bool) -> list[FileRead]:
    return read_part(part, _analyzers, _known, _sources, force)
