"""Storage for daily check-ins: the subscriptions table and its queries (schema version 2)."""

from __future__ import annotations

from bot.storage.base import StorageBase

SCHEMA = """
CREATE TABLE checkins (
    user_id INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE
);
"""

USER_TABLES: list[str] = ["checkins"]


class CheckinsStore(StorageBase):
    """Check-in subscriptions."""
