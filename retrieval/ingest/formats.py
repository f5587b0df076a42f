"""Reading archive files: the native story text format, JSON Lines (plain or gzip) and CSV.

Readers are lenient about what real files look like (BOM, CRLF, missing header lines) and strict
about what they cannot use: every record they reject comes back as a `Problem` naming the file,
the line and the reason, and reading goes on with the next record or file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from retrieval.models import Article
from retrieval.text.dates import MONTHS

MAX_STORY_BYTES = 8 * 1024 * 1024
"""A story file or JSON line larger than this is rejected rather than read into memory."""

SUFFIXES = (".txt", ".story", ".jsonl", ".jsonl.gz", ".ndjson", ".csv")

@dataclass(frozen=True)
class Problem:
    """A file or record that could not be read, and why."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"


class FormatError(ValueError):
    """Raised by the parsers for input they cannot use; `line` is 1-based where known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def archive_files(paths: Iterable[str | Path]) -> Iterator[Path | Problem]:
    """The archive files under `paths`, directories walked in name order; hidden files skipped."""
    for path in map(Path, paths):
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(p.startswith(".") for p in child.relative_to(path).parts):
                    yield child if _supported(child) else Problem(str(child), None, "unsupported file type")
        elif path.is_file():
            yield path
        else:
            yield Problem(str(path), None, "no such file or directory")


def read_file(path: Path) -> Iterator[Article | Problem]:
    """Every story in one archive file, with a `Problem` for each part that cannot be read."""
    name = path.name.lower()
    try:
        if name.endswith((".jsonl", ".ndjson", ".jsonl.gz")):
            yield from _read_jsonl(path)
        elif name.endswith(".csv"):
            yield from _read_csv(path)
        else:
            yield parse_story(_read_text(path), default_id=path.stem)
    except FormatError as error:
        yield Problem(str(path), error.line, error.reason)
    except OSError as error:
        yield Problem(str(path), None, f"cannot read: {error.strerror or error}")


def parse_story(text: str, default_id: str | None = None) -> Article:
    """Parse one story in the native text format (see docs/DESIGN.md, "Archive formats")."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    index, date = 0, None
    index = _skip_blank(lines, index)
    if index < len(lines) and (match := _HEADER.match(lines[index])):
        date = _iso_date(match["date"])
        index = _skip_blank(lines, index + 1)
    if index < len(lines) and (when := _human_date(lines[index])):
        date = when
        index = _skip_blank(lines, index + 1)
    story_id = None
    title_line = index
    title = lines[index].strip() if index < len(lines) else ""
    if (match := _STORY_CODE.match(title)):
        title, story_id = "", match["code"]
        index += 1
    else:
        index = _skip_blank(lines, index + 1)
        if index < len(lines) and (match := _STORY_CODE.match(lines[index])):
            story_id = match["code"]
            index += 1
        elif title:
            index = title_line + 1
    story_id = story_id or default_id
    body = "\n".join(lines[index:]).strip()
    if not story_id:
        raise FormatError("no story code", title_line + 1)
    if not _has_words(body):
        raise FormatError("story has no body", min(index + 1, len(lines)))
    return Article(id=story_id, title=title or _first_words(body), date=date, body=body)


def parse_record(record: object) -> Article:
    """Turn one JSON Lines or CSV record into an Article: `id` and `body` required."""
    if not isinstance(record, dict):
        raise FormatError(f"expected an object, got {type(record).__name__}")
    story_id = record.get("id")
    if story_id is None or str(story_id).strip() == "":
        raise FormatError("record has no id")
    body = record.get("body")
    if not isinstance(body, str) or not _has_words(body):
        raise FormatError("record has no body")
    date = record.get("date")
    try:
        parsed = datetime.fromisoformat(date) if date else None
    except (TypeError, ValueError):
        raise FormatError(f"date is not ISO 8601: {str(date)[:40]!r}") from None
    known = {"id", "title", "date", "body", "url", "source"}
    return Article(
        id=str(story_id).strip(),
        title=str(record.get("title") or "").strip() or _first_words(body),
        date=parsed,
        body=body.replace("\r\n", "\n").strip(),
        url=str(record["url"]) if record.get("url") else None,
        source=str(record["source"]) if record.get("source") else None,
        metadata={k: v for k, v in record.items() if k not in known},
    )


_HEADER = re.compile(r"^\s*date\s+(?P<date>\d{4}-\d{2}-\d{2})(?:\s+\d+)?\s*$", re.IGNORECASE)
_STORY_CODE = re.compile(r"^\s*story\s*code\s*[:：]?\s*(?P<code>[\w.-]+)\s*$", re.IGNORECASE)
_HUMAN_DATE = re.compile(
    r"^\s*(?:[^\W\d_]+,?\s+)?(?P<day>\d{1,2})\s+(?P<month>[^\W\d_]+)\.?\s+(?P<year>\d{4})"
    r"(?:\s*[-–,]?\s*(?P<hour>\d{1,2}):(?P<minute>\d{2}))?\s*$"
)


def _supported(path: Path) -> bool:
    return path.name.lower().endswith(SUFFIXES)


def _skip_blank(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def _iso_date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _human_date(line: str) -> datetime | None:
    match = _HUMAN_DATE.match(line)
    month = MONTHS.get(match["month"].lower()) if match else None
    if not month:
        return None
    try:
        return datetime(int(match["year"]), month, int(match["day"]),
                        int(match["hour"] or 0), int(match["minute"] or 0))
    except ValueError:
        return None


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _first_words(body: str, limit: int = 80) -> str:
    first = body.strip().split("\n", 1)[0]
    return first if len(first) <= limit else first[:limit].rsplit(" ", 1)[0] + "…"


def _decode(data: bytes, line: int | None = None) -> str:
    if b"\x00" in data:
        raise FormatError("binary data, not text", line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _read_text(path: Path) -> str:
    if path.stat().st_size > MAX_STORY_BYTES:
        raise FormatError(f"file larger than {MAX_STORY_BYTES // 2**20} MB")
    data = path.read_bytes()
    if not data.strip():
        raise FormatError("empty file")
    return _decode(data)


def _open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _bounded_lines(stream: io.BufferedIOBase) -> Iterator[tuple[int, bytes | None]]:
    """Numbered lines; None for a line over MAX_STORY_BYTES, which is skipped unread."""
    number = 0
    while True:
        chunk = stream.readline(MAX_STORY_BYTES + 1)
        if not chunk:
            return
        number += 1
        if len(chunk) > MAX_STORY_BYTES and not chunk.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, chunk


def json_lines(path: Path) -> Iterator[tuple[int, bytes | None] | Problem]:
    """The non-blank lines of a JSON Lines file, numbered (None for a line too long to read),
    then a `Problem` if the file is empty or breaks off."""
    seen_any = False
    number = 0
    try:
        with _open_binary(path) as stream:
            for number, chunk in _bounded_lines(stream):
                if chunk is not None and not chunk.strip():
                    continue
                seen_any = True
                yield number, chunk
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        yield Problem(str(path), number + 1 if number else None, f"corrupt or truncated gzip: {error}")
        return
    if not seen_any:
        yield Problem(str(path), None, "empty file")


def _read_jsonl(path: Path) -> Iterator[Article | Problem]:
    for line in json_lines(path):
        yield line if isinstance(line, Problem) else parse_line(str(path), *line)


def parse_line(path: str, number: int, chunk: bytes | None) -> Article | Problem:
    """One line of a JSON Lines file (None: a line too long to read) as an Article, or why not."""
    try:
        if chunk is None:
            raise FormatError(f"line longer than {MAX_STORY_BYTES // 2**20} MB")
        return parse_record(json.loads(_decode(chunk)))
    except json.JSONDecodeError as error:
        return Problem(path, number, f"not valid JSON: {error.msg}")
    except RecursionError:
        return Problem(path, number, "not valid JSON: nested too deeply")
    except FormatError as error:
        return Problem(path, number, error.reason)


def _read_csv(path: Path) -> Iterator[Article | Problem]:
    text = _read_text(path)
    reader = csv.DictReader(io.StringIO(text), restkey="extra_fields")  # not None: keys must sort
    try:
        for record in reader:
            try:
                yield parse_record(record)
            except FormatError as error:
                yield Problem(str(path), reader.line_num, error.reason)
    except csv.Error as error:
        yield Problem(str(path), reader.line_num or None, f"not valid CSV: {error}")
