"""Logging: format, levels, and the redaction that keeps the bot token out of every log line.

httpx logs each request URL (which contains the token) at INFO, so it is raised to WARNING; a
filter on every root handler also replaces the token, and anything shaped like a bot token, in
messages, arguments and exception texts. python-telegram-bot's own loggers stay at INFO or above,
because at DEBUG they print whole updates, that is, what people wrote.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

_TOKEN_SHAPE = re.compile(r"\d{5,12}:[A-Za-z0-9_-]{30,64}")
REDACTED = "<redacted-token>"
REDACTED_SECRET = "<redacted-secret>"


def redact(text: str, token: str | None = None, secrets: Sequence[str] = ()) -> str:
    """Return ``text`` with the token (and anything shaped like one) and ``secrets`` (e.g. the
    webhook secret) replaced."""
    if token:
        text = text.replace(token, REDACTED)
    for secret in secrets:
        text = text.replace(secret, REDACTED_SECRET)
    return _TOKEN_SHAPE.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record so that neither its message nor its traceback holds a token."""

    def __init__(self, token: str | None = None, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._token = token
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message, self._token, self._secrets)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(
                formatter.formatException(record.exc_info), self._token, self._secrets
            )
            record.exc_info = None
        return True


def configure_logging(
    level: str, token: str | None, secrets: Iterable[str | None] = ()
) -> None:
    """Set up root logging once for the process, with redaction (of the token and of
    ``secrets``) on every handler."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    for existing in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in existing.filters):
            existing.addFilter(RedactingFilter(token, secrets))
    for noisy in ("httpx", "httpcore", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # python-telegram-bot logs whole updates (people's messages) and request parameters at
    # DEBUG: never below INFO, whatever LOG_LEVEL says.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
