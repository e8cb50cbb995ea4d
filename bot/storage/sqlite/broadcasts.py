"""SQLite storage for admin broadcasts: broadcasts, their recipients, and the admin's
aggregates (schema version 3).

A broadcast row holds who sent it, where the message to copy is (chat id + message id: never its
text), the audience it was sent to, the live status message, the timestamps and the running
counts. A recipient row holds one person's delivery state: ``pending`` until the worker records
``sent``, ``blocked``, ``failed`` (with Telegram's reason) or ``cancelled``.

:meth:`BroadcastsStore.create_broadcast` writes the broadcast and every recipient row in one
transaction (``INSERT ... SELECT`` from ``users``, never blocked people), so a crash leaves either
nothing or a complete list to resume from. Outcomes are written in batches
(:meth:`BroadcastsStore.record_outcomes`): one short transaction per batch keeps the write lock
free for everything else; the counts on the broadcast and the user rows of people who blocked
the bot follow by trigger. Aggregate queries (audience sizes, ``/stats``, ``/broadcasts``)
return counts only, never a list of people.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.storage.api import (
    ALL,
    CANCELLED,
    CHECKINS,
    FINISHED,
    PENDING,
    RUNNING,
    STOPPED,
    AudienceCounts,
    Broadcast,
    Outcome,
    Stats,
    parse_audience,
)
from bot.storage.sqlite.connection import SqliteBase

SCHEMA = """
CREATE TABLE broadcasts (
    broadcast_id      INTEGER PRIMARY KEY,
    admin_id          INTEGER NOT NULL,
    from_chat_id      INTEGER NOT NULL,
    message_id        INTEGER NOT NULL,
    audience          TEXT    NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'running',
    status_chat_id    INTEGER,
    status_message_id INTEGER,
    created_at        INTEGER NOT NULL,
    started_at        INTEGER,
    finished_at       INTEGER,
    total             INTEGER NOT NULL DEFAULT 0,
    sent              INTEGER NOT NULL DEFAULT 0,
    blocked           INTEGER NOT NULL DEFAULT 0,
    failed            INTEGER NOT NULL DEFAULT 0,
    cancelled         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX broadcasts_status ON broadcasts(status);
CREATE TABLE broadcast_recipients (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(broadcast_id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending',
    reason       TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER,
    PRIMARY KEY (broadcast_id, user_id)
) WITHOUT ROWID;
CREATE INDEX broadcast_recipients_user ON broadcast_recipients(user_id);
-- The counts on a broadcast follow its recipients' rows, in the same transaction.
CREATE TRIGGER broadcast_counts AFTER UPDATE OF state ON broadcast_recipients
WHEN OLD.state = 'pending' AND NEW.state != 'pending'
BEGIN
    UPDATE broadcasts SET
        sent = sent + (NEW.state = 'sent'),
        blocked = blocked + (NEW.state = 'blocked'),
        failed = failed + (NEW.state = 'failed'),
        cancelled = cancelled + (NEW.state = 'cancelled')
    WHERE broadcast_id = NEW.broadcast_id;
END;
-- A person who blocked the bot is marked on their user row: nothing more is sent to them.
CREATE TRIGGER broadcast_blocked AFTER UPDATE OF state ON broadcast_recipients
WHEN NEW.state = 'blocked'
BEGIN
    UPDATE users SET blocked_at = NEW.updated_at
    WHERE user_id = NEW.user_id AND blocked_at IS NULL;
END;
"""

USER_TABLES: list[str] = ["broadcast_recipients"]

# Who counts as a check-in subscriber: check-ins on, paused or not (the same rows as
# ``CheckinsStore.count_checkins``; the check-ins module owns that table, read-only here).
CHECKIN_SUBSCRIBERS = "SELECT user_id FROM checkins WHERE next_due_utc IS NOT NULL"


def audience_filter(audience: str) -> tuple[str, tuple[Any, ...]]:
    """The SQL condition on ``users`` (and its parameters) for an audience key.

    Blocked people are never included. Raises ValueError for an unknown key.
    """
    kind, value = parse_audience(audience)
    reachable = "users.blocked_at IS NULL"
    if kind == ALL:
        return reachable, ()
    if kind == CHECKINS:
        return f"{reachable} AND users.user_id IN ({CHECKIN_SUBSCRIBERS})", ()
    column = {"lang": "language", "country": "country"}[kind]
    return f"{reachable} AND users.{column} = ?", (value,)


def _now() -> int:
    return int(time.time())


def _days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


class BroadcastsStore(SqliteBase):
    """Broadcasts and their per-recipient delivery state."""

    async def _forget_in_broadcasts(self, db: Any, user_id: int) -> None:
        """Part of /delete, inside its transaction, before the recipient rows go.

        A pending delivery to the person is cancelled first, so the broadcast's figures still
        add up; an admin's id is removed from broadcasts that are over (a running one still
        needs it to copy the message and show its status: it keeps it)."""
        await db.execute(
            "UPDATE broadcast_recipients SET state = ?, updated_at = ? "
            "WHERE user_id = ? AND state = ?",
            (CANCELLED, int(time.time()), user_id, PENDING),
        )
        await db.execute(
            "UPDATE broadcasts SET admin_id = 0, from_chat_id = 0, status_chat_id = NULL, "
            "status_message_id = NULL WHERE admin_id = ? AND status != ?",
            (user_id, RUNNING),
        )

    # --- creating and reading ---------------------------------------------------------------

    async def create_broadcast(
        self,
        *,
        admin_id: int,
        from_chat_id: int,
        message_id: int,
        audience: str,
        status_chat_id: int | None = None,
        status_message_id: int | None = None,
    ) -> Broadcast:
        """Write the broadcast and one pending row per recipient, in one transaction."""
        condition, params = audience_filter(audience)
        async with self.transaction() as db:
            cur = await db.execute(
                "INSERT INTO broadcasts (admin_id, from_chat_id, message_id, audience, status, "
                "status_chat_id, status_message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    admin_id,
                    from_chat_id,
                    message_id,
                    audience,
                    RUNNING,
                    status_chat_id,
                    status_message_id,
                    _now(),
                ),
            )
            broadcast_id = cur.lastrowid
            cur = await db.execute(
                "INSERT INTO broadcast_recipients (broadcast_id, user_id) "
                f"SELECT ?, users.user_id FROM users WHERE {condition}",
                (broadcast_id, *params),
            )
            await db.execute(
                "UPDATE broadcasts SET total = ? WHERE broadcast_id = ?",
                (cur.rowcount, broadcast_id),
            )
        found = await self.get_broadcast(int(broadcast_id or 0))
        assert found is not None
        return found

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        for row in await self._db.execute_fetchall(
            "SELECT * FROM broadcasts WHERE broadcast_id = ?", (broadcast_id,)
        ):
            return Broadcast(**dict(row))
        return None

    async def recent_broadcasts(self, limit: int = 10) -> list[Broadcast]:
        """The latest broadcasts, newest first."""
        rows = await self._db.execute_fetchall(
            "SELECT * FROM broadcasts ORDER BY broadcast_id DESC LIMIT ?", (limit,)
        )
        return [Broadcast(**dict(row)) for row in rows]

    async def running_broadcasts(self) -> list[int]:
        """Ids of broadcasts not yet finished or stopped, oldest first (to resume)."""
        rows = await self._db.execute_fetchall(
            "SELECT broadcast_id FROM broadcasts WHERE status = ? ORDER BY broadcast_id",
            (RUNNING,),
        )
        return [int(row[0]) for row in rows]

    async def pending_recipients(
        self, broadcast_id: int, *, after: int | None = None, limit: int = 1000
    ) -> list[int]:
        """The next ``limit`` pending user ids above ``after``, in id order (one page)."""
        rows = await self._db.execute_fetchall(
            "SELECT user_id FROM broadcast_recipients "
            "WHERE broadcast_id = ? AND user_id > ? AND state = ? ORDER BY user_id LIMIT ?",
            (broadcast_id, after if after is not None else -(2**63), PENDING, limit),
        )
        return [int(row[0]) for row in rows]

    async def recipient_states(self, broadcast_id: int) -> dict[str, int]:
        """How many recipient rows are in each state (counted from the rows themselves)."""
        rows = await self._db.execute_fetchall(
            "SELECT state, COUNT(*) FROM broadcast_recipients WHERE broadcast_id = ? "
            "GROUP BY state",
            (broadcast_id,),
        )
        return {str(row[0]): int(row[1]) for row in rows}

    # --- writing outcomes -------------------------------------------------------------------

    async def mark_started(self, broadcast_id: int) -> None:
        async with self._lock:
            await self._db.execute(
                "UPDATE broadcasts SET started_at = COALESCE(started_at, ?) WHERE broadcast_id = ?",
                (_now(), broadcast_id),
            )

    async def record_outcomes(self, broadcast_id: int, outcomes: Sequence[Outcome]) -> None:
        """Record a batch of outcomes in one short transaction.

        Only pending rows change, so a row is never counted twice; the broadcast's counts and
        the user rows of people who blocked the bot follow by trigger, in the same transaction.
        """
        if not outcomes:
            return
        now = _now()
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE broadcast_recipients SET state = ?, reason = ?, "
                "attempts = attempts + ?, updated_at = ? "
                "WHERE broadcast_id = ? AND user_id = ? AND state = 'pending'",
                [(o.state, o.reason, o.attempts, now, broadcast_id, o.user_id) for o in outcomes],
            )

    async def finish_broadcast(self, broadcast_id: int, *, stopped: bool = False) -> bool:
        """Close a broadcast: pending rows left become cancelled; status finished or stopped.

        A finished broadcast normally has no pending rows left; any that remain are cancelled
        too, so nothing stays pending. Only a running broadcast is closed: False (and nothing
        changed) if it was already finished or stopped, so a close is never overwritten.
        """
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE broadcasts SET status = ?, finished_at = ? "
                "WHERE broadcast_id = ? AND status = ?",
                (STOPPED if stopped else FINISHED, _now(), broadcast_id, RUNNING),
            )
            if cur.rowcount == 0:
                return False
            await db.execute(
                "UPDATE broadcast_recipients SET state = ?, updated_at = ? "
                "WHERE broadcast_id = ? AND state = ?",
                (CANCELLED, _now(), broadcast_id, PENDING),
            )
        return True

    # --- aggregates -------------------------------------------------------------------------

    async def _scalar(self, sql: str, params: Iterable[Any] = ()) -> int:
        for row in await self._db.execute_fetchall(sql, tuple(params)):
            return int(row[0] or 0)
        return 0

    async def _grouped(self, column: str, where: str = "1") -> dict[str, int]:
        assert column in {"language", "country"}
        rows = await self._db.execute_fetchall(
            f"SELECT COALESCE({column}, ''), COUNT(*) FROM users WHERE {where} "
            f"GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def audience_size(self, audience: str) -> int:
        """How many people ``audience`` reaches right now."""
        condition, params = audience_filter(audience)
        return await self._scalar(f"SELECT COUNT(*) FROM users WHERE {condition}", params)

    async def audience_counts(self) -> AudienceCounts:
        """The size of every audience choice (reachable people only)."""
        reachable = "blocked_at IS NULL"
        return AudienceCounts(
            everyone=await self.audience_size(ALL),
            checkins=await self.audience_size(CHECKINS),
            by_language=await self._grouped("language", reachable),
            by_country={
                code: n for code, n in (await self._grouped("country", reachable)).items() if code
            },
        )

    async def stats(self) -> Stats:
        """Aggregate counts about the bot's users."""
        return Stats(
            users=await self._scalar("SELECT COUNT(*) FROM users"),
            active_7d=await self._scalar(
                "SELECT COUNT(*) FROM users WHERE last_active_on >= ?", (_days_ago(6),)
            ),
            active_30d=await self._scalar(
                "SELECT COUNT(*) FROM users WHERE last_active_on >= ?", (_days_ago(29),)
            ),
            checkin_subscribers=await self._scalar(
                f"SELECT COUNT(*) FROM users WHERE user_id IN ({CHECKIN_SUBSCRIBERS})"
            ),
            blocked=await self._scalar("SELECT COUNT(*) FROM users WHERE blocked_at IS NOT NULL"),
            by_language=await self._grouped("language"),
            by_country=await self._grouped("country"),
        )
