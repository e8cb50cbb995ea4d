"""Configuration: the one place that reads the environment (and an optional ``.env`` file).

Every setting an operator can change is a field of :class:`Settings`; ``.env.example`` documents
them all. A missing or malformed value raises :class:`ConfigError` with one clear sentence.

Paths: ``.env`` is found from the project, so a relative ``DATABASE_PATH`` or ``CONTENT_DIR``
means relative to the project root too (never to the working directory the bot was started
from); ``DATABASE_PATH=:memory:`` is a private in-memory database (tests only).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONTENT_DIR = PROJECT_ROOT / "content"
DEFAULT_DATABASE_PATH = PROJECT_ROOT / "data" / "bot.sqlite3"
MEMORY = ":memory:"

# Telegram tokens look like "<numeric bot id>:<35-ish url-safe characters>".
_TOKEN_RE = re.compile(r"^\d{5,12}:[A-Za-z0-9_-]{30,64}$")
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
# Telegram's secret_token: 1-256 characters of A-Z a-z 0-9 _ -; the bot asks for at least 32.
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{32,256}$")
_SECRET_MIN_DISTINCT = 10  # "aaaa..." or "0101..." is not a secret, whatever its length
# The webhook path is matched literally; keep it to characters that need no escaping.
_WEBHOOK_PATH_RE = re.compile(r"^/[A-Za-z0-9/_.~-]*$")
_RESERVED_PATHS = {"/healthz", "/metrics"}
_LISTEN_RE = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")
_ASCII_ID = re.compile(r"[0-9]{1,19}")  # str.isdigit() would take "٣٤٥" and "¹²³"
_MAX_ID = 2**63 - 1  # what SQLite's INTEGER holds; Telegram ids are far below


class ConfigError(Exception):
    """A setting is missing or malformed; the message is safe to print (never holds the token)."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot needs to run, already validated."""

    bot_token: str = field(repr=False)
    admin_ids: frozenset[int] = frozenset()
    database_path: Path = DEFAULT_DATABASE_PATH
    api_base_url: str | None = None
    log_level: str = "INFO"
    content_dir: Path = DEFAULT_CONTENT_DIR
    checkin_tick_seconds: float = 30.0
    checkin_missed_window: timedelta = timedelta(hours=2)
    broadcast_rate: float = 25.0
    # Webhook mode (WEBHOOK_URL set) and the HTTP endpoints (/healthz, /metrics).
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8080
    health_port: int | None = None  # polling mode only; webhook mode serves them on its port

    @property
    def webhook_path(self) -> str:
        """The path of ``WEBHOOK_URL`` (what Telegram POSTs to), "/" when it has none."""
        return urlsplit(self.webhook_url or "").path or "/"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Read settings from ``env`` (default: the process environment plus ``.env``)."""
        if env is None:
            if dotenv:
                from dotenv import load_dotenv

                load_dotenv(override=False)
            env = os.environ
        token = env.get("BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError("BOT_TOKEN is not set: put the token from @BotFather in .env")
        if not _TOKEN_RE.match(token):
            raise ConfigError(
                "BOT_TOKEN is malformed: expected '<digits>:<letters>' as given by @BotFather"
            )
        webhook_url = _parse_webhook_url(env.get("WEBHOOK_URL", ""))
        return cls(
            bot_token=token,
            admin_ids=_parse_admin_ids(env.get("ADMIN_IDS", "")),
            database_path=_project_path(env.get("DATABASE_PATH", ""), DEFAULT_DATABASE_PATH),
            api_base_url=(env.get("TELEGRAM_API_BASE_URL", "").strip() or None),
            log_level=_parse_log_level(env.get("LOG_LEVEL", "")),
            content_dir=_project_path(env.get("CONTENT_DIR", ""), DEFAULT_CONTENT_DIR),
            checkin_tick_seconds=_positive_float(env, "CHECKIN_TICK_SECONDS", 30.0),
            checkin_missed_window=timedelta(
                minutes=_positive_float(env, "CHECKIN_MISSED_WINDOW_MINUTES", 120.0)
            ),
            broadcast_rate=_positive_float(env, "BROADCAST_RATE", 25.0),
            webhook_url=webhook_url,
            webhook_secret=_parse_webhook_secret(env) if webhook_url else None,
            webhook_listen=_parse_listen(env.get("WEBHOOK_LISTEN", "")),
            webhook_port=_port(env, "WEBHOOK_PORT") or 8080,
            health_port=_port(env, "HEALTH_PORT"),
        )


def _project_path(raw: str, default: Path) -> Path:
    """A path setting: absolute as given, relative to the project root otherwise."""
    raw = raw.strip()
    if not raw:
        return default
    if raw == MEMORY:
        return Path(MEMORY)
    path = Path(raw).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _parse_admin_ids(raw: str) -> frozenset[int]:
    ids: set[int] = set()
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        value = int(part) if _ASCII_ID.fullmatch(part) else 0
        if not 0 < value <= _MAX_ID:
            raise ConfigError(
                "ADMIN_IDS must be positive numeric Telegram user ids in ASCII digits (0-9), "
                f"comma-separated, got {part[:20]!r}"
            )
        ids.add(value)
    return frozenset(ids)


def _parse_log_level(raw: str) -> str:
    level = raw.strip().upper() or "INFO"
    if level not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(sorted(_LOG_LEVELS))}")
    return level


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw[:20]!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero")
    return value


def _parse_webhook_url(raw: str) -> str | None:
    """The public URL Telegram POSTs updates to: https, or http on a loopback host (tests)."""
    url = raw.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ConfigError("WEBHOOK_URL is not a valid URL") from None
    if not host or parts.scheme not in ("https", "http"):
        raise ConfigError("WEBHOOK_URL must be an https:// URL with a host name")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError("WEBHOOK_URL must use https:// (plain http only on a loopback host)")
    path = parts.path or "/"
    if parts.fragment or not _WEBHOOK_PATH_RE.match(path):
        raise ConfigError(
            "WEBHOOK_URL's path may only hold letters, digits and / _ . ~ - (no #fragment)"
        )
    if path in _RESERVED_PATHS:
        raise ConfigError(f"WEBHOOK_URL's path cannot be {path} (the bot serves it itself)")
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_webhook_secret(env: Mapping[str, str]) -> str:
    """WEBHOOK_SECRET, required in webhook mode; the messages never contain the value."""
    secret = env.get("WEBHOOK_SECRET", "").strip()
    if not secret:
        raise ConfigError(
            "WEBHOOK_SECRET is not set: webhook mode needs 32-256 characters of A-Z a-z 0-9 _ -"
        )
    if not _SECRET_RE.match(secret) or len(set(secret)) < _SECRET_MIN_DISTINCT:
        raise ConfigError(
            "WEBHOOK_SECRET is too weak or malformed: use 32-256 random characters of "
            "A-Z a-z 0-9 _ - (python3 -c \"import secrets; print(secrets.token_urlsafe(48))\")"
        )
    return secret


def _parse_listen(raw: str) -> str:
    listen = raw.strip() or "127.0.0.1"
    if not _LISTEN_RE.match(listen):
        raise ConfigError(f"WEBHOOK_LISTEN must be an IP address or host name, got {listen[:40]!r}")
    return listen


def _port(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{name} must be a port number from 1 to 65535, got {raw[:20]!r}")
    return int(raw)
