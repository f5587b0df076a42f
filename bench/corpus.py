"""The benchmark corpus: the Reuters-21578 stories replicated until they make N passages.

    python -m bench.corpus [--passages N] [--workdir DIR]

Reads `../shared/data/reuters21578.jsonl.gz` (19,043 stories, 105,711 passages as
`retrieval.text.sentences.passage_spans` cuts them) and writes, under the work directory (default
/tmp/archive-bench), files that are rebuilt only when missing or stale:

- `reuters-N.jsonl`: the stories in file order, then again as `reuters-1~copy1`, ... with the same
  text, and so on until the passages reach N (whole stories: the count ends at or just above N).
  This is what `archive-bot ingest` reads. Deterministic: the same N gives the same bytes.
- `reuters-N.passages/`: the same passages for the anchor engines, in the order the archive
  ingests them: `keys.tsv` (story id, start, end), `text.txt` (the passage text, one a line,
  line breaks made spaces) and `terms.txt` (the archive's analyzed terms, space-separated),
  plus `manifest.json` with how long the analysis took.

The source data is never copied into the project.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from retrieval.text.analysis import Analyzer
from retrieval.ingest.formats import FormatError, parse_record
from retrieval.text.sentences import passage_spans

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "reuters21578.jsonl.gz"
DEFAULT_WORKDIR = Path("/tmp/archive-bench")
DEFAULT_PASSAGES = 1_000_000
FORMAT = 1
"""Bump when the files written here change shape, so stale caches are rebuilt."""


@dataclass(frozen=True)
class Corpus:
    """A replicated corpus on disk."""

    path: Path           # the stories, JSON Lines
    stories: int
    passages: int
    copies: float        # how many times the source was replicated (the last copy may be partial)
    source_sha256: str

    @property
    def passages_dir(self) -> Path:
        return self.path.with_suffix(".passages")


@dataclass(frozen=True)
class Passages:
    """The corpus's passages, laid out for the anchor engines."""

    folder: Path
    count: int
    analysis_s: float    # wall time of analyzing every passage (on `workers` processes)
    workers: int
    analyzer: str        # Analyzer.key of the analysis

    @property
    def keys(self) -> Path:
        return self.folder / "keys.tsv"

    @property
    def text(self) -> Path:
        return self.folder / "text.txt"

    @property
    def terms(self) -> Path:
        return self.folder / "terms.txt"


def source_records(source: Path = SOURCE) -> list[dict]:
    """The source stories as JSON objects, in file order."""
    with gzip.open(source, "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_id(story_id: str, copy: int) -> str:
    return story_id if copy == 0 else f"{story_id}~copy{copy}"


def build_corpus(passages: int = DEFAULT_PASSAGES, workdir: Path = DEFAULT_WORKDIR,
                 source: Path = SOURCE, log=print) -> Corpus:
    """Write (or reuse) the replicated corpus of at least `passages` passages."""
    if not source.is_file():
        raise FileNotFoundError(f"no such file: {source} (the Reuters data lives in ../shared/data/)")
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"reuters-{passages}.jsonl"
    manifest = path.with_suffix(".manifest.json")
    digest = _sha256(source)
    if path.is_file() and manifest.is_file():
        known = json.loads(manifest.read_text())
        if known.get("format") == FORMAT and known.get("source_sha256") == digest and \
                known.get("target") == passages and known.get("bytes") == path.stat().st_size:
            return Corpus(path, known["stories"], known["passages"], known["copies"], digest)
    started = time.perf_counter()
    records = source_records(source)
    counts = []
    for record in records:
        try:
            counts.append(len(passage_spans(parse_record(record).body)))
        except FormatError:
            counts.append(0)  # the archive would skip it too
    per_copy = sum(counts)
    if per_copy == 0:
        raise ValueError(f"{source} holds no passages")
    written_stories = written_passages = 0
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        copy = 0
        while written_passages < passages:
            for record, count in zip(records, counts):
                if written_passages >= passages:
                    break
                if count == 0:
                    continue
                out.write(json.dumps({**record, "id": _copy_id(record["id"], copy)}, ensure_ascii=False))
                out.write("\n")
                written_stories += 1
                written_passages += count
            copy += 1
    os.replace(tmp, path)
    copies = round(written_passages / per_copy, 3)
    manifest.write_text(json.dumps({
        "format": FORMAT, "source_sha256": digest, "target": passages, "stories": written_stories,
        "passages": written_passages, "copies": copies, "bytes": path.stat().st_size}, indent=1))
    log(f"corpus: wrote {path} ({written_stories:,} stories, {written_passages:,} passages, "
        f"{copies} copies) in {time.perf_counter() - started:.1f} s")
    return Corpus(path, written_stories, written_passages, copies, digest)


def _story_passages(line: str, analyzer_args: tuple[str, bool]) -> list[tuple[str, int, int, str, str]]:
    record = json.loads(line)
    article = parse_record(record)
    analyzer = _analyzer(*analyzer_args)
    body = article.body
    return [(article.id, start, end, " ".join(body[start:end].split()),
             " ".join(analyzer.terms(body[start:end])))
            for start, end in passage_spans(body)]


_ANALYZERS: dict[tuple[str, bool], Analyzer] = {}


def _analyzer(language: str, stopwords: bool) -> Analyzer:
    if (language, stopwords) not in _ANALYZERS:
        _ANALYZERS[language, stopwords] = Analyzer(language, stopwords)
    return _ANALYZERS[language, stopwords]


def _chunk(lines: list[str], analyzer_args: tuple[str, bool]) -> list[list[tuple[str, int, int, str, str]]]:
    return [_story_passages(line, analyzer_args) for line in lines]


def _batches(path: Path, size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                batch.append(line)
                if len(batch) >= size:
                    yield batch
                    batch = []
    if batch:
        yield batch


def build_passages(corpus: Corpus, language: str = "english", stopwords: bool = True,
                   workers: int | None = None, log=print) -> Passages:
    """Write (or reuse) the corpus's passages with their text and analyzed terms, in ingest order."""
    folder = corpus.passages_dir
    manifest = folder / "manifest.json"
    key = Analyzer(language, stopwords).key
    if manifest.is_file():
        known = json.loads(manifest.read_text())
        if known.get("format") == FORMAT and known.get("source_sha256") == corpus.source_sha256 \
                and known.get("analyzer") == key and known.get("count") == corpus.passages:
            return Passages(folder, known["count"], known["analysis_s"], known["workers"], key)
    folder.mkdir(parents=True, exist_ok=True)
    workers = workers or min(2, os.cpu_count() or 1)
    started = time.perf_counter()
    count = 0
    with open(folder / "keys.tsv", "w", encoding="utf-8", newline="\n") as keys, \
            open(folder / "text.txt", "w", encoding="utf-8", newline="\n") as text, \
            open(folder / "terms.txt", "w", encoding="utf-8", newline="\n") as terms, \
            multiprocessing.get_context("fork").Pool(workers) as pool:
        jobs = pool.imap(_ChunkJob((language, stopwords)), _batches(corpus.path, 500), chunksize=1)
        for chunk in jobs:
            for story in chunk:
                for story_id, start, end, passage, analyzed in story:
                    keys.write(f"{story_id}\t{start}\t{end}\n")
                    text.write(passage + "\n")
                    terms.write(analyzed + "\n")
                    count += 1
    analysis_s = time.perf_counter() - started
    if count != corpus.passages:
        raise RuntimeError(f"counted {corpus.passages} passages in the corpus but analyzed {count}")
    manifest.write_text(json.dumps({
        "format": FORMAT, "source_sha256": corpus.source_sha256, "analyzer": key, "count": count,
        "analysis_s": analysis_s, "workers": workers}, indent=1))
    log(f"corpus: analyzed {count:,} passages on {workers} processes in {analysis_s:.1f} s")
    return Passages(folder, count, analysis_s, workers, key)


class _ChunkJob:
    def __init__(self, analyzer_args: tuple[str, bool]) -> None:
        self.analyzer_args = analyzer_args

    def __call__(self, lines: list[str]):
        return _chunk(lines, self.analyzer_args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=DEFAULT_PASSAGES, help="at least this many passages")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="where the files go")
    parser.add_argument("--no-analysis", action="store_true", help="only the stories file")
    args = parser.parse_args(argv)
    corpus = build_corpus(args.passages, args.workdir, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(asdict(corpus), default=str))
    if not args.no_analysis:
        passages = build_passages(corpus, log=lambda m: print(m, file=sys.stderr))
        print(json.dumps(asdict(passages), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
