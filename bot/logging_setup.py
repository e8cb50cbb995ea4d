"""Logging: format, levels, and the redaction that keeps the bot token out of every log line.

httpx logs each request URL (which contains the token) at INFO, so it is raised to WARNING; a
filter on every root handler also replaces the token, and anything shaped like a bot token, in
messages, arguments and exception texts. python-telegram-bot's own loggers stay at INFO or above,
because at DEBUG they print whole updates, that is, what people wrote.
"""

from __future__ import annotations

import logging
import re

_TOKEN_SHAPE = re.compile(r"\d{5,12}:[A-Za-z0-9_-]{30,64}")
REDACTED = "<redacted-token>"


def redact(text: str, token: str | None = None) -> str:
    """Return ``text`` with the token (and anything shaped like one) replaced."""
    if token:
        text = text.replace(token, REDACTED)
    return _TOKEN_SHAPE.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record so that neither its message nor its traceback holds a token."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message, self._token)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info), self._token)
            record.exc_info = None
        return True


def configure_logging(level: str, token: str | None) -> None:
    """Set up root logging once for the process, with redaction on every handler."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    for existing in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in existing.filters):
            existing.addFilter(RedactingFilter(token))
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # python-telegram-bot logs whole updates (people's messages) and request parameters at
    # DEBUG: never below INFO, whatever LOG_LEVEL says.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
