"""Storage contract, broadcasts: recipients written in one go and following the audience,
outcomes counted once, pages of pending recipients, closing once, and the aggregates (moved
here from ``tests/test_broadcasts.py``). Written against the :class:`bot.storage.Storage`
protocol only: runs for every backend (see ``conftest.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from bot.storage import Outcome, Storage
from tests.storage.conftest import SetLastActive

ADMIN = 42


async def seed(
    storage: Storage, user_id: int, set_last_active: SetLastActive | None = None, **fields: Any
) -> None:
    """A user row; ``fields`` may set language, country, last_active_on, blocked, checkins."""
    await storage.seen(user_id, fields.get("language", "en"))
    if "country" in fields:
        await storage.set_country(user_id, fields["country"])
    if "last_active_on" in fields:
        assert set_last_active is not None
        await set_last_active(user_id, date.fromisoformat(fields["last_active_on"]))
    if fields.get("checkins"):
        await storage.save_schedule(
            user_id,
            expected=None,
            local_time=time(8, 0),
            zone="UTC",
            next_due=datetime.now(UTC) + timedelta(hours=1),
            paused_until=None,
        )
    if fields.get("blocked"):
        await storage.mark_blocked(user_id)


async def test_recipients_follow_the_audience_and_never_include_blocked_people(
    storage: Storage,
) -> None:
    await seed(storage, 1, language="en", country="GB", checkins=True)
    await seed(storage, 2, language="de", country="DE")
    await seed(storage, 3, language="de", country="GB", checkins=True, blocked=True)
    await seed(storage, 4, language="en")
    expected = {"all": 3, "checkins": 1, "lang:de": 1, "lang:en": 2, "country:GB": 1}
    for audience, total in expected.items():
        bc = await storage.create_broadcast(
            admin_id=ADMIN, from_chat_id=ADMIN, message_id=7, audience=audience
        )
        assert bc.total == total == await storage.audience_size(audience)
        assert await storage.recipient_states(bc.broadcast_id) == {"pending": total}
    counts = await storage.audience_counts()
    assert (counts.everyone, counts.checkins) == (3, 1)
    assert counts.by_language == {"en": 2, "de": 1}
    assert counts.by_country == {"DE": 1, "GB": 1}
    for unknown in ("lang:", "country:", "everyone"):
        with pytest.raises(ValueError):
            await storage.audience_size(unknown)
        with pytest.raises(ValueError):
            await storage.create_broadcast(
                admin_id=ADMIN, from_chat_id=ADMIN, message_id=7, audience=unknown
            )
    assert len(await storage.recent_broadcasts()) == len(expected)


async def test_outcomes_are_counted_once_and_blocked_people_are_marked(storage: Storage) -> None:
    for uid in (1, 2, 3, 4):
        await seed(storage, uid)
    bc = await storage.create_broadcast(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=7, audience="all"
    )
    outcomes = [
        Outcome(1, "sent"),
        Outcome(2, "blocked", "Forbidden: bot was blocked by the user"),
        Outcome(3, "failed", "Bad Request: chat not found", attempts=1),
    ]
    await storage.record_outcomes(bc.broadcast_id, outcomes)
    await storage.record_outcomes(bc.broadcast_id, outcomes)  # a replay changes nothing
    after = await storage.get_broadcast(bc.broadcast_id)
    assert after is not None
    assert (after.sent, after.blocked, after.failed, after.remaining) == (1, 1, 1, 1)
    assert (await storage.get_user(2)).blocked  # type: ignore[union-attr]
    assert await storage.pending_recipients(bc.broadcast_id) == [4]
    rows = (await storage.rows_about(3))["broadcast_recipients"]
    assert rows[0]["state"] == "failed" and rows[0]["reason"] == "Bad Request: chat not found"
    assert "text" not in str(rows[0].keys())  # never the message text
    await storage.finish_broadcast(bc.broadcast_id, stopped=True)
    final = await storage.get_broadcast(bc.broadcast_id)
    assert final is not None and (final.status, final.cancelled, final.remaining) == (
        "stopped",
        1,
        0,
    )
    assert await storage.recipient_states(bc.broadcast_id) == {
        "sent": 1,
        "blocked": 1,
        "failed": 1,
        "cancelled": 1,
    }
    # /delete removes a person's recipient rows too.
    await storage.delete_user(1)
    assert (await storage.rows_about(1))["broadcast_recipients"] == []


async def test_pending_recipients_are_read_a_page_at_a_time(storage: Storage) -> None:
    for uid in range(1, 8):
        await seed(storage, uid)
    bc = await storage.create_broadcast(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=7, audience="all"
    )
    first = await storage.pending_recipients(bc.broadcast_id, limit=3)
    second = await storage.pending_recipients(bc.broadcast_id, after=first[-1], limit=3)
    assert (first, second) == ([1, 2, 3], [4, 5, 6])
    assert await storage.pending_recipients(bc.broadcast_id, after=second[-1], limit=3) == [7]
    assert await storage.pending_recipients(bc.broadcast_id, after=7) == []


async def test_stats_are_aggregates(storage: Storage, set_last_active: SetLastActive) -> None:
    today = datetime.now(UTC).date()
    await seed(
        storage, 1, set_last_active, last_active_on=today.isoformat(), country="GB", checkins=True
    )
    await seed(storage, 2, set_last_active, last_active_on=(today - timedelta(days=10)).isoformat())
    await seed(
        storage,
        3,
        set_last_active,
        last_active_on=(today - timedelta(days=40)).isoformat(),
        blocked=True,
    )
    await seed(
        storage,
        4,
        set_last_active,
        language="de",
        last_active_on=(today - timedelta(days=6)).isoformat(),
    )
    stats = await storage.stats()
    assert (stats.users, stats.active_7d, stats.active_30d) == (4, 2, 3)
    assert (stats.checkin_subscribers, stats.blocked) == (1, 1)
    assert stats.by_language == {"en": 3, "de": 1}
    assert stats.by_country == {"": 3, "GB": 1}


async def test_a_closed_broadcast_is_not_closed_again(storage: Storage) -> None:
    """finish_broadcast only closes a running broadcast: a Stop is never overwritten."""
    await seed(storage, 1)
    bc = await storage.create_broadcast(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=7, audience="all"
    )
    assert await storage.finish_broadcast(bc.broadcast_id, stopped=True) is True
    assert await storage.finish_broadcast(bc.broadcast_id) is False
    after = await storage.get_broadcast(bc.broadcast_id)
    assert after is not None and after.status == "stopped" and after.cancelled == 1


async def test_running_broadcasts_and_their_start(storage: Storage) -> None:
    await seed(storage, 1)
    first = await storage.create_broadcast(
        admin_id=ADMIN,
        from_chat_id=ADMIN,
        message_id=7,
        audience="all",
        status_chat_id=ADMIN,
        status_message_id=8,
    )
    second = await storage.create_broadcast(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=9, audience="all"
    )
    assert (first.status, first.status_chat_id, first.status_message_id) == ("running", ADMIN, 8)
    assert first.started_at is None and first.created_at > 0
    assert await storage.running_broadcasts() == [first.broadcast_id, second.broadcast_id]
    await storage.mark_started(first.broadcast_id)
    started = await storage.get_broadcast(first.broadcast_id)
    assert started is not None and started.started_at is not None
    await storage.mark_started(first.broadcast_id)  # the first start is kept
    again = await storage.get_broadcast(first.broadcast_id)
    assert again is not None and again.started_at == started.started_at
    assert await storage.finish_broadcast(first.broadcast_id)
    assert await storage.running_broadcasts() == [second.broadcast_id]
    recent = await storage.recent_broadcasts(limit=1)
    assert [b.broadcast_id for b in recent] == [second.broadcast_id]
    assert await storage.get_broadcast(10_000) is None
