"""SQLite connection: opening the file with its PRAGMAs, the write lock, transactions and
migrations (``PRAGMA user_version``).

This module owns everything about the SQLite connection itself; the tables and their queries
live in the sibling modules (``users``, ``checkins``, ``broadcasts``), each as a mixin of
:class:`SqliteBase`.

One connection per process, in autocommit mode (``isolation_level=None``): a single statement
is atomic on its own, and :meth:`SqliteBase.transaction` groups several under
``BEGIN IMMEDIATE`` (the write lock is taken at the start, so a transaction never fails half
way on a lock held by another process). Writes in this process are serialised by an
:class:`asyncio.Lock`; reads never take it.

Files: the folder is created 0700 and the database file 0600 before SQLite opens it, so its
``-wal`` and ``-shm`` files (which SQLite gives the database file's mode) are private too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from bot.storage.api import StorageError
from bot.storage.sqlite.files import create_private_file, is_memory, make_private_dir

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


async def connect(path: Path | str) -> aiosqlite.Connection:
    """Open (creating the file 0600 and its folder 0700 if needed) the database; ``":memory:"``
    opens a private in-memory one. On failure the connection (and its thread) is closed."""
    if not is_memory(path):
        make_private_dir(Path(path).parent)
        create_private_file(Path(path))
    db = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        db.row_factory = aiosqlite.Row
        for pragma in PRAGMAS:
            await db.execute(pragma)
    except BaseException:
        # A damaged file fails here; aiosqlite's thread would otherwise keep the process alive.
        await db.close()
        raise
    return db


class SqliteBase:
    """The connection every SQLite mixin uses; one write at a time."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; rolled back on error."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            else:
                await self._db.execute("COMMIT")

    async def schema_version(self) -> int:
        for row in await self._db.execute_fetchall("PRAGMA user_version"):
            return int(row[0])
        return 0

    async def migrate(self, migrations: Sequence[str]) -> None:
        """Apply the migrations above the stored ``user_version``, each with its version bump
        in one transaction. A database from a newer version of the bot (a version above the
        last migration) is refused with :class:`StorageError`."""
        current = await self.schema_version()
        if current > len(migrations):
            raise StorageError(newer_schema(current, len(migrations)))
        for version, script in enumerate(migrations, start=1):
            if version <= current:
                continue
            async with self._lock:
                # executescript commits first; run the script and the version bump together.
                await self._db.executescript(
                    f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
                )


def newer_schema(found: int, known: int) -> str:
    return (
        f"schema version {found} is newer than this version of the bot knows ({known}): "
        "run the newer version, or restore a backup taken before the upgrade"
    )
