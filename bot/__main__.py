"""Command line: ``python -m bot [run | check | backup PATH | restore PATH | migrate | stats]``.

``python -m bot`` alone (or ``python -m bot run``) runs the bot until SIGINT or SIGTERM;
``check`` checks the configuration, the content and the database and exits; ``backup PATH``
writes a verified copy of the database (safe while the bot runs); ``restore PATH`` replaces the
database with a backup (refused while a bot runs on it); ``migrate`` applies the schema
migrations and exits (the bot also applies them at start); ``stats`` prints the admin ``/stats``
figures (counts only). Each command has ``--help``. An unknown command is refused with the
usage line.

Before ``run`` connects to Telegram, the database location is checked (exit 2 if it is
impossible) and an existing database gets a quick check (exit 1 if it is damaged); the start-up
log names the database it opened. A running bot holds the database's lock until it exits.

Exit codes: 0 after a clean stop or a command that did its work; 1 when the database is
unusable or the command failed (damaged, missing, a restore refused); 2 for bad configuration,
content or usage, including a database location that cannot work or a command that has no
meaning for the configured database. Always one clear line on stderr, no traceback, never the
token and never anything a person wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from telegram.error import InvalidToken

from bot.app import build_application
from bot.config import ConfigError, Settings
from bot.content import ContentError, load_content
from bot.logging_setup import configure_logging
from bot.storage import (
    LocationError,
    Maintenance,
    Stats,
    Storage,
    StorageError,
    Unsupported,
    open_maintenance,
    open_storage,
)

log = logging.getLogger("bot")
PROG = "recovery-help-bot"
T = TypeVar("T")
_VERBS = {"backup": "back up", "restore": "restore", "migrate": "migrate", "stats": "count"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="A Telegram bot for people affected by drug addiction and those who love them.",
        epilog="Settings come from the environment or .env (see .env.example). Exit codes: 0 done, "
        "1 the database is unusable or the command failed, 2 bad configuration or usage.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="run the bot until SIGINT or SIGTERM (the default)",
        description="Run the bot until SIGINT or SIGTERM. Checks the database location and "
        "runs a quick check of the database before connecting to Telegram; holds the "
        "database's lock until it exits (a restore is refused meanwhile).",
    )
    commands.add_parser(
        "check",
        help="check the configuration, content and database, then exit",
        description="Check the settings, the content and the database (applying pending "
        "migrations), then exit: 0 when all is well.",
    )
    backup = commands.add_parser(
        "backup",
        help="write a verified copy of the database to PATH (safe while the bot runs)",
        description="Write a consistent copy of the database to PATH with SQLite's online "
        "backup API, check it with PRAGMA integrity_check and make it readable by its owner "
        "only (0600). Safe while the bot runs. An existing file at PATH is replaced only once "
        "the new copy passed its check.",
    )
    backup.add_argument("path", metavar="PATH", type=Path, help="the backup file to write")
    restore = commands.add_parser(
        "restore",
        help="replace the database with the backup at PATH (stop the bot first)",
        description="Replace the database with the backup at PATH. Refused while a bot runs on "
        "the database. The backup is copied and checked (PRAGMA integrity_check, a bot database, "
        "not from a newer version) before anything changes; the replaced database is kept "
        "next to it as <database>.before-restore.",
    )
    restore.add_argument("path", metavar="PATH", type=Path, help="the backup file to restore")
    commands.add_parser(
        "migrate",
        help="apply pending schema migrations, then exit",
        description="Apply the pending schema migrations and exit. Optional: the bot applies "
        "them at start too; running them on their own shows a problem before the bot starts.",
    )
    commands.add_parser(
        "stats",
        help="print the /stats figures (counts only)",
        description="Print the figures of the admin /stats screen: counts only, never a person.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # unknown commands: usage and exit code 2
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        return _fail(str(exc), 2)
    configure_logging(settings.log_level, settings.bot_token, secrets=[settings.webhook_secret])
    maintenance = open_maintenance(settings)
    command = args.command or "run"
    try:
        if command == "run":
            return _run(settings, maintenance)
        if command == "check":
            return _check(settings, maintenance)
        reason = maintenance.unsupported(_VERBS[command])
        if reason:
            raise Unsupported(reason)
        if command == "backup":
            return _backup(maintenance, args.path)
        if command == "restore":
            return _restore(maintenance, args.path)
        if command == "migrate":
            return _migrate(settings, maintenance)
        return _stats(settings, maintenance)
    except (LocationError, Unsupported) as exc:
        return _fail(str(exc), 2)
    except StorageError as exc:
        return _fail(str(exc), 1)


def _fail(message: str, code: int) -> int:
    """One line on stderr (never a traceback) and the exit code."""
    print(f"{PROG}: {' '.join(message.split())}", file=sys.stderr)
    return code


def _run(settings: Settings, maintenance: Maintenance) -> int:
    from bot import runner
    from bot.webhook import ListenError, WebhookRefused

    maintenance.preflight()  # before Telegram: an impossible location is exit 2 at once
    try:
        application = build_application(settings)
    except ContentError as exc:
        return _fail(str(exc), 2)
    with maintenance.running_lock():
        version = maintenance.verify()
        log.info(
            "database: %s (%s)",
            maintenance.location,
            f"schema version {version}" if version else "new",
        )
        try:
            runner.run(application)
        except InvalidToken:
            return _fail("Telegram rejected BOT_TOKEN", 2)
        except WebhookRefused as exc:  # Telegram's own reason: names neither token nor secret
            return _fail(str(exc), 2)
        except ListenError as exc:  # e.g. the port is still held by a stopping instance
            return _fail(str(exc), 1)
    return 0


def _check(settings: Settings, maintenance: Maintenance) -> int:
    """Configuration (already read), content, and the database schema."""
    try:
        content = load_content(settings.content_dir)
    except ContentError as exc:
        return _fail(str(exc), 2)
    print(f"content: ok ({', '.join(content.languages)}; {len(content.countries)} countries)")
    maintenance.preflight()
    maintenance.verify()
    version = _with_storage(settings, lambda storage: storage.schema_version())
    print(f"database: ok ({maintenance.location}, schema version {version})")
    return 0


def _backup(maintenance: Maintenance, path: Path) -> int:
    report = maintenance.backup(path)
    print(
        f"backup written: {report.path} ({report.size:,} bytes, schema version "
        f"{report.schema_version}, integrity ok, mode 0600)"
    )
    return 0


def _restore(maintenance: Maintenance, path: Path) -> int:
    report = maintenance.restore(path)
    kept = f"; the replaced database is kept as {report.kept}" if report.kept else ""
    print(
        f"restored {report.path} from {path} (schema version {report.schema_version}, "
        f"integrity ok){kept}"
    )
    return 0


def _migrate(settings: Settings, maintenance: Maintenance) -> int:
    maintenance.preflight()
    before = maintenance.verify()
    after = _with_storage(settings, lambda storage: storage.schema_version())
    if before == after:
        print(f"database {maintenance.location}: schema version {after}, nothing to migrate")
    else:
        print(f"database {maintenance.location}: migrated from schema version {before} to {after}")
    return 0


def _stats(settings: Settings, maintenance: Maintenance) -> int:
    maintenance.preflight()
    if not maintenance.exists():
        raise StorageError(
            f"no database at {maintenance.location} yet: the bot creates it at its first start"
        )
    maintenance.verify()
    print(format_stats(_with_storage(settings, lambda storage: storage.stats())))
    return 0


def format_stats(stats: Stats) -> str:
    """The /stats figures as plain lines (counts only)."""

    def grouped(counts: dict[str, int]) -> str:
        items = sorted(counts.items(), key=lambda kv: (not kv[0], -kv[1], kv[0]))
        return ", ".join(f"{key or 'not set'} {n}" for key, n in items) or "none"

    return "\n".join(
        [
            f"people: {stats.users}",
            f"active in the last 7 days: {stats.active_7d}",
            f"active in the last 30 days: {stats.active_30d}",
            f"with check-ins on: {stats.checkin_subscribers}",
            f"blocked the bot: {stats.blocked}",
            f"by language: {grouped(stats.by_language)}",
            f"by country: {grouped(stats.by_country)}",
        ]
    )


def _with_storage(settings: Settings, use: Callable[[Storage], Awaitable[T]]) -> T:
    """Open the storage (applying migrations), ``use`` it, close it."""

    async def run() -> T:
        storage = await open_storage(settings)
        try:
            return await use(storage)
        finally:
            await storage.close()

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
