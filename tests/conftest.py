"""Shared pytest fixtures: the fake Telegram, the bot's Application on top of it, and users.

Fixtures:

* ``api`` - a fresh :class:`tests.fake.FakeTelegram`; at teardown the test fails if the bot
  called a Bot API method the fake does not implement, made a request Telegram would reject
  (unless declared with ``api.expect_errors(...)``) or a handler raised.
* ``settings`` - ``bot.config.Settings`` for an offline bot (temporary SQLite database,
  admin id 42).
* ``app`` - ``bot.app.build_application(settings, ...)`` wired to ``api`` through
  :class:`tests.fake.FakeRequest`, run through the ``run_polling`` lifecycle without polling
  (initialize, post_init, start; stop, post_stop, shutdown, post_shutdown).
* ``user`` (id 1001), ``admin`` (id 42) and ``make_user(user_id, **kw)`` - simulated users
  (:class:`tests.fake.SimUser`) in private chats with the bot.
* ``api_server`` - a :class:`tests.fake.FakeApiServer` serving ``api`` over HTTP.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # make `bot`, `handlers` and `tests.*` importable
    sys.path.insert(0, str(ROOT))

from tests.fake import (  # noqa: E402
    TEST_TOKEN,
    FakeApiServer,
    FakeRequest,
    FakeTelegram,
    SimUser,
    run_app,
)

__all__ = ["TEST_TOKEN"]

ADMIN_ID = 42
USER_ID = 1001


@pytest.fixture
def api() -> Iterator[FakeTelegram]:
    """The fake Bot API; fails the test at teardown on anything Telegram would not accept."""
    fake = FakeTelegram(TEST_TOKEN)
    yield fake
    problems = fake.problems()
    if problems:
        pytest.fail(
            "fake Telegram saw problems (declare expected ones with api.expect_errors(...)):\n  "
            + "\n  ".join(problems),
            pytrace=False,
        )


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    """Offline settings for the bot (needs ``bot.config.Settings``)."""
    try:
        from bot.config import Settings
    except ImportError as exc:
        pytest.skip(f"bot.config.Settings is not available yet ({exc})")
    try:
        return Settings(
            bot_token=TEST_TOKEN,
            database_path=tmp_path / "bot.sqlite3",
            admin_ids=frozenset({ADMIN_ID}),
        )
    except TypeError as exc:
        pytest.fail(f"bot.config.Settings signature changed, update tests/conftest.py: {exc}")


@pytest.fixture
async def app(api: FakeTelegram, settings: Any) -> AsyncIterator[Any]:
    """The bot's Application talking to ``api``, initialized and started (no polling)."""
    try:
        from bot.app import build_application
    except ImportError as exc:
        pytest.skip(f"bot.app.build_application is not available yet ({exc})")
    application = build_application(
        settings, request=FakeRequest(api), get_updates_request=FakeRequest(api)
    )
    async with run_app(application, api):
        yield application


@pytest.fixture
def make_user(app: Any, api: FakeTelegram) -> Callable[..., SimUser]:
    """Factory: ``make_user(user_id, first_name=..., language_code=..., chat_id=...)``."""

    def factory(user_id: int, **kwargs: Any) -> SimUser:
        kwargs.setdefault("first_name", f"User{user_id}")
        return SimUser(app, api, user_id, **kwargs)

    return factory


@pytest.fixture
def user(make_user: Callable[..., SimUser]) -> SimUser:
    """A regular user (id 1001, "Sam", English) in a private chat with the bot."""
    return make_user(USER_ID, first_name="Sam", language_code="en")


@pytest.fixture
def admin(make_user: Callable[..., SimUser]) -> SimUser:
    """The admin (id 42, in ``settings.admin_ids``) in a private chat with the bot."""
    return make_user(ADMIN_ID, first_name="Admin", language_code="en")


@pytest.fixture
def api_server(api: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    """``api`` served over HTTP on 127.0.0.1 (proxies bypassed for it)."""
    for var in ("NO_PROXY", "no_proxy"):
        current = [v for v in (os.environ.get(var, ""),) if v]
        monkeypatch.setenv(var, ",".join([*current, "127.0.0.1", "localhost"]))
    with FakeApiServer(api) as server:
        yield server
