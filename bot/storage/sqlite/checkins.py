"""SQLite storage for daily check-ins: the ``checkins`` table and every query on it (schema
version 2).

One row per person who turned check-ins on or set a day counter. The database is the truth for
scheduling: the row holds the chosen local time, the IANA zone and ``next_due_utc`` (indexed),
so the scheduler only ever asks "which rows are due?" and nothing is kept per user in memory.
*When* a check-in is due is decided by the scheduling code (``bot/checkins.py``): this module
stores the instants it is given and compares them with the ``now`` it is given.

Delivery is at most once per local date, across ticks, processes and restarts:

1. :meth:`CheckinsStore.claim_due` marks a batch of due rows as claimed in one statement and
   returns them. A claimed row keeps the occurrence it is handling in ``claimed_due`` and its
   ``next_due_utc`` moves to the end of the claim (``claim_until``), so later ticks do not see
   it, and a claim left by a crashed process simply falls due again when it expires. The
   due-row query therefore only ever reads due rows off the index.
2. :meth:`CheckinsStore.mark_sending` records the local date being sent (``last_sent_on``)
   *before* the message goes out, only while the claim is still held. A row whose
   ``last_sent_on`` already equals the date it is due for is never sent again that day.
3. :meth:`CheckinsStore.finish` advances ``next_due_utc`` and releases the claim;
   :meth:`CheckinsStore.retry_later` undoes step 2 after a failed send and keeps the row
   claimed until the retry time.

Any change a person makes (time, zone, pause, stop) drops a claim in flight, so a check-in that
was claimed before the change is not sent. :meth:`CheckinsStore.save_schedule` is a
compare-and-set on the values the new schedule was computed from, so a send recorded between
the scheduling code's read and this write is never overlooked.

Privacy: no message text and no answers are stored; only the settings, the instants needed for
scheduling, the encouragement rotation (a seed and a position) and the optional day counter.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time
from typing import Any

import aiosqlite

from bot.storage.api import CheckinSettings, DueCheckin
from bot.storage.sqlite.connection import SqliteBase

SCHEMA = """
CREATE TABLE checkins (
    user_id        INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    local_time     TEXT,                       -- "HH:MM"; NULL when check-ins are off
    zone           TEXT,                       -- IANA name; NULL when check-ins are off
    next_due_utc   INTEGER,                    -- unix seconds; NULL when check-ins are off
    paused_until   INTEGER,                    -- unix seconds, while paused
    discreet       INTEGER NOT NULL DEFAULT 1, -- neutral first line (safe on a lock screen)
    last_sent_on   TEXT,                       -- local date (ISO) of the last check-in sent
    claim_until    INTEGER,                    -- claimed by a scheduler until then
    claimed_due    INTEGER,                    -- while claimed: the occurrence being sent
    enc_seed       INTEGER NOT NULL DEFAULT 0, -- encouragement order (shuffled per round)
    enc_position   INTEGER NOT NULL DEFAULT 0, -- encouragements sent so far
    counter_start  TEXT,                       -- day counter start date (ISO); NULL = none
    counter_shown  INTEGER NOT NULL DEFAULT 1  -- the counter appears in check-ins
);
CREATE INDEX checkins_due ON checkins(next_due_utc);
"""

USER_TABLES: list[str] = ["checkins"]

_COLUMNS = (
    "user_id, local_time, zone, next_due_utc, paused_until, discreet, last_sent_on, "
    "claim_until, claimed_due, enc_seed, enc_position, counter_start, counter_shown"
)


def _hhmm(local: time) -> str:
    return local.strftime("%H:%M")


def _ts(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return int(instant.timestamp())


def _instant(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _time(value: str | None) -> time | None:
    return None if value is None else time.fromisoformat(value)


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _settings(row: aiosqlite.Row) -> CheckinSettings:
    due = row["next_due_utc"] if row["claimed_due"] is None else row["claimed_due"]
    return CheckinSettings(
        user_id=row["user_id"],
        local_time=_time(row["local_time"]),
        zone=row["zone"],
        next_due=_instant(due),
        paused_until=_instant(row["paused_until"]),
        discreet=bool(row["discreet"]),
        last_sent_on=_date(row["last_sent_on"]),
        counter_start=_date(row["counter_start"]),
        counter_shown=bool(row["counter_shown"]),
    )


class CheckinsStore(SqliteBase):
    """Check-in subscriptions, the day counter, and claiming due check-ins."""

    # --- a person's settings ------------------------------------------------------------------

    async def get_checkin(self, user_id: int) -> CheckinSettings | None:
        for row in await self._db.execute_fetchall(
            f"SELECT {_COLUMNS} FROM checkins WHERE user_id = ?", (user_id,)
        ):
            return _settings(row)
        return None

    async def _row(self, db: aiosqlite.Connection, user_id: int) -> aiosqlite.Row | None:
        for row in await db.execute_fetchall(
            f"SELECT {_COLUMNS} FROM checkins WHERE user_id = ?", (user_id,)
        ):
            return row
        return None

    async def _ensure_row(self, db: aiosqlite.Connection, user_id: int) -> None:
        """Create the person's row (with a fresh encouragement order) when missing."""
        await db.execute(
            "INSERT INTO checkins (user_id, enc_seed) VALUES (?, ?) "
            "ON CONFLICT(user_id) DO NOTHING",
            (user_id, random.getrandbits(31)),
        )

    async def save_schedule(
        self,
        user_id: int,
        *,
        expected: CheckinSettings | None,
        local_time: time,
        zone: str,
        next_due: datetime,
        paused_until: datetime | None,
    ) -> CheckinSettings | None:
        """Store a schedule computed from ``expected``, only if what it was computed from is
        unchanged; None when it changed (see :meth:`bot.storage.api.Storage.save_schedule`).

        The person's user row must exist (it is created by their first message)."""
        if expected is None or not expected.active:
            # Rows without a schedule hold NULL in all four compared columns (stop_checkins
            # clears them), so a row created here matches too.
            was: tuple[Any, ...] = (None, None, None, None)
        else:
            assert expected.local_time is not None
            was = (
                _hhmm(expected.local_time),
                expected.zone,
                None if expected.paused_until is None else _ts(expected.paused_until),
                None if expected.last_sent_on is None else expected.last_sent_on.isoformat(),
            )
        async with self.transaction() as db:
            if was[0] is None:
                await self._ensure_row(db, user_id)
            rows = await db.execute_fetchall(
                f"""
                UPDATE checkins SET local_time = ?, zone = ?, next_due_utc = ?, paused_until = ?,
                    claim_until = NULL, claimed_due = NULL
                WHERE user_id = ? AND local_time IS ? AND zone IS ? AND paused_until IS ?
                    AND last_sent_on IS ?
                RETURNING {_COLUMNS}
                """,
                (
                    _hhmm(local_time),
                    zone,
                    _ts(next_due),
                    None if paused_until is None else _ts(paused_until),
                    user_id,
                    *was,
                ),
            )
        for row in rows:
            return _settings(row)
        return None

    async def set_discreet(self, user_id: int, discreet: bool) -> None:
        async with self._lock:
            await self._db.execute(
                "UPDATE checkins SET discreet = ? WHERE user_id = ?", (int(discreet), user_id)
            )

    async def stop_checkins(self, user_id: int) -> bool:
        """Turn check-ins off (the day counter, if any, is kept); True if they were on.

        A row with nothing left in it is deleted."""
        async with self.transaction() as db:
            row = await self._row(db, user_id)
            if row is None:
                return False
            was_on = row["local_time"] is not None
            if row["counter_start"] is None:
                await db.execute("DELETE FROM checkins WHERE user_id = ?", (user_id,))
            else:
                await db.execute(
                    "UPDATE checkins SET local_time = NULL, zone = NULL, next_due_utc = NULL, "
                    "paused_until = NULL, claim_until = NULL, claimed_due = NULL, "
                    "last_sent_on = NULL WHERE user_id = ?",
                    (user_id,),
                )
        return was_on

    # --- day counter --------------------------------------------------------------------------

    async def set_counter(self, user_id: int, start: date | None) -> None:
        """Start the day counter at ``start`` (shown), or remove it (``None``)."""
        async with self.transaction() as db:
            if start is None:
                await db.execute(
                    "UPDATE checkins SET counter_start = NULL, counter_shown = 1 WHERE user_id = ?",
                    (user_id,),
                )
                await db.execute(
                    "DELETE FROM checkins WHERE user_id = ? AND local_time IS NULL", (user_id,)
                )
                return
            await self._ensure_row(db, user_id)
            await db.execute(
                "UPDATE checkins SET counter_start = ?, counter_shown = 1 WHERE user_id = ?",
                (start.isoformat(), user_id),
            )

    async def set_counter_shown(self, user_id: int, shown: bool) -> None:
        async with self._lock:
            await self._db.execute(
                "UPDATE checkins SET counter_shown = ? WHERE user_id = ?", (int(shown), user_id)
            )

    # --- the scheduler ------------------------------------------------------------------------

    async def claim_due(self, now: datetime, limit: int, hold_until: datetime) -> list[DueCheckin]:
        """Claim up to ``limit`` rows due at ``now`` (oldest first) until ``hold_until``.

        Rows claimed by someone else are not due until their claim expires."""
        now_ts, claim = _ts(now), _ts(hold_until)
        # Most ticks find nothing due: answer those with one index read, without a write lock.
        if not await self._db.execute_fetchall(
            "SELECT 1 FROM checkins WHERE next_due_utc <= ? LIMIT 1", (now_ts,)
        ):
            return []
        async with self._lock:  # one statement: atomic, also against other processes
            rows = await self._db.execute_fetchall(
                """
                UPDATE checkins SET
                    claim_until = ?1,
                    next_due_utc = ?1,
                    claimed_due = COALESCE(claimed_due, next_due_utc)
                WHERE user_id IN (
                    SELECT user_id FROM checkins WHERE next_due_utc <= ?2
                    ORDER BY next_due_utc LIMIT ?3
                )
                RETURNING user_id, local_time, zone, claimed_due, discreet, last_sent_on,
                    enc_seed, enc_position, counter_start, counter_shown,
                    (SELECT language FROM users WHERE users.user_id = checkins.user_id)
                    AS language
                """,
                (claim, now_ts, limit),
            )
        return [
            DueCheckin(
                user_id=row["user_id"],
                language=row["language"],
                local_time=time.fromisoformat(row["local_time"]),
                zone=row["zone"],
                due=datetime.fromtimestamp(row["claimed_due"], UTC),
                claim=claim,
                discreet=bool(row["discreet"]),
                last_sent_on=_date(row["last_sent_on"]),
                enc_seed=row["enc_seed"],
                enc_position=row["enc_position"],
                counter_start=_date(row["counter_start"]),
                counter_shown=bool(row["counter_shown"]),
            )
            for row in sorted(rows, key=lambda r: (r["claimed_due"], r["user_id"]))
        ]

    async def mark_sending(self, item: DueCheckin, local_day: date) -> bool:
        """Record that ``local_day``'s check-in is going out; False if the claim was lost
        (the person changed or stopped check-ins meanwhile, or another process took over)."""
        return await self._claimed_update(
            "UPDATE checkins SET last_sent_on = ? WHERE user_id = ? AND claim_until = ?",
            (local_day.isoformat(), item.user_id, item.claim),
        )

    async def finish(
        self, item: DueCheckin, next_due_at: datetime, now: datetime, *, sent: bool
    ) -> bool:
        """Advance a claimed row to ``next_due_at`` and release it (an ended pause is cleared;
        the encouragement rotation moves on when a message was ``sent``)."""
        return await self._claimed_update(
            """
            UPDATE checkins SET
                next_due_utc = ?, claim_until = NULL, claimed_due = NULL,
                enc_position = enc_position + ?,
                paused_until = CASE WHEN paused_until <= ? THEN NULL ELSE paused_until END
            WHERE user_id = ? AND claim_until = ?
            """,
            (_ts(next_due_at), int(sent), _ts(now), item.user_id, item.claim),
        )

    async def retry_later(self, item: DueCheckin, retry_at: datetime) -> bool:
        """A send failed: forget that it was going out and claim the row until ``retry_at``."""
        return await self._claimed_update(
            "UPDATE checkins SET last_sent_on = ?1, claim_until = ?2, next_due_utc = ?2 "
            "WHERE user_id = ?3 AND claim_until = ?4",
            (
                None if item.last_sent_on is None else item.last_sent_on.isoformat(),
                _ts(retry_at),
                item.user_id,
                item.claim,
            ),
        )

    async def _claimed_update(self, sql: str, params: tuple[Any, ...]) -> bool:
        async with self._lock:
            cur = await self._db.execute(sql, params)
            return cur.rowcount > 0

    async def count_checkins(self) -> int:
        """How many people have check-ins on (for logs and benchmarks)."""
        for row in await self._db.execute_fetchall(
            "SELECT COUNT(*) FROM checkins WHERE next_due_utc IS NOT NULL"
        ):
            return int(row[0])
        return 0
