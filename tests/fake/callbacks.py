"""Button presses in the fake Telegram: callback queries and the bot's answers to them.

This module owns :class:`CallbacksMixin` (part of :class:`tests.fake.telegram.FakeTelegram`):
``callback_queries`` (every press and its answer), ``new_callback_query`` (what a press sends the
bot), ``unanswered_callbacks`` and the Bot API method ``answerCallbackQuery``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from typing import Any

from .constants import CALLBACK_ANSWER_LIMIT, QUERY_INVALID
from .records import CallbackRecord, JSONDict, Msg, _Reject


class CallbacksMixin:
    """Callback queries and ``answerCallbackQuery`` (see the module docstring)."""

    API_METHODS = ("answerCallbackQuery",)

    # shared with the other parts of FakeTelegram
    _lock: threading.RLock
    bot_id: int

    def _init_callbacks(self) -> None:
        self.callback_queries: dict[str, CallbackRecord] = {}
        self._query_counter = itertools.count(1)

    def new_callback_query(self, user: Mapping[str, Any], msg: Msg | None, data: str) -> JSONDict:
        """Register and return a Bot API ``CallbackQuery`` for a button press."""
        query_id = f"{self.bot_id}{next(self._query_counter):08d}"
        record = CallbackRecord(
            query_id,
            msg.chat_id if msg else None,
            msg.message_id if msg else None,
            data,
        )
        with self._lock:
            self.callback_queries[query_id] = record
        query: JSONDict = {
            "id": query_id,
            "from": dict(user),
            "chat_instance": str(-(abs(msg.chat_id if msg else 0) * 7919 + 13)),
            "data": data,
        }
        if msg is not None:
            query["message"] = msg.raw
        return query

    @property
    def unanswered_callbacks(self) -> list[CallbackRecord]:
        """Callback queries the bot never answered (the client shows a spinner for them)."""
        with self._lock:
            return [q for q in self.callback_queries.values() if q.answer is None]

    def _m_answerCallbackQuery(self, p: JSONDict) -> bool:
        record = self.callback_queries.get(str(p.get("callback_query_id", "")))
        if record is None or record.answer is not None:
            raise _Reject(400, QUERY_INVALID)
        if len(str(p.get("text", ""))) > CALLBACK_ANSWER_LIMIT:
            raise _Reject(400, "Bad Request: MESSAGE_TOO_LONG")
        record.answer = dict(p)
        return True
