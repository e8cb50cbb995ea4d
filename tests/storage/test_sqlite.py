"""The SQLite backend only: the file and folder, PRAGMAs, migrations from an older schema, the
write lock, how many calls the hot path costs, and what the file itself holds after /delete.

Everything every backend must do is in ``test_contract_*.py``."""

from __future__ import annotations

import ast
import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Settings
from bot.storage import open_storage
from bot.storage.sqlite import MIGRATIONS, USER_TABLES, SqliteStorage
from bot.storage.sqlite.broadcasts import audience_filter
from tests.fake import TEST_TOKEN
from tests.storage.sqlite_rows import user_id_rows


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    store = await SqliteStorage.open(tmp_path / "bot.sqlite3")
    yield store
    await store.close()


@contextmanager
def aiosqlite_calls(storage: SqliteStorage) -> Iterator[list[str]]:
    """Record each call aiosqlite hands to its database thread (one hop each)."""
    db = storage._db
    calls: list[str] = []
    real = db._execute

    async def counting(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await real(fn, *args, **kwargs)

    db._execute = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        del db._execute


# --- the file, PRAGMAs and migrations -------------------------------------------------------------


async def test_database_and_folder_are_created_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.sqlite3"
    storage = await SqliteStorage.open(path)
    try:
        assert path.exists()
        assert await storage.schema_version() == len(MIGRATIONS)
    finally:
        await storage.close()
    # Opening again applies nothing twice.
    storage = await SqliteStorage.open(path)
    try:
        assert await storage.schema_version() == len(MIGRATIONS)
    finally:
        await storage.close()


async def test_open_storage_opens_sqlite_from_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    storage = await open_storage(Settings(bot_token=TEST_TOKEN, database_path=path))
    try:
        assert isinstance(storage, SqliteStorage)
        assert path.exists()
        await storage.seen(5, "en")
    finally:
        await storage.close()


async def test_memory_database_works_and_is_private() -> None:
    settings = Settings(bot_token=TEST_TOKEN, database_path=Path(":memory:"))
    first, second = await open_storage(settings), await open_storage(settings)
    try:
        await first.seen(5, "en")
        assert await first.get_user(5) is not None
        assert await second.get_user(5) is None
    finally:
        await first.close()
        await second.close()


async def test_pragmas(storage: SqliteStorage) -> None:
    db = storage._db
    values = {}
    for pragma in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout"):
        rows = list(await db.execute_fetchall(f"PRAGMA {pragma}"))
        values[pragma] = rows[0][0]
    assert values == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "foreign_keys": 1,
        "busy_timeout": 5000,
    }


async def test_an_old_schema_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as db:  # a database written by the first release: users only
        db.executescript(
            f"{MIGRATIONS[0]}\nPRAGMA user_version = 1;\n"
            "INSERT INTO users (user_id, language, country, created_on, last_active_on)"
            " VALUES (5, 'de', 'DE', '2025-01-01', '2025-02-01');"
        )
    db.close()
    storage = await SqliteStorage.open(path)
    try:
        assert await storage.schema_version() == len(MIGRATIONS)
        record = await storage.get_user(5)
        assert record is not None
        assert (record.language, record.country, record.created_on) == ("de", "DE", "2025-01-01")
        assert await storage.get_checkin(5) is None
        assert await storage.recent_broadcasts() == []
        assert (await storage.audience_counts()).everyone == 1
    finally:
        await storage.close()


async def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as db:  # version 1, but a table the next script creates exists
        db.executescript(f"{MIGRATIONS[0]}\nCREATE TABLE checkins (x);\nPRAGMA user_version = 1;")
    db.close()
    with pytest.raises(sqlite3.OperationalError):
        await SqliteStorage.open(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()


async def test_every_table_about_people_is_cleared_by_delete(storage: SqliteStorage) -> None:
    """USER_TABLES (what /delete and "what you store" cover) lists every table with a user id."""
    tables = [
        r[0]
        for r in await storage._db.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    ]
    with_user_id = []
    for table in tables:
        columns = [r[1] for r in await storage._db.execute_fetchall(f"PRAGMA table_info({table})")]
        if "user_id" in columns:
            with_user_id.append(table)
    assert sorted(with_user_id) == sorted(USER_TABLES)
    assert set(await storage.rows_about(1)) == set(USER_TABLES)


# --- the hot path ---------------------------------------------------------------------------------


async def test_seen_is_one_call_when_already_recorded_today(storage: SqliteStorage) -> None:
    with aiosqlite_calls(storage) as calls:
        await storage.seen(5, "en")  # first use: the read, then the write
    assert len(calls) == 2
    with aiosqlite_calls(storage) as calls:
        record = await storage.seen(5, "en")
    assert len(calls) == 1 and record.last_active_on == datetime.now(UTC).date().isoformat()
    await storage.mark_blocked(5)
    with aiosqlite_calls(storage) as calls:
        assert not (await storage.seen(5, "en")).blocked
    assert len(calls) == 2


async def test_get_user_is_one_call(storage: SqliteStorage) -> None:
    await storage.seen(5, "en")
    with aiosqlite_calls(storage) as calls:
        assert await storage.get_user(5) is not None
        assert await storage.get_user(6) is None
    assert len(calls) == 2


async def test_touching_an_active_user_does_not_wait_for_the_write_lock(
    storage: SqliteStorage,
) -> None:
    """Every update touches the user first: it must not queue behind a long write."""
    await storage.seen(5, "en")
    async with storage.transaction():  # a long write is in progress
        await asyncio.wait_for(storage.seen(5, "en"), timeout=1)
        await asyncio.wait_for(storage.seen(5, "en"), timeout=1)


# --- what the file holds after /delete ------------------------------------------------------------


async def test_delete_user_removes_every_row(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    storage = await SqliteStorage.open(path)
    try:
        await storage.seen(5, "en")
        await storage.seen(6, "en")
        await storage.set_country(5, "US")
        assert await user_id_rows(path, 5) > 0
        assert await storage.delete_user(5) >= 1
        assert await storage.get_user(5) is None
        assert await storage.get_user(6) is not None
    finally:
        await storage.close()
    assert await user_id_rows(path, 5) == 0


async def test_delete_keeps_broadcast_figures_whole_and_forgets_an_admin(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    storage = await SqliteStorage.open(path)
    try:
        for uid in (5, 6, 42):
            await storage.seen(uid, "en")
        db = storage._db  # the test seeds broadcast rows directly
        await db.execute(
            "INSERT INTO broadcasts (broadcast_id, admin_id, from_chat_id, message_id, audience,"
            " status, status_chat_id, created_at, total) VALUES (1, 42, 42, 7, 'all', 'running',"
            " 42, 0, 2), (2, 42, 42, 8, 'all', 'finished', 42, 0, 0)"
        )
        await db.execute(
            "INSERT INTO broadcast_recipients (broadcast_id, user_id) VALUES (1, 5), (1, 6)"
        )
        await storage.delete_user(5)  # a recipient still pending
        await storage.delete_user(42)  # the admin
        row = await (
            await db.execute(
                "SELECT total, sent + blocked + failed + cancelled FROM broadcasts"
                " WHERE broadcast_id = 1"
            )
        ).fetchone()
        assert row[1] == 1  # the deleted person's delivery counts as cancelled
        finished = await (
            await db.execute(
                "SELECT admin_id, from_chat_id, status_chat_id FROM broadcasts"
                " WHERE broadcast_id = 2"
            )
        ).fetchone()
        assert tuple(finished) == (0, 0, None)
    finally:
        await storage.close()
    assert await user_id_rows(path, 5) == 0


def test_an_unknown_audience_has_no_sql_condition() -> None:
    with pytest.raises(ValueError):
        audience_filter("lang:")


def test_the_protocol_module_imports_no_driver() -> None:
    """The records and the protocol are backend-free: no driver, no SQL module."""
    import bot.storage.api as api

    tree = ast.parse(Path(api.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"aiosqlite", "sqlite3", "asyncpg", "psycopg"}, imported
