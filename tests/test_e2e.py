"""End to end: the real ``python -m bot`` process against a fake Bot API server on loopback.

Covers what only a real process shows: startup (command list), long polling, a /start round
trip, Help now, a clean exit 0 on SIGTERM, exit 2 with one clear line for bad configuration,
and the token absent from everything the process printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fake import TEST_TOKEN, FakeApiServer, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent


def bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env.update(
        BOT_TOKEN=TEST_TOKEN,
        DATABASE_PATH=str(tmp_path / "data" / "bot.sqlite3"),
        LOG_LEVEL="DEBUG",  # the most verbose logs must still not hold the token
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the bot")


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(FakeTelegram(TEST_TOKEN)) as srv:
        yield srv


def start_bot(tmp_path: Path, server: FakeApiServer) -> subprocess.Popen[str]:
    root_url = server.base_url.removesuffix("/bot")
    return subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # not the repo: nothing may depend on the working directory
        env=bot_env(tmp_path, TELEGRAM_API_BASE_URL=root_url, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_real_process_round_trip_and_clean_sigterm(tmp_path: Path, server: FakeApiServer) -> None:
    api = server.api
    process = start_bot(tmp_path, server)
    try:
        wait_for(lambda: bool(api.commands) or process.poll() is not None)
        assert process.poll() is None, "the bot exited at startup"
        api.queue_message(555, "/start")
        wait_for(lambda: bool(api.bot_messages(555)))
        assert "Main menu" not in (api.bot_messages(555)[-1].text or "")
        assert "glad you're here" in (api.bot_messages(555)[-1].text or "")

        api.queue_message(555, "/helpnow")
        wait_for(lambda: len(api.bot_messages(555)) >= 2)
        assert "988" in (api.bot_messages(555)[-1].text or "")

        api.queue_message(555, "my private words about tonight")
        wait_for(lambda: len(api.bot_messages(555)) >= 3)
        assert (tmp_path / "data" / "bot.sqlite3").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert TEST_TOKEN not in output
    assert TEST_TOKEN.split(":")[1] not in output
    assert "Traceback" not in output
    assert "private words" not in output  # no message text in the logs, even at DEBUG


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BOT_TOKEN": ""}, "BOT_TOKEN is not set"),
        ({"BOT_TOKEN": "1234:not-a-token"}, "BOT_TOKEN is malformed"),
        ({"CONTENT_DIR": "/nonexistent/content"}, "hotlines.yaml: file is missing"),
    ],
)
def test_bad_configuration_stops_with_one_clear_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=bot_env(tmp_path, PYTHONPATH=str(ROOT), **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "1234:not-a-token" not in result.stderr + result.stdout


def test_unreachable_telegram_at_startup_keeps_trying_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    """Nothing listens on port 9: the bot must stay up (retrying), then stop on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=bot_env(tmp_path, TELEGRAM_API_BASE_URL="http://127.0.0.1:9", PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(4)
    assert process.poll() is None, "the bot gave up instead of retrying"
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert TEST_TOKEN not in output
    assert "Task was destroyed" not in output


def test_check_command_reports_content_and_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env=bot_env(tmp_path, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "content: ok (en, es" in result.stdout
    assert "database: ok" in result.stdout and "schema version" in result.stdout


def test_an_unknown_command_is_refused_with_usage(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "frobnicate"],
        cwd=tmp_path,
        env=bot_env(tmp_path, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr and "frobnicate" in result.stderr
