"""The storage interface: the records the bot reads and writes, and the :class:`Storage` protocol.

This module owns the *contract* between the bot and its database, independent of any backend:

* the domain records (frozen dataclasses) every caller sees: :class:`UserRecord`,
  :class:`CheckinSettings`, :class:`DueCheckin`, :class:`Broadcast`, :class:`Outcome`,
  :class:`AudienceCounts`, :class:`Stats`;
* the constants stored as values: broadcast statuses, recipient states, audience keys
  (:func:`parse_audience` validates a key);
* :class:`Storage`, a :class:`typing.Protocol` listing every async method the bot uses, each
  with the guarantee a backend must give.

There is no SQL and no driver here: a backend (``bot/storage/sqlite/`` today) implements the
protocol, and ``tests/storage/test_contract_*.py`` check any backend against it.

Storage stores; it does not decide *when* something is due. Instants (a check-in's next
occurrence, a pause's end, a retry time) are computed by the scheduling code
(``bot/checkins.py``, ``bot/checkin_time.py``) and passed in; storage only compares stored
instants with the ``now`` it is given.

Privacy: a person is stored by their numeric Telegram id with their language, country, dates,
check-in settings and broadcast delivery states. No names, no message text.
:meth:`Storage.delete_user` removes every row about a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Protocol

# --- errors -----------------------------------------------------------------------------------


class StorageError(Exception):
    """The database cannot be used. The message is one line, safe to print: a location (a path)
    and a reason, never the data."""


class LocationError(StorageError):
    """The configured location itself is impossible (a folder that cannot be created, a file
    that cannot be written): a configuration error, found before anything else starts."""


class Unsupported(StorageError):
    """The backend has no such operation (e.g. a backup of an in-memory database)."""


# --- users ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRecord:
    """What the bot stores about one person."""

    user_id: int
    language: str
    country: str | None
    created_on: str  # ISO date (UTC) of the first use
    last_active_on: str  # ISO date (UTC) of the latest use
    blocked: bool  # the person blocked the bot: nothing is sent to them


# --- check-ins --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckinSettings:
    """A person's check-in settings and day counter, as the screens need them."""

    user_id: int
    local_time: time | None  # None when check-ins are off
    zone: str | None  # IANA name; None when check-ins are off
    next_due: datetime | None  # the next occurrence (the one being sent while claimed)
    paused_until: datetime | None
    discreet: bool  # neutral first line (safe on a lock screen)
    last_sent_on: date | None  # local date of the last check-in sent
    counter_start: date | None  # day counter start; None = no counter
    counter_shown: bool  # the counter appears in check-ins

    @property
    def active(self) -> bool:
        """Check-ins are on (possibly paused)."""
        return self.local_time is not None and self.zone is not None

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now


@dataclass(frozen=True)
class DueCheckin:
    """A claimed check-in: everything needed to build and send it, and to advance its row."""

    user_id: int
    language: str
    local_time: time
    zone: str
    due: datetime
    claim: int  # the backend's token for this claim; proves the claim is still held
    discreet: bool
    last_sent_on: date | None
    enc_seed: int
    enc_position: int
    counter_start: date | None
    counter_shown: bool


# --- broadcasts -------------------------------------------------------------------------------

# Broadcast status.
RUNNING = "running"  # created; delivering, or waiting for an earlier broadcast to finish
STOPPED = "stopped"  # an admin pressed Stop: the rest was marked cancelled
FINISHED = "finished"

# Recipient state.
PENDING = "pending"
SENT = "sent"
BLOCKED = "blocked"
FAILED = "failed"
CANCELLED = "cancelled"

# Audience keys: "all", "checkins", "lang:<code>", "country:<code>".
ALL = "all"
CHECKINS = "checkins"  # people with check-ins on, paused or not
LANG_PREFIX = "lang:"
COUNTRY_PREFIX = "country:"


def parse_audience(audience: str) -> tuple[str, str | None]:
    """Split an audience key into its kind and value: ``("all", None)``,
    ``("checkins", None)``, ``("lang", code)`` or ``("country", code)``.

    Raises ValueError for an unknown key."""
    if audience in (ALL, CHECKINS):
        return audience, None
    for prefix in (LANG_PREFIX, COUNTRY_PREFIX):
        if audience.startswith(prefix) and len(audience) > len(prefix):
            return prefix.removesuffix(":"), audience.removeprefix(prefix)
    raise ValueError(f"unknown audience {audience!r}")


@dataclass(frozen=True)
class Broadcast:
    """One broadcast and its figures (no message text: the message is copied from its chat)."""

    broadcast_id: int
    admin_id: int
    from_chat_id: int
    message_id: int
    audience: str
    status: str
    status_chat_id: int | None
    status_message_id: int | None
    created_at: int
    started_at: int | None
    finished_at: int | None
    total: int
    sent: int
    blocked: int
    failed: int
    cancelled: int

    @property
    def done(self) -> int:
        return self.sent + self.blocked + self.failed + self.cancelled

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.done)

    @property
    def figures(self) -> dict[str, int]:
        """The counts every admin screen shows, as placeholders for its text."""
        return {
            "total": self.total,
            "sent": self.sent,
            "blocked": self.blocked,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "remaining": self.remaining,
        }


@dataclass(frozen=True)
class AudienceCounts:
    """How many reachable people each audience choice would reach."""

    everyone: int
    checkins: int
    by_language: dict[str, int]
    by_country: dict[str, int]


@dataclass(frozen=True)
class Stats:
    """Aggregate counts for ``/stats`` (never a per-person list)."""

    users: int
    active_7d: int
    active_30d: int
    checkin_subscribers: int
    blocked: int
    by_language: dict[str, int]
    by_country: dict[str, int]  # "" = no country set


@dataclass(frozen=True)
class Outcome:
    """What happened to one recipient (written by :meth:`Storage.record_outcomes`)."""

    user_id: int
    state: str  # sent, blocked or failed
    reason: str | None = None
    attempts: int = 1


# --- the protocol -----------------------------------------------------------------------------


class Storage(Protocol):
    """Everything the bot asks of its database.

    Every method is safe to call concurrently from many coroutines (and, for the scheduler's
    claims and broadcasts, from several processes sharing one database). Each write is atomic:
    it happens completely or not at all. Instants are timezone-aware ``datetime``; dates of
    activity are UTC dates.
    """

    async def close(self) -> None:
        """Release the connection; no method may be called afterwards."""

    async def schema_version(self) -> int:
        """The version of the schema this database is at (every migration applied)."""

    # --- users ---------------------------------------------------------------------------------

    async def seen(self, user_id: int, language: str) -> UserRecord:
        """Record that the person used the bot today and return their record.

        Creates the row on first use (with ``language``); otherwise sets ``last_active_on`` to
        today and clears ``blocked``, keeping their stored language and country. Called once
        per update, before the reply: when the person was already recorded today it is one
        read, and it never waits behind other writes."""
        ...

    async def get_user(self, user_id: int) -> UserRecord | None:
        """The person's record, or None when nothing is stored about them. One read."""
        ...

    async def set_country(self, user_id: int, country: str | None) -> None:
        """Store the person's country (None: not set), creating their row if needed."""
        ...

    async def set_language(self, user_id: int, language: str) -> None:
        """Store the person's language, creating their row if needed."""
        ...

    async def mark_blocked(self, user_id: int) -> None:
        """The person blocked the bot: nothing more is sent to them until :meth:`seen` (no-op
        without a row)."""
        ...

    async def delete_user(self, user_id: int) -> int:
        """Remove every row about the person from every table, in one transaction; return a
        positive count of rows removed when anything was stored, 0 when nothing was.

        A pending broadcast delivery to them is first counted as cancelled, so that
        broadcast's figures still add up; as an admin, their id is removed from broadcasts that
        are over (a running one keeps it until it ends)."""
        ...

    async def rows_about(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every stored row about the person, table by table (for "what you store about me").

        Every table that can hold a row about a person is a key, with an empty list when it
        holds none; ``"users"`` holds at most one row with exactly the columns ``user_id``,
        ``language``, ``country``, ``created_on``, ``last_active_on`` and ``blocked_at``."""
        ...

    # --- check-ins -----------------------------------------------------------------------------

    async def get_checkin(self, user_id: int) -> CheckinSettings | None:
        """The person's check-in settings and day counter, or None if neither is set."""
        ...

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
        """Store a check-in schedule computed from ``expected`` (as read by
        :meth:`get_checkin`), only if nothing it was computed from changed meanwhile.

        Compare-and-set: the write happens only while the stored ``local_time``, ``zone``,
        ``paused_until`` and ``last_sent_on`` still equal ``expected``'s (``expected`` None:
        no row, which is then created with a fresh encouragement order; a row without a
        schedule also matches None). Returns the new settings, or None when the row changed
        (or went away): read it again and recompute. A claim in flight is dropped, so a
        check-in claimed before the change is not sent. The person's user row must exist."""
        ...

    async def set_discreet(self, user_id: int, discreet: bool) -> None:
        """Choose the neutral first line (no-op without a check-in row)."""
        ...

    async def stop_checkins(self, user_id: int) -> bool:
        """Turn check-ins off, dropping any claim (the day counter, if any, is kept); True if
        they were on. A row with nothing left in it is deleted."""
        ...

    async def set_counter(self, user_id: int, start: date | None) -> None:
        """Start the day counter at ``start`` (shown), or remove it (None; a row with nothing
        left in it is deleted)."""
        ...

    async def set_counter_shown(self, user_id: int, shown: bool) -> None:
        """Show or hide the day counter in check-ins (no-op without a check-in row)."""
        ...

    async def claim_due(self, now: datetime, limit: int, hold_until: datetime) -> list[DueCheckin]:
        """Claim up to ``limit`` check-ins due at ``now`` (oldest first) until ``hold_until``.

        Claims are exclusive, also across processes: a claimed row is not returned again until
        its claim expires (then it is due again, with the same ``due``) or it is released by
        :meth:`finish` or :meth:`retry_later`. The result is ordered by ``due``, then id."""
        ...

    async def mark_sending(self, item: DueCheckin, local_day: date) -> bool:
        """Record ``local_day`` as the date of the last check-in sent, before sending; False
        (nothing changed) if the claim was lost (the person changed or stopped check-ins, or
        another process took the row over after the claim expired)."""
        ...

    async def finish(
        self, item: DueCheckin, next_due_at: datetime, now: datetime, *, sent: bool
    ) -> bool:
        """Advance a claimed row to ``next_due_at`` and release the claim; a pause ended by
        ``now`` is cleared; the encouragement rotation moves on by one when ``sent``. False
        (nothing changed) if the claim was lost."""
        ...

    async def retry_later(self, item: DueCheckin, retry_at: datetime) -> bool:
        """A send failed or was not attempted: restore the last-sent date the claim found and
        keep the row claimed until ``retry_at`` (due again then). False if the claim was
        lost."""
        ...

    async def count_checkins(self) -> int:
        """How many people have check-ins on, paused or not."""
        ...

    # --- broadcasts ----------------------------------------------------------------------------

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
        """Write a running broadcast and one pending recipient per person in ``audience``
        (never a blocked person), in one transaction: afterwards there is either nothing or a
        complete list to deliver or resume. Raises ValueError for an unknown audience key."""
        ...

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        """One broadcast with its current figures, or None."""
        ...

    async def recent_broadcasts(self, limit: int = 10) -> list[Broadcast]:
        """The latest ``limit`` broadcasts, newest first."""
        ...

    async def running_broadcasts(self) -> list[int]:
        """Ids of broadcasts not yet finished or stopped, oldest first (to resume)."""
        ...

    async def pending_recipients(
        self, broadcast_id: int, *, after: int | None = None, limit: int = 1000
    ) -> list[int]:
        """The next ``limit`` pending recipient ids above ``after``, ascending (one page)."""
        ...

    async def recipient_states(self, broadcast_id: int) -> dict[str, int]:
        """How many recipients are in each state, counted from the recipients themselves
        (states with none are left out)."""
        ...

    async def mark_started(self, broadcast_id: int) -> None:
        """Record when delivery started (the first call only)."""
        ...

    async def record_outcomes(self, broadcast_id: int, outcomes: Sequence[Outcome]) -> None:
        """Record a batch of outcomes in one short transaction.

        Only pending recipients change, so an outcome is never counted twice (a replayed batch
        changes nothing); the broadcast's figures follow in the same transaction, and a
        ``blocked`` outcome marks the person blocked as :meth:`mark_blocked` does."""
        ...

    async def finish_broadcast(self, broadcast_id: int, *, stopped: bool = False) -> bool:
        """Close a running broadcast as finished (or stopped): recipients still pending become
        cancelled. False, and nothing changed, if it was not running (a close is never
        overwritten)."""
        ...

    async def audience_size(self, audience: str) -> int:
        """How many people ``audience`` reaches right now (as :meth:`create_broadcast` would
        count them). Raises ValueError for an unknown audience key."""
        ...

    async def audience_counts(self) -> AudienceCounts:
        """The size of every audience choice (reachable people only; people without a country
        are left out of ``by_country``)."""
        ...

    async def stats(self) -> Stats:
        """Aggregate counts about the people using the bot (never a list of people); active
        means seen within the last 7 (30) days, today included."""
        ...


# --- operations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CopyReport:
    """What ``backup`` or ``restore`` did (for its one line of output)."""

    path: Path  # the file written: the backup, or the database restored into
    size: int  # bytes
    schema_version: int
    kept: Path | None = None  # restore: where the replaced database was moved (None: none)


class Maintenance(Protocol):
    """What an operator does to the database from the command line (``python -m bot backup``,
    ``restore``, ``migrate``, and the checks at start), next to :class:`Storage`, which is what
    the running bot does. Synchronous: it runs outside the bot's event loop.

    Every method raises :class:`StorageError` (one printable line) when it cannot do its work,
    :class:`LocationError` for an impossible location and :class:`Unsupported` when the
    operation has no meaning for this backend or location.
    """

    @property
    def location(self) -> str:
        """Where the database is, as the start-up line names it (a path; never a password)."""
        ...

    def unsupported(self, command: str) -> str | None:
        """Why ``command`` (a verb: "back up", "restore", "migrate", "count") has no meaning for
        this database, or None when it has (an in-memory database has nothing to back up)."""
        ...

    def preflight(self) -> None:
        """Check, before anything connects anywhere, that the database can be opened or
        created where it is configured (raises :class:`LocationError`)."""
        ...

    def exists(self) -> bool:
        """Whether there is a database there already (a first start creates it)."""
        ...

    def verify(self) -> int:
        """A quick check that an existing database is not damaged and not from a newer version
        of the bot; returns its schema version (0: not created yet)."""
        ...

    def running_lock(self) -> AbstractContextManager[None]:
        """Held by a running bot from start to exit (several bots may hold it at once); while
        anyone holds it, :meth:`restore` is refused. Entering it while a restore runs raises
        :class:`StorageError`."""
        ...

    def backup(self, dest: Path) -> CopyReport:
        """Write a consistent, verified copy to ``dest`` (private to its owner), also while a
        bot runs on the database."""
        ...

    def restore(self, source: Path) -> CopyReport:
        """Replace the database with the verified copy at ``source``; refused while a bot runs
        on it. The replaced database is kept next to it (:attr:`CopyReport.kept`)."""
        ...
