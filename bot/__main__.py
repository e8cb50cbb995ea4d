"""Command line: ``python -m bot [run | check]``.

``python -m bot`` alone (or ``python -m bot run``) runs the bot until SIGINT or SIGTERM;
``python -m bot check`` checks the configuration, the content and the database schema and
exits. Each command has ``--help``. An unknown command is refused with the usage line.

Exit codes: 0 after a clean stop or a passing check, 1 when a check finds the database
unusable, 2 for bad configuration, content or usage (one clear line, no traceback, never the
token).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from telegram.error import InvalidToken

from bot.app import build_application
from bot.config import ConfigError, Settings
from bot.content import ContentError, load_content
from bot.logging_setup import configure_logging

log = logging.getLogger("bot")
PROG = "recovery-help-bot"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="A Telegram bot for people affected by drug addiction and those who love them.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot until SIGINT or SIGTERM (the default)")
    commands.add_parser("check", help="check the configuration, content and database, then exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # unknown commands: usage and exit code 2
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.bot_token, secrets=[settings.webhook_secret])
    if args.command == "check":
        return _check(settings)
    return _run(settings)


def _run(settings: Settings) -> int:
    from bot import runner
    from bot.webhook import ListenError, WebhookRefused

    try:
        application = build_application(settings)
    except ContentError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        runner.run(application)
    except InvalidToken:
        print(f"{PROG}: Telegram rejected BOT_TOKEN", file=sys.stderr)
        return 2
    except WebhookRefused as exc:  # Telegram's own reason: names neither token nor secret
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except ListenError as exc:  # e.g. the port is still held by a stopping instance: retry
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    return 0


def _check(settings: Settings) -> int:
    """Configuration (already read), content, and the database schema."""
    try:
        content = load_content(settings.content_dir)
    except ContentError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    print(f"content: ok ({', '.join(content.languages)}; {len(content.countries)} countries)")
    try:
        version = asyncio.run(_schema_version(settings))
    except Exception as exc:
        print(
            f"{PROG}: database {settings.database_path}: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(f"database: ok ({settings.database_path}, schema version {version})")
    return 0


async def _schema_version(settings: Settings) -> int:
    from bot.storage import open_storage

    storage = await open_storage(settings)
    try:
        return await storage.schema_version()
    finally:
        await storage.close()


if __name__ == "__main__":
    sys.exit(main())
