"""Delivery: one outgoing budget for the whole bot, and how bulk messages are sent.

:class:`PriorityRateLimiter` is installed on the application (python-telegram-bot's
``rate_limiter``). Every Bot API call passes through it:

* replies to a person's own action (Help now above all) go out at once and never queue behind
  bulk traffic; they only wait when Telegram itself has answered 429 for that call;
* bulk sends (broadcasts, check-ins) are marked ``rate_limit_args={"bulk": True}`` and are
  spaced to ``rate`` messages per second, using only what interactive replies leave: each
  interactive reply pushes the next bulk slot back by one interval;
* a 429 (``RetryAfter``) pauses all bulk sending for ``retry_after`` seconds, then retries;
* a bulk call may carry an ``asyncio.Event`` as ``rate_limit_args["abort"]``: if it is set when
  the call's slot comes, nothing is sent and :class:`Aborted` is raised (a Stop button, a
  shutdown);
* bulk sending also yields the bot's own process: while the event loop lags (answers would be
  late because the process is busy, e.g. at a paid-broadcast rate on a small machine), the bulk
  rate is lowered step by step, then raised again once the loop keeps up.

:func:`deliver` sends one bulk message and classifies the outcome (sent, blocked, failed) after
bounded retries with backoff for network errors and server errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

from bot.metrics import Metrics

log = logging.getLogger(__name__)

BULK: dict[str, Any] = {"bulk": True}


class Aborted(Exception):
    """A bulk call whose ``abort`` event was set before its turn came: nothing was sent."""


class PriorityRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Interactive calls first; bulk calls paced to ``rate`` per second with what is left.

    Bulk calls queue in order; each takes the next slot of the schedule. While the event loop
    lags (more than ``max_lag``, smoothed), the bulk rate is lowered (:attr:`share`, never below
    :attr:`MIN_BULK_RATE`) and raised again once the loop keeps up, so that bulk sending never
    crowds out replies in the bot's own process either.
    """

    LAG_TICK = 0.05  # how often the event loop's lag is measured (seconds)
    LOWER = 0.8  # the bulk share is multiplied by this while the loop lags...
    RAISE = 0.02  # ...and raised by this much per tick (up to 1) while it keeps up
    MIN_BULK_RATE = 50.0  # never slower than this (nor than ``rate``): 25/s is never slowed
    CATCH_UP = 0.01  # bulk calls late by a lagging loop may catch up this much (seconds)

    def __init__(
        self,
        rate: float,
        *,
        max_retries: int = 5,
        max_lag: float = 0.001,
        metrics: Metrics | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._interval = 1.0 / rate
        self._max_retries = max_retries
        self._max_lag = max_lag
        self._min_share = min(1.0, self.MIN_BULK_RATE / rate)
        self._next_bulk = 0.0  # monotonic instant from which the next bulk call may go
        self._paused_until = 0.0  # set by a 429
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self.share = 1.0  # of ``rate`` that bulk calls may use now (lowered while the loop lags)
        self.loop_lag = 0.0
        self.bulk_sent = 0
        self.interactive_sent = 0
        self.retry_afters = 0
        self.metrics = metrics

    async def initialize(self) -> None:
        """Start watching the event loop's lag (bulk sending slows down while it lags)."""
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch_lag(), name="bulk-lag-watch")

    async def shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def _watch_lag(self) -> None:
        """Measure, a few times a second, how late a timer fires: the event loop's lag (what
        each step of a reply waits while the process is busy)."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.LAG_TICK)
            lag = loop.time() - start - self.LAG_TICK
            self.loop_lag = 0.7 * self.loop_lag + 0.3 * lag  # smoothed: one slow tick is noise
            if self.loop_lag > self._max_lag:
                self.share = max(self._min_share, self.share * self.LOWER)
            else:
                self.share = min(1.0, self.share + self.RAISE)

    @property
    def paused_for(self) -> float:
        """Seconds until bulk sending resumes after a 429 (0 when not paused)."""
        return max(0.0, self._paused_until - time.monotonic())

    async def _bulk_slot(self, abort: asyncio.Event | None) -> None:
        """Wait for this bulk call's turn: callers queue in order and each next slot is computed
        when the previous one is taken, so a 429 pause or a lower share applies at once."""
        async with self._lock:
            while True:
                if abort is not None and abort.is_set():
                    raise Aborted()
                now = time.monotonic()
                start = max(now, self._next_bulk, self._paused_until)
                if start <= now:
                    break
                await asyncio.sleep(min(start - now, 0.1))
            # Slots follow the schedule, so a call started late by a busy loop is caught up by
            # the next ones; after a longer gap (idle, or more than CATCH_UP late) it restarts.
            due = max(self._next_bulk, self._paused_until)
            base = due if now - due <= self.CATCH_UP else now
            self._next_bulk = base + self._interval / self.share

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
        abort: asyncio.Event | None = rate_limit_args.get("abort") if rate_limit_args else None
        attempt = 0
        while True:
            if bulk:
                await self._bulk_slot(abort)
            else:
                self._interactive_slot()
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.retry_afters += 1
                if self.metrics is not None:
                    self.metrics.rate_limited()
                delay = _seconds(exc.retry_after)
                self._paused_until = max(self._paused_until, time.monotonic() + delay)
                attempt += 1
                if attempt > self._max_retries:
                    raise
                if self.metrics is not None:
                    self.metrics.retry("rate_limited")
                log.warning("Telegram asked to slow down (%s): pausing %.1f s", endpoint, delay)
                if not bulk:
                    await asyncio.sleep(delay)
                continue
            if bulk:
                self.bulk_sent += 1
            else:
                self.interactive_sent += 1
                if self.metrics is not None:
                    self.metrics.reply(endpoint)
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
    attempts: int = 1  # calls made, counting retries after network errors and 5xx


async def deliver(
    send: Callable[[], Awaitable[object]],
    *,
    retries: int = 3,
    backoff: float = 0.5,
    metrics: Metrics | None = None,
) -> Result:
    """Run ``send`` (one Bot API call marked bulk) and classify what happened.

    Network errors and 5xx answers are retried ``retries`` times with exponential backoff;
    a 403 is final (blocked); a 400 is final (failed, with Telegram's reason). Each retry is
    counted in ``metrics`` when given.
    """
    reason = "unknown"
    for attempt in range(1, retries + 2):
        try:
            await send()
            return Result(Outcome.SENT, attempts=attempt)
        except Forbidden as exc:
            return Result(Outcome.BLOCKED, _short(exc), attempt)
        except RetryAfter as exc:  # the limiter gave up retrying: wait and try again
            reason = "rate limited"
            if metrics is not None and attempt <= retries:
                metrics.retry("rate_limited")
            await asyncio.sleep(_seconds(exc.retry_after))
        except BadRequest as exc:
            return Result(Outcome.FAILED, _short(exc), attempt)
        except NetworkError as exc:  # includes TimedOut and Telegram's 5xx answers
            reason = _short(exc)
            if attempt <= retries:
                if metrics is not None:
                    metrics.retry("network")
                await asyncio.sleep(backoff * (2 ** (attempt - 1)))
        except TelegramError as exc:
            return Result(Outcome.FAILED, _short(exc), attempt)
    return Result(Outcome.FAILED, reason, retries + 1)


def _short(exc: Exception) -> str:
    return str(exc)[:200]
