"""Delivery: one outgoing budget for the whole bot, and how bulk messages are sent.

:class:`PriorityRateLimiter` is installed on the application (python-telegram-bot's
``rate_limiter``). Every Bot API call passes through it:

* replies to a person's own action (Help now above all) go out at once and never queue behind
  bulk traffic; they only wait when Telegram itself has answered 429 for that call;
* bulk sends (broadcasts, check-ins) are marked ``rate_limit_args={"bulk": True}`` and are
  spaced to ``rate`` messages per second, using only what interactive replies leave: each
  interactive reply pushes the next bulk slot back by one interval;
* a 429 (``RetryAfter``) pauses all bulk sending for ``retry_after`` seconds, then retries.

:func:`deliver` sends one bulk message and classifies the outcome (sent, blocked, failed) after
bounded retries with backoff for network errors and server errors.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

BULK: dict[str, Any] = {"bulk": True}


class PriorityRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Interactive calls first; bulk calls paced to ``rate`` per second with what is left."""

    def __init__(self, rate: float, *, max_retries: int = 5) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._interval = 1.0 / rate
        self._max_retries = max_retries
        self._next_bulk = 0.0  # monotonic instant from which the next bulk call may go
        self._paused_until = 0.0  # set by a 429
        self._lock = asyncio.Lock()
        self.bulk_sent = 0
        self.interactive_sent = 0
        self.retry_afters = 0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    @property
    def paused_for(self) -> float:
        """Seconds until bulk sending resumes after a 429 (0 when not paused)."""
        return max(0.0, self._paused_until - time.monotonic())

    async def _bulk_slot(self) -> None:
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next_bulk, self._paused_until)
            self._next_bulk = start + self._interval
        if start > now:
            await asyncio.sleep(start - now)

    def _interactive_slot(self) -> None:
        now = time.monotonic()
        self._next_bulk = max(self._next_bulk, now) + self._interval

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        bulk = bool(rate_limit_args and rate_limit_args.get("bulk"))
        attempt = 0
        while True:
            if bulk:
                await self._bulk_slot()
            else:
                self._interactive_slot()
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.retry_afters += 1
                delay = _seconds(exc.retry_after)
                self._paused_until = max(self._paused_until, time.monotonic() + delay)
                attempt += 1
                if attempt > self._max_retries:
                    raise
                log.warning("Telegram asked to slow down (%s): pausing %.1f s", endpoint, delay)
                if not bulk:
                    await asyncio.sleep(delay)
                continue
            if bulk:
                self.bulk_sent += 1
            else:
                self.interactive_sent += 1
            return result


def _seconds(value: Any) -> float:
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


class Outcome(enum.StrEnum):
    """What happened to one bulk message."""

    SENT = "sent"
    BLOCKED = "blocked"  # 403: the person blocked the bot or deleted their account
    FAILED = "failed"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    reason: str | None = None


async def deliver(
    send: Callable[[], Awaitable[object]], *, retries: int = 3, backoff: float = 0.5
) -> Result:
    """Run ``send`` (one Bot API call marked bulk) and classify what happened.

    Network errors and 5xx answers are retried ``retries`` times with exponential backoff;
    a 403 is final (blocked); a 400 is final (failed, with Telegram's reason).
    """
    reason = "unknown"
    for attempt in range(retries + 1):
        try:
            await send()
            return Result(Outcome.SENT)
        except Forbidden as exc:
            return Result(Outcome.BLOCKED, _short(exc))
        except RetryAfter as exc:  # the limiter gave up retrying: wait and try again
            reason = "rate limited"
            await asyncio.sleep(_seconds(exc.retry_after))
        except BadRequest as exc:
            return Result(Outcome.FAILED, _short(exc))
        except NetworkError as exc:  # includes TimedOut and Telegram's 5xx answers
            reason = _short(exc)
            if attempt < retries:
                await asyncio.sleep(backoff * (2**attempt))
        except TelegramError as exc:
            return Result(Outcome.FAILED, _short(exc))
    return Result(Outcome.FAILED, reason)


def _short(exc: Exception) -> str:
    return str(exc)[:200]
