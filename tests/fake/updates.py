"""Updates in the fake Telegram: the queue of updates for the bot and ``getUpdates`` polling.

This module owns :class:`UpdatesMixin` (part of :class:`tests.fake.telegram.FakeTelegram`):
the pending updates (``queue_update``, ``queue_message``, ``next_update_id``), which of them the
bot asked for (``allowed_updates``), and the Bot API method ``getUpdates``: offsets, long polling,
Telegram's 409 when another poller or a ``setWebhook`` takes over and while a webhook is set.
Listeners (``add_update_listener``) are woken whenever updates or the webhook change; the webhook
itself lives in :mod:`.webhooks`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
from collections.abc import Mapping
from typing import Any

from .constants import CONFLICT, WEBHOOK_ACTIVE
from .html import command_entities
from .records import Call, JSONDict, Response, _Reject, error_response

# Update types Telegram does not send unless asked for explicitly in allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdatesMixin:
    """The update queue and polling (see the module docstring)."""

    API_METHODS = ("getUpdates",)

    # shared with the other parts of FakeTelegram
    _lock: threading.RLock
    webhook: object | None  # see WebhookMixin

    def _init_updates(self) -> None:
        self.conflicts = 0
        self._pending_updates: list[JSONDict] = []
        self._next_update_id = 10_000
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        # why a poll generation ended, when it was not another getUpdates (e.g. setWebhook)
        self._poll_ends: dict[int, str] = {}
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    # ---- feeding the bot -------------------------------------------------------------------

    def next_update_id(self) -> int:
        """A fresh, increasing update_id."""
        with self._lock:
            self._next_update_id += 1
            return self._next_update_id

    def queue_update(self, update: Mapping[str, Any]) -> int:
        """Queue an update dict for ``getUpdates`` (assigns ``update_id`` if missing)."""
        data = dict(update)
        with self._lock:
            if "update_id" in data:
                self._next_update_id = max(self._next_update_id, int(data["update_id"]))
            else:
                data["update_id"] = self.next_update_id()
            self._pending_updates.append(data)
            self._wake_pollers()
        return int(data["update_id"])

    def queue_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        first_name: str = "Sam",
        language_code: str = "en",
    ) -> JSONDict:
        """Store a text message from a user and queue it as an update; returns the update."""
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        msg = self.user_message(user, chat_id, text=text, entities=command_entities(text))
        update = {"update_id": self.next_update_id(), "message": msg.raw}
        self.queue_update(update)
        return update

    # ---- polling ---------------------------------------------------------------------------

    async def _long_poll(self, call: Call, poll_seconds: float) -> Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + poll_seconds
        with self._lock:
            generation = self._supersede_pollers()
        while True:
            event = asyncio.Event()
            with self._lock:
                if generation != self._poll_generation:
                    reason = self._poll_ends.get(generation + 1)
                    if reason is not None:
                        return error_response(409, reason)
                    self.conflicts += 1
                    return error_response(409, CONFLICT)
                response = self._dispatch(call)
                if response[0] != 200 or response[1]["result"] or loop.time() >= deadline:
                    return response
                self._waiters.add((loop, event))
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), max(deadline - loop.time(), 0))
            finally:
                with self._lock:
                    self._waiters.discard((loop, event))

    def _supersede_pollers(self, reason: str | None = None) -> int:
        """End waiting long polls (409 ``reason``, default: another getUpdates took over)."""
        self._poll_generation += 1
        if reason is not None:
            self._poll_ends[self._poll_generation] = reason
        self._wake_pollers()
        return self._poll_generation

    def _wake_pollers(self) -> None:
        for loop, event in list(self._waiters):
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(event.set)

    def add_update_listener(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        """Set ``event`` (in ``loop``, from any thread) whenever updates or the webhook change."""
        with self._lock:
            self._waiters.add((loop, event))

    def remove_update_listener(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters.discard((loop, event))

    # ---- Bot API methods -------------------------------------------------------------------

    def _m_getUpdates(self, p: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise _Reject(409, WEBHOOK_ACTIVE)
        offset = p.get("offset", 0)
        limit = p.get("limit", 100)
        limit = min(max(limit if isinstance(limit, int) else 100, 1), 100)
        self._set_allowed_updates(p)
        if isinstance(offset, int) and offset > 0:
            self._pending_updates = [u for u in self._pending_updates if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._pending_updates = self._pending_updates[offset:]
        self._pending_updates = [u for u in self._pending_updates if self._wanted(u)]
        return copy.deepcopy(self._pending_updates[:limit])

    def _set_allowed_updates(self, p: JSONDict) -> None:
        """``allowed_updates`` of getUpdates or setWebhook (kept when not given, as Telegram)."""
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed]

    def _wanted(self, update: JSONDict) -> bool:
        kinds = [k for k in update if k != "update_id"]
        if not kinds:
            return True
        if self._allowed_updates:
            return kinds[0] in self._allowed_updates
        return kinds[0] not in _OPT_IN_UPDATES
