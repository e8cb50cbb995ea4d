"""Entry point: ``python -m bot`` runs the bot with long polling until SIGINT or SIGTERM.

Exit codes: 0 after a clean stop, 2 for bad configuration or content (one clear line, no
traceback, never the token).
"""

from __future__ import annotations

import logging
import signal
import sys
import time

from telegram import Update
from telegram.error import InvalidToken, NetworkError

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
    # While not polling (e.g. waiting to retry), SIGTERM still means a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    delay = 1.0
    while True:
        try:
            application = build_application(settings)
        except ContentError as exc:
            print(f"recovery-help-bot: {exc}", file=sys.stderr)
            return 2
        try:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
            return 0
        except InvalidToken:
            print("recovery-help-bot: Telegram rejected BOT_TOKEN", file=sys.stderr)
            return 2
        except NetworkError as exc:
            # Telegram unreachable at startup: keep trying rather than stay down.
            log.warning("cannot reach Telegram (%s); retrying in %.0f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 60.0)


if __name__ == "__main__":
    sys.exit(main())
