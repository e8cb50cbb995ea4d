"""Updates in the fake Telegram: the queue of updates for the bot and ``getUpdates`` polling.

This module owns :class:`UpdatesMixin` (part of :class:`tests.fake.telegram.FakeTelegram`):
the pending updates (``queue_update``, ``queue_message``, ``next_update_id``), the Bot API
methods ``getUpdates`` (offsets, ``allowed_updates``, long polling with Telegram's 409 when
another poller takes over) and ``deleteWebhook``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
from collections.abc import Mapping
from typing import Any

from .constants import CONFLICT
from .html import command_entities
from .records import Call, JSONDict, Response, error_response

# Update types Telegram does not send unless asked for explicitly in allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdatesMixin:
    """The update queue and polling (see the module docstring)."""

    API_METHODS = ("getUpdates", "deleteWebhook")

    # shared with the other parts of FakeTelegram
    _lock: threading.RLock

    def _init_updates(self) -> None:
        self.conflicts = 0
        self._pending_updates: list[JSONDict] = []
        self._next_update_id = 10_000
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
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

    def _supersede_pollers(self) -> int:
        self._poll_generation += 1
        self._wake_pollers()
        return self._poll_generation

    def _wake_pollers(self) -> None:
        for loop, event in list(self._waiters):
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(event.set)

    # ---- Bot API methods -------------------------------------------------------------------

    def _m_deleteWebhook(self, p: JSONDict) -> bool:
        if p.get("drop_pending_updates"):
            self._pending_updates.clear()
        return True

    def _m_getUpdates(self, p: JSONDict) -> list[JSONDict]:
        offset = p.get("offset", 0)
        limit = p.get("limit", 100)
        limit = min(max(limit if isinstance(limit, int) else 100, 1), 100)
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed]
        if isinstance(offset, int) and offset > 0:
            self._pending_updates = [u for u in self._pending_updates if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._pending_updates = self._pending_updates[offset:]
        self._pending_updates = [u for u in self._pending_updates if self._wanted(u)]
        return copy.deepcopy(self._pending_updates[:limit])

    def _wanted(self, update: JSONDict) -> bool:
        kinds = [k for k in update if k != "update_id"]
        if not kinds:
            return True
        if self._allowed_updates:
            return kinds[0] in self._allowed_updates
        return kinds[0] not in _OPT_IN_UPDATES
