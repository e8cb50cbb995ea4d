"""Storage contract, people: ``seen``, the user row, blocking, and /delete removing every row
about a person. Written against the :class:`bot.storage.Storage` protocol only: runs for every
backend (see ``conftest.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from bot.storage import Storage
from tests.storage.conftest import SetLastActive

ADMIN = 42


def today() -> str:
    return datetime.now(UTC).date().isoformat()


# --- seen ----------------------------------------------------------------------------------------


async def test_seen_creates_the_row_on_first_use_and_returns_it(storage: Storage) -> None:
    assert await storage.get_user(5) is None
    record = await storage.seen(5, "de")
    assert (record.user_id, record.language, record.country, record.blocked) == (
        5,
        "de",
        None,
        False,
    )
    assert record.created_on == record.last_active_on == today()
    assert await storage.get_user(5) == record


async def test_seen_again_the_same_day_returns_the_stored_record(storage: Storage) -> None:
    await storage.seen(5, "en")
    await storage.set_country(5, "GB")
    await storage.set_language(5, "de")
    record = await storage.seen(5, "en")  # the app's language does not overwrite the choice
    assert (record.language, record.country, record.last_active_on) == ("de", "GB", today())
    assert await storage.get_user(5) == record


async def test_seen_refreshes_a_stale_date_and_keeps_the_first_one(
    storage: Storage, set_last_active: SetLastActive
) -> None:
    first = await storage.seen(5, "en")
    await storage.set_country(5, "GB")
    earlier = datetime.now(UTC).date() - timedelta(days=3)
    await set_last_active(5, earlier)
    assert (await storage.get_user(5)).last_active_on == earlier.isoformat()  # type: ignore[union-attr]
    record = await storage.seen(5, "en")
    assert record.last_active_on == today()
    assert (record.created_on, record.country, record.language) == (first.created_on, "GB", "en")
    assert await storage.get_user(5) == record


async def test_seen_clears_blocked(storage: Storage) -> None:
    await storage.seen(5, "en")
    await storage.mark_blocked(5)
    assert (await storage.get_user(5)).blocked  # type: ignore[union-attr]
    record = await storage.seen(5, "en")
    assert not record.blocked
    assert not (await storage.get_user(5)).blocked  # type: ignore[union-attr]


# --- the user row (from the former tests/test_storage.py) ----------------------------------------


async def test_user_row_holds_settings_and_dates_only(storage: Storage) -> None:
    await storage.seen(5, "en")
    await storage.set_country(5, "GB")
    record = await storage.get_user(5)
    assert record is not None
    assert (record.language, record.country, record.blocked) == ("en", "GB", False)
    rows = await storage.rows_about(5)
    assert set(rows["users"][0]) == {
        "user_id",
        "language",
        "country",
        "created_on",
        "last_active_on",
        "blocked_at",
    }


async def test_blocked_user_is_unblocked_when_they_come_back(storage: Storage) -> None:
    await storage.seen(5, "en")
    await storage.mark_blocked(5)
    assert (await storage.get_user(5)).blocked  # type: ignore[union-attr]
    await storage.seen(5, "en")
    assert not (await storage.get_user(5)).blocked  # type: ignore[union-attr]


async def test_settings_create_the_row_and_blocking_a_stranger_stores_nothing(
    storage: Storage,
) -> None:
    await storage.set_language(5, "de")
    await storage.set_country(6, "GB")
    assert (await storage.get_user(5)).language == "de"  # type: ignore[union-attr]
    assert (await storage.get_user(6)).country == "GB"  # type: ignore[union-attr]
    await storage.set_country(6, None)
    assert (await storage.get_user(6)).country is None  # type: ignore[union-attr]
    await storage.mark_blocked(7)
    assert await storage.get_user(7) is None


# --- /delete --------------------------------------------------------------------------------------


async def test_delete_user_removes_every_row(storage: Storage) -> None:
    for uid in (5, 6):
        await storage.seen(uid, "en")
        await storage.set_country(uid, "US")
        await storage.save_schedule(
            uid,
            expected=None,
            local_time=time(8, 0),
            zone="Europe/London",
            next_due=datetime.now(UTC) + timedelta(hours=1),
            paused_until=None,
        )
        await storage.set_counter(uid, datetime.now(UTC).date())
    bc = await storage.create_broadcast(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=7, audience="all"
    )
    assert bc.total == 2
    before = await storage.rows_about(5)
    assert all(before.values()), before  # something in every table
    assert await storage.delete_user(5) > 0
    assert await storage.get_user(5) is None
    assert await storage.get_checkin(5) is None
    assert all(rows == [] for rows in (await storage.rows_about(5)).values())
    # The other person is untouched.
    assert await storage.get_user(6) is not None
    assert await storage.get_checkin(6) is not None
    assert all((await storage.rows_about(6)).values())
    assert await storage.count_checkins() == 1
    assert await storage.delete_user(5) == 0  # nothing left


async def test_delete_keeps_broadcast_figures_whole_and_forgets_an_admin(
    storage: Storage,
) -> None:
    for uid in (5, 6):
        await storage.seen(uid, "en")
    running = await storage.create_broadcast(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=7, audience="all", status_chat_id=ADMIN
    )
    over = await storage.create_broadcast(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=8, audience="all", status_chat_id=ADMIN
    )
    assert await storage.finish_broadcast(over.broadcast_id)
    await storage.delete_user(5)  # a recipient still pending
    await storage.delete_user(ADMIN)  # the admin
    after = await storage.get_broadcast(running.broadcast_id)
    assert after is not None and (after.total, after.done, after.cancelled) == (2, 1, 1)
    assert await storage.pending_recipients(running.broadcast_id) == [6]
    # A running broadcast still needs its admin to copy the message and report; one that is
    # over no longer holds their id.
    assert (after.admin_id, after.from_chat_id, after.status_chat_id) == (ADMIN, ADMIN, ADMIN)
    finished = await storage.get_broadcast(over.broadcast_id)
    assert finished is not None
    assert (finished.admin_id, finished.from_chat_id, finished.status_chat_id) == (0, 0, None)
    assert all(rows == [] for rows in (await storage.rows_about(5)).values())
