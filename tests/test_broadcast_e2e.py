"""Broadcasts end to end: the real ``python -m bot`` process against the fake Bot API server,
which answers 10% of copies with 429 (retry after 1 s), 5% with 500, 3% of people have blocked
the bot (403), and answers are delayed by up to 0.2 s.

The admin drives the flow with queued updates, exactly as from Telegram. Then what the design
guarantees, whatever the faults drew (:func:`check_outcome`): every recipient has exactly one
recorded outcome; sent ones got a copy, exactly once; blocked ones are the people who blocked
the bot, marked, with nothing; failed ones only people whose every attempt failed (a person
whose four attempts all drew a 500 is rightly failed, so a count of failures is never
asserted). And again with the bot killed (SIGKILL) in the middle and restarted: it resumes
from the rows left, a second copy only for a copy in flight at the kill, nobody gets more than
two copies, and no more people than the documented bound get two.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.broadcast import concurrency_for
from bot.storage.sqlite import SqliteStorage
from tests.fake import (
    TEST_TOKEN,
    Call,
    FakeApiServer,
    FakeTelegram,
    FaultPlan,
    Msg,
    error_response,
)

ROOT = Path(__file__).resolve().parent.parent
ADMIN = 42
USERS = range(10_000, 11_000)  # 1,000 people (each 429 pauses all sending for 1 s)
RATE = 1000.0  # the paid-broadcast ceiling; the fake's 429s pause it for a second each time
ALWAYS_FAILS = 10_007  # every attempt to reach this person draws a 500: rightly marked failed
ADMIN_USER = {"id": ADMIN, "is_bot": False, "first_name": "Admin", "language_code": "en"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[FakeTelegram, FaultPlan, FakeApiServer]]:
    """The fake Telegram with its faults (none on the admin's own chat; every copy to
    ``ALWAYS_FAILS`` answers 500), served over HTTP."""
    api = FakeTelegram(TEST_TOKEN)
    plan = api.fault_plan(
        rate_429=0.10,
        rate_500=0.05,
        rate_403=0.03,
        delay=(0.0, 0.2),
        seed=7,
        retry_after=1,
        methods={"copyMessage"},
        install=False,
    )
    api.fault = lambda method, params: (
        None
        if params.get("chat_id") == ADMIN
        else error_response(500, "Internal Server Error")
        if params.get("chat_id") == ALWAYS_FAILS and method == "copyMessage"
        else plan(method, params)
    )
    api.latency = lambda method, params: (
        0.0 if method != "copyMessage" else plan.latency(method, params)
    )
    with FakeApiServer(api) as server:
        yield api, plan, server
    assert not api.problems(), api.problems()


def seed_users(path: Path) -> None:
    async def run() -> None:
        storage = await SqliteStorage.open(path)  # creates the schema
        await storage.close()

    asyncio.run(run())
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executemany(
            "INSERT INTO users (user_id, language, created_on, last_active_on) "
            "VALUES (?, 'en', '2026-01-01', '2026-01-01')",
            [(uid,) for uid in USERS],
        )


def start_bot(tmp_path: Path, server: FakeApiServer, log_name: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env.update(
        BOT_TOKEN=TEST_TOKEN,
        TELEGRAM_API_BASE_URL=server.base_url.removesuffix("/bot"),
        DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
        ADMIN_IDS=str(ADMIN),
        BROADCAST_RATE=str(RATE),
        LOG_LEVEL="INFO",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    log = (tmp_path / log_name).open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, stdout=log, stderr=log
    )


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def press(api: FakeTelegram, label: str) -> None:
    """The admin presses ``label`` on the latest bot message that has it."""

    def find() -> tuple[Msg, str] | None:
        msg = api.last_bot_message(ADMIN, with_buttons=True)
        if msg is None:
            return None
        for b in msg.inline_buttons:
            if label.casefold() in str(b.get("text", "")).casefold():
                return msg, str(b["callback_data"])
        return None

    msg, data = wait_for(find, what=f"a button {label!r}")
    api.queue_update({"callback_query": api.new_callback_query(ADMIN_USER, msg, data)})


def admin_sends_a_broadcast(api: FakeTelegram) -> None:
    api.queue_message(ADMIN, "/broadcast")
    wait_for(lambda: "New broadcast" in _last_text(api), what="the broadcast prompt")
    api.queue_message(ADMIN, "Updated list of meetings: see the guide")
    press(api, "Everyone")
    press(api, "Send")


def _last_text(api: FakeTelegram) -> str:
    msg = api.last_bot_message(ADMIN)
    return (msg.text or "") if msg else ""


def db_rows(tmp_path: Path, sql: str, *params: Any) -> list[Any]:
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.sqlite3", timeout=5)) as db:
        return db.execute(sql, params).fetchall()


def db_row(tmp_path: Path, sql: str, *params: Any) -> Any:
    rows = db_rows(tmp_path, sql, *params)
    return rows[0] if rows else None


def broadcast_status(tmp_path: Path) -> str | None:
    row = db_row(tmp_path, "SELECT status FROM broadcasts ORDER BY broadcast_id DESC LIMIT 1")
    return row[0] if row else None


def done_share(tmp_path: Path) -> float:
    row = db_row(
        tmp_path,
        "SELECT sent + blocked + failed, total FROM broadcasts ORDER BY broadcast_id DESC LIMIT 1",
    )
    return row[0] / row[1] if row and row[1] else 0.0


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def check_outcome(
    tmp_path: Path, api: FakeTelegram, plan: FaultPlan, *, restarted_at: float | None = None
) -> int:
    """What the design guarantees, whatever the random faults drew; returns how many people got
    a second copy.

    * every recipient has exactly one recorded outcome (sent, blocked or failed), none pending;
    * blocked: exactly the people who blocked the bot, marked so, and they got nothing;
    * sent: they got at least one copy;
    * failed: only people whose every attempt failed (since the restart, when there was one: a
      copy in flight at the SIGKILL may have arrived before the restarted bot failed them);
    * nobody gets a copy more than twice, and a second copy only after a SIGKILL, only for a
      copy that was in flight then (one that arrived before the restart), and for no more
      people than the in-flight bound (checked by the caller).
    """
    outcomes = dict(db_rows(tmp_path, "SELECT user_id, state FROM broadcast_recipients"))
    assert set(outcomes) == {*USERS, ADMIN}
    assert set(outcomes.values()) <= {"sent", "blocked", "failed"}, Counter(outcomes.values())
    assert outcomes[ADMIN] == "sent"
    counts = db_row(tmp_path, "SELECT total, sent, blocked, failed, cancelled FROM broadcasts")
    states = Counter(outcomes.values())
    assert counts == (len(outcomes), states["sent"], states["blocked"], states["failed"], 0)

    blocked = {uid for uid in USERS if plan.is_blocked(uid)}
    assert blocked and {uid for uid in USERS if outcomes[uid] == "blocked"} == blocked
    marked = {
        row[0] for row in db_rows(tmp_path, "SELECT user_id FROM users WHERE blocked_at NOTNULL")
    }
    assert marked == blocked

    attempts: dict[int, list[Call]] = defaultdict(list)
    for call in api.calls_to("copyMessage"):
        attempts[int(call.params["chat_id"])].append(call)
    twice = 0
    for uid in USERS:
        copies = api.delivered[uid]
        state = outcomes[uid]
        tried = [c.status for c in attempts[uid]]
        if state == "blocked":
            assert copies == 0, (uid, tried)
            continue
        if state == "sent":
            assert copies >= 1, (uid, tried)
        else:
            # Failed in the last run that tried them (the first one, if it recorded them).
            since = [c for c in attempts[uid] if restarted_at is None or c.time >= restarted_at]
            last_run = since or attempts[uid]
            assert last_run and not any(c.ok for c in last_run), (uid, tried)
        extra = copies - (1 if state == "sent" else 0)
        assert 0 <= extra <= 1 and copies <= 2, (uid, state, tried)
        if extra:
            assert restarted_at is not None, f"{uid} got a second copy without a restart"
            assert any(c.ok and c.time < restarted_at for c in attempts[uid]), (uid, tried)
            twice += 1
    assert plan.injected["429"] > 0 and plan.injected["500"] > 0
    return twice


def test_broadcast_reaches_everyone_exactly_once_despite_faults(
    tmp_path: Path, world: tuple[FakeTelegram, FaultPlan, FakeApiServer]
) -> None:
    api, plan, server = world
    seed_users(tmp_path / "bot.sqlite3")
    bot = start_bot(tmp_path, server, "bot.log")
    try:
        admin_sends_a_broadcast(api)
        wait_for(lambda: broadcast_status(tmp_path) == "finished", 90, "the broadcast to end")
        wait_for(lambda: "finished" in _last_text(api), 10, "the report")
    finally:
        stop(bot)
    assert check_outcome(tmp_path, api, plan) == 0
    assert db_row(
        tmp_path, "SELECT state FROM broadcast_recipients WHERE user_id = ?", ALWAYS_FAILS
    ) == ("failed",)
    assert TEST_TOKEN not in (tmp_path / "bot.log").read_text()


def test_broadcast_resumes_after_sigkill_within_the_duplicate_bound(
    tmp_path: Path, world: tuple[FakeTelegram, FaultPlan, FakeApiServer]
) -> None:
    api, plan, server = world
    seed_users(tmp_path / "bot.sqlite3")
    first = start_bot(tmp_path, server, "first.log")
    try:
        admin_sends_a_broadcast(api)
        wait_for(lambda: done_share(tmp_path) > 0.3, 40, "the broadcast to be under way")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    assert broadcast_status(tmp_path) == "running"
    assert db_row(tmp_path, "SELECT COUNT(*) FROM broadcast_recipients WHERE state='pending'") > (
        0,
    )

    restarted_at = time.monotonic()
    with api.expect_errors("query is too old", "message is not modified"):  # replays after restart
        second = start_bot(tmp_path, server, "second.log")
        try:
            wait_for(lambda: broadcast_status(tmp_path) == "finished", 90, "the resumed end")
            wait_for(lambda: "finished" in _last_text(api), 10, "the report")
        finally:
            stop(second)
    twice = check_outcome(tmp_path, api, plan, restarted_at=restarted_at)
    assert twice <= concurrency_for(RATE)
    print(f"\npeople with two copies after SIGKILL: {twice} (bound {concurrency_for(RATE)})")
