"""Failing loudly and clearly: the real ``python -m bot`` process, as a new operator meets it.

* A damaged, truncated or foreign database file stops the bot with one line and exit 1 (it
  used to print a traceback and hang); damage that only a check finds is caught by
  ``PRAGMA quick_check`` at start.
* An impossible ``DATABASE_PATH`` is exit 2 with one line before the bot talks to Telegram.
* The running bot names its database, keeps the files private, holds the database's lock:
  a backup works meanwhile, a restore is refused until it stopped.
* Telegram unreachable at start: one line saying it keeps retrying and how often.
* An outage of the Bot API mid-run: one line when it starts, one when it ends, no traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake import TEST_TOKEN, FakeApiServer, FakeTelegram, error_response
from tests.test_operations import damage, seed

ROOT = Path(__file__).resolve().parent.parent


def bot_env(db: Path | str, api_root: str = "http://127.0.0.1:9", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env.pop("ADMIN_IDS", None)
    env.update(
        BOT_TOKEN=TEST_TOKEN,
        DATABASE_PATH=str(db),
        TELEGRAM_API_BASE_URL=api_root,
        LOG_LEVEL="INFO",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def bot_command(
    tmp_path: Path, db: Path | str, *argv: str, api_root: str = "http://127.0.0.1:9"
) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGV`` to the end (60 s at most: a hang fails the test)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *argv],
        cwd=tmp_path,
        env=bot_env(db, api_root),
        capture_output=True,
        text=True,
        timeout=60,
    )


def only_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line the process printed (no traceback, no token)."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output and TEST_TOKEN not in output, output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


class Bot:
    """A running ``python -m bot`` whose output is collected line by line."""

    def __init__(self, tmp_path: Path, db: Path, api_root: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=tmp_path,
            env=bot_env(db, api_root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(5)
        self._reader.join(5)
        return code


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(FakeTelegram(TEST_TOKEN)) as srv:
        yield srv


def root_url(server: FakeApiServer) -> str:
    return server.base_url.removesuffix("/bot")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- a damaged database -----------------------------------------------------------------------


@pytest.mark.parametrize("case", ["not a database", "truncated", "damaged inside"])
def test_a_damaged_database_stops_the_bot_with_one_line(
    tmp_path: Path, server: FakeApiServer, case: str
) -> None:
    db = tmp_path / "bot.sqlite3"
    if case == "not a database":
        db.write_bytes(os.urandom(20_000))
    else:
        seed(db, {n: ("en", None) for n in range(1, 4000)})
        if case == "truncated":  # e.g. a copy cut short by a full disk
            with contextlib.closing(sqlite3.connect(db)) as conn:
                conn.execute("PRAGMA journal_mode=DELETE")
            db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
        else:  # opens, migrates, answers queries on most rows: only a check finds it
            damage(db)
    result = bot_command(tmp_path, db, api_root=root_url(server))
    assert result.returncode == 1
    line = only_line(result)
    assert f"database {db} is damaged" in line
    assert "python -m bot restore PATH" in line
    assert server.api.calls == []  # stopped before talking to Telegram


# --- an impossible location -------------------------------------------------------------------


@pytest.mark.parametrize("case", ["under a file", "a folder", "impossible folder", "read-only"])
def test_an_impossible_database_path_is_exit_2_before_telegram(
    tmp_path: Path, server: FakeApiServer, case: str
) -> None:
    if case == "read-only" and os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    db = {
        "under a file": blocker / "bot.sqlite3",
        "a folder": tmp_path,
        "impossible folder": Path("/proc/recovery-help-bot/bot.sqlite3"),
        "read-only": locked / "bot.sqlite3",
    }[case]
    result = bot_command(tmp_path, db, api_root=root_url(server))
    assert result.returncode == 2
    line = only_line(result)
    assert line.startswith(f"recovery-help-bot: DATABASE_PATH {db}")
    assert server.api.calls == []  # before getMe: no wait for Telegram to find out


# --- a running bot ----------------------------------------------------------------------------


def test_a_running_bot_names_its_database_keeps_it_private_and_holds_its_lock(
    tmp_path: Path, server: FakeApiServer
) -> None:
    api = server.api
    db = tmp_path / "state" / "bot.sqlite3"
    old_umask = os.umask(0o022)
    try:
        bot = Bot(tmp_path, db, root_url(server))
    finally:
        os.umask(old_umask)
    backup = tmp_path / "backup.sqlite3"
    try:
        wait_for(lambda: api.commands or bot.process.poll() is not None, what="startup")
        assert bot.process.poll() is None, bot.output()
        api.queue_message(555, "/start")
        wait_for(lambda: api.bot_messages(555), what="the reply")
        assert f"database: {db} (new)" in bot.output()
        assert mode(db.parent) == 0o700
        assert {p.name: mode(p) for p in db.parent.iterdir()} == {
            "bot.sqlite3": 0o600,
            "bot.sqlite3-wal": 0o600,
            "bot.sqlite3-shm": 0o600,
            "bot.sqlite3.lock": 0o600,
        }

        made = bot_command(tmp_path, db, "backup", str(backup))
        assert made.returncode == 0, made.stderr
        refused = bot_command(tmp_path, db, "restore", str(backup))
        assert refused.returncode == 1
        assert "restore refused: a bot is running on" in only_line(refused)
        api.queue_message(555, "/helpnow")  # the bot was not disturbed
        wait_for(lambda: len(api.bot_messages(555)) >= 2, what="Help now")
    finally:
        assert bot.stop() == 0, bot.output()
    restored = bot_command(tmp_path, db, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT user_id FROM users").fetchall() == [(555,)]


# --- Telegram unreachable ---------------------------------------------------------------------


def test_telegram_unreachable_at_start_says_once_that_it_keeps_retrying(tmp_path: Path) -> None:
    bot = Bot(tmp_path, tmp_path / "bot.sqlite3", "http://127.0.0.1:9")  # nothing listens
    try:
        wait_for(lambda: any("cannot reach Telegram" in line for line in bot.lines), 20)
        time.sleep(4)  # several more attempts
        assert bot.process.poll() is None, bot.output()
    finally:
        assert bot.stop() == 0, bot.output()
    output = bot.output()
    retry = [line for line in bot.lines if "Telegram" in line and "retrying" in line]
    assert len(retry) == 1, output
    assert "first after 1.5 s" in retry[0] and "at least every 30 s" in retry[0]
    assert "Traceback" not in output and TEST_TOKEN not in output


CHANNEL_POST = {
    "message_id": 1,
    "date": 1_700_000_000,
    "chat": {"id": -100_777, "type": "channel", "title": "News"},
    "text": "no answer expected",
}


class Outage:
    """Make the fake Bot API answer 502 Bad Gateway (as Telegram does when it is down) for
    ``methods`` while :attr:`down` is set; counts the requests it failed."""

    def __init__(self, api: FakeTelegram) -> None:
        self.down: set[str] = set()
        self.failed = 0
        real = api.handle_async

        async def handle_async(method: str, params: Any, *, token: str | None = None) -> Any:
            if method in self.down:
                self.failed += 1
                return error_response(502, "Bad Gateway")
            return await real(method, params, token=token)

        api.handle_async = handle_async  # type: ignore[method-assign]


def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(
    tmp_path: Path, server: FakeApiServer
) -> None:
    api = server.api
    outage = Outage(api)
    outage.down = {"getMe"}  # down at start
    bot = Bot(tmp_path, tmp_path / "bot.sqlite3", root_url(server))
    try:
        wait_for(lambda: outage.failed >= 2, what="two failed starts")
        outage.down = set()
        wait_for(lambda: api.commands, what="startup")
        api.queue_message(555, "/start")
        wait_for(lambda: api.bot_messages(555), what="the first reply")
        start_lines = len(bot.lines)

        outage.failed = 0
        outage.down = {"getUpdates"}  # the Bot API goes away mid-run
        api.queue_update({"channel_post": CHANNEL_POST})  # ends the long poll waiting now
        wait_for(lambda: outage.failed >= 4, 40, what="four failed polls")
        outage.down = set()
        api.queue_message(555, "/helpnow")
        wait_for(lambda: len(api.bot_messages(555)) >= 2, 40, what="Help now after the outage")
        during = bot.lines[start_lines:]
    finally:
        assert bot.stop() == 0, bot.output()
    output = bot.output()
    assert "Traceback" not in output and TEST_TOKEN not in output, output
    startup = [line for line in bot.lines[:start_lines] if "Telegram" in line]
    assert len([x for x in startup if "cannot reach Telegram (HTTP 502)" in x]) == 1
    assert len([x for x in startup if "Telegram answers now after" in x]) == 1
    assert [x.split(": ", 1)[1] for x in during if "Telegram" in x and "bot.connectivity" in x] == [
        "lost contact with Telegram (HTTP 502): retrying, at least every 30 s; "
        "one line follows when it answers again",
        next(x.split(": ", 1)[1] for x in during if "answers again after" in x),
    ]
    assert len(during) <= 3, during  # the two lines (and nothing per failed attempt)
