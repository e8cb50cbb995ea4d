"""SQLite operations from the command line: the checks at start, the running lock, backup and
restore (:class:`SqliteMaintenance`, the SQLite :class:`bot.storage.api.Maintenance`).

* **Checks at start.** :meth:`~SqliteMaintenance.preflight` makes sure the folder can be created
  and written (SQLite writes ``-wal`` and ``-shm`` files there) and the file opened, before the
  bot connects anywhere; :meth:`~SqliteMaintenance.verify` runs ``PRAGMA quick_check`` on an
  existing file and refuses one written by a newer version of the bot.
* **The running lock.** A running bot holds a shared ``fcntl.flock`` on ``<db>.lock`` from start
  to exit (the kernel releases it when the process ends, even after ``kill -9``); a restore
  takes it exclusively and without waiting, so it is refused while any bot runs on the file.
* **Backup** uses SQLite's online backup API in one step: one consistent snapshot, safe while the
  bot writes (WAL readers never block the writer). The copy is a single self-contained file
  (rollback journal mode), checked with ``PRAGMA integrity_check``, created 0600 and renamed into
  place only when it passed.
* **Restore** checks the copy it made of the backup (``PRAGMA integrity_check``, a bot database,
  not from a newer version) before anything is replaced; the replaced database (and its
  ``-wal``) is kept as ``<db>.before-restore``.

Synchronous on purpose: these run in their own short process, outside the bot's event loop.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from bot.storage.api import CopyReport, LocationError, StorageError, Unsupported
from bot.storage.sqlite.connection import newer_schema
from bot.storage.sqlite.files import (
    KEPT_SUFFIX,
    LOCK_SUFFIX,
    SIDECARS,
    create_private_file,
    fsync_dir,
    is_memory,
    make_private_dir,
    os_reason,
    sidecar,
)

BUSY_TIMEOUT_MS = 30_000
DAMAGE = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


class SqliteMaintenance:
    """Operations on the SQLite database at ``path`` (``":memory:"``: there is nothing to
    operate on). ``latest_version`` is the schema version this bot migrates to."""

    def __init__(self, path: Path | str, latest_version: int) -> None:
        self.memory = is_memory(path)
        self.path = Path(path) if self.memory else Path(path).expanduser().absolute()
        self.latest_version = latest_version

    @property
    def location(self) -> str:
        return ":memory: (in-memory, gone at exit)" if self.memory else str(self.path)

    @property
    def lock_path(self) -> Path:
        return sidecar(self.path, LOCK_SUFFIX)

    @property
    def kept_path(self) -> Path:
        return sidecar(self.path, KEPT_SUFFIX)

    def unsupported(self, command: str) -> str | None:
        if self.memory:
            return (
                "DATABASE_PATH is :memory:: an in-memory database lives only inside the bot's "
                f"own process, so there is nothing to {command}"
            )
        return None

    # --- checks at start --------------------------------------------------------------------

    def preflight(self) -> None:
        if self.memory:
            return
        path, folder = self.path, self.path.parent
        if path.is_dir():
            raise LocationError(
                f"DATABASE_PATH {path} is a folder: name the database file, "
                f"e.g. {path / 'bot.sqlite3'}"
            )
        try:
            make_private_dir(folder)
        except OSError as exc:
            raise LocationError(
                f"DATABASE_PATH {path}: cannot create its folder {folder} ({os_reason(exc)})"
            ) from None
        try:  # SQLite writes -wal and -shm files next to the database: the folder must be writable
            create_private_file(self.lock_path)
        except OSError as exc:
            raise LocationError(
                f"DATABASE_PATH {path}: cannot write in its folder {folder} ({os_reason(exc)})"
            ) from None
        if path.exists():
            try:
                os.close(os.open(path, os.O_RDWR | os.O_CLOEXEC))
            except OSError as exc:
                raise LocationError(
                    f"DATABASE_PATH {path}: cannot open the file for writing ({os_reason(exc)})"
                ) from None

    def exists(self) -> bool:
        return not self.memory and self.path.is_file() and self.path.stat().st_size > 0

    def verify(self) -> int:
        if not self.exists():
            return 0
        version = self._check(self.path, quick=True, what=f"database {self.path}", hint=True)
        if version > self.latest_version:
            raise StorageError(
                f"database {self.path}: {newer_schema(version, self.latest_version)}"
            )
        return version

    def _check(self, path: Path, *, quick: bool, what: str, hint: bool = False) -> int:
        """Run the quick (or full integrity) check on ``path``; return its schema version.
        ``hint``: the message says how to restore a backup."""
        pragma = "quick_check" if quick else "integrity_check"
        after = _RESTORE_HINT if hint else ""
        try:
            with contextlib.closing(_connect(path)) as db:
                found = [row[0] for row in db.execute(f"PRAGMA {pragma}")]
                if found != ["ok"]:
                    raise StorageError(f"{what} is damaged ({_first(found)}){after}")
                return int(db.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise StorageError(_describe(exc, what, after)) from None

    @contextlib.contextmanager
    def running_lock(self) -> Iterator[None]:
        if self.memory:
            yield
            return
        with self._lock(exclusive=False) as held:
            if not held:
                raise StorageError(
                    f"database {self.path}: a restore is in progress; "
                    "start the bot again when it has finished"
                )
            yield

    @contextlib.contextmanager
    def _lock(self, *, exclusive: bool) -> Iterator[bool]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # --- backup -----------------------------------------------------------------------------

    def backup(self, dest: Path) -> CopyReport:
        self._refuse_memory("back up")
        if not self.exists():
            raise StorageError(
                f"no database at {self.path} yet: the bot creates it at its first start"
            )
        dest = dest.expanduser().absolute()
        self._refuse_own_files(dest, "backup")
        if dest.is_dir():
            raise StorageError(
                f"backup: {dest} is a folder: name the file to write, e.g. {dest / 'bot.sqlite3'}"
            )
        if not dest.parent.is_dir():
            raise StorageError(f"backup: the folder {dest.parent} does not exist")
        partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
        try:
            version = self._copy(self.path, partial, source_what=f"database {self.path}")
            os.replace(partial, dest)
            fsync_dir(dest.parent)
        except StorageError as exc:
            raise StorageError(f"backup failed, {dest} was not written: {exc}") from None
        except OSError as exc:
            raise StorageError(f"backup to {dest} failed ({os_reason(exc)})") from None
        finally:
            _remove(partial)
        return CopyReport(path=dest, size=dest.stat().st_size, schema_version=version)

    def _copy(self, source: Path, target: Path, *, source_what: str, readonly: bool = False) -> int:
        """Copy ``source`` into a new private file ``target`` with the online backup API, as
        one self-contained file, and check the copy; return its schema version."""
        _remove(target)
        for suffix in SIDECARS:
            _remove(sidecar(target, suffix))
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.close(fd)
        try:
            with (
                contextlib.closing(_connect(source, readonly=readonly)) as src,
                contextlib.closing(sqlite3.connect(target, isolation_level=None)) as dst,
            ):
                src.backup(dst)  # all pages in one step: one consistent snapshot
                dst.execute("PRAGMA journal_mode=DELETE")  # the copy needs no -wal file
        except sqlite3.Error as exc:
            raise StorageError(_describe(exc, source_what, "")) from None
        version = self._check(target, quick=False, what=f"the copy of {source_what}")
        with open(target, "rb+") as handle:
            os.fsync(handle.fileno())
        return version

    # --- restore ----------------------------------------------------------------------------

    def restore(self, source: Path) -> CopyReport:
        self._refuse_memory("restore")
        source = source.expanduser().absolute()
        if not source.is_file():
            raise StorageError(f"restore: there is no file {source}")
        self._refuse_own_files(source, "restore")
        self.preflight()
        with self._lock(exclusive=True) as held:
            if not held:
                raise StorageError(
                    f"restore refused: a bot is running on {self.path}; stop it first"
                )
            partial = sidecar(self.path, ".restore-partial")
            try:
                try:
                    version = self._copy(
                        source, partial, source_what=f"backup {source}", readonly=True
                    )
                    self._check_bot_database(partial, source, version)
                except StorageError as exc:
                    raise StorageError(f"restore refused, nothing changed: {exc}") from None
                kept = self._move_aside()
                os.replace(partial, self.path)
                fsync_dir(self.path.parent)
            except OSError as exc:
                raise StorageError(f"restore from {source} failed ({os_reason(exc)})") from None
            finally:
                _remove(partial)
        return CopyReport(
            path=self.path, size=self.path.stat().st_size, schema_version=version, kept=kept
        )

    def _check_bot_database(self, copy: Path, source: Path, version: int) -> None:
        with contextlib.closing(_connect(copy)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if version < 1 or "users" not in tables:
            raise StorageError(f"{source} is not a recovery-help-bot database")
        if version > self.latest_version:
            raise StorageError(f"{source}: {newer_schema(version, self.latest_version)}")

    def _move_aside(self) -> Path | None:
        """Keep the database being replaced (with its -wal and journal) as ``<db>.before-restore``
        (an older kept copy is dropped); the -shm index is only deleted."""
        if not self.path.exists():
            return None
        kept = self.kept_path
        for suffix in ("", *SIDECARS):
            _remove(sidecar(kept, suffix))
        os.replace(self.path, kept)
        for suffix in SIDECARS:
            current = sidecar(self.path, suffix)
            if not current.exists():
                continue
            if suffix == "-shm":
                _remove(current)
            else:
                os.replace(current, sidecar(kept, suffix))
        return kept

    # --- shared -----------------------------------------------------------------------------

    def _refuse_memory(self, command: str) -> None:
        reason = self.unsupported(command)
        if reason:
            raise Unsupported(reason)

    def _refuse_own_files(self, other: Path, command: str) -> None:
        own = [self.path, self.lock_path, *(sidecar(self.path, s) for s in SIDECARS)]
        if any(_same(other, mine) for mine in own):
            raise StorageError(f"{command}: {other} is the database itself: name another file")


_RESTORE_HINT = ": restore a backup with: python -m bot restore PATH"


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open an existing database file (never create one)."""
    uri = path.absolute().as_uri() + ("?mode=ro" if readonly else "?mode=rw")
    db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


def _describe(exc: sqlite3.Error, what: str, after: str) -> str:
    name = getattr(exc, "sqlite_errorname", "")
    if name in DAMAGE:
        return f"{what} is damaged or not a database ({exc}){after}"
    return f"{what}: {exc}"


def _first(found: list[str]) -> str:
    """The first problem a check reported, and how many more there are."""
    problems = [
        line.strip()
        for row in found
        for line in str(row).splitlines()
        if line.strip() and not line.startswith("*** in database")
    ] or ["no answer"]
    more = f", and {len(problems) - 1} more" if len(problems) > 1 else ""
    return problems[0][:200] + more


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
