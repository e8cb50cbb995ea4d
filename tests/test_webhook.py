"""The webhook server in process: the Starlette app of ``bot/webhook.py`` driven through
``httpx.ASGITransport``, on top of the bot's application and the fake Telegram.

Covers the secret check (403, nothing processed), bad bodies (400/413), an update answered 200
only once it was handled, refusal while stopping (503), the processing timeout, ``/healthz``
(ok, the database down, not started, shutting down, a stalled event loop), ``/metrics`` (the
series, and no id or text in them), ``set_webhook``'s arguments and the metrics counted by the
check-in scheduler, broadcasts and the rate limiter.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import bot.webhook as webhook
from bot.metrics import Metrics, update_kind
from bot.services import Services, services_of
from bot.webhook import SECRET_HEADER, Health, WebhookEndpoint, create_app
from handlers import ALLOWED_UPDATES
from tests.fake import FakeTelegram, SimUser, command_entities

PATH = "/tg/hook_path-123"
SECRET = "webhook-secret_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
PERSON = 987_654_321  # distinctive, so that it can be looked for in /metrics


@dataclass
class Web:
    client: httpx.AsyncClient
    health: Health
    app: Any
    api: FakeTelegram
    person: SimUser

    @property
    def metrics(self) -> Metrics:
        return services_of(self.app).metrics

    def update(self, text: str) -> dict[str, Any]:
        msg = self.api.user_message(
            self.person.user, PERSON, text=text, entities=command_entities(text)
        )
        return {"update_id": self.api.next_update_id(), "message": msg.raw}

    def press(self, label: str) -> dict[str, Any]:
        msg = self.api.last_bot_message(PERSON, with_buttons=True)
        assert msg is not None
        data = str(msg.button(label)["callback_data"])
        query = self.api.new_callback_query(self.person.user, msg, data)
        return {"update_id": self.api.next_update_id(), "callback_query": query}

    async def post(
        self, body: Any, *, secret: str | None = SECRET, raw: bytes | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        content = raw if raw is not None else json.dumps(body).encode()
        return await self.client.post(PATH, content=content, headers=headers, **kw)

    def bot_texts(self) -> list[str]:
        return [m.text or "" for m in self.api.bot_messages(PERSON)]


@pytest.fixture
async def web(app: Any, api: FakeTelegram) -> AsyncIterator[Web]:
    health = Health(app, "webhook")
    await health.start()
    health.webhook_set = True
    asgi = create_app(app, health, WebhookEndpoint(PATH, SECRET))
    person = SimUser(
        app, api, PERSON, first_name="Robin", username="robin_private_name", language_code="en"
    )
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        yield Web(client, health, app, api, person)
    await health.stop()


# --- the secret ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret", [None, "", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper(), b"\xe9" * 40]
)
async def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_processed(
    web: Web, secret: str | bytes | None
) -> None:
    calls_before = len(web.api.calls)
    headers = {} if secret is None else {SECRET_HEADER: secret}
    response = await web.client.post(
        PATH, content=json.dumps(web.update("/start")).encode(), headers=headers
    )
    assert response.status_code == 403
    assert response.content == b""
    assert len(web.api.calls) == calls_before  # nothing was sent, nothing recorded
    assert web.bot_texts() == []
    assert web.metrics.value("bot_updates_total", kind="command") == 0
    assert web.metrics.value("bot_webhook_requests_total", status="403") == 1


async def test_the_secret_is_checked_before_the_body_is_read(web: Web) -> None:
    response = await web.post(None, secret="wrong", raw=b"x" * (2 * webhook.MAX_BODY))
    assert response.status_code == 403


# --- bad bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",
        b"[1, 2]",
        b'"update"',
        b"{}",
        b'{"update_id": "12"}',
        b'{"update_id": true}',
        b'{"update_id": 5, "message": "text instead of an object"}',
    ],
)
async def test_a_body_that_is_not_an_update_is_a_400(web: Web, raw: bytes) -> None:
    response = await web.post(None, raw=raw)
    assert response.status_code == 400
    assert web.bot_texts() == []


async def test_a_body_over_the_limit_is_a_413(web: Web) -> None:
    padding = "x" * webhook.MAX_BODY
    response = await web.post({"update_id": 1, "padding": padding})
    assert response.status_code == 413
    assert web.metrics.value("bot_webhook_requests_total", status="413") == 1


async def test_a_chunked_body_over_the_limit_is_a_413(web: Web) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * (webhook.MAX_BODY // 10)

    response = await web.client.post(
        PATH, content=chunks(), headers={SECRET_HEADER: SECRET}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


# --- handling -----------------------------------------------------------------------------------


async def test_an_update_is_answered_200_only_once_it_was_handled(web: Web) -> None:
    web.api.latency = lambda method, params: 0.3 if method == "sendMessage" else 0.0
    started = time.monotonic()
    response = await web.post(web.update("/start"))
    took = time.monotonic() - started
    assert response.status_code == 200
    assert took >= 0.3
    # The reply was already sent when the 200 came back: nothing left to wait for.
    assert any("glad you're here" in text for text in web.bot_texts())
    assert web.metrics.value("bot_webhook_requests_total", status="200") == 1


async def test_a_journey_over_the_webhook(web: Web) -> None:
    assert (await web.post(web.update("/start"))).status_code == 200
    assert (await web.post(web.press("Help now"))).status_code == 200
    assert "988" in web.bot_texts()[-1]
    assert (await web.post(web.update("/helpnow"))).status_code == 200
    assert (await web.post(web.update("i want to kill myself"))).status_code == 200
    assert "988" in web.bot_texts()[-1]
    assert not web.api.unanswered_callbacks


async def test_updates_are_refused_503_while_stopping_and_not_processed(web: Web) -> None:
    web.health.stopping = True
    response = await web.post(web.update("/start"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert web.bot_texts() == []


async def test_an_update_not_handled_in_time_is_not_acknowledged(
    app: Any, api: FakeTelegram, web: Web
) -> None:
    asgi = create_app(app, web.health, WebhookEndpoint(PATH, SECRET), process_timeout=0.2)
    api.latency = lambda method, params: 2.0 if method == "sendMessage" else 0.0
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        response = await client.post(
            PATH,
            content=json.dumps(web.update("/start")).encode(),
            headers={SECRET_HEADER: SECRET},
        )
    assert response.status_code == 503  # Telegram sends it again
    assert web.metrics.value("bot_errors_total", where="webhook") == 1
    api.latency = None


async def test_a_failing_handler_still_answers_200_and_the_person_hears_back(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.menu

    async def broken(update: Any, context: Any) -> None:
        raise RuntimeError("boom")

    (start,) = [
        h
        for group in web.app.handlers.values()
        for h in group
        if getattr(h, "callback", None) is handlers.menu.start
    ]
    monkeypatch.setattr(start, "callback", broken)
    with web.api.expect_errors("boom"):
        response = await web.post(web.update("/start"))
    assert response.status_code == 200  # handled: re-sending would fail the same way
    assert web.metrics.value("bot_errors_total", where="update") == 1
    assert web.bot_texts(), "the error handler told the person"


# --- /healthz -----------------------------------------------------------------------------------


async def test_healthz_is_ok_with_the_database(web: Web) -> None:
    response = await web.client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["mode"] == "webhook"


async def test_healthz_is_ok_with_the_database_down_and_help_now_still_answers(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = services_of(web.app).db

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk I/O error")

    for name in ("schema_version", "seen", "get_user"):
        monkeypatch.setattr(storage, name, down)
    response = await web.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == response.json() | {"status": "ok", "database": "down"}
    assert (await web.post(web.update("/helpnow"))).status_code == 200
    assert "988" in web.bot_texts()[-1]


async def test_healthz_is_503_before_the_webhook_is_set_and_while_stopping(web: Web) -> None:
    web.health.webhook_set = False
    response = await web.client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["reason"] == "not started"
    web.health.webhook_set = True
    assert (await web.client.get("/healthz")).status_code == 200
    web.health.stopping = True
    response = await web.client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "reason": "shutting down",
        "mode": "webhook",
    }


async def test_healthz_is_503_when_the_event_loop_stalls(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook, "STALL_AFTER", 0.3)
    await asyncio.sleep(webhook.LAG_INTERVAL * 2)  # the lag task has measured once
    assert (await web.client.get("/healthz")).status_code == 200
    time.sleep(0.8)  # noqa: ASYNC251 - something blocks the event loop
    response = await web.client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["reason"] == "event loop stalled"
    await asyncio.sleep(webhook.LAG_INTERVAL * 3)  # the loop keeps up again
    assert (await web.client.get("/healthz")).status_code == 200


async def test_healthz_is_503_when_the_application_is_not_running(app: Any) -> None:
    health = Health(app, "polling")  # no updater running in tests
    transport = httpx.ASGITransport(app=create_app(app, health))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        response = await client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["reason"] == "not started"
        # Without a webhook endpoint nothing takes POSTs.
        assert (await client.post(PATH, content=b"{}")).status_code in (404, 405)


# --- /metrics -----------------------------------------------------------------------------------


async def test_metrics_count_without_ids_or_text(web: Web) -> None:
    assert (await web.post(web.update("/start"))).status_code == 200
    assert (await web.post(web.press("Help now"))).status_code == 200
    for update in (
        web.update("my secret words about tonight"),
        web.update("/helpnow"),
        web.update("i want to kill myself"),
    ):
        assert (await web.post(update)).status_code == 200
    response = await web.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in (
        'bot_updates_total{kind="command"} 2.0',
        'bot_updates_total{kind="message"} 2.0',
        'bot_updates_total{kind="callback_query"} 1.0',
        'bot_help_now_answers_total{source="command"} 1.0',
        'bot_help_now_answers_total{source="button"} 1.0',
        'bot_help_now_answers_total{source="crisis"} 1.0',
        'bot_crisis_matches_total{category="suicide"} 1.0',
        "bot_help_now_latency_seconds_count 3.0",
        'bot_webhook_requests_total{status="200"} 5.0',
        'bot_checkins_total{outcome="sent"} 0.0',
        'bot_broadcast_messages_total{outcome="sent"} 0.0',
        "bot_telegram_429_total 0.0",
        'bot_telegram_retries_total{reason="network"} 0.0',
        'bot_errors_total{where="update"} 0.0',
        "bot_event_loop_lag_seconds",
    ):
        assert line in text, line
    assert float(_sample(text, 'bot_replies_total{method="sendMessage"}')) >= 4
    labels = {
        value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for value in sample.labels.values()
    }
    assert str(PERSON) not in labels
    status_codes = {"200", "400", "403", "413", "503"}
    assert all(not value.isdigit() or value in status_codes for value in labels)
    for private in (
        "Robin",
        "robin_private_name",
        "secret words",
        "kill",
        "myself",
        "tonight",
        "/start",
        "/helpnow",
        PATH,
        SECRET,
    ):
        assert private not in text, private


def _sample(text: str, series: str) -> str:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return line.split(" ")[1]
    raise AssertionError(f"{series} not in /metrics")


def test_every_application_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.crisis_match("overdose")
    first.crisis_match("a made-up category")
    assert first.value("bot_crisis_matches_total", category="overdose") == 1
    assert first.value("bot_crisis_matches_total", category="other") == 1
    assert second.value("bot_crisis_matches_total", category="overdose") == 0


def test_update_kinds_are_a_fixed_set() -> None:
    assert update_kind(object()) == "other"


async def test_scheduler_broadcast_and_limiter_count_their_work(
    app: Any, api: FakeTelegram, user: SimUser
) -> None:
    from bot.checkins import bot_sender, run_tick
    from bot.delivery import BULK
    from tests.fake import error_response

    svc: Services = services_of(app)
    for job in app.job_queue.get_jobs_by_name("checkins"):
        job.enabled = False
    await user.command("/start")
    await user.press_data("set:c:GB")
    await user.command("/checkin")
    await user.press("Turn on daily check-ins")
    await user.press("Evening")
    record = await svc.db.get_checkin(user.user_id)
    assert record is not None and record.next_due is not None
    report = await run_tick(svc, bot_sender(app), record.next_due, backoff=0)
    assert report.sent == 1
    assert svc.metrics.value("bot_checkins_total", outcome="sent") == 1
    # A 429 answered to a bulk send: counted, then retried by the limiter.
    answers = [error_response(429, "Too Many Requests: retry after 1", retry_after=1)]
    api.fault = lambda method, params: answers.pop() if answers else None
    await app.bot.send_message(user.chat_id, "hello", rate_limit_args=BULK)
    assert svc.metrics.value("bot_telegram_429_total") == 1
    assert svc.metrics.value("bot_telegram_retries_total", reason="rate_limited") == 1
    api.fault = None


# --- set_webhook --------------------------------------------------------------------------------


async def test_register_webhook_sends_url_secret_allowed_updates_and_connections(
    app: Any, api: FakeTelegram
) -> None:
    svc = services_of(app)
    svc.settings = dataclasses.replace(
        svc.settings, webhook_url="https://help.example.org" + PATH, webhook_secret=SECRET
    )
    await webhook.register_webhook(app)
    call = api.calls_to("setWebhook")[-1]
    assert call.params["url"] == "https://help.example.org" + PATH
    assert call.params["secret_token"] == SECRET
    assert call.params["max_connections"] == webhook.MAX_CONNECTIONS
    assert call.params["allowed_updates"] == list(ALLOWED_UPDATES)
    info = api.webhook_info()
    assert info["url"] == "https://help.example.org" + PATH
    assert set(info["allowed_updates"]) == {
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
    }


async def test_a_webhook_telegram_refuses_is_one_clear_error(app: Any, api: FakeTelegram) -> None:
    svc = services_of(app)
    svc.settings = dataclasses.replace(
        svc.settings, webhook_url="https://help.example.org/x", webhook_secret="bad secret!" * 4
    )
    with api.expect_errors("secret token"), pytest.raises(webhook.WebhookRefused) as info:
        await webhook.register_webhook(app)
    assert "Telegram refused the webhook" in str(info.value)
    assert "bad secret" not in str(info.value)


async def test_broadcast_messages_are_counted_by_outcome(app: Any, api: FakeTelegram) -> None:
    from bot.broadcast import broadcaster

    svc = services_of(app)
    recipients = range(7000, 7005)
    for uid in recipients:
        await svc.db.seen(uid, "en")
    api.blocked.add(7003)
    source = await app.bot.send_message(42, "<b>News</b>")
    await svc.db.create_broadcast(
        admin_id=42, from_chat_id=42, message_id=source.message_id, audience="all"
    )
    with api.expect_errors("blocked"):
        broadcaster(app).wake()
        await broadcaster(app).idle()
    assert svc.metrics.value("bot_broadcast_messages_total", outcome="sent") == 4
    assert svc.metrics.value("bot_broadcast_messages_total", outcome="blocked") == 1
    assert svc.metrics.value("bot_broadcast_remaining") == 0
