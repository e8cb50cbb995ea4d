"""SQLite storage for people: the ``users`` table (schema version 1) and every query on it.

A user row holds the numeric Telegram id, language, country, the UTC dates of first and latest
use, and when the person blocked the bot. No names, no message text.

:meth:`UsersStore.seen` runs before every update's reply, so its common case (already recorded
today) is ONE aiosqlite call (``execute_fetchall``: one hop to the database thread) that never
waits for the write lock; only a missing or stale row is written, under the lock, with
``INSERT ... ON CONFLICT ... RETURNING`` (one more call).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from bot.storage.api import UserRecord
from bot.storage.sqlite.connection import SqliteBase

SCHEMA = """
    CREATE TABLE users (
        user_id        INTEGER PRIMARY KEY,
        language       TEXT    NOT NULL DEFAULT 'en',
        country        TEXT,
        created_on     TEXT    NOT NULL,
        last_active_on TEXT    NOT NULL,
        blocked_at     INTEGER
    );
    CREATE INDEX users_last_active ON users(last_active_on);
"""

USER_TABLES: list[str] = ["users"]

_COLUMNS = "user_id, language, country, created_on, last_active_on, blocked_at"


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _record(row: aiosqlite.Row) -> UserRecord:
    return UserRecord(
        user_id=row["user_id"],
        language=row["language"],
        country=row["country"],
        created_on=row["created_on"],
        last_active_on=row["last_active_on"],
        blocked=row["blocked_at"] is not None,
    )


class UsersStore(SqliteBase):
    """The ``users`` table."""

    async def seen(self, user_id: int, language: str) -> UserRecord:
        """Record that a person used the bot today (creating their row on first use, clearing
        blocked) and return their record: one call when already recorded today."""
        today = _today()
        for row in await self._db.execute_fetchall(
            f"SELECT {_COLUMNS} FROM users WHERE user_id = ?", (user_id,)
        ):
            if row["last_active_on"] == today and row["blocked_at"] is None:
                return _record(row)
        async with self._lock:
            rows = await self._db.execute_fetchall(
                f"""
                INSERT INTO users (user_id, language, created_on, last_active_on)
                VALUES (?, ?, ?, ?)
                ON CONFLICT(user_id) DO UPDATE SET
                    last_active_on = excluded.last_active_on, blocked_at = NULL
                RETURNING {_COLUMNS}
                """,
                (user_id, language, today, today),
            )
        for row in rows:
            return _record(row)
        raise AssertionError("INSERT ... RETURNING returned no row")

    async def get_user(self, user_id: int) -> UserRecord | None:
        for row in await self._db.execute_fetchall(
            f"SELECT {_COLUMNS} FROM users WHERE user_id = ?", (user_id,)
        ):
            return _record(row)
        return None

    async def set_country(self, user_id: int, country: str | None) -> None:
        await self._update_user(user_id, "country", country)

    async def set_language(self, user_id: int, language: str) -> None:
        await self._update_user(user_id, "language", language)

    async def _update_user(self, user_id: int, column: str, value: Any) -> None:
        assert column in {"country", "language"}
        today = _today()
        async with self._lock:
            await self._db.execute(
                f"""
                INSERT INTO users (user_id, {column}, created_on, last_active_on)
                VALUES (?, ?, ?, ?)
                ON CONFLICT(user_id) DO UPDATE SET {column} = excluded.{column}
                """,
                (user_id, value, today, today),
            )

    async def mark_blocked(self, user_id: int) -> None:
        """The person blocked the bot: send them nothing more until they come back."""
        async with self._lock:
            await self._db.execute(
                "UPDATE users SET blocked_at = ? WHERE user_id = ?", (int(time.time()), user_id)
            )
