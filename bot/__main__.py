"""Entry point: ``python -m bot`` runs the bot with long polling until SIGINT or SIGTERM.

Exit codes: 0 after a clean stop, 2 for bad configuration or content (one clear line, no
traceback, never the token).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from telegram import Update
from telegram.error import InvalidToken

from bot.app import build_application
from bot.config import ConfigError, Settings
from bot.content import ContentError
from bot.logging_setup import configure_logging

log = logging.getLogger("bot")


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"recovery-help-bot: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.bot_token)
    try:
        application = build_application(settings)
    except ContentError as exc:
        print(f"recovery-help-bot: {exc}", file=sys.stderr)
        return 2
    # Until python-telegram-bot installs its own handlers (after connecting), SIGTERM still
    # means a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # bootstrap_retries=-1: if Telegram cannot be reached at startup, keep trying (with
        # python-telegram-bot's backoff) rather than stay down.
        application.run_polling(
            allowed_updates=Update.ALL_TYPES, bootstrap_retries=-1, close_loop=False
        )
    except InvalidToken:
        print("recovery-help-bot: Telegram rejected BOT_TOKEN", file=sys.stderr)
        return 2
    finally:
        _close_loop()
    return 0


def _close_loop() -> None:
    """Cancel what is still pending (e.g. after a stop during startup), then close the loop."""
    loop = asyncio.get_event_loop()
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


if __name__ == "__main__":
    sys.exit(main())
