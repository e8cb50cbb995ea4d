"""SQLite-only test helper: count what a database file holds about a person, in any table."""

from __future__ import annotations

from pathlib import Path

import aiosqlite


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
