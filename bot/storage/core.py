"""Storage core: the connection, migrations, and the users table.

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` are applied in order at
startup. Each feature's tables and queries live in a sibling module of this package (check-ins,
broadcasts) as a mixin of :class:`Storage`, so every SQL statement of the bot is in
``bot/storage/`` and handlers only see async methods.

Privacy: a user row holds the numeric Telegram id, language, country and dates. No names, no
message text. :meth:`Storage.delete_user` removes every row about a user from every table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage import broadcasts, checkins
from bot.storage.base import StorageBase

USERS_SCHEMA = """
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

# Each entry upgrades the schema by one version. Never edit a released entry: append a new one.
MIGRATIONS: list[str] = [USERS_SCHEMA, checkins.SCHEMA, broadcasts.SCHEMA]

# Tables that hold a column ``user_id``; delete_user() clears all of them.
USER_TABLES: list[str] = ["users", *checkins.USER_TABLES, *broadcasts.USER_TABLES]


@dataclass(frozen=True)
class UserRecord:
    """What the bot stores about one person."""

    user_id: int
    language: str
    country: str | None
    created_on: str
    last_active_on: str
    blocked: bool


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


class Storage(checkins.CheckinsStore, broadcasts.BroadcastsStore, StorageBase):
    """The bot's database. Open with :meth:`open`, close with :meth:`close`."""

    @classmethod
    async def open(cls, path: Path | str) -> Storage:
        """Open (creating if needed) the database and apply pending migrations."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        storage = cls(db)
        await storage._migrate()
        return storage

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        current = await self.schema_version()
        for version, script in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            async with self._lock:
                # executescript commits first; run the script and the version bump together.
                await self._db.executescript(
                    f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
                )

    # --- users -----------------------------------------------------------------------------

    async def touch_user(self, user_id: int, language: str) -> None:
        """Record that a person used the bot today (creating their row on first use).

        Called for every update, before the reply: the common case (already recorded today)
        is one read that never waits for the write lock.
        """
        today = _today()
        async with self._db.execute(
            "SELECT last_active_on, blocked_at FROM users WHERE user_id = ?", (user_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is not None and row[0] == today and row[1] is None:
            return
        async with self._lock:
            await self._db.execute(
                """
                INSERT INTO users (user_id, language, created_on, last_active_on)
                VALUES (?, ?, ?, ?)
                ON CONFLICT(user_id) DO UPDATE SET
                    last_active_on = excluded.last_active_on, blocked_at = NULL
                WHERE users.last_active_on != excluded.last_active_on
                   OR users.blocked_at IS NOT NULL
                """,
                (user_id, language, today, today),
            )

    async def seen(self, user_id: int, language: str) -> UserRecord | None:
        """Record that a person used the bot today and return their record."""
        await self.touch_user(user_id, language)
        return await self.get_user(user_id)

    async def get_user(self, user_id: int) -> UserRecord | None:
        async with self._db.execute(
            "SELECT user_id, language, country, created_on, last_active_on, blocked_at "
            "FROM users WHERE user_id = ?",
            (user_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return UserRecord(
            user_id=row["user_id"],
            language=row["language"],
            country=row["country"],
            created_on=row["created_on"],
            last_active_on=row["last_active_on"],
            blocked=row["blocked_at"] is not None,
        )

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

    async def delete_user(self, user_id: int) -> int:
        """Remove every row about ``user_id`` from every table; return the rows removed."""
        removed = 0
        async with self.transaction() as db:
            await self._forget_in_broadcasts(db, user_id)
            for table in USER_TABLES:
                cur = await db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
                removed += cur.rowcount
        return removed

    async def rows_about(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every stored row about ``user_id``, table by table (for "what you store about me")."""
        result: dict[str, list[dict[str, Any]]] = {}
        for table in USER_TABLES:
            async with self._db.execute(
                f"SELECT * FROM {table} WHERE user_id = ?", (user_id,)
            ) as cur:
                rows = await cur.fetchall()
            result[table] = [dict(row) for row in rows]
        return result
