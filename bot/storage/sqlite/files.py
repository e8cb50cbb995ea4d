"""The SQLite database's files on disk: private modes, the folder, and the names next to it.

SQLite keeps ``<db>-wal`` and ``<db>-shm`` (and, in rollback mode, ``<db>-journal``) next to the
database and gives them the database file's own mode, so creating the database file 0600 (and
its folder 0700) before SQLite opens it keeps all of them private, whatever the umask.
``<db>.lock`` is the running bot's lock (see :mod:`bot.storage.sqlite.maintenance`).
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
SIDECARS = ("-wal", "-shm", "-journal")  # SQLite's own files next to the database
LOCK_SUFFIX = ".lock"
KEPT_SUFFIX = ".before-restore"


def is_memory(path: Path | str) -> bool:
    return str(path) == ":memory:"


def sidecar(path: Path, suffix: str) -> Path:
    """``path`` with ``suffix`` appended to its name (``bot.sqlite3`` -> ``bot.sqlite3-wal``)."""
    return path.with_name(path.name + suffix)


def make_private_dir(folder: Path) -> None:
    """Create ``folder`` and any missing parent, each 0700 (existing ones are left alone)."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for part in reversed(missing):
        try:
            os.mkdir(part, DIR_MODE)
        except FileExistsError:
            if not part.is_dir():
                raise
    if not folder.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(folder))


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (an existing file is kept)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def os_reason(exc: OSError) -> str:
    """A short reason for an OS error (``Permission denied``), without a traceback."""
    return exc.strerror or type(exc).__name__
