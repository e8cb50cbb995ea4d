"""Running an ``Application`` in tests: :func:`run_app` (the ``run_polling`` lifecycle minus the
updater) and :func:`settle` (wait for the tasks an update spawned).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from telegram.ext import Application

if TYPE_CHECKING:
    from .telegram import FakeTelegram

_LOGGER = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def run_app(
    app: Application[Any, Any, Any, Any, Any, Any],
    api: FakeTelegram | None = None,
    *,
    start: bool = True,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Run ``app`` like ``run_polling`` does, without polling.

    PTB calls ``post_init``/``post_stop``/``post_shutdown`` only from ``run_polling`` /
    ``run_webhook``, never from ``initialize()``/``start()``, so this does it.  ``start`` also
    starts the JobQueue and makes ``Application.create_task`` track tasks.  With ``api``,
    handler exceptions are recorded (:meth:`FakeTelegram.watch`).  A running updater is stopped
    on exit.
    """
    if api is not None:
        api.watch(app)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        if start:
            await app.start()
        try:
            yield app
        finally:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def settle(before: set[asyncio.Task[Any]], max_wait: float = 5.0) -> None:
    """Wait until tasks created since ``before`` (a snapshot of ``asyncio.all_tasks()``) are done.

    This catches ``block=False`` handlers, ``Application.create_task`` and plain
    ``asyncio.create_task`` alike using only public asyncio API.  Tasks still running after
    ``max_wait`` seconds (long-lived workers) are left alone with a warning.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    current = asyncio.current_task()
    for _ in range(3):
        await asyncio.sleep(0)
    while True:
        fresh = {
            t for t in asyncio.all_tasks() if t not in before and t is not current and not t.done()
        }
        remaining = deadline - loop.time()
        if not fresh:
            break
        if remaining <= 0:
            _LOGGER.warning("tasks still running after %.1fs: %s", max_wait, fresh)
            break
        _, pending = await asyncio.wait(fresh, timeout=remaining)
        if pending:
            _LOGGER.warning("tasks still running after %.1fs: %s", max_wait, pending)
            break
    for _ in range(3):
        await asyncio.sleep(0)
