"""Storage: migrations, the user row, and /delete removing every row about a person."""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from bot.storage import MIGRATIONS, Storage


async def test_database_and_folder_are_created_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.sqlite3"
    storage = await Storage.open(path)
    try:
        assert path.exists()
        assert await storage.schema_version() == len(MIGRATIONS)
    finally:
        await storage.close()
    # Opening again applies nothing twice.
    storage = await Storage.open(path)
    try:
        assert await storage.schema_version() == len(MIGRATIONS)
    finally:
        await storage.close()


async def test_user_row_holds_settings_and_dates_only(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        await storage.touch_user(5, "en")
        await storage.set_country(5, "GB")
        record = await storage.get_user(5)
        assert record is not None
        assert (record.language, record.country, record.blocked) == ("en", "GB", False)
        rows = await storage.rows_about(5)
        assert set(rows["users"][0]) == {
            "user_id",
            "language",
            "country",
            "created_on",
            "last_active_on",
            "blocked_at",
        }
    finally:
        await storage.close()


async def test_blocked_user_is_unblocked_when_they_come_back(tmp_path: Path) -> None:
    storage = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        await storage.touch_user(5, "en")
        await storage.mark_blocked(5)
        assert (await storage.get_user(5)).blocked  # type: ignore[union-attr]
        await storage.touch_user(5, "en")
        assert not (await storage.get_user(5)).blocked  # type: ignore[union-attr]
    finally:
        await storage.close()


async def user_id_rows(path: Path, user_id: int) -> int:
    """Rows mentioning ``user_id`` in any column named user_id or chat_id, in any table."""
    total = 0
    async with aiosqlite.connect(path) as db:
        tables = [
            r[0]
            for r in await db.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        ]
        for table in tables:
            columns = [r[1] for r in await db.execute_fetchall(f"PRAGMA table_info({table})")]
            for column in ("user_id", "chat_id"):
                if column in columns:
                    rows = await db.execute_fetchall(
                        f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (user_id,)
                    )
                    total += rows[0][0]
    return total


async def test_delete_user_removes_every_row(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    storage = await Storage.open(path)
    try:
        await storage.touch_user(5, "en")
        await storage.touch_user(6, "en")
        await storage.set_country(5, "US")
        assert await user_id_rows(path, 5) > 0
        assert await storage.delete_user(5) >= 1
        assert await storage.get_user(5) is None
        assert await storage.get_user(6) is not None
    finally:
        await storage.close()
    assert await user_id_rows(path, 5) == 0


async def test_touching_an_active_user_does_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    """Every update touches the user first: it must not queue behind a long write."""
    import asyncio

    storage = await Storage.open(tmp_path / "bot.sqlite3")
    try:
        await storage.touch_user(5, "en")
        async with storage.transaction():  # a long write is in progress
            await asyncio.wait_for(storage.touch_user(5, "en"), timeout=1)
    finally:
        await storage.close()


async def test_delete_keeps_broadcast_figures_whole_and_forgets_an_admin(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    storage = await Storage.open(path)
    try:
        for uid in (5, 6, 42):
            await storage.touch_user(uid, "en")
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
