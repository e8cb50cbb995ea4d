"""Storage for admin broadcasts: broadcasts and their recipients (schema version 3)."""

from __future__ import annotations

from bot.storage.base import StorageBase

SCHEMA = """
CREATE TABLE broadcasts (
    broadcast_id INTEGER PRIMARY KEY
);
CREATE TABLE broadcast_recipients (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(broadcast_id),
    user_id      INTEGER NOT NULL,
    PRIMARY KEY (broadcast_id, user_id)
);
"""

USER_TABLES: list[str] = ["broadcast_recipients"]


class BroadcastsStore(StorageBase):
    """Broadcasts and their per-recipient delivery state."""
