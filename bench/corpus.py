"""The benchmark corpus: the Reuters-21578 stories, copied until they make N passages.

    python -m bench.corpus [--passages N] [--corpus distinct|copies] [--workdir DIR]

Reads `../shared/data/reuters21578.jsonl.gz` (19,043 stories, 105,711 passages as
`retrieval.text.sentences.passage_spans` cuts them) and writes, under the work directory (default
/tmp/archive-bench), files that are rebuilt only when missing or stale (keyed by kind and size):

- `reuters-KIND-N.jsonl`: the stories in file order, then again as `reuters-1~copy1`, ... and so on
  until the passages reach N (whole stories: the count ends at or just above N). This is what
  `archive-bot ingest` reads. Deterministic: the same kind and N give the same bytes. Two kinds:
  - `distinct` (the default): copy 0 is the source itself, every later copy has about 30% of its
    words (titles too) drawn again from the source's word frequencies and 1% new rare words,
    seeded by the copy's number (`bench.distinct` says exactly how);
  - `copies`: every copy has the source's text unchanged (a question's top 10 are then ten copies
    of one passage, and postings repeat every 105,711 passages).
- `reuters-KIND-N.passages/`: the same passages for the anchor engines, in the order the archive
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

from bench import distinct
from retrieval.ingest.formats import FormatError, parse_record
from retrieval.text.analysis import Analyzer
from retrieval.text.sentences import passage_spans

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "reuters21578.jsonl.gz"
DEFAULT_WORKDIR = Path("/tmp/archive-bench")
DEFAULT_PASSAGES = 1_000_000
KINDS = ("distinct", "copies")
DEFAULT_KIND = "distinct"
FORMAT = 2
"""Bump when the files written here change shape, so stale caches are rebuilt."""


@dataclass(frozen=True)
class Corpus:
    """A replicated corpus on disk."""

    path: Path           # the stories, JSON Lines
    stories: int
    passages: int
    copies: float        # how many times the source was replicated (the last copy may be partial)
    source_sha256: str
    kind: str = DEFAULT_KIND

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


def parse_size(text: str) -> int:
    """A corpus size in passages: a number, or one with k or M after it ("100k", "1M", "2.5M")."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    number = text[:-1] if scale > 1 else text
    try:
        size = round(float(number.replace("_", "").replace(",", "")) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (say 100000, 100k or 1M)") from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"a size is at least one passage, not {text!r}")
    return size


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


def _passage_count(record: dict) -> int:
    """How many passages the archive cuts the record's body into (0 if it would skip it)."""
    try:
        return len(passage_spans(parse_record(record).body))
    except FormatError:
        return 0


class _Copies:
    """The records of copy after copy of the source, as `kind` makes them."""

    def __init__(self, records: list[dict], kind: str) -> None:
        self.records, self.kind = records, kind
        self.words = distinct.cut([t for r in records for t in (r.get("title") or "", r["body"])]) \
            if kind == "distinct" else None

    def copy(self, number: int) -> Iterator[dict]:
        texts = distinct.copy_texts(self.words, number) if self.words is not None else None
        for i, record in enumerate(self.records):
            changed = {"title": texts[2 * i], "body": texts[2 * i + 1]} if texts and number else {}
            yield {**record, **changed, "id": _copy_id(record["id"], number)}


def _cached(path: Path, manifest: Path, kind: str, passages: int, digest: str) -> Corpus | None:
    if not (path.is_file() and manifest.is_file()):
        return None
    known = json.loads(manifest.read_text())
    if known.get("format") == FORMAT and known.get("source_sha256") == digest and known.get("kind") == kind \
            and known.get("target") == passages and known.get("bytes") == path.stat().st_size:
        return Corpus(path, known["stories"], known["passages"], known["copies"], digest, kind)
    return None


def build_corpus(passages: int = DEFAULT_PASSAGES, workdir: Path = DEFAULT_WORKDIR,
                 source: Path = SOURCE, log=print, kind: str = DEFAULT_KIND) -> Corpus:
    """Write (or reuse) the corpus of `kind` with at least `passages` passages."""
    if kind not in KINDS:
        raise ValueError(f"corpus kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not source.is_file():
        raise FileNotFoundError(f"no such file: {source} (the Reuters data lives in ../shared/data/)")
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"reuters-{kind}-{passages}.jsonl"
    manifest = path.with_suffix(".manifest.json")
    digest = _sha256(source)
    known = _cached(path, manifest, kind, passages, digest)
    if known is not None:
        return known
    started = time.perf_counter()
    records = source_records(source)
    per_copy = sum(map(_passage_count, records))
    if per_copy == 0:
        raise ValueError(f"{source} holds no passages")
    copies = _Copies(records, kind)
    written_stories = written_passages = 0
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        number = 0
        while written_passages < passages:
            for record in copies.copy(number):
                if written_passages >= passages:
                    break
                count = _passage_count(record)
                if count == 0:
                    continue
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                written_stories += 1
                written_passages += count
            number += 1
    os.replace(tmp, path)
    replicated = round(written_passages / per_copy, 3)
    manifest.write_text(json.dumps({
        "format": FORMAT, "kind": kind, "source_sha256": digest, "target": passages,
        "stories": written_stories, "passages": written_passages, "copies": replicated,
        "bytes": path.stat().st_size, "seconds": round(time.perf_counter() - started, 1)}, indent=1))
    log(f"corpus: wrote {path} ({written_stories:,} stories, {written_passages:,} passages, "
        f"{replicated} copies, {kind}) in {time.perf_counter() - started:.1f} s")
    return Corpus(path, written_stories, written_passages, replicated, digest, kind)


def _story_passages(line: str, analyzer: Analyzer) -> list[tuple[str, int, int, str, str]]:
    article = parse_record(json.loads(line))
    body = article.body
    return [(article.id, start, end, " ".join(body[start:end].split()),
             " ".join(analyzer.terms(body[start:end])))
            for start, end in passage_spans(body)]


_ANALYZERS: dict[tuple[str, bool], Analyzer] = {}


def _analyzer(language: str, stopwords: bool) -> Analyzer:
    if (language, stopwords) not in _ANALYZERS:
        _ANALYZERS[language, stopwords] = Analyzer(language, stopwords)
    return _ANALYZERS[language, stopwords]


def _chunk(lines: list[str], analyzer_args: tuple[str, bool]) -> tuple[str, str, str, int]:
    """The keys, text and terms of the passages of `lines`, each as the lines to write (made in
    the worker: handing the parent three strings is cheaper than a tuple a passage)."""
    analyzer = _analyzer(*analyzer_args)
    rows = [row for line in lines for row in _story_passages(line, analyzer)]
    return ("".join(f"{story}\t{start}\t{end}\n" for story, start, end, _, _ in rows),
            "".join(f"{text}\n" for *_, text, _ in rows),
            "".join(f"{terms}\n" for *_, terms in rows), len(rows))


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


def _fingerprint(corpus: Corpus) -> list:
    """What tells one corpus file from another: its source, kind and size in bytes."""
    return [corpus.source_sha256, corpus.kind, corpus.path.stat().st_size]


def build_passages(corpus: Corpus, language: str = "english", stopwords: bool = True,
                   workers: int | None = None, log=print) -> Passages:
    """Write (or reuse) the corpus's passages with their text and analyzed terms, in ingest order."""
    folder = corpus.passages_dir
    manifest = folder / "manifest.json"
    key = Analyzer(language, stopwords).key
    if manifest.is_file():
        known = json.loads(manifest.read_text())
        if known.get("format") == FORMAT and known.get("corpus") == _fingerprint(corpus) \
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
        for chunk_keys, chunk_text, chunk_terms, chunk_count in jobs:
            keys.write(chunk_keys)
            text.write(chunk_text)
            terms.write(chunk_terms)
            count += chunk_count
    analysis_s = time.perf_counter() - started
    if count != corpus.passages:
        raise RuntimeError(f"counted {corpus.passages} passages in the corpus but analyzed {count}")
    manifest.write_text(json.dumps({
        "format": FORMAT, "corpus": _fingerprint(corpus), "analyzer": key, "count": count,
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
    parser.add_argument("--corpus", choices=KINDS, default=DEFAULT_KIND,
                        help=f"distinct copies (resampled words) or exact copies (default {DEFAULT_KIND})")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="where the files go")
    parser.add_argument("--no-analysis", action="store_true", help="only the stories file")
    args = parser.parse_args(argv)
    corpus = build_corpus(args.passages, args.workdir, log=lambda m: print(m, file=sys.stderr), kind=args.corpus)
    print(json.dumps(asdict(corpus), default=str))
    if not args.no_analysis:
        passages = build_passages(corpus, log=lambda m: print(m, file=sys.stderr))
        print(json.dumps(asdict(passages), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
