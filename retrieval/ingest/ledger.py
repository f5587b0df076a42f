"""One ingest's bookkeeping, apart from the SQL that writes it: what it did (`IngestReport`),
what each file held and which stories wait to be written (`Ledger`), and which stored stories a
pruning ingest removes (`doomed`)."""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.ingest import intake
from retrieval.ingest.formats import Problem

BATCH = 500
"""Stories analyzed and committed together; each batch is one transaction."""

Progress = Callable[[int, int, int], None]
"""Called as files are read: (files done, files in all, stories read so far)."""

StoredStory = tuple[str, str, "str | None", "str | None"]
"""A stored story as an ingest looks it up: (id, content hash, line digest, origin file)."""


@dataclass
class IngestReport:
    """What one ingest did."""

    paths: list[str]
    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    languages: Counter[str] = field(default_factory=Counter)
    """The stories added or updated, by the language they were analyzed in."""

    @property
    def failed(self) -> int:
        return len(self.problems)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (f"{self.files} files: {self.added} added, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.removed} removed, {self.failed} failed "
                f"in {self.seconds:.1f} s")

    def by_language(self) -> str:
        """The stories added or updated per language, most first: "en 19124, ru 6"."""
        return ", ".join(f"{code} {count}" for code, count in self.languages.most_common())


class Ledger:
    """One ingest's reading: what each file held, what the store holds as the ingest writes, and
    the batches of stories to write."""

    def __init__(self, report: IngestReport, hashes: dict[str, str], origins: dict[str, str | None],
                 files: list[Path | Problem], progress: Progress | None) -> None:
        self.report = report
        self.hashes = hashes  # story id -> content hash in the store, as this ingest writes
        self.origins = origins  # story id -> the file it was written from, as this ingest writes
        self.order = {str(f): i for i, f in enumerate(files) if isinstance(f, Path)}
        self.files, self.progress = len(self.order), progress
        self.seen: dict[str, set[str]] = {}  # story ids by the file they were read from
        self.read_ids: set[str] = set()
        self.clean: set[str] = set()  # files read without a problem
        self.unchanged_files: set[str] = set()
        self._done = 0
        self._faulty = False
        self._batch: list[tuple[intake.Story, str]] = []

    def skip_unchanged(self, path: str, stories: int) -> None:
        """Note an unchanged file, not read again: the store holds its `stories` as it has them."""
        self.unchanged_files.add(path)
        self.report.unchanged += stories
        self._file_done(path)

    def note_stored(self, rows: list[tuple[str, str, str | None]]) -> None:
        """Note stored stories (id, content hash, file) the ingest did not know of when it began."""
        for story_id, digest, origin in rows:
            self.hashes[story_id], self.origins[story_id] = digest, origin

    def note_written(self, written: list[tuple[intake.Story, str, bool]]) -> None:
        """Note stories just written (each with its file and whether it replaced a stored one)."""
        self.hashes.update((s.id, s.digest) for s, _, _ in written)
        self.origins.update((s.id, origin) for s, origin, _ in written)
        self.report.updated += sum(1 for *_, existed in written if existed)
        self.report.added += sum(1 for *_, existed in written if not existed)
        self.report.languages.update(s.language for s, _, _ in written)

    def stored_later(self, story_id: str, path: str) -> bool:
        """Whether an unchanged file after `path` holds the story: its copy, stored, is the last one."""
        origin = self.origins.get(story_id)
        return origin in self.unchanged_files and self.order[origin] > self.order.get(path, -1)

    def held_exactly(self, stored: dict[str, int]) -> list[str]:
        """The files read cleanly now whose stories are all stored as read from them, given how
        many `stored` stories were written from each."""
        return [path for path in self.clean - self.unchanged_files
                if stored.get(path, 0) == len(self.seen[path])
                and all(self.origins.get(i) == path for i in self.seen[path])]

    def needs_content(self, reads: list[intake.FileRead]) -> bool:
        """Whether a story left unanalyzed (the store held its content when the ingest began)
        was read before in this ingest: its earlier copy may have been written over it."""
        in_part: set[str] = set()
        for read in reads:
            for record in read.records:
                if isinstance(record, intake.Story):
                    if record.passages is None and (record.id in self.read_ids or record.id in in_part):
                        return True
                    in_part.add(record.id)
        return False

    def batches(self, part: intake.Part, reads: list[intake.FileRead]) -> Iterator[list[tuple[intake.Story, str]]]:
        """Note what `part` held; yield each batch of (story, its file) that fills up."""
        for read in reads:
            ids = self.seen.setdefault(read.path, set())
            for record in read.records:
                if isinstance(record, Problem):
                    self.report.problems.append(record)
                    self._faulty = True
                    continue
                ids.add(record.id)
                self.read_ids.add(record.id)
                self._batch.append((record, read.path))
                if len(self._batch) >= BATCH:
                    yield self.last_batch()
            if part.lines is None or part.last:
                self._file_done(read.path)

    def last_batch(self) -> list[tuple[intake.Story, str]]:
        """The stories not yet handed out in a batch."""
        batch, self._batch = self._batch, []
        return batch

    def _file_done(self, path: str) -> None:
        self.report.files += 1
        if not self._faulty:
            self.clean.add(path)
        self._done += 1
        self._faulty = False
        if self.progress:
            self.progress(self._done, self.files, len(self.read_ids))


def digests(files: Sequence[Path | Problem]) -> dict[str, str]:
    """The SHA-256 of each readable file's bytes, by path."""
    found = {}
    for path in files:
        if isinstance(path, Path):
            with contextlib.suppress(OSError), path.open("rb") as stream:  # the reading reports it
                found[str(path)] = hashlib.file_digest(stream, "sha256").hexdigest()
    return found


def doomed(stored: list[StoredStory], paths: Sequence[str | Path], seen: dict[str, set[str]],
           clean_files: set[str]) -> list[str]:
    """The `stored` stories that a pruning ingest of `paths` removes: those whose file, under
    `paths`, is gone, or was read cleanly without them."""
    roots = [str(Path(p)) for p in paths]
    read_now = set().union(*seen.values())  # a story read from another file (moved) stays
    removed = []
    for story_id, *_, origin in stored:
        if story_id in read_now:
            continue
        if origin is None or not any(origin == r or origin.startswith(r.rstrip("/") + "/") for r in roots):
            continue
        gone = origin not in seen and not Path(origin).exists()
        dropped = origin in clean_files and story_id not in seen[origin]
        if gone or dropped:
            removed.append(story_id)
    return removed
