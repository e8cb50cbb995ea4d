"""Webhooks in the fake Telegram: ``setWebhook``/``deleteWebhook``/``getWebhookInfo`` and delivery.

This module owns both halves of webhook mode, modelled on the Bot API server
(tdlib/telegram-bot-api, ``Client.cpp`` and ``WebhookActor.cpp``):

* :class:`WebhookMixin` (part of :class:`tests.fake.telegram.FakeTelegram`) keeps the webhook
  (``webhook``: url, secret token, max_connections, ...) and answers the three methods.
  ``setWebhook`` validates the ``secret_token`` as Telegram does (at most 256 characters of
  ``A-Z a-z 0-9 _ -``; empty means none), clamps ``max_connections`` to 1..100 (default 40),
  takes ``allowed_updates`` and ``drop_pending_updates`` and ends a waiting long poll with 409
  "terminated by setWebhook request"; while a webhook is set ``getUpdates`` answers 409 (see
  :mod:`.updates`).  ``getWebhookInfo`` reports url, pending_update_count, max_connections,
  allowed_updates and last_error_date/last_error_message once a delivery failed.  Every
  delivery attempt is recorded in ``webhook_deliveries`` (:class:`WebhookDelivery`).
* :class:`WebhookSender` POSTs the queued updates to the webhook URL as JSON with the
  ``X-Telegram-Bot-Api-Secret-Token`` header: one update at a time per connection, at most
  ``max_connections`` at once, and - as Telegram - updates of one chat (messages) or one user
  (button presses) strictly one after another.  An update is done only when the webhook
  answers 2xx; otherwise it is sent again after a delay that doubles from ``retry_delay`` up to
  ``max_retry_delay`` (a ``Retry-After`` header is honoured), and later updates of the same chat
  wait for it.  :class:`tests.fake.server.FakeApiServer` runs one in its own event loop; an
  in-process test can run one with ``async with WebhookSender(api):``.

Deliberate differences from Telegram, so that tests can receive on loopback: plain ``http://``
URLs, any port and loopback/reserved addresses are accepted, the URL is not probed when the
webhook is set, and setWebhook is not limited to once a second.  A 2xx answer carrying a method
call (Telegram would execute it) is not executed.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from .constants import SECRET_TOKEN_HEADER, TERMINATED_BY_SET_WEBHOOK
from .records import Described, JSONDict, Upload, WebhookDelivery, _Reject

if TYPE_CHECKING:
    from .telegram import FakeTelegram

DEFAULT_MAX_CONNECTIONS = 40
MAX_MAX_CONNECTIONS = 100
SECRET_TOKEN_LIMIT = 256
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]*")
# Update kinds Telegram queues per chat for webhook delivery (others per user, see _queue_key).
_CHAT_QUEUED = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_message",
        "edited_business_message",
        "my_chat_member",
    }
)


@dataclass(frozen=True)
class WebhookConfig:
    """The webhook as set by ``setWebhook`` (``secret_token`` "" = none)."""

    url: str
    secret_token: str = ""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    ip_address: str = ""
    has_custom_certificate: bool = False


class WebhookMixin:
    """The webhook and its three methods (see the module docstring)."""

    API_METHODS = ("setWebhook", "deleteWebhook", "getWebhookInfo")

    # shared with the other parts of FakeTelegram (the update queue is UpdatesMixin's)
    _lock: threading.RLock
    _pending_updates: list[JSONDict]
    _allowed_updates: list[str]

    def _init_webhooks(self) -> None:
        self.webhook: WebhookConfig | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._webhook_error: tuple[int, str] | None = None

    # ---- for tests -------------------------------------------------------------------------

    def webhook_info(self) -> JSONDict:
        """What ``getWebhookInfo`` would answer now."""
        with self._lock:
            return self._m_getWebhookInfo({})

    def deliveries(self, update_id: int | None = None) -> list[WebhookDelivery]:
        """Webhook delivery attempts so far (optionally of one update), in order."""
        with self._lock:
            return [
                d for d in self.webhook_deliveries if update_id is None or d.update_id == update_id
            ]

    # ---- for WebhookSender -----------------------------------------------------------------

    def _webhook_snapshot(self) -> tuple[WebhookConfig | None, list[JSONDict]]:
        """The webhook and the updates waiting for it, in order (unwanted ones dropped)."""
        with self._lock:
            if self.webhook is None:
                return None, []
            self._pending_updates = [u for u in self._pending_updates if self._wanted(u)]
            return self.webhook, list(self._pending_updates)

    def _webhook_result(self, delivery: WebhookDelivery) -> None:
        """Record a delivery attempt; a 2xx answer means the update is done with."""
        with self._lock:
            self.webhook_deliveries.append(delivery)
            if delivery.ok:
                self._pending_updates = [
                    u for u in self._pending_updates if u["update_id"] != delivery.update_id
                ]
            elif self.webhook is not None:
                self._webhook_error = (int(time.time()), delivery.error)

    # ---- Bot API methods -------------------------------------------------------------------

    def _m_setWebhook(self, p: JSONDict) -> Described:
        url = p.get("url")
        url = url if isinstance(url, str) else ""
        if not url:
            return self._remove_webhook(p)
        secret = p.get("secret_token")
        new = WebhookConfig(
            url=url,
            secret_token=secret if isinstance(secret, str) else "",
            max_connections=_max_connections(p.get("max_connections")),
            ip_address=str(p.get("ip_address") or ""),
            has_custom_certificate=isinstance(p.get("certificate"), Upload),
        )
        drop = bool(p.get("drop_pending_updates"))
        if new == self.webhook and not new.has_custom_certificate and not drop:
            self._set_allowed_updates(p)
            self._wake_pollers()
            return Described(True, "Webhook is already set")
        # Telegram ends a waiting long poll, closes the old webhook and drops pending updates
        # before it validates the new one: a rejected setWebhook leaves no webhook behind.
        self._supersede_pollers(TERMINATED_BY_SET_WEBHOOK)
        self.webhook = None
        self._webhook_error = None
        if drop:
            self._pending_updates.clear()
        parts = urlsplit(url if "://" in url else f"https://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Reject(400, "Bad Request: invalid webhook URL specified")
        if len(new.secret_token) > SECRET_TOKEN_LIMIT:
            raise _Reject(400, "Bad Request: secret token is too long")
        if not _SECRET_TOKEN_RE.fullmatch(new.secret_token):
            raise _Reject(400, "Bad Request: secret token contains unallowed characters")
        self._set_allowed_updates(p)
        self.webhook = new
        self._wake_pollers()
        return Described(True, "Webhook was set")

    def _m_deleteWebhook(self, p: JSONDict) -> Described:
        return self._remove_webhook(p)

    def _remove_webhook(self, p: JSONDict) -> Described:
        was_set = self.webhook is not None
        if p.get("drop_pending_updates"):
            self._pending_updates.clear()
        self.webhook = None
        self._webhook_error = None
        self._wake_pollers()
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _m_getWebhookInfo(self, p: JSONDict) -> JSONDict:
        hook = self.webhook
        info: JSONDict = {
            "url": hook.url if hook else "",
            "has_custom_certificate": bool(hook and hook.has_custom_certificate),
            "pending_update_count": sum(1 for u in self._pending_updates if self._wanted(u)),
        }
        if self._webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info


def _max_connections(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        return DEFAULT_MAX_CONNECTIONS
    return min(max(value, 1), MAX_MAX_CONNECTIONS)


def _queue_key(update: JSONDict) -> tuple[str, int]:
    """Updates with the same key are delivered one after another (Telegram's webhook queues)."""
    kind = next((k for k in update if k != "update_id"), "")
    body = update.get(kind)
    if isinstance(body, dict):
        chat, sender = body.get("chat"), body.get("from")
        if kind in _CHAT_QUEUED and isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return ("my_chat_member" if kind == "my_chat_member" else "chat", chat["id"])
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return (kind, sender["id"])
    return ("update", int(update["update_id"]))


def _retry_after(value: str | None) -> float:
    try:
        return max(float(value), 0.0) if value else 0.0
    except ValueError:
        return 0.0


class WebhookSender:
    """Delivers ``api``'s queued updates to its webhook by HTTP POST (see the module docstring).

    ``timeout`` bounds one request (then "Read timeout expired" and a retry).
    """

    def __init__(
        self,
        api: FakeTelegram,
        *,
        retry_delay: float = 0.1,
        max_retry_delay: float = 2.0,
        timeout: float = 10.0,
    ) -> None:
        self.api = api
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.timeout = timeout
        self._attempts: dict[int, int] = {}
        self._retry_at: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WebhookSender:
        self._task = asyncio.ensure_future(self.run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run(self) -> None:
        """Deliver until cancelled (idle while no webhook is set)."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        self.api.add_update_listener(loop, wake)
        limits = httpx.Limits(
            max_connections=MAX_MAX_CONNECTIONS, max_keepalive_connections=MAX_MAX_CONNECTIONS
        )
        client = httpx.AsyncClient(timeout=self.timeout, limits=limits, trust_env=False)
        in_flight: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                wake.clear()
                timeout = self._start_due(client, in_flight, loop.time())
                waiter = asyncio.ensure_future(wake.wait())
                try:
                    await asyncio.wait(
                        {waiter, *in_flight.values()},
                        timeout=timeout,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    waiter.cancel()
                for update_id, task in list(in_flight.items()):
                    if task.done():
                        del in_flight[update_id]
        finally:
            self.api.remove_update_listener(loop, wake)
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)
            await client.aclose()

    def _start_due(
        self, client: httpx.AsyncClient, in_flight: dict[int, asyncio.Task[None]], now: float
    ) -> float | None:
        """Start the deliveries that may go now; seconds until the next retry is due."""
        hook, pending = self.api._webhook_snapshot()
        waiting = {u["update_id"] for u in pending}
        for update_id in [u for u in self._attempts if u not in waiting]:
            self._attempts.pop(update_id, None)
            self._retry_at.pop(update_id, None)
        if hook is None:
            return None
        next_due: float | None = None
        queues: set[tuple[str, int]] = set()
        for update in pending:
            update_id = update["update_id"]
            queue = _queue_key(update)
            if queue in queues:
                continue  # an earlier update of this chat/user is not done yet
            queues.add(queue)
            if update_id in in_flight:
                continue
            due = self._retry_at.get(update_id, 0.0)
            if due > now:
                next_due = due if next_due is None else min(next_due, due)
                continue
            if len(in_flight) >= hook.max_connections:
                break
            in_flight[update_id] = asyncio.ensure_future(
                self._deliver(client, hook, copy.deepcopy(update))
            )
        return None if next_due is None else max(next_due - now, 0.0)

    async def _deliver(
        self, client: httpx.AsyncClient, hook: WebhookConfig, update: JSONDict
    ) -> None:
        update_id = int(update["update_id"])
        attempt = self._attempts.get(update_id, 0) + 1
        self._attempts[update_id] = attempt
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers[SECRET_TOKEN_HEADER] = hook.secret_token
        url = hook.url if "://" in hook.url else f"https://{hook.url}"
        status: int | None = None
        error = ""
        retry_after = 0.0
        started = time.monotonic()
        try:
            response = await client.post(url, content=json.dumps(update).encode(), headers=headers)
            status = response.status_code
            if not 200 <= status <= 299:
                error = f"Wrong response from the webhook: {status} {response.reason_phrase}"
                retry_after = _retry_after(response.headers.get("retry-after"))
        except httpx.TimeoutException:
            error = "Read timeout expired"
        except httpx.ConnectError:
            error = "Connection refused"
        except httpx.HTTPError:
            error = "Webhook connection closed"
        delivery = WebhookDelivery(
            update_id=update_id,
            update=update,
            url=hook.url,
            attempt=attempt,
            status=status,
            error=error,
            secret_token=headers.get(SECRET_TOKEN_HEADER),
            time=started,
            duration=time.monotonic() - started,
        )
        self.api._webhook_result(delivery)
        if delivery.ok:
            self._attempts.pop(update_id, None)
            self._retry_at.pop(update_id, None)
        else:
            delay = retry_after or min(self.retry_delay * 2 ** (attempt - 1), self.max_retry_delay)
            self._retry_at[update_id] = asyncio.get_running_loop().time() + delay
