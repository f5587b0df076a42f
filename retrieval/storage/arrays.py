"""Named numpy arrays in a folder beside the archive file, one `.npy` file each, mapped into
memory rather than read: opening them reads only the headers, a process reads the pages it
touches, and processes mapping the same files share the pages (the OS's page cache).

A folder is written under a temporary name and renamed when complete, so a folder with its
final name is whole; its name carries the archive's generation and a random token, which the
archive's snapshot row records. The files are not synced to disk (hundreds of MB flushed at once
hold up the answers' reads meanwhile): after a crash a folder may be short, which `mapped` tells
by the sizes, and the archive is indexed again. Blocking: call from a thread.

An array that is the whole of a `.npy` file mapped shared (as bm25/mapped.py makes a build's
largest arrays, in a `scratch` folder) is linked into the folder, not written: the file's pages are
already the array's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

log = logging.getLogger(__name__)

PIECE = 4 * 2**20
"""Bytes of an array written at a time."""

_FOLDER = re.compile(r"^\.?(?P<archive>.+)\.snapshot-(?P<generation>\d+)-[0-9a-f]+(?P<temporary>\.tmp)?$")


def write(archive: Path, generation: int, arrays: dict[str, np.ndarray]) -> dict[str, object]:
    """Writes `arrays` into a new folder beside `archive`; returns what `mapped` needs to find
    and check them (the folder's name, each array's dtype and shape)."""
    name = f"{archive.name}.snapshot-{generation}-{secrets.token_hex(8)}"
    temporary = archive.with_name(f".{name}.tmp")
    temporary.mkdir()
    try:
        for key, array in arrays.items():
            if not _linked(array, temporary / f"{key}.npy"):
                with open(temporary / f"{key}.npy", "wb") as file:
                    _save(file, array)
        os.rename(temporary, archive.with_name(name))
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return {"folder": name, "arrays": {key: {"dtype": array.dtype.str, "shape": list(array.shape)}
                                       for key, array in arrays.items()}}


@contextlib.contextmanager
def scratch(archive: Path) -> Iterator[Path | None]:
    """A new folder beside `archive` for the files of arrays being built that `write` may link,
    removed after. Named as an unfinished folder of generation 0, so that a save removes it (its
    files live on while mapped, and a `write` that finds one gone writes the array instead), and
    one a crash left is removed by the next save. None where no folder can be made there."""
    folder = archive.with_name(f".{archive.name}.snapshot-0-{secrets.token_hex(8)}.tmp")
    try:
        folder.mkdir()
    except OSError:  # a folder that cannot be written to: the arrays stay in memory
        yield None
        return
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def mapped(archive: Path, description: dict[str, object]) -> dict[str, np.ndarray] | None:
    """The arrays `write` described, mapped copy-on-write (numba treats them as the arrays it
    was compiled for, where read-only ones would need kernels of their own; nothing writes to
    them, so no page is ever copied); None, logged, when one is missing or differs from its
    description."""
    folder = archive.with_name(str(description["folder"]))
    arrays = {}
    try:
        for key, expected in dict(description["arrays"]).items():
            array = np.load(folder / f"{key}.npy", mmap_mode="c", allow_pickle=False)
            if array.dtype.str != expected["dtype"] or list(array.shape) != expected["shape"]:
                raise ValueError(f"{key}.npy holds {array.dtype.str} {list(array.shape)}, not {expected}")
            arrays[key] = np.asarray(array)  # a plain ndarray over the same mapping: no copy
    except (OSError, ValueError) as error:
        log.warning("the saved index in %s cannot be used (%s): indexing the archive instead", folder, error)
        return None
    return arrays


def remove_others(archive: Path, kept: str) -> None:
    """Removes the folders beside `archive` other than `kept` (one that `write` named), and
    unfinished ones of older generations (a newer one may be another process's, being
    written). A process that still maps their files keeps reading them: on POSIX a removed file
    lives until the last mapping of it goes."""
    generation = int(_FOLDER.match(kept)["generation"])
    for path in archive.parent.iterdir():
        match = _FOLDER.match(path.name)
        if (match and match["archive"] == archive.name and path.name != kept
                and (not match["temporary"] or int(match["generation"]) < generation)):
            shutil.rmtree(path, ignore_errors=True)


def _linked(array: np.ndarray, target: Path) -> bool:
    """Whether `array` is the whole of a `.npy` file mapped shared, now linked as `target` too."""
    source = array.base
    if not (isinstance(source, np.memmap) and source.mode in ("r+", "w+") and source.filename
            and source.shape == array.shape and source.dtype == array.dtype
            and source.ctypes.data == array.ctypes.data):
        return False
    try:
        os.link(source.filename, target)
    except OSError:  # gone (another save removed the scratch folder), or another file system
        return False
    return True


def _save(file: BinaryIO, array: np.ndarray) -> None:
    """`np.save`, a piece at a time: its one `tofile` call holds the interpreter while it
    writes the whole array (a second at ten million passages), a write of a piece does not."""
    array = np.ascontiguousarray(array)
    np.lib.format.write_array_header_1_0(file, np.lib.format.header_data_from_array_1_0(array))
    data = memoryview(array.reshape(-1)).cast("B")
    for start in range(0, len(data), PIECE):
        file.write(data[start:start + PIECE])
