"""The SQLite backend as one object: :class:`SqliteStorage` (every mixin), the migrations, and
what spans every table (/delete and "what you store about me").

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` are applied in order
by :meth:`SqliteStorage.open`. Each feature's tables and queries live in a sibling module
(``users``, ``checkins``, ``broadcasts``) as a mixin; this module only combines them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.storage.sqlite import broadcasts, checkins, users
from bot.storage.sqlite.connection import connect

# Each entry upgrades the schema by one version. Never edit a released entry: append a new one.
MIGRATIONS: list[str] = [users.SCHEMA, checkins.SCHEMA, broadcasts.SCHEMA]

# Tables that hold a column ``user_id``; delete_user() clears all of them.
USER_TABLES: list[str] = [*users.USER_TABLES, *checkins.USER_TABLES, *broadcasts.USER_TABLES]


class SqliteStorage(users.UsersStore, checkins.CheckinsStore, broadcasts.BroadcastsStore):
    """The bot's SQLite database (implements :class:`bot.storage.api.Storage`). Open with
    :meth:`open`, close with :meth:`close`."""

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStorage:
        """Open (creating the file and folder if needed) the database at ``path`` and apply
        pending migrations; ``":memory:"`` opens a private in-memory database."""
        storage = cls(await connect(path))
        try:
            await storage.migrate(MIGRATIONS)
        except BaseException:
            await storage.close()
            raise
        return storage

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
            rows = await self._db.execute_fetchall(
                f"SELECT * FROM {table} WHERE user_id = ?", (user_id,)
            )
            result[table] = [dict(row) for row in rows]
        return result
