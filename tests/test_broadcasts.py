"""Broadcast worker: the open window that bounds duplicates after a crash, resuming, and the
limiter's abort. (The storage side - recipients written in one go, outcomes counted once - is
in ``tests/storage/test_contract_broadcasts.py``.)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from bot import broadcast
from bot.app import build_application
from bot.broadcast import broadcaster
from bot.config import Settings
from bot.delivery import BULK, Aborted, PriorityRateLimiter
from bot.storage import Outcome
from bot.storage.sqlite import SqliteStorage
from tests.fake import TEST_TOKEN, FakeRequest, FakeTelegram, run_app

ADMIN = 42


async def seed(storage: SqliteStorage, user_id: int, **fields: Any) -> None:
    """A user row; ``fields`` may set language, country, last_active_on, blocked, checkins."""
    await storage.seen(user_id, fields.get("language", "en"))
    if "country" in fields:
        await storage.set_country(user_id, fields["country"])
    async with storage.transaction() as db:
        if "last_active_on" in fields:
            await db.execute(
                "UPDATE users SET last_active_on = ? WHERE user_id = ?",
                (fields["last_active_on"], user_id),
            )
        if fields.get("checkins"):
            await db.execute(
                "INSERT INTO checkins (user_id, next_due_utc) VALUES (?, ?)",
                (user_id, int(time.time()) + 3600),
            )
    if fields.get("blocked"):
        await storage.mark_blocked(user_id)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fast broadcasts for these tests."""
    return Settings(
        bot_token=TEST_TOKEN,
        database_path=tmp_path / "bot.sqlite3",
        admin_ids=frozenset({ADMIN}),
        broadcast_rate=1000.0,
    )


def test_the_open_window_follows_the_rate() -> None:
    assert broadcast.concurrency_for(25) == 20
    assert broadcast.concurrency_for(1) == broadcast.MIN_CONCURRENCY
    assert broadcast.concurrency_for(1000) == broadcast.MAX_CONCURRENCY == 200


async def test_a_bulk_call_is_dropped_when_aborted_before_its_turn() -> None:
    limiter = PriorityRateLimiter(rate=10)
    abort = asyncio.Event()
    sent: list[int] = []

    async def call(n: int) -> bool:
        sent.append(n)
        return True

    async def bulk(n: int) -> Any:
        return await limiter.process_request(
            call, (n,), {}, "copyMessage", {}, {**BULK, "abort": abort}
        )

    tasks = [asyncio.create_task(bulk(n)) for n in range(5)]
    await asyncio.sleep(0.15)  # the first two have had their turn
    abort.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sent == [0, 1]
    assert all(isinstance(r, Aborted) for r in results[2:])


async def test_a_429_holds_calls_that_were_already_given_a_slot() -> None:
    limiter = PriorityRateLimiter(rate=20)
    from telegram.error import RetryAfter

    times: list[float] = []
    failed = False

    async def call() -> bool:
        nonlocal failed
        if not failed:
            failed = True
            raise RetryAfter(1)
        times.append(time.monotonic())
        return True

    start = time.monotonic()
    await asyncio.gather(
        *(limiter.process_request(call, (), {}, "copyMessage", {}, BULK) for _ in range(4))
    )
    # Nothing went out during the pause, although three calls had slots inside it.
    assert min(times) - start >= 0.95


# --- the worker through the application --------------------------------------------------------


async def _broadcast_to(app: Any, count: int) -> int:
    svc = app.bot_data["services"]
    for uid in range(5000, 5000 + count):
        await seed(svc.db, uid)
    source = await app.bot.send_message(ADMIN, "<b>News</b>")
    bc = await svc.db.create_broadcast(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=source.message_id, audience="all"
    )
    return int(bc.broadcast_id)


async def test_no_more_than_the_window_is_sent_before_outcomes_are_written(
    app: Any, api: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The duplicate bound: sends stop once ``concurrency`` outcomes wait to be written."""
    monkeypatch.setattr(broadcast, "concurrency_for", lambda rate: 10)
    svc = app.bot_data["services"]
    bid = await _broadcast_to(app, 40)
    writes_blocked = asyncio.Event()
    real_record = svc.db.record_outcomes

    async def stuck_record(broadcast_id: int, outcomes: Any) -> None:
        await writes_blocked.wait()
        await real_record(broadcast_id, outcomes)

    monkeypatch.setattr(svc.db, "record_outcomes", stuck_record)
    broadcaster(app).wake()
    await asyncio.sleep(0.5)
    copies = len(api.calls_to("copyMessage"))
    assert copies == 10
    writes_blocked.set()
    await broadcaster(app).idle()
    assert len(api.calls_to("copyMessage")) == 40
    assert await svc.db.recipient_states(bid) == {"sent": 40}


async def test_an_unfinished_broadcast_resumes_at_the_next_start(
    api: FakeTelegram, settings: Any
) -> None:
    """A broadcast left with pending rows (a crash) is finished by the next process."""
    first = build_application(settings, request=FakeRequest(api))
    async with run_app(first, api):
        svc = first.bot_data["services"]
        bid = await _broadcast_to(first, 30)
        done = await svc.db.pending_recipients(bid, limit=12)
        await svc.db.record_outcomes(bid, [Outcome(uid, "sent") for uid in done])
    second = build_application(settings, request=FakeRequest(api))
    async with run_app(second, api):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            bc = await second.bot_data["services"].db.get_broadcast(bid)
            if bc.status == "finished":
                break
            await asyncio.sleep(0.05)
        await broadcaster(second).idle()
    copied = {c.params["chat_id"] for c in api.calls_to("copyMessage")}
    assert copied == set(range(5000 + 12, 5030))
    assert bc.sent == 30 and bc.remaining == 0
    # The admin hears about it.
    assert "finished" in (api.last_bot_message(ADMIN).text or "")  # type: ignore[union-attr]


async def test_bulk_sending_slows_down_while_the_event_loop_lags() -> None:
    """The CPU guard: a busy loop lowers the bulk share, an idle one restores it; the default
    25/s is never slowed by it."""
    fast = PriorityRateLimiter(rate=1000, max_lag=0.01)
    default = PriorityRateLimiter(rate=25, max_lag=0.01)
    await fast.initialize()
    await default.initialize()
    try:
        for _ in range(6):
            time.sleep(0.08)  # noqa: ASYNC251 - the process is busy: timers fire late
            await asyncio.sleep(0.06)
        assert fast.share < 0.6
        assert default.share == 1.0
        await asyncio.sleep(0.5)  # the smoothed lag settles
        lowered = fast.share
        await asyncio.sleep(1.0)
        assert fast.share > lowered
    finally:
        await fast.shutdown()
        await default.shutdown()


async def test_stop_while_the_loop_picks_the_broadcast_reports_once(
    app: Any, api: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop pressed while the worker has no current run (between running_broadcasts and
    get_broadcast): the broadcast stays stopped and the admin gets one report."""
    svc = app.bot_data["services"]
    bid = await _broadcast_to(app, 5)
    real_get = svc.db.get_broadcast
    stopped = False

    async def racing_get(broadcast_id: int) -> Any:
        nonlocal stopped
        if not stopped:  # the worker's read: Stop lands just before it
            stopped = True
            assert await broadcaster(app).stop(broadcast_id)
        return await real_get(broadcast_id)

    monkeypatch.setattr(svc.db, "get_broadcast", racing_get)
    broadcaster(app).wake()
    await broadcaster(app).idle()
    bc = await real_get(bid)
    assert bc.status == "stopped" and bc.cancelled == 5
    assert api.calls_to("copyMessage") == [] or all(
        c.params["chat_id"] == ADMIN for c in api.calls_to("copyMessage")
    )
    reports = [c for c in api.calls_to("sendMessage", chat_id=ADMIN) if c.ok]
    assert len([c for c in reports if "finished" in str(c.params.get("text"))]) == 0
    assert len([c for c in reports if "stopped" in str(c.params.get("text"))]) == 1


async def test_a_failing_status_costs_neither_the_report_nor_the_next_broadcast(
    app: Any, api: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error other than TelegramError in the status loop (say a /reload broke the words)
    is logged; the broadcast still finishes and reports, and the next queued one runs."""
    svc = app.bot_data["services"]
    broadcaster(app).status_seconds = 0.01
    for uid in range(5000, 5030):
        await seed(svc.db, uid)
    ids = []
    for text in ("first", "second"):
        source = await app.bot.send_message(ADMIN, text)
        bc = await svc.db.create_broadcast(
            admin_id=ADMIN,
            from_chat_id=ADMIN,
            message_id=source.message_id,
            audience="all",
            status_chat_id=ADMIN,
            status_message_id=source.message_id,
        )
        ids.append(bc.broadcast_id)
    broken = 0

    def broken_rate(self: Any, done: int) -> float:
        nonlocal broken
        broken += 1
        raise KeyError("state_running")

    monkeypatch.setattr(broadcast.BroadcastRun, "_rate", broken_rate)
    real_send = app.bot.copy_message.__func__

    async def slow_copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.01)  # long enough for the status loop to run
        return await real_send(self, *args, **kwargs)

    monkeypatch.setattr(type(app.bot), "copy_message", slow_copy)
    broadcaster(app).wake()
    await broadcaster(app).idle()
    assert broken > 0
    for bid in ids:
        bc = await svc.db.get_broadcast(bid)
        assert bc.status == "finished" and bc.sent == 30, bc
    reports = [c for c in api.calls_to("sendMessage", chat_id=ADMIN) if c.ok]
    assert len([c for c in reports if "finished" in str(c.params.get("text"))]) == 2
