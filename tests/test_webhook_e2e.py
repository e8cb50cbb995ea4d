"""End to end in webhook mode: the real ``python -m bot`` with ``WEBHOOK_URL`` set, against the
fake Bot API server on loopback, which POSTs each update to the bot's webhook with the secret
header and sends it again until it gets a 2xx, as Telegram does.

Covers: setWebhook with the URL, the secret, the update types and the connection limit; a new
person's journey (/start, a guide page, Help now, settings, check-in opt-in) delivered by
webhook POSTs; the process SIGKILLed while an update is being handled, started again, and the
update sent again and handled; SIGTERM with an update in flight (it is finished, and the
process exits 0 within 10 s); nothing of the token, the secret, the path or people's words in
the logs; /healthz and /metrics in polling mode with HEALTH_PORT; bad webhook settings stop
the process with one clear line and exit code 2.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fake import TEST_TOKEN, FakeApiServer, FakeTelegram
from tests.test_e2e import ROOT, bot_env, wait_for

SECRET = "e2e-webhook_secret-0123456789ABCDEFGHIJKLMNOPQRSTUV"
HOOK_PATH = "/tg/e2e-path_7Qx"
STOP_WITHIN = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    # Re-send quickly, as Telegram would (only faster), so a restarted bot gets its updates soon.
    with FakeApiServer(
        FakeTelegram(TEST_TOKEN), webhook_retry_delay=0.1, webhook_max_retry_delay=1.0
    ) as srv:
        yield srv


class Bot:
    """One ``python -m bot`` process in webhook mode (started again with :meth:`start`)."""

    def __init__(self, tmp_path: Path, server: FakeApiServer, **extra: str) -> None:
        self.tmp_path = tmp_path
        self.server = server
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{HOOK_PATH}"
        self.extra = extra
        self.outputs: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> subprocess.Popen[str]:
        env = bot_env(
            self.tmp_path,
            TELEGRAM_API_BASE_URL=self.server.base_url.removesuffix("/bot"),
            PYTHONPATH=str(ROOT),
            WEBHOOK_URL=self.url,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(self.port),
            CHECKIN_TICK_SECONDS="1",
            **self.extra,
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=self.tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self.process

    def health(self) -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2, trust_env=False)
        except httpx.HTTPError:
            return None

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError("the bot exited at startup:\n" + self.collect())
            response = self.health()
            return response is not None and response.status_code == 200

        wait_for(ready, timeout=30)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.collect()

    def terminate(self) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            took = time.monotonic() - started
            self.collect()
        return self.process.returncode, took

    def collect(self) -> str:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
        output, _ = self.process.communicate(timeout=30)
        self.outputs.append(output or "")
        return self.output

    @property
    def output(self) -> str:
        return "\n".join(self.outputs)

    def stop_quietly(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.collect()


@pytest.fixture
def bot(tmp_path: Path, server: FakeApiServer) -> Iterator[Bot]:
    running = Bot(tmp_path, server)
    yield running
    running.stop_quietly()


class Person:
    """Someone writing to the bot: each action is an update queued at the fake Telegram, which
    delivers it to the webhook."""

    def __init__(self, api: FakeTelegram, user_id: int) -> None:
        self.api = api
        self.user_id = user_id
        self.user = {"id": user_id, "is_bot": False, "first_name": "Sam", "language_code": "en"}

    def say(self, text: str) -> int:
        return int(self.api.queue_message(self.user_id, text)["update_id"])

    def press(self, label: str) -> int:
        msg = self.api.last_bot_message(self.user_id, with_buttons=True)
        assert msg is not None, "no message with buttons"
        data = str(msg.button(label)["callback_data"])
        return self.press_data(data)

    def press_data(self, data: str) -> int:
        msg = self.api.last_bot_message(self.user_id, with_buttons=True)
        query = self.api.new_callback_query(self.user, msg, data)
        return self.api.queue_update({"callback_query": query})

    def screen(self) -> str:
        msg = self.api.last_bot_message(self.user_id)
        return (msg.text or "") if msg is not None else ""

    def sees(self, text: str, timeout: float = 20.0) -> str:
        wait_for(lambda: text in self.screen(), timeout=timeout)
        return self.screen()

    def buttons(self) -> list[dict[str, Any]]:
        msg = self.api.last_bot_message(self.user_id, with_buttons=True)
        return msg.inline_buttons if msg is not None else []


def label_values(text: str) -> set[str]:
    """Every label value in a /metrics page (where an id would have to be)."""
    return {
        value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for value in sample.labels.values()
    }


def assert_clean(output: str) -> None:
    assert TEST_TOKEN not in output
    assert TEST_TOKEN.split(":")[1] not in output
    assert SECRET not in output
    assert HOOK_PATH not in output
    assert "Traceback" not in output
    assert "Task was destroyed" not in output


@pytest.mark.slow
def test_webhook_journey_and_clean_sigterm(bot: Bot, server: FakeApiServer) -> None:
    api = server.api
    bot.start()
    bot.wait_ready()

    (call,) = api.calls_to("setWebhook")
    assert call.params["url"] == bot.url
    assert call.params["secret_token"] == SECRET
    assert call.params["max_connections"] == 40
    assert set(call.params["allowed_updates"]) == {
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
    }
    assert api.webhook is not None and api.webhook.secret_token == SECRET
    assert api.calls_to("getUpdates") == []  # nothing polls in webhook mode

    person = Person(api, 555)
    person.say("/start")
    person.sees("glad you're here")

    # A guide page from the menu.
    page = next(b for b in person.buttons() if str(b.get("callback_data", "")).startswith("p:"))
    before = person.screen()
    person.press_data(str(page["callback_data"]))
    wait_for(lambda: person.screen() != before)

    person.say("/start")
    person.sees("glad you're here")
    person.press("Help now")
    person.sees("988")

    person.say("/settings")
    person.sees("Your country decides")
    person.press("country")
    person.sees("Where are you?")
    person.press("United Kingdom")
    person.sees("Country set to")

    person.say("/checkin")
    person.sees("Check-ins are off")
    person.press("Turn on daily check-ins")
    person.sees("What time suits you?")
    person.press("Evening")
    person.sees("Daily check-ins are on")

    replies = len(api.bot_messages(555))
    person.say("my private words about tonight")
    wait_for(lambda: len(api.bot_messages(555)) > replies)
    wait_for(lambda: api.webhook_info()["pending_update_count"] == 0)
    deliveries = api.deliveries()
    assert deliveries and all(d.secret_token == SECRET for d in deliveries)
    assert all(d.status == 200 for d in deliveries)
    assert not api.unanswered_callbacks

    metrics = httpx.get(f"http://127.0.0.1:{bot.port}/metrics", timeout=5, trust_env=False)
    assert 'bot_help_now_answers_total{source="button"} 1.0' in metrics.text
    assert "555" not in label_values(metrics.text)

    code, took = bot.terminate()
    assert code == 0, bot.output
    assert took < STOP_WITHIN
    assert_clean(bot.output)
    assert "private words" not in bot.output
    assert "webhook mode: ready" in bot.output
    assert api.webhook is not None  # left set: Telegram keeps updates for the next start


@pytest.mark.slow
def test_killed_while_handling_an_update_it_is_sent_again_and_handled(
    bot: Bot, server: FakeApiServer
) -> None:
    api = server.api
    bot.start()
    bot.wait_ready()
    person = Person(api, 777)
    person.say("/start")
    person.sees("glad you're here")

    # The next reply hangs at the fake Telegram: the bot is in the middle of handling it.
    hanging = {"left": 1}

    def latency(method: str, params: Any) -> float:
        if method == "sendMessage" and params.get("chat_id") == 777 and hanging["left"]:
            hanging["left"] -= 1
            return 60.0
        return 0.0

    api.latency = latency
    sends_before = len(api.calls_to("sendMessage", chat_id=777))
    update_id = person.say("/helpnow")
    wait_for(lambda: len(api.calls_to("sendMessage", chat_id=777)) > sends_before)
    bot.kill()  # SIGKILL: no goodbye, no 200 for that update

    bot.start()
    bot.wait_ready()
    person.sees("988", timeout=30)  # the update came again and was handled this time
    attempts = api.deliveries(update_id)
    assert len(attempts) >= 2
    assert not attempts[0].ok
    assert attempts[-1].status == 200
    assert [d.ok for d in attempts].count(True) == 1
    code, took = bot.terminate()
    assert code == 0, bot.output
    assert took < STOP_WITHIN
    assert_clean(bot.output)


@pytest.mark.slow
def test_sigterm_finishes_the_update_in_flight_and_exits_0_in_time(
    bot: Bot, server: FakeApiServer
) -> None:
    api = server.api
    bot.start()
    bot.wait_ready()
    person = Person(api, 888)
    person.say("/start")
    person.sees("glad you're here")

    api.latency = lambda method, params: 1.5 if method == "sendMessage" else 0.0
    sends_before = len(api.calls_to("sendMessage", chat_id=888))
    update_id = person.say("/helpnow")
    wait_for(lambda: len(api.calls_to("sendMessage", chat_id=888)) > sends_before)
    code, took = bot.terminate()
    assert code == 0, bot.output
    assert took < STOP_WITHIN
    # Finished, not dropped: the answer went out and Telegram got its 200.
    assert "988" in person.screen()
    assert [d.status for d in api.deliveries(update_id)] == [200]
    assert_clean(bot.output)


@pytest.mark.slow
def test_unreachable_telegram_at_startup_keeps_trying_and_stops_cleanly(tmp_path: Path) -> None:
    """Nothing listens on port 9: the bot stays up, says "not started", and stops on SIGTERM."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=bot_env(
            tmp_path,
            TELEGRAM_API_BASE_URL="http://127.0.0.1:9",
            PYTHONPATH=str(ROOT),
            WEBHOOK_URL=f"http://127.0.0.1:{port}{HOOK_PATH}",
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_PORT=str(port),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def answers() -> bool:
            assert process.poll() is None, "the bot gave up instead of retrying"
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False)
            except httpx.HTTPError:
                return False
            return True

        wait_for(answers, timeout=30)
        time.sleep(2)
        assert process.poll() is None, "the bot gave up instead of retrying"
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False)
        assert response.status_code == 503
        assert response.json()["reason"] == "not started"
        refused = httpx.post(
            f"http://127.0.0.1:{port}{HOOK_PATH}",
            json={"update_id": 1},
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            trust_env=False,
        )
        assert refused.status_code == 503  # not taken: Telegram would send it again
    finally:
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        took = time.monotonic() - started
    assert process.returncode == 0, output
    assert took < STOP_WITHIN
    assert "could not connect to Telegram" in output
    assert_clean(output)


@pytest.mark.slow
def test_polling_with_health_port_serves_healthz_and_metrics(
    tmp_path: Path, server: FakeApiServer
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=bot_env(
            tmp_path,
            TELEGRAM_API_BASE_URL=server.base_url.removesuffix("/bot"),
            PYTHONPATH=str(ROOT),
            HEALTH_PORT=str(port),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError("the bot exited at startup")
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False)
            except httpx.HTTPError:
                return False
            return response.status_code == 200

        wait_for(healthy, timeout=30)
        body = httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False).json()
        assert body["status"] == "ok" and body["database"] == "ok" and body["mode"] == "polling"
        server.api.queue_message(556, "/helpnow")
        wait_for(lambda: bool(server.api.bot_messages(556)))
        wait_for(
            lambda: 'bot_help_now_answers_total{source="command"} 1.0'
            in httpx.get(f"http://127.0.0.1:{port}/metrics", trust_env=False).text
        )
        # Polling asks for the same update types as the webhook.
        polls = server.api.calls_to("getUpdates")
        assert polls and set(polls[-1].params["allowed_updates"]) == {
            "message",
            "edited_message",
            "callback_query",
            "my_chat_member",
        }
    finally:
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        took = time.monotonic() - started
    assert process.returncode == 0, output
    assert took < STOP_WITHIN
    assert TEST_TOKEN not in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WEBHOOK_URL": "https://help.example.org/tg/x"}, "WEBHOOK_SECRET is not set"),
        (
            {"WEBHOOK_URL": "https://help.example.org/tg/x", "WEBHOOK_SECRET": "tooshort-123"},
            "WEBHOOK_SECRET is too weak",
        ),
        (
            {"WEBHOOK_URL": "http://help.example.org/tg/x", "WEBHOOK_SECRET": SECRET},
            "WEBHOOK_URL must use https://",
        ),
    ],
)
def test_bad_webhook_settings_stop_with_one_clear_line(
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
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "tooshort-123" not in result.stderr + result.stdout
    assert SECRET not in result.stderr + result.stdout
