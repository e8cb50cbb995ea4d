"""Fault injection for delivery tests: random-but-reproducible 429/500/403 answers and latency.

This module owns :class:`FaultPlan` (see ``FakeTelegram.fault_plan``) and the signatures of the
``FakeTelegram.fault`` / ``FakeTelegram.latency`` hooks (:data:`FaultFn`, :data:`LatencyFn`).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable

from .constants import BLOCKED, DELIVERY_METHODS, FAULTABLE_METHODS, KICKED
from .records import JSONDict, Response, error_response

FaultFn = Callable[[str, JSONDict], "Response | None"]
LatencyFn = Callable[[str, JSONDict], float]


class FaultPlan:
    """Random-but-reproducible failures for delivery tests (see ``FakeTelegram.fault_plan``).

    * a chat is *blocked* with probability ``rate_403``, decided once per chat from ``seed``
      and the chat id (so a blocked chat always answers 403, for every chat-bound method);
    * each request to one of ``methods`` fails with 429 (``retry_after``) with probability
      ``rate_429``, else with 500 with probability ``rate_500``;
    * :meth:`latency` draws a delay from ``delay`` for faultable methods.

    ``injected`` counts the faults produced (keys ``"403"``, ``"429"``, ``"500"``).
    """

    def __init__(
        self,
        *,
        rate_429: float = 0.1,
        rate_500: float = 0.05,
        rate_403: float = 0.03,
        delay: tuple[float, float] = (0.0, 0.05),
        seed: int = 1,
        retry_after: int = 1,
        methods: Iterable[str] = DELIVERY_METHODS,
    ) -> None:
        self.rate_429 = rate_429
        self.rate_500 = rate_500
        self.rate_403 = rate_403
        self.delay = delay
        self.seed = seed
        self.retry_after = retry_after
        self.methods = frozenset(methods)
        self.injected: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._blocked: dict[int, bool] = {}
        self._lock = threading.Lock()

    def is_blocked(self, chat_id: int) -> bool:
        """Whether this chat has (deterministically) blocked the bot."""
        with self._lock:
            if chat_id not in self._blocked:
                draw = random.Random(f"{self.seed}:{chat_id}").random()
                self._blocked[chat_id] = draw < self.rate_403
            return self._blocked[chat_id]

    @property
    def blocked_chats(self) -> set[int]:
        """Chats seen so far that are blocked."""
        with self._lock:
            return {chat for chat, blocked in self._blocked.items() if blocked}

    def __call__(self, method: str, params: JSONDict) -> Response | None:
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and self.is_blocked(chat_id):
            with self._lock:
                self.injected["403"] += 1
            return error_response(403, BLOCKED if chat_id > 0 else KICKED)
        if method not in self.methods:
            return None
        with self._lock:
            draw = self._rng.random()
            if draw < self.rate_429:
                self.injected["429"] += 1
                return error_response(
                    429,
                    f"Too Many Requests: retry after {self.retry_after}",
                    retry_after=self.retry_after,
                )
            if draw < self.rate_429 + self.rate_500:
                self.injected["500"] += 1
                return error_response(500, "Internal Server Error")
        return None

    def latency(self, method: str, params: JSONDict) -> float:
        """Delay (seconds) before answering ``method``."""
        if method not in FAULTABLE_METHODS or self.delay[1] <= 0:
            return 0.0
        with self._lock:
            return self._rng.uniform(*self.delay)
