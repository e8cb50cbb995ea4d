"""Connectivity to Telegram, said plainly: one log line when Telegram cannot be reached and one
when it answers again, instead of a traceback for every failed attempt.

:class:`WatchedRequest` wraps each of the application's requests (the one for ``getUpdates``
and the one for everything else) and reports every outcome to one shared
:class:`Connectivity`:

* the first failure (a network error, a timeout, or a 5xx answer) after a success logs one
  WARNING: at start, that the bot keeps retrying and how often (python-telegram-bot's bootstrap
  retries after 1.5 s, then half as long again each time, up to every 30 s); mid-run, that
  contact was lost;
* the next answer from Telegram logs one INFO line with how long it took and how many requests
  failed meanwhile;
* everything in between is only counted. ``handlers/fallback.on_error`` leaves out the polling
  errors python-telegram-bot hands to the error handlers for the same outage.

No line holds a token (the redacting log filter is on every handler anyway), a URL or a person.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from telegram.error import NetworkError
from telegram.request import BaseRequest, HTTPXRequest, RequestData

log = logging.getLogger(__name__)

# python-telegram-bot's retry loop (telegram/ext/_utils/networkloop.py): 1 s interval, then
# x1.5 after each network error, at most 30 s; a timeout is retried at once.
FIRST_RETRY_SECONDS = 1.5
MAX_RETRY_SECONDS = 30


class Connectivity:
    """Whether Telegram answers, shared by the requests of one application."""

    def __init__(self) -> None:
        self.reached = False  # Telegram answered at least once
        self.down_since: float | None = None
        self.failures = 0  # failed requests in the current outage
        self.outages = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, reason: str) -> None:
        self.failures += 1
        if self.down_since is not None:
            return
        self.down_since = time.monotonic()
        self.outages += 1
        if not self.reached:
            log.warning(
                "cannot reach Telegram (%s): retrying until it answers, first after %.1f s, "
                "then less often, at least every %d s",
                reason,
                FIRST_RETRY_SECONDS,
                MAX_RETRY_SECONDS,
            )
        else:
            log.warning(
                "lost contact with Telegram (%s): retrying, at least every %d s; one line "
                "follows when it answers again",
                reason,
                MAX_RETRY_SECONDS,
            )

    def answered(self) -> None:
        if self.down_since is not None:
            log.info(
                "Telegram answers %s after %.0f s (%d failed requests meanwhile)",
                "again" if self.reached else "now",
                time.monotonic() - self.down_since,
                self.failures,
            )
            self.down_since = None
            self.failures = 0
        self.reached = True


class WatchedRequest(BaseRequest):
    """A request that tells :class:`Connectivity` whether Telegram answered (otherwise exactly
    ``inner``)."""

    def __init__(self, inner: BaseRequest, connectivity: Connectivity) -> None:
        self.inner = inner
        self.connectivity = connectivity

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        try:
            status, payload = await self.inner.do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except NetworkError as exc:  # also TimedOut
            self.connectivity.failed(describe(exc))
            raise
        if status >= 500:
            self.connectivity.failed(f"HTTP {status}")
        else:
            self.connectivity.answered()
        return status, payload


def watched_requests(
    request: BaseRequest | None, get_updates_request: BaseRequest | None
) -> tuple[WatchedRequest, WatchedRequest]:
    """The application's two requests (python-telegram-bot's defaults when None), watched by
    one :class:`Connectivity`."""
    connectivity = Connectivity()
    return (
        WatchedRequest(request or HTTPXRequest(connection_pool_size=256), connectivity),
        WatchedRequest(
            get_updates_request or HTTPXRequest(connection_pool_size=1), connectivity
        ),
    )


def describe(exc: BaseException) -> str:
    """``TimedOut: Timed out`` - the kind of failure, in one short line."""
    text = " ".join(str(exc).split())[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
