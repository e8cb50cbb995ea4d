"""Storage contract, check-ins: the settings row, the compare-and-set schedule, the day counter,
and claims (exclusive, expiring, lost on any change). Written against the
:class:`bot.storage.Storage` protocol only: runs for every backend (see ``conftest.py``).

Storage is given every instant (due, pause end, retry); when a check-in falls due is decided by
``bot/checkins.py`` and tested in ``tests/test_checkins_schedule.py``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from bot.storage import CheckinSettings, Storage

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
HOLD = timedelta(minutes=10)


async def subscribe(
    storage: Storage, user_id: int, due: datetime = T0, language: str = "en"
) -> CheckinSettings:
    await storage.seen(user_id, language)
    saved = await storage.save_schedule(
        user_id,
        expected=await storage.get_checkin(user_id),
        local_time=time(8, 0),
        zone="Europe/London",
        next_due=due,
        paused_until=None,
    )
    assert saved is not None
    return saved


# --- a person's settings ---------------------------------------------------------------------


async def test_nothing_is_stored_until_check_ins_or_a_counter_are_set(storage: Storage) -> None:
    await storage.seen(1, "en")
    assert await storage.get_checkin(1) is None
    assert await storage.count_checkins() == 0
    assert not await storage.stop_checkins(1)
    await storage.set_discreet(1, False)  # nothing to change: stores nothing
    await storage.set_counter_shown(1, False)
    assert await storage.get_checkin(1) is None


async def test_save_schedule_creates_the_row_and_returns_the_settings(storage: Storage) -> None:
    await storage.seen(1, "en")
    pause_end = T0 + timedelta(days=2)
    saved = await storage.save_schedule(
        1,
        expected=None,
        local_time=time(20, 30),
        zone="Asia/Kolkata",
        next_due=T0,
        paused_until=pause_end,
    )
    assert saved == await storage.get_checkin(1)
    assert saved is not None and saved.active and saved.paused(T0)
    assert (saved.local_time, saved.zone, saved.next_due, saved.paused_until) == (
        time(20, 30),
        "Asia/Kolkata",
        T0,
        pause_end,
    )
    assert (saved.discreet, saved.last_sent_on, saved.counter_start, saved.counter_shown) == (
        True,
        None,
        None,
        True,
    )
    assert await storage.count_checkins() == 1


async def test_save_schedule_is_a_compare_and_set(storage: Storage) -> None:
    """A schedule computed from a read that a send has overtaken is not saved."""
    read = await subscribe(storage, 1)
    [item] = await storage.claim_due(T0, 10, T0 + HOLD)
    assert await storage.mark_sending(item, date(2026, 3, 1))  # a check-in goes out meanwhile
    stale = await storage.save_schedule(
        1,
        expected=read,
        local_time=time(20, 0),
        zone="Europe/London",
        next_due=T0 + timedelta(hours=12),
        paused_until=None,
    )
    assert stale is None
    current = await storage.get_checkin(1)
    assert current is not None and current.local_time == time(8, 0)
    assert current.last_sent_on == date(2026, 3, 1)
    # Computed again from the fresh read, it is saved, and drops the claim in flight.
    saved = await storage.save_schedule(
        1,
        expected=current,
        local_time=time(20, 0),
        zone="Europe/London",
        next_due=T0 + timedelta(days=1, hours=12),
        paused_until=None,
    )
    assert saved is not None and saved.next_due == T0 + timedelta(days=1, hours=12)
    assert saved.last_sent_on == date(2026, 3, 1)
    assert not await storage.finish(item, T0 + timedelta(days=1), T0, sent=True)


async def test_save_schedule_does_not_bring_back_stopped_check_ins(storage: Storage) -> None:
    read = await subscribe(storage, 1)
    assert await storage.stop_checkins(1)
    saved = await storage.save_schedule(
        1,
        expected=read,  # a pause computed before the stop
        local_time=time(8, 0),
        zone="Europe/London",
        next_due=T0 + timedelta(days=7),
        paused_until=T0 + timedelta(days=7),
    )
    assert saved is None
    assert await storage.get_checkin(1) is None


async def test_save_schedule_expecting_nothing_fails_once_someone_else_turned_them_on(
    storage: Storage,
) -> None:
    await subscribe(storage, 1)
    again = await storage.save_schedule(
        1,
        expected=None,
        local_time=time(9, 0),
        zone="UTC",
        next_due=T0 + timedelta(hours=1),
        paused_until=None,
    )
    assert again is None
    assert (await storage.get_checkin(1)).local_time == time(8, 0)  # type: ignore[union-attr]


async def test_discreet_and_counter(storage: Storage) -> None:
    await subscribe(storage, 1)
    await storage.set_discreet(1, False)
    start = date(2026, 1, 1)
    await storage.set_counter(1, start)
    await storage.set_counter_shown(1, False)
    settings = await storage.get_checkin(1)
    assert settings is not None
    assert (settings.discreet, settings.counter_start, settings.counter_shown) == (
        False,
        start,
        False,
    )
    await storage.set_counter(1, date(2026, 2, 1))  # a new start is shown again
    settings = await storage.get_checkin(1)
    assert settings is not None and settings.counter_shown
    # Stopping check-ins keeps the counter; removing the counter then leaves nothing.
    assert await storage.stop_checkins(1)
    settings = await storage.get_checkin(1)
    assert settings is not None and not settings.active
    assert (settings.next_due, settings.last_sent_on, settings.counter_start) == (
        None,
        None,
        date(2026, 2, 1),
    )
    assert await storage.count_checkins() == 0
    assert not await storage.stop_checkins(1)  # they were already off
    await storage.set_counter(1, None)
    assert await storage.get_checkin(1) is None


async def test_a_counter_alone_then_check_ins_on_top(storage: Storage) -> None:
    await storage.seen(1, "en")
    await storage.set_counter(1, date(2026, 1, 1))
    counter_only = await storage.get_checkin(1)
    assert counter_only is not None and not counter_only.active
    saved = await storage.save_schedule(
        1,
        expected=counter_only,
        local_time=time(8, 0),
        zone="UTC",
        next_due=T0,
        paused_until=None,
    )
    assert saved is not None and saved.active and saved.counter_start == date(2026, 1, 1)
    await storage.set_counter(1, None)  # check-ins stay on
    settings = await storage.get_checkin(1)
    assert settings is not None and settings.active and settings.counter_start is None


# --- claims ----------------------------------------------------------------------------------


async def test_claims_are_exclusive_ordered_and_limited(storage: Storage) -> None:
    await subscribe(storage, 3, T0 - timedelta(minutes=1))
    await subscribe(storage, 1, T0)
    await subscribe(storage, 2, T0, language="de")
    await subscribe(storage, 4, T0 + timedelta(minutes=1))  # not due yet
    first = await storage.claim_due(T0, 2, T0 + HOLD)
    assert [(c.user_id, c.due) for c in first] == [(3, T0 - timedelta(minutes=1)), (1, T0)]
    rest = await storage.claim_due(T0, 10, T0 + HOLD)
    assert [c.user_id for c in rest] == [2]
    assert rest[0].language == "de" and rest[0].zone == "Europe/London"
    assert rest[0].local_time == time(8, 0) and rest[0].discreet
    later = T0 + timedelta(minutes=5)
    assert [c.user_id for c in await storage.claim_due(later, 10, later + HOLD)] == [4]
    assert await storage.claim_due(later, 10, later + HOLD) == []  # everything is claimed
    # While claimed, the settings still show the occurrence being sent.
    assert (await storage.get_checkin(1)).next_due == T0  # type: ignore[union-attr]


async def test_an_expired_claim_falls_due_again_with_the_same_occurrence(
    storage: Storage,
) -> None:
    await subscribe(storage, 1)
    [crashed] = await storage.claim_due(T0, 10, T0 + HOLD)
    assert await storage.claim_due(T0 + HOLD - timedelta(seconds=1), 10, T0 + 2 * HOLD) == []
    [again] = await storage.claim_due(T0 + HOLD, 10, T0 + 2 * HOLD)
    assert again.user_id == 1 and again.due == T0 and again.claim != crashed.claim
    # The crashed process's claim is no longer valid.
    assert not await storage.mark_sending(crashed, date(2026, 3, 1))
    assert await storage.mark_sending(again, date(2026, 3, 1))


async def test_finish_advances_and_releases(storage: Storage) -> None:
    await storage.seen(1, "en")
    await storage.save_schedule(
        1,
        expected=None,
        local_time=time(8, 0),
        zone="Europe/London",
        next_due=T0,
        paused_until=T0 - timedelta(minutes=5),  # a pause that has just ended
    )
    [item] = await storage.claim_due(T0, 10, T0 + HOLD)
    assert (item.enc_position, item.last_sent_on) == (0, None)
    assert await storage.mark_sending(item, date(2026, 3, 1))
    tomorrow = T0 + timedelta(days=1)
    assert await storage.finish(item, tomorrow, T0, sent=True)
    assert not await storage.finish(item, tomorrow, T0, sent=True)  # released: not ours now
    settings = await storage.get_checkin(1)
    assert settings is not None
    assert (settings.next_due, settings.last_sent_on, settings.paused_until) == (
        tomorrow,
        date(2026, 3, 1),
        None,
    )
    assert await storage.claim_due(T0 + HOLD, 10, T0 + 2 * HOLD) == []
    [next_item] = await storage.claim_due(tomorrow, 10, tomorrow + HOLD)
    assert (next_item.enc_position, next_item.last_sent_on) == (1, date(2026, 3, 1))
    assert next_item.enc_seed == item.enc_seed
    assert await storage.finish(next_item, tomorrow + timedelta(days=1), tomorrow, sent=False)
    [third] = await storage.claim_due(tomorrow + timedelta(days=1), 10, tomorrow + 2 * HOLD)
    assert third.enc_position == 1  # not sent: the rotation did not move


async def test_a_pause_still_running_is_kept_by_finish(storage: Storage) -> None:
    await storage.seen(1, "en")
    pause_end = T0 + timedelta(days=3)
    await storage.save_schedule(
        1,
        expected=None,
        local_time=time(8, 0),
        zone="Europe/London",
        next_due=T0,
        paused_until=pause_end,
    )
    [item] = await storage.claim_due(T0, 10, T0 + HOLD)
    assert await storage.finish(item, pause_end, T0, sent=False)
    assert (await storage.get_checkin(1)).paused_until == pause_end  # type: ignore[union-attr]


async def test_retry_later_undoes_the_mark_and_keeps_the_claim(storage: Storage) -> None:
    await subscribe(storage, 1)
    [item] = await storage.claim_due(T0, 10, T0 + HOLD)
    assert await storage.mark_sending(item, date(2026, 3, 1))
    retry_at = T0 + timedelta(minutes=5)
    assert await storage.retry_later(item, retry_at)
    settings = await storage.get_checkin(1)
    assert settings is not None and settings.last_sent_on is None and settings.next_due == T0
    assert await storage.claim_due(retry_at - timedelta(seconds=1), 10, retry_at + HOLD) == []
    [again] = await storage.claim_due(retry_at, 10, retry_at + HOLD)
    assert again.due == T0 and again.last_sent_on is None
    assert not await storage.retry_later(item, retry_at + HOLD)  # the old claim is gone


async def test_any_change_drops_a_claim_in_flight(storage: Storage) -> None:
    for user_id in (1, 2, 3):
        await subscribe(storage, user_id)
    claimed = {c.user_id: c for c in await storage.claim_due(T0, 10, T0 + HOLD)}
    assert await storage.stop_checkins(1)
    current = await storage.get_checkin(2)
    assert await storage.save_schedule(
        2,
        expected=current,
        local_time=time(9, 0),
        zone="Europe/London",
        next_due=T0 + timedelta(hours=1),
        paused_until=None,
    )
    await storage.delete_user(3)
    for user_id in (1, 2, 3):
        assert not await storage.mark_sending(claimed[user_id], date(2026, 3, 1))
        assert not await storage.finish(claimed[user_id], T0 + timedelta(days=1), T0, sent=True)
        assert not await storage.retry_later(claimed[user_id], T0 + HOLD)
    # Person 2's new time stands; nothing else is due.
    assert await storage.claim_due(T0 + HOLD, 10, T0 + 2 * HOLD) == []
    later = T0 + timedelta(hours=1)
    assert [c.user_id for c in await storage.claim_due(later, 10, later + HOLD)] == [2]
