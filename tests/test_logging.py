"""The bot token never reaches a log line, not even through an exception text."""

from __future__ import annotations

import io
import logging

import pytest

from bot.logging_setup import RedactingFilter, configure_logging, redact

TOKEN = "1234567:TEST-offline-token-not-real-abcdefgh"
REAL_SHAPED = "7" * 10 + ":" + "A" * 35  # built at run time so no token-shaped text is committed


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(TOKEN))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)


def test_token_in_message_and_args_is_redacted(captured: io.StringIO) -> None:
    log = logging.getLogger("test.redaction")
    log.info("GET https://api.telegram.org/bot%s/getMe", TOKEN)
    log.info(f"plain {TOKEN} and {REAL_SHAPED}")
    out = captured.getvalue()
    assert TOKEN not in out and REAL_SHAPED not in out
    assert out.count("<redacted-token>") == 3


def test_token_in_exception_text_is_redacted(captured: io.StringIO) -> None:
    log = logging.getLogger("test.redaction")
    try:
        raise RuntimeError(f"connect failed for https://api.telegram.org/bot{TOKEN}/getUpdates")
    except RuntimeError:
        log.exception("request failed")
    out = captured.getvalue()
    assert TOKEN not in out
    assert "RuntimeError" in out and "<redacted-token>" in out


def test_configure_logging_silences_httpx_and_filters_root_handlers() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        configure_logging("INFO", TOKEN)
        assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
        assert root.handlers
        assert all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in root.handlers)
    finally:
        for handler in root.handlers:
            handler.filters = [f for f in handler.filters if not isinstance(f, RedactingFilter)]
        root.handlers = before


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact("call 988 at 10:30", TOKEN) == "call 988 at 10:30"


def test_the_webhook_secret_is_redacted_too() -> None:
    secret = "webhook-secret_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(TOKEN, [secret, None]))
    logger = logging.getLogger("test.redaction.secret")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.info("header %s", secret)
        try:
            raise RuntimeError(f"bad header {secret}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert secret not in out
    assert out.count("<redacted-secret>") == 2
