"""Check-in scheduling with a controllable clock: the real tick and the real database, a
recording sender instead of Telegram.

A simulated year in five time zones (both daylight saving changes where there are any) gets
exactly one check-in per local day at the chosen local time; a restart, a crashed process,
downtime, a blocked bot and failing sends neither double nor lose a check-in.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.error import Forbidden, NetworkError, TimedOut

from bot import checkins
from bot.checkins import CLAIM_HOLD, RETRY_AFTER, run_tick
from bot.config import DEFAULT_CONTENT_DIR, Settings
from bot.content import load_content
from bot.screens import Screen
from bot.services import Services
from bot.storage import open_storage
from tests.fake import TEST_TOKEN

CONTENT = load_content(DEFAULT_CONTENT_DIR)
TICK = timedelta(minutes=15)


@dataclass
class Sent:
    user_id: int
    at: datetime
    text: str


@dataclass
class Recorder:
    """A stand-in for Telegram: records what would have been sent, at the simulated time;
    ``fail`` decides per call whether to raise instead."""

    now: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    sent: list[Sent] = field(default_factory=list)
    attempts: int = 0
    fail: Callable[[int, int], Exception | None] | None = None

    async def __call__(self, chat_id: int, screen: Screen) -> object:
        self.attempts += 1
        if self.fail is not None:
            error = self.fail(chat_id, self.attempts)
            if error is not None:
                raise error
        self.sent.append(Sent(chat_id, self.now, screen.text))
        return True

    def to(self, user_id: int) -> list[Sent]:
        return [s for s in self.sent if s.user_id == user_id]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


async def open_services(path: Path) -> Services:
    settings = Settings(bot_token=TEST_TOKEN, database_path=path)
    return Services(settings=settings, content=CONTENT, storage=await open_storage(settings))


@pytest.fixture
async def svc(db_path: Path) -> AsyncIterator[Services]:
    services = await open_services(db_path)
    yield services
    if services.storage is not None:
        await services.storage.close()


async def subscribe(svc: Services, user_id: int, local: str, zone: str, now: datetime) -> None:
    await svc.db.seen(user_id, "en")
    await checkins.set_schedule(svc.db, user_id, time.fromisoformat(local), zone, now)


async def tick(svc: Services, rec: Recorder, now: datetime) -> None:
    rec.now = now
    await run_tick(svc, rec, now, backoff=0)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def expected_instant(local: time, zone: ZoneInfo, day: date) -> tuple[datetime, str]:
    """Worked out independently of bot.checkin_time: the chosen wall time on ``day`` (the first
    one when clocks go back), or, when clocks skip it, the first wall-clock minute after it
    that exists. Also says which kind of day it was: "normal", "skipped" or "repeated"."""
    wall = datetime.combine(day, local)
    first = wall.replace(tzinfo=zone, fold=0)
    exists = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall
    if exists:
        twice = first.utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset()
        return first.astimezone(UTC), "repeated" if twice else "normal"
    while first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        wall += timedelta(minutes=1)
        first = wall.replace(tzinfo=zone, fold=0)
    return first.astimezone(UTC), "skipped"


# Zone, chosen local time (quarter hours, so every due instant falls on a 15-minute tick), and
# on how many days of 2026 that time is skipped / happens twice as the clocks change.
YEAR_CASES: list[tuple[str, str, int, int]] = [
    ("America/New_York", "08:00", 0, 0),
    ("America/New_York", "02:30", 1, 0),  # 8 March: 02:00 -> 03:00
    ("America/New_York", "01:30", 0, 1),  # 1 November: 01:00-02:00 twice
    ("America/New_York", "23:45", 0, 0),
    ("Europe/London", "08:00", 0, 0),
    ("Europe/London", "01:30", 1, 1),  # 29 March skipped, 25 October twice
    ("Europe/London", "00:00", 0, 0),
    ("Australia/Sydney", "08:00", 0, 0),
    ("Australia/Sydney", "02:30", 1, 1),  # 5 April twice, 4 October skipped
    ("Australia/Sydney", "20:30", 0, 0),
    ("Asia/Kolkata", "08:00", 0, 0),  # UTC+05:30, no daylight saving
    ("Asia/Kolkata", "21:45", 0, 0),
    ("Asia/Kolkata", "00:15", 0, 0),
    ("Pacific/Chatham", "08:00", 0, 0),  # UTC+12:45 / +13:45
    ("Pacific/Chatham", "02:45", 1, 1),  # 5 April 02:45-03:45 twice, 27 September skipped
    ("Pacific/Chatham", "03:00", 1, 1),
    ("Pacific/Chatham", "23:45", 0, 0),
]


async def test_a_simulated_year_sends_one_checkin_per_local_day_at_the_chosen_time(
    svc: Services,
) -> None:
    start, end = utc(2025, 12, 31), utc(2027, 1, 2)
    rec = Recorder(now=start)
    for user_id, (zone, local, _, _) in enumerate(YEAR_CASES, start=1):
        await subscribe(svc, user_id, local, zone, start)

    now = start
    while now <= end:
        await tick(svc, rec, now)
        now += TICK

    for user_id, (zone_name, local_text, skipped, repeated) in enumerate(YEAR_CASES, start=1):
        zone, local = ZoneInfo(zone_name), time.fromisoformat(local_text)
        by_day: dict[date, list[datetime]] = defaultdict(list)
        for sent in rec.to(user_id):
            by_day[sent.at.astimezone(zone).date()].append(sent.at)
        assert all(len(v) == 1 for v in by_day.values()), (zone_name, local_text)
        kinds: Counter[str] = Counter()
        day = date(2026, 1, 1)
        while day <= date(2026, 12, 31):
            expected, kind = expected_instant(local, zone, day)
            kinds[kind] += 1
            assert by_day.get(day) == [expected], (zone_name, local_text, day, by_day.get(day))
            day += timedelta(days=1)
        assert (kinds["skipped"], kinds["repeated"]) == (skipped, repeated), zone_name


async def test_encouragements_do_not_repeat_until_the_pool_is_used_up(svc: Services) -> None:
    start = utc(2026, 1, 1, 5)  # 10:30 in Kolkata
    rec = Recorder(now=start)
    await subscribe(svc, 7, "10:30", "Asia/Kolkata", start)
    pool = CONTENT.lang("en").texts.items("checkins.encouragements")
    now = start
    for _ in range(2 * len(pool) + 5):
        now += timedelta(days=1)
        await tick(svc, rec, now)
    shown = [next(p for p in s.text.split("\n\n") if p in pool) for s in rec.to(7)]
    assert len(shown) == 2 * len(pool) + 5
    assert sorted(shown[: len(pool)]) == sorted(pool)
    assert sorted(shown[len(pool) : 2 * len(pool)]) == sorted(pool)
    assert all(a != b for a, b in pairwise(shown))


async def test_a_restart_in_the_middle_of_a_day_sends_nothing_twice(db_path: Path) -> None:
    svc = await open_services(db_path)
    morning = utc(2026, 6, 1, 7)  # 08:00 in London (BST)
    rec = Recorder()
    for user_id, zone in ((1, "Europe/London"), (2, "Asia/Kolkata"), (3, "America/New_York")):
        await subscribe(svc, user_id, "08:00", zone, morning - timedelta(days=1))
    await tick(svc, rec, morning)
    assert [s.user_id for s in rec.sent] == [1]
    await svc.db.close()

    svc = await open_services(db_path)  # the process restarted
    try:
        for minutes in (0, 1, 15, 60, 240):
            await tick(svc, rec, morning + timedelta(minutes=minutes))
        assert [s.user_id for s in rec.sent] == [1]
        await tick(svc, rec, utc(2026, 6, 1, 12))  # 08:00 in New York
        await tick(svc, rec, utc(2026, 6, 2, 7))  # 08:00 in London the next day
        assert [s.user_id for s in rec.sent] == [1, 3, 1]
    finally:
        await svc.db.close()


async def test_rows_claimed_by_a_crashed_process_are_sent_once_after_the_claim_expires(
    db_path: Path,
) -> None:
    svc = await open_services(db_path)
    due = utc(2026, 6, 1, 7)
    await subscribe(svc, 1, "08:00", "Europe/London", due - timedelta(hours=1))
    await subscribe(svc, 2, "08:00", "Europe/London", due - timedelta(hours=1))
    # The crashed process claimed both rows; it had started sending to person 2.
    claimed = await svc.db.claim_due(due, 10, due + CLAIM_HOLD)
    assert {c.user_id for c in claimed} == {1, 2}
    second = next(c for c in claimed if c.user_id == 2)
    assert await svc.db.mark_sending(second, date(2026, 6, 1))
    await svc.db.close()

    svc = await open_services(db_path)
    rec = Recorder()
    try:
        await tick(svc, rec, due + timedelta(minutes=1))  # the claim still holds
        assert rec.sent == []
        await tick(svc, rec, due + CLAIM_HOLD + timedelta(minutes=1))
        # Person 1 gets theirs once, a little late; person 2's may already have gone out,
        # so it is not sent a second time.
        assert [s.user_id for s in rec.sent] == [1]
        await tick(svc, rec, due + CLAIM_HOLD + timedelta(minutes=30))
        await tick(svc, rec, due + timedelta(days=1))
        assert [s.user_id for s in rec.sent] == [1, 1, 2]
    finally:
        await svc.db.close()


async def test_checkins_missed_during_downtime_are_skipped_not_sent_hours_late(
    svc: Services,
) -> None:
    rec = Recorder()
    due = utc(2026, 1, 10, 8)  # 08:00 in London (GMT)
    await subscribe(svc, 1, "08:00", "Europe/London", due - timedelta(hours=12))
    await subscribe(svc, 2, "06:30", "Europe/London", due - timedelta(hours=12))
    # The bot was down from 05:00 to 09:00: person 2 (06:30) is past the two-hour window,
    # person 1 (08:00) is not.
    await tick(svc, rec, utc(2026, 1, 10, 9))
    assert [s.user_id for s in rec.sent] == [1]
    await tick(svc, rec, utc(2026, 1, 10, 12))
    assert [s.user_id for s in rec.sent] == [1]
    # Both are back on schedule the next day.
    await tick(svc, rec, utc(2026, 1, 11, 6, 30))
    await tick(svc, rec, utc(2026, 1, 11, 8))
    assert [(s.user_id, s.at.hour, s.at.minute) for s in rec.sent[1:]] == [(2, 6, 30), (1, 8, 0)]


async def test_a_person_who_blocked_the_bot_is_unsubscribed(svc: Services) -> None:
    def blocked(chat_id: int, attempt: int) -> Exception | None:
        return Forbidden("Forbidden: bot was blocked by the user") if chat_id == 2 else None

    rec = Recorder(fail=blocked)
    due = utc(2026, 3, 1, 8)
    for user_id in (1, 2):
        await subscribe(svc, user_id, "08:00", "Europe/London", due - timedelta(hours=1))
    await tick(svc, rec, due)
    assert [s.user_id for s in rec.sent] == [1]
    settings = await svc.db.get_checkin(2)
    assert settings is None or not settings.active
    record = await svc.db.get_user(2)
    assert record is not None and record.blocked
    attempts = rec.attempts
    await tick(svc, rec, due + timedelta(days=1))
    assert rec.attempts == attempts + 1  # only person 1 was tried
    assert [s.user_id for s in rec.sent] == [1, 1]


async def test_failed_sends_are_retried_later_and_never_doubled(svc: Services) -> None:
    failures = {"left": 6}

    def flaky(chat_id: int, attempt: int) -> Exception | None:
        if failures["left"] > 0:
            failures["left"] -= 1
            return TimedOut() if failures["left"] % 2 else NetworkError("Bad Gateway")
        return None

    rec = Recorder(fail=flaky)
    due = utc(2026, 3, 1, 8)
    await subscribe(svc, 1, "08:00", "Europe/London", due - timedelta(hours=1))
    # Four attempts fail (one send plus three retries): nothing is recorded as sent.
    await tick(svc, rec, due)
    assert rec.sent == []
    await tick(svc, rec, due + timedelta(minutes=1))  # not yet: retried after a pause
    assert rec.sent == []
    # Two more failures, then it goes through: exactly once.
    await tick(svc, rec, due + RETRY_AFTER)
    assert len(rec.sent) == 1
    for minutes in (20, 60, 600):
        await tick(svc, rec, due + timedelta(minutes=minutes))
    assert len(rec.sent) == 1
    await tick(svc, rec, due + timedelta(days=1))
    assert len(rec.sent) == 2


async def test_a_send_failing_past_the_window_is_given_up_for_that_day(svc: Services) -> None:
    rec = Recorder(fail=lambda chat_id, attempt: NetworkError("Bad Gateway"))
    due = utc(2026, 3, 1, 8)
    await subscribe(svc, 1, "08:00", "Europe/London", due - timedelta(hours=1))
    now = due
    while now < due + timedelta(hours=3):
        await tick(svc, rec, now)
        now += timedelta(minutes=5)
    tries = rec.attempts
    assert 0 < tries <= 4 * (2 * 60 // 5 + 1)
    rec.fail = None
    await tick(svc, rec, due + timedelta(hours=4))  # not sent hours late
    assert rec.sent == []
    await tick(svc, rec, due + timedelta(days=1))
    assert len(rec.sent) == 1


async def test_changing_the_time_after_todays_checkin_does_not_send_another_today(
    svc: Services,
) -> None:
    rec = Recorder()
    morning = utc(2026, 3, 1, 8)
    await subscribe(svc, 1, "08:00", "Europe/London", morning - timedelta(hours=1))
    await tick(svc, rec, morning)
    await checkins.set_schedule(
        svc.db, 1, time(20, 0), "Europe/London", morning + timedelta(hours=1)
    )
    settings = await svc.db.get_checkin(1)
    assert settings is not None and settings.next_due == utc(2026, 3, 2, 20)
    for hour in (20, 21):
        await tick(svc, rec, utc(2026, 3, 1, hour))
    assert len(rec.sent) == 1
    await tick(svc, rec, utc(2026, 3, 2, 20))
    assert len(rec.sent) == 2


async def test_a_change_while_a_checkin_is_claimed_wins_over_the_claim(svc: Services) -> None:
    due = utc(2026, 3, 1, 8)
    await subscribe(svc, 1, "08:00", "Europe/London", due - timedelta(hours=1))
    claimed = await svc.db.claim_due(due, 10, due + CLAIM_HOLD)
    assert await svc.db.stop_checkins(1)
    assert not await svc.db.mark_sending(claimed[0], date(2026, 3, 1))
    rec = Recorder()
    await tick(svc, rec, due + CLAIM_HOLD * 2)
    assert rec.sent == []


async def test_a_paused_person_gets_nothing_until_the_pause_ends(svc: Services) -> None:
    rec = Recorder()
    start = utc(2026, 3, 1, 9)
    await subscribe(svc, 1, "08:00", "Europe/London", start)
    await checkins.pause(svc.db, 1, start + timedelta(days=7), start)
    now = start
    while now < start + timedelta(days=10):
        now += timedelta(hours=1)
        await tick(svc, rec, now)
    assert [s.at for s in rec.sent] == [utc(2026, 3, d, 8) for d in (9, 10, 11)]
    settings = await svc.db.get_checkin(1)
    assert settings is not None and settings.paused_until is None


async def test_many_due_at_once_are_all_sent_in_batches(svc: Services) -> None:
    rec = Recorder()
    due = utc(2026, 3, 1, 8)
    for user_id in range(1, 251):
        await subscribe(svc, user_id, "08:00", "Europe/London", due - timedelta(hours=1))
    await run_tick(svc, rec, due, batch_size=40, backoff=0)
    assert sorted(s.user_id for s in rec.sent) == list(range(1, 251))


async def test_a_stopping_application_stops_claiming_and_releases_what_it_did_not_send(
    svc: Services,
) -> None:
    rec = Recorder()
    due = utc(2026, 3, 1, 8)
    for user_id in range(1, 251):
        await subscribe(svc, user_id, "08:00", "Europe/London", due - timedelta(hours=1))
    rec.now = due
    clock_calls: list[datetime] = []

    def clock() -> datetime:
        clock_calls.append(due + timedelta(seconds=len(clock_calls) + 1))
        return clock_calls[-1]

    # The application stops (SIGTERM) after the first few sends.
    report = await run_tick(
        svc,
        rec,
        due,
        batch_size=40,
        backoff=0,
        clock=clock,
        should_continue=lambda: len(rec.sent) < 3,
    )
    first = [s.user_id for s in rec.sent]
    assert 3 <= len(first) < 40
    assert report.sent == len(first) and report.released == 40 - len(first)
    assert clock_calls == []  # no second batch was claimed
    # Nothing unsent was recorded as sent today, and nothing is left claimed: the next start,
    # a minute later (well within the claim hold), sends every one of the rest exactly once.
    for user_id in set(range(1, 251)) - set(first):
        settings = await svc.db.get_checkin(user_id)
        assert settings is not None and settings.last_sent_on is None
    await tick(svc, rec, due + timedelta(minutes=1))
    assert sorted(s.user_id for s in rec.sent) == list(range(1, 251))


async def test_each_batch_claims_with_the_real_clock(svc: Services) -> None:
    rec = Recorder()
    due = utc(2026, 3, 1, 8)
    for user_id in range(1, 101):
        await subscribe(svc, user_id, "08:00", "Europe/London", due - timedelta(hours=1))
    later = due + timedelta(minutes=20)  # the tick took longer than a claim is held
    claims: list[datetime] = []
    claim_due = svc.db.claim_due

    async def spy(now: datetime, limit: int, hold_until: datetime) -> list[Any]:
        claims.append(hold_until)
        return await claim_due(now, limit, hold_until)

    svc.db.claim_due = spy  # type: ignore[method-assign]
    rec.now = due
    await run_tick(svc, rec, due, batch_size=40, backoff=0, clock=lambda: later)
    assert claims == [due + CLAIM_HOLD, later + CLAIM_HOLD, later + CLAIM_HOLD]
    assert sorted(s.user_id for s in rec.sent) == list(range(1, 101))


async def test_a_time_change_racing_todays_send_waits_for_tomorrow(svc: Services) -> None:
    """The change is read before today's check-in is marked as going out and saved after: the
    save notices (compare-and-set), reads again and schedules tomorrow, not a second one today."""
    morning = utc(2026, 3, 1, 8)
    await subscribe(svc, 1, "08:00", "Europe/London", morning - timedelta(hours=1))
    real_get = svc.db.get_checkin
    claimed: list[Any] = []

    async def racing_get(user_id: int) -> Any:
        read = await real_get(user_id)
        if not claimed:  # the scheduler sends today's between this read and the save
            claimed.extend(await svc.db.claim_due(morning, 10, morning + CLAIM_HOLD))
            assert await svc.db.mark_sending(claimed[0], date(2026, 3, 1))
        return read

    svc.db.get_checkin = racing_get  # type: ignore[method-assign]
    settings = await checkins.set_schedule(svc.db, 1, time(20, 0), "Europe/London", morning)
    del svc.db.get_checkin
    assert settings.next_due == utc(2026, 3, 2, 20)
    assert settings.last_sent_on == date(2026, 3, 1)
    # The change dropped the claim: the scheduler's bookkeeping for the sent one is refused.
    assert not await svc.db.finish(claimed[0], utc(2026, 3, 2, 8), morning, sent=True)
    rec = Recorder()
    await tick(svc, rec, utc(2026, 3, 1, 20))
    assert rec.sent == []
