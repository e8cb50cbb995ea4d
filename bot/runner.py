"""Runner: how updates reach the application, chosen apart from what the bot does.

:func:`run` takes a built application (:func:`bot.app.build_application`) and runs it until
SIGINT or SIGTERM, in one of two ways chosen from the settings (the application itself does not
change):

* long polling (the default): python-telegram-bot's ``run_polling``; with ``HEALTH_PORT`` set,
  ``/healthz`` and ``/metrics`` are served on that port (:func:`bot.webhook.attach_health_server`);
* webhook mode (``WEBHOOK_URL`` set): :func:`bot.webhook.serve`, Telegram POSTs each update and
  gets 200 once it was handled; ``/healthz`` and ``/metrics`` are on the webhook port.

Both stop the same way on SIGTERM or SIGINT: no new updates are taken, what is in flight is
finished (or released, to be delivered again), and the process exits 0 within 10 s.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from telegram.ext import Application

from bot import webhook
from bot.services import services_of
from handlers import ALLOWED_UPDATES

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Run ``application`` until SIGINT or SIGTERM (raises InvalidToken, and in webhook mode
    :class:`bot.webhook.ListenError` or :class:`bot.webhook.WebhookRefused`)."""
    # Until the loop's own handlers are installed, SIGTERM still means a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = services_of(application).settings
    if settings.webhook_url:
        _run_webhook(application)
    else:
        _run_polling(application, settings.webhook_listen, settings.health_port)


def _run_polling(
    application: Application[Any, Any, Any, Any, Any, Any], listen: str, health_port: int | None
) -> None:
    if health_port is not None:
        webhook.attach_health_server(application, listen, health_port)
    try:
        # bootstrap_retries=-1: if Telegram cannot be reached at startup, keep trying (with
        # python-telegram-bot's backoff) rather than stay down.
        application.run_polling(
            allowed_updates=list(ALLOWED_UPDATES),
            bootstrap_retries=-1,
            close_loop=False,
        )
    finally:
        _close_loop()


def _run_webhook(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(webhook.serve(application, stop))
    finally:
        _close_loop()


def _close_loop() -> None:
    """Cancel what is still pending (e.g. after a stop during startup), then close the loop."""
    loop = asyncio.get_event_loop()
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
