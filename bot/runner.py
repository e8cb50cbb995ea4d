"""Runner: how updates reach the application, chosen apart from what the bot does.

:func:`run` takes a built application (:func:`bot.app.build_application`) and runs it until
SIGINT or SIGTERM. Today updates arrive by long polling; a webhook runner is the other
implementation of the same function (the application itself does not change).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from telegram import Update
from telegram.ext import Application


def run(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Run ``application`` with long polling until SIGINT or SIGTERM (raises InvalidToken)."""
    # Until python-telegram-bot installs its own handlers (after connecting), SIGTERM still
    # means a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # bootstrap_retries=-1: if Telegram cannot be reached at startup, keep trying (with
        # python-telegram-bot's backoff) rather than stay down.
        application.run_polling(
            allowed_updates=Update.ALL_TYPES, bootstrap_retries=-1, close_loop=False
        )
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
