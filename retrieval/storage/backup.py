"""Copies of the archive file: checking one, an online backup, and a restore.

The archive is one SQLite file in WAL mode, written by the bot while it answers (every question
is recorded) and reloads. `backup` copies it with SQLite's online backup API, page by page, inside
one read transaction on the source: the copy is the archive as it was at one instant, the bot
keeps answering and writing meanwhile (WAL readers never block writers), and the copy cannot be
restarted over and over by those writes (a backup stepping *without* that read transaction starts
again each time another process writes, which a busy bot does many times a second).

The index snapshot's arrays are files in a folder beside the archive (`arrays`), not in it, and
are not copied: a restored archive maps them when the very folder its snapshot row names is beside
it (an archive restored in place, a copy in the same directory), and otherwise indexes its
passages when it is first opened (logged), saving a folder of its own.

Everything here is synchronous and blocking: call it from a thread (`asyncio.to_thread`) when an
event loop must go on.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from retrieval.storage.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 5000
PAGES_PER_STEP = 1024
"""Pages copied per backup step (4 MiB at SQLite's default page size)."""

_SHM_DMS_BYTE = 128
"""The byte of the `-shm` file on which every connection to a WAL database holds a shared lock
(SQLite's "dead man switch", see os_unix.c): if we cannot lock it exclusively, the file is open."""


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why in one line."""


@dataclass(frozen=True)
class FileCheck:
    """What `check` found in an archive file."""

    path: Path
    ok: bool
    detail: str                  # "ok", or what is wrong
    schema: int | None = None
    stories: int | None = None
    passages: int | None = None

    def summary(self) -> str:
        if not self.ok:
            return f"{self.path}: {self.detail}"
        return (f"{self.path}: {_count(self.stories, 'story', 'stories')}, "
                f"{_count(self.passages, 'passage', 'passages')}, schema {self.schema}")


def check(path: str | Path, quick: bool = False) -> FileCheck:
    """Open `path` read-only and check it: `PRAGMA integrity_check` (or the faster `quick_check`),
    then that it is an archive this program knows. Never raises for a bad file: `ok` says."""
    path = Path(path)
    if not path.is_file():
        return FileCheck(path, False, "no such file")
    try:
        db = _connect_read_only(path)
    except sqlite3.Error as error:
        return FileCheck(path, False, f"cannot be opened: {error}")
    try:
        pragma = "quick_check" if quick else "integrity_check"
        rows = [row[0] for row in db.execute(f"PRAGMA {pragma}(5)")]
        if rows != ["ok"]:
            return FileCheck(path, False, f"{pragma} failed: {'; '.join(map(str, rows))}")
        schema = db.execute("PRAGMA user_version").fetchone()[0]
        if schema == 0:
            return FileCheck(path, False, "not an archive file (no archive-bot schema)", schema)
        if schema > len(MIGRATIONS):
            return FileCheck(path, False, f"schema version {schema} is newer than this program "
                                          f"knows ({len(MIGRATIONS)}): upgrade archive-bot", schema)
        stories, passages = db.execute(
            "SELECT (SELECT count(*) FROM stories), (SELECT count(*) FROM passages)").fetchone()
        return FileCheck(path, True, "ok", schema, stories, passages)
    except sqlite3.Error as error:  # "file is not a database", "database disk image is malformed"
        return FileCheck(path, False, f"cannot be read: {error}")
    finally:
        db.close()


def backup(source: str | Path, target: str | Path, *, pages: int = PAGES_PER_STEP,
           progress: Callable[[int, int], None] | None = None) -> FileCheck:
    """Copy the archive `source` to `target` (a file, or a directory, existing or ending in "/",
    to put a dated file in) while other processes go on reading and writing it; check the copy,
    then move it into place. Returns the copy's check; raises `BackupError` if no good copy could
    be made."""
    folder = str(target).endswith(("/", os.sep)) or Path(target).is_dir()
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise BackupError(f"{source}: no such archive file")
    if folder:
        target = target / f"{source.stem}-{_stamp()}{source.suffix or '.sqlite'}"
    if target.exists() and target.resolve() == source.resolve():
        raise BackupError("the backup file cannot be the archive file itself")
    with _written_beside(target, f"backup of {source}") as partial:
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(source, partial, "DELETE", pages, progress)  # a backup is one self-contained file
        result = check(partial)
        if not result.ok:
            raise BackupError(f"the copy failed its check ({result.detail}); nothing was written")
        _fsync(partial)
        os.replace(partial, target)
        _fsync_dir(target.parent)
    return FileCheck(target, True, "ok", result.schema, result.stories, result.passages)


def restore(backup_file: str | Path, target: str | Path) -> tuple[FileCheck, Path | None]:
    """Put the archive in `backup_file` in place of `target`, which no process may have open
    (stop the bot first). The file it replaces is kept beside it, renamed with its WAL, and
    returned; a backup that fails its check is refused before anything is touched."""
    backup_file, target = Path(backup_file), Path(target)
    found = check(backup_file)
    if not found.ok:
        raise BackupError(f"refusing to restore {found.summary()}")
    if target.exists() and target.resolve() == backup_file.resolve():
        raise BackupError("the backup file is the archive file itself")
    if in_use(target):
        raise BackupError(f"{target} is open in another process (a running bot?): stop it first")
    target.parent.mkdir(parents=True, exist_ok=True)
    kept = None
    with _written_beside(target, f"restore into {target}") as partial:
        _copy(backup_file, partial, "WAL")  # as the bot keeps it
        _fsync(partial)
        if target.exists():
            kept = target.with_name(f"{target.name}.before-restore-{_stamp()}")
            for suffix in ("", "-wal", "-shm"):  # a stale WAL must never meet the restored file
                old = Path(f"{target}{suffix}")
                if old.exists():
                    os.replace(old, f"{kept}{suffix}")
        os.replace(partial, target)
        _fsync_dir(target.parent)
    result = check(target)
    if not result.ok:
        raise BackupError(f"the restored file failed its check: {result.detail}")
    return result, kept


def in_use(path: str | Path) -> bool:
    """Whether another process has the WAL-mode database `path` open.

    Call it only from a process that has no connection to `path` itself: POSIX locks belong to
    the process, and closing any descriptor of a file drops all of that process's locks on it.
    """
    try:
        fd = os.open(f"{path}-shm", os.O_RDWR)
    except FileNotFoundError:
        return False  # the last connection to close removes it; a killed one leaves it unlocked
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_DMS_BYTE)
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def _written_beside(target: Path, operation: str) -> Iterator[Path]:
    """A path beside `target` to write a new file to before moving it into place, removed if
    it is left behind; SQLite and file-system errors meanwhile become `BackupError`s naming
    `operation`."""
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        yield partial
    except sqlite3.Error as error:
        raise BackupError(f"{operation} failed: {error}") from None
    except OSError as error:
        raise BackupError(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)


def _copy(source: Path, target: Path, journal_mode: str, pages: int = -1,
          progress: Callable[[int, int], None] | None = None) -> None:
    """SQLite's online backup of `source` into a new file `target`, in `pages`-page steps."""
    src = _connect_read_only(source)
    try:
        dst = sqlite3.connect(target)
        try:
            # One read transaction for every step: the copy is one instant of the archive.
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            src.backup(dst, pages=pages,
                       progress=(lambda _status, remaining, total: progress(total - remaining, total))
                       if progress else None)
            src.execute("COMMIT")
            dst.execute(f"PRAGMA journal_mode={journal_mode}")
        finally:
            dst.close()
    finally:
        src.close()


def _connect_read_only(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
